"""From an election record to its result (docs/voting-spec.md sections 3 and 8).

One path computes the result the administrator posts and the result the audit recomputes:
:func:`tally_record` applies the counting rule and sums the counted ciphertexts,
:func:`check_decryptions` sorts the trustees' posted partial decryptions into valid and invalid,
and :func:`decrypt_counts` combines any ``threshold`` valid ones into the counts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ledger.voting.counting import BallotCount, count_ballots
from ledger.voting.crypto import (
    Ciphertext,
    CommitmentMessage,
    PartialDecryption,
    Point,
    VotingCryptoError,
    combine,
    election_public_key,
    tally_ciphertexts,
    tally_hash,
    verification_key,
    verify_commitments,
    verify_partial,
)
from ledger.voting.errors import ElectionStateError
from ledger.voting.record import ElectionRecord


@dataclass(frozen=True, slots=True)
class Tally:
    count: BallotCount
    ciphertexts: tuple[Ciphertext, ...]
    hash: bytes


def ceremony_commitments(
    record: ElectionRecord,
) -> tuple[dict[int, CommitmentMessage], dict[int, str]]:
    """Every trustee's parsed and verified commitments, and the reason for each that fails."""
    valid: dict[int, CommitmentMessage] = {}
    problems: dict[int, str] = {}
    for index in range(1, len(record.state.trustees) + 1):
        post = record.commitments.get(index)
        if post is None:
            problems[index] = f"trustee {index} has not posted its commitments"
            continue
        try:
            message = CommitmentMessage.from_bytes(post.data)
            verify_commitments(record.context, index, message, record.state.config.threshold)
        except VotingCryptoError as exc:
            problems[index] = f"trustee {index}'s commitments fail: {exc}"
            continue
        valid[index] = message
    return valid, problems


def derived_public_key(record: ElectionRecord) -> Point:
    """The election key the trustees' commitments define: ``K = sum_i K_i0``."""
    commitments, problems = ceremony_commitments(record)
    if problems:
        raise ElectionStateError("; ".join(problems.values()))
    return election_public_key(commitments)


def tally_record(
    record: ElectionRecord, eligible: Collection[str] | None, *, workers: int | None = None
) -> Tally:
    """Count the record's ballots by the rule and sum the counted ciphertexts."""
    key = record.public_key
    if key is None:
        raise ElectionStateError(f"election {record.election_id} has no election key yet")
    count = count_ballots(
        record.ballots,
        context=record.context,
        public_key=key,
        spec=record.spec,
        window=record.window,
        eligible=eligible,
        workers=workers,
    )
    ciphertexts = tally_ciphertexts([c.ballot for c in count.counted], record.spec.option_count)
    return Tally(count, ciphertexts, tally_hash(ciphertexts))


def check_decryptions(
    record: ElectionRecord, tally: Tally
) -> tuple[dict[int, PartialDecryption], dict[int, str]]:
    """The posted partial decryptions that verify against ``tally``, and why the others fail."""
    commitments, _ = ceremony_commitments(record)
    valid: dict[int, PartialDecryption] = {}
    problems: dict[int, str] = {}
    for index, post in sorted(record.decryptions.items()):
        if len(commitments) != len(record.state.trustees):
            problems[index] = "the key ceremony is incomplete, so no share can be checked"
            continue
        try:
            partial = PartialDecryption.from_bytes(post.data, record.spec.option_count)
            verify_partial(
                record.context,
                index,
                verification_key(index, commitments),
                tally.ciphertexts,
                partial,
            )
        except VotingCryptoError as exc:
            problems[index] = f"trustee {index}'s decryption share fails: {exc}"
            continue
        valid[index] = partial
    return valid, problems


def decrypt_counts(
    record: ElectionRecord, tally: Tally, valid: Mapping[int, PartialDecryption]
) -> tuple[int, ...]:
    """The per-option counts from any ``threshold`` valid partial decryptions (none needed
    when nobody voted: docs/voting-spec.md section 8)."""
    if record.state.voter_count == 0:
        return (0,) * record.spec.option_count
    return combine(
        tally.ciphertexts,
        valid,
        record.state.config.threshold,
        max(tally.count.turnout, 0),
    )
