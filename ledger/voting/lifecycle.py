"""Running a vote on chain, step by step: create, key ceremony, open, cast, close, decrypt,
publish, reward.

Each function is one step a person takes (the administrator, a trustee, a voter) and is safe
to repeat: a step that already happened is detected from the chain and not sent again, so an
interrupted command can simply be run once more. The CLIs, the API and the tests call these and
never the contract directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.city import City
from ledger.contracts.elections import (
    ElectionConfig,
    ElectionKind,
    ElectionPhase,
    ElectionState,
    choices_mask,
    vote_evidence_id,
)
from ledger.contracts.rewards import Grant
from ledger.voting.counting import count_votes
from ledger.voting.crypto import (
    ElectionContext,
    Point,
    SharesMessage,
    deal_shares,
    encrypt_ballot,
    partial_decrypt,
    receive_shares,
    start_ceremony,
    tracking_code,
)
from ledger.voting.eligibility import EligibilityList
from ledger.voting.errors import ElectionStateError, VotingError
from ledger.voting.files import ElectionFiles
from ledger.voting.manifest import ElectionManifest
from ledger.voting.record import ElectionRecord, read_record, spec_of
from ledger.voting.tally import (
    Tally,
    ceremony_commitments,
    check_decryptions,
    decrypt_counts,
    derived_public_key,
    tally_record,
)
from ledger.voting.vault import TrusteeState, TrusteeVault

REWARD_BATCH = 200
"""Grants per RewardsPool.grantBatch transaction."""


def create_election(
    city: City,
    admin: LocalAccount,
    manifest: ElectionManifest,
    eligibility: EligibilityList,
    *,
    opens_at: int,
    closes_at: int,
    trustees: Sequence[str] = (),
    threshold: int = 0,
    quorum: int = 0,
    reward: int = 0,
    files: ElectionFiles,
) -> int:
    """Create the vote on chain and publish its manifest and eligibility list.

    The files are written first (staged), so nothing is created on chain when they cannot
    be; the chain's election id then names their folder."""
    if manifest.public and trustees:
        raise VotingError("a public poll has no trustees")
    if not manifest.public and not trustees:
        raise VotingError("a secret ballot needs trustees (--trustee, at least one)")
    config = ElectionConfig(
        kind=ElectionKind.PUBLIC_POLL if manifest.public else ElectionKind.SECRET_BALLOT,
        option_count=len(manifest.options),
        min_selections=manifest.min_selections,
        max_selections=manifest.max_selections,
        threshold=threshold,
        opens_at=opens_at,
        closes_at=closes_at,
        quorum=quorum,
        eligible_count=len(eligibility.accounts),
        eligibility_root=eligibility.root,
        eligibility_list_hash=eligibility.list_hash,
        manifest_hash=manifest.manifest_hash,
        reward_amount=reward,
    )
    staging = files.stage(manifest, eligibility)
    try:
        election_id = city.elections.create(
            admin, config, [to_checksum_address(t) for t in trustees]
        )
    except BaseException:
        files.discard(staging)
        raise
    files.adopt(staging, election_id)
    return election_id


class CeremonyStep(StrEnum):
    COMMITTED = "posted commitments"
    WAITING_FOR_COMMITMENTS = "waiting for the other trustees' commitments"
    SHARES_POSTED = "posted encrypted shares"
    WAITING_FOR_SHARES = "waiting for the other trustees' shares"
    SHARE_READY = "verified every share received; the decryption share is stored"


def public_key_of(state: ElectionState) -> Point:
    if not state.public_key:
        raise ElectionStateError(f"election {state.id} has no election key yet")
    return Point.from_bytes(state.public_key)


def context_of(city: City, election_id: int) -> ElectionContext:
    return ElectionContext(city.chain.chain_id, city.elections.address, election_id)


def trustee_index(record: ElectionRecord, trustee: str) -> int:
    index = record.state.trustee_index(trustee)
    if index is None:
        raise VotingError(f"{trustee} is not a trustee of election {record.election_id}")
    return index


def trustee_keygen(
    city: City, trustee: LocalAccount, vault: TrusteeVault, password: str, election_id: int
) -> CeremonyStep:
    """Take this trustee's next step in the key ceremony (docs/voting-spec.md section 3)."""
    record = read_record(city.elections, election_id)
    if record.state.phase is not ElectionPhase.SETUP:
        raise ElectionStateError(f"election {election_id} is past its key ceremony")
    index = trustee_index(record, trustee.address)
    threshold = record.state.config.threshold
    if index not in record.commitments:
        secrets, message = start_ceremony(record.context, index, threshold)
        vault.save(TrusteeState(secrets), password)  # before posting: never lose a posted key
        city.elections.post_commitments(trustee, election_id, message.to_bytes())
        return CeremonyStep.COMMITTED
    state = vault.load(password)
    if state.secrets.index != index:
        raise VotingError("these trustee secrets belong to another trustee index")
    commitments, problems = ceremony_commitments(record)
    if len(record.commitments) < len(record.state.trustees):
        return CeremonyStep.WAITING_FOR_COMMITMENTS
    if problems:
        raise ElectionStateError("; ".join(problems.values()))
    if index not in record.shares:
        share_keys = {i: m.share_key for i, m in commitments.items() if i != index}
        message_out = deal_shares(record.context, state.secrets, share_keys)
        city.elections.post_shares(trustee, election_id, message_out.to_bytes())
        return CeremonyStep.SHARES_POSTED
    if len(record.shares) < len(record.state.trustees):
        return CeremonyStep.WAITING_FOR_SHARES
    if state.share is None:
        shares = {i: SharesMessage.from_bytes(p.data) for i, p in record.shares.items()}
        share = receive_shares(record.context, state.secrets, commitments, shares)
        vault.save(TrusteeState(state.secrets, share), password)
    return CeremonyStep.SHARE_READY


def open_election(city: City, admin: LocalAccount, election_id: int) -> ElectionRecord:
    """Post the election key the ceremony defines (secret ballots) and open the vote."""
    record = read_record(city.elections, election_id)
    if record.state.phase is not ElectionPhase.SETUP:
        raise ElectionStateError(
            f"election {election_id} is {record.state.phase.name.lower()}, not in setup"
        )
    if record.state.config.kind is ElectionKind.SECRET_BALLOT and record.public_key is None:
        missing = [i for i in range(1, len(record.state.trustees) + 1) if i not in record.shares]
        if missing:
            raise ElectionStateError(
                f"trustees {', '.join(map(str, missing))} have not finished the key ceremony"
            )
        city.elections.set_election_key(admin, election_id, derived_public_key(record).to_bytes())
    city.elections.open(admin, election_id)
    return read_record(city.elections, election_id)


@dataclass(frozen=True, slots=True)
class CastReceipt:
    election_id: int
    voter: str
    sequence: int
    tracking_code: bytes
    block_number: int


def cast_ballot(
    city: City,
    voter: LocalAccount,
    election_id: int,
    choices: Sequence[int],
    eligibility: EligibilityList,
) -> CastReceipt:
    """Encrypt and prove the voter's choices on this machine, then cast the ballot (a public
    poll's choices are cast in the clear)."""
    elections = city.elections
    state = elections.election(election_id)
    proof = eligibility.proof(voter.address)
    if state.config.kind is ElectionKind.PUBLIC_POLL:
        receipt = elections.cast_vote(voter, election_id, choices_mask(choices), proof)
        code = b""
    else:
        ballot = encrypt_ballot(
            context_of(city, election_id),
            public_key_of(state),
            spec_of(state.config),
            voter.address,
            choices,
        ).to_bytes()
        code = tracking_code(ballot)
        receipt = elections.cast_ballot(voter, election_id, ballot, proof)
    return CastReceipt(
        election_id,
        voter.address,
        elections.sequence_of(election_id, voter.address),
        code,
        int(receipt["blockNumber"]),
    )


def close_election(city: City, signer: LocalAccount, election_id: int) -> None:
    state = city.elections.election(election_id)
    if state.phase is ElectionPhase.OPEN:
        city.elections.close(signer, election_id)


def _closed_record(city: City, election_id: int) -> ElectionRecord:
    record = read_record(city.elections, election_id, city.rewards)
    if record.state.phase < ElectionPhase.CLOSED:
        raise ElectionStateError(f"election {election_id} is not closed yet")
    if record.state.config.kind is not ElectionKind.SECRET_BALLOT:
        raise ElectionStateError(f"election {election_id} is a public poll: nothing to decrypt")
    return record


def trustee_decrypt(
    city: City,
    trustee: LocalAccount,
    vault: TrusteeVault,
    password: str,
    election_id: int,
    eligibility: EligibilityList,
    *,
    workers: int | None = None,
) -> Tally:
    """Post this trustee's partial decryption of the tally, with its proof."""
    record = _closed_record(city, election_id)
    index = trustee_index(record, trustee.address)
    if index in record.decryptions:
        raise ElectionStateError(f"trustee {index} has already posted its decryption share")
    state = vault.load(password)
    if state.share is None:
        raise VotingError("this trustee never finished the key ceremony: it holds no share")
    tally = tally_record(record, frozenset(eligibility.accounts), workers=workers)
    partial = partial_decrypt(record.context, index, state.share, tally.ciphertexts)
    city.elections.post_decryption(trustee, election_id, partial.to_bytes())
    return tally


@dataclass(frozen=True, slots=True)
class PublishedResult:
    counts: tuple[int, ...]
    turnout: int
    void: int
    voters: frozenset[str]
    """The voters whose ballots counted: the ones the participation reward goes to."""


def publish_result(
    city: City,
    admin: LocalAccount,
    election_id: int,
    eligibility: EligibilityList,
    *,
    workers: int | None = None,
) -> PublishedResult:
    """Combine the valid decryption shares and post the counts (secret ballots), or post the
    live counts (public polls)."""
    record = read_record(city.elections, election_id, city.rewards)
    if record.state.phase < ElectionPhase.CLOSED:
        raise ElectionStateError(f"election {election_id} is not closed yet")
    if record.state.config.kind is ElectionKind.PUBLIC_POLL:
        poll = count_votes(
            record.votes,
            spec=record.spec,
            window=record.window,
            eligible=frozenset(eligibility.accounts),
        )
        if record.result is None:
            city.elections.publish_result(
                admin, election_id, list(poll.counts), poll.turnout, bytes(32)
            )
        return PublishedResult(poll.counts, poll.turnout, len(poll.void), poll.voters)
    tally = tally_record(record, frozenset(eligibility.accounts), workers=workers)
    valid, _ = check_decryptions(record, tally)
    counts = decrypt_counts(record, tally, valid)
    if record.result is None:
        city.elections.publish_result(
            admin, election_id, list(counts), tally.count.turnout, tally.hash
        )
    return PublishedResult(counts, tally.count.turnout, len(tally.count.void), tally.count.voters)


def pay_rewards(
    city: City, distributor: LocalAccount, election_id: int, voters: Sequence[str]
) -> int:
    """Pay the vote's participation reward to each counted voter; repeats pay nothing."""
    state = city.elections.election(election_id)
    amount = state.config.reward_amount
    if amount == 0 or not voters:
        return 0
    programme = city.rewards.programme_id("voting")
    evidence = vote_evidence_id(city.elections.address, election_id)
    paid = 0
    ordered = sorted(voters)
    for start in range(0, len(ordered), REWARD_BATCH):
        batch = ordered[start : start + REWARD_BATCH]
        paid += city.rewards.grant_batch(
            distributor, programme, [Grant(v, amount, evidence) for v in batch]
        )
    return paid
