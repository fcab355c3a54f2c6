"""The independent verifier of docs/voting-spec.md: from chain data and the published
eligibility list to a verdict, check by check.

It trusts nothing the election's operators computed: it re-derives the election key from the
trustees' commitments, re-applies the counting rule to every ballot, re-sums the tally, checks
every trustee's decryption proof, re-combines the counts and compares each with what was posted.
Any discrepancy is a failed finding with a sentence precise enough to act on; the command exits
non-zero if there is one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from eth_utils import keccak, to_checksum_address

from ledger.contracts.elections import BallotCast, ElectionKind, ElectionPhase, VoteCast
from ledger.voting.counting import count_votes
from ledger.voting.crypto import VotingCryptoError, election_public_key
from ledger.voting.eligibility import EligibilityList
from ledger.voting.manifest import ElectionManifest
from ledger.voting.record import ElectionRecord
from ledger.voting.tally import (
    ceremony_commitments,
    check_decryptions,
    decrypt_counts,
    tally_record,
)

MAX_LISTED = 5
"""Problems of one kind listed by name before the rest are only counted."""


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    ok: bool
    detail: str


@dataclass(slots=True)
class AuditReport:
    election_id: int
    findings: list[Finding] = field(default_factory=list)
    counts: tuple[int, ...] | None = None
    turnout: int | None = None
    void: int = 0
    superseded: int = 0

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def passed(self, check: str, detail: str) -> None:
        self.findings.append(Finding(check, True, detail))

    def failed(self, check: str, problems: list[str]) -> None:
        listed = problems[:MAX_LISTED]
        more = len(problems) - len(listed)
        detail = "; ".join(listed) + (f"; and {more} more" if more else "")
        self.findings.append(Finding(check, False, detail))

    def check(self, check: str, problems: list[str], detail: str) -> None:
        if problems:
            self.failed(check, problems)
        else:
            self.passed(check, detail)


def audit_election(
    record: ElectionRecord,
    eligibility: EligibilityList | None,
    eligibility_bytes: bytes | None = None,
    manifest: ElectionManifest | None = None,
    *,
    workers: int | None = None,
) -> AuditReport:
    """Verify one election's record; see the module docstring."""
    report = AuditReport(record.election_id)
    _check_eligibility(report, record, eligibility, eligibility_bytes)
    if manifest is not None:
        _check_manifest(report, record, manifest)
    eligible = None if eligibility is None else frozenset(eligibility.accounts)
    if record.state.config.kind is ElectionKind.PUBLIC_POLL:
        _check_poll(report, record, eligible)
        return report
    if not _check_ceremony(report, record):
        return report
    _check_casts(report, record, eligible)
    if record.state.phase < ElectionPhase.CLOSED:
        report.passed("result", "the vote is not closed yet: nothing to tally")
        return report
    tally = tally_record(record, eligible, workers=workers)
    report.turnout, report.void = tally.count.turnout, len(tally.count.void)
    report.superseded = tally.count.superseded
    valid, problems = check_decryptions(record, tally)
    report.check(
        "decryption shares",
        list(problems.values()),
        f"{len(valid)} trustees posted decryption shares with valid proofs",
    )
    result = record.result
    if result is None:
        report.passed("result", "no result is posted yet")
        return report
    found: list[str] = []
    if result.tally_hash != tally.hash:
        found.append(
            f"the posted tally hash {result.tally_hash.hex()} is not the hash "
            f"{tally.hash.hex()} of the counted ballots' sum"
        )
    if result.turnout != tally.count.turnout:
        found.append(
            f"the posted turnout is {result.turnout} but {tally.count.turnout} ballots count"
        )
    threshold = record.state.config.threshold
    if len(valid) < threshold and record.state.voter_count > 0:
        found.append(f"only {len(valid)} valid decryption shares; {threshold} are needed")
    else:
        try:
            counts = decrypt_counts(record, tally, valid)
        except VotingCryptoError as exc:
            found.append(f"the valid shares do not decrypt the tally: {exc}")
        else:
            report.counts = counts
            found += _compare_counts(result.counts, counts)
    found += _compare_quorum(record, result.quorum_met, tally.count.turnout)
    report.check("result", found, _result_detail(report))
    _check_rewards(report, record, tally.count.voters)
    return report


def _check_eligibility(
    report: AuditReport,
    record: ElectionRecord,
    eligibility: EligibilityList | None,
    raw: bytes | None,
) -> None:
    config = record.state.config
    if eligibility is None:
        report.failed("eligibility list", ["no eligibility list was given to check against"])
        return
    problems: list[str] = []
    digest = keccak(raw) if raw is not None else eligibility.list_hash
    if digest != config.eligibility_list_hash:
        problems.append(
            f"the list file hashes to {digest.hex()}, not the published "
            f"{config.eligibility_list_hash.hex()}"
        )
    if eligibility.root != config.eligibility_root:
        problems.append(
            f"the list's Merkle root {eligibility.root.hex()} is not the election's "
            f"{config.eligibility_root.hex()}"
        )
    if len(eligibility.accounts) != config.eligible_count:
        problems.append(
            f"the list has {len(eligibility.accounts)} accounts, the election says "
            f"{config.eligible_count}"
        )
    report.check(
        "eligibility list",
        problems,
        f"{len(eligibility.accounts)} eligible accounts, root and file hash match",
    )


def _check_manifest(
    report: AuditReport, record: ElectionRecord, manifest: ElectionManifest
) -> None:
    problems: list[str] = []
    if manifest.manifest_hash != record.state.config.manifest_hash:
        problems.append("the manifest file does not hash to the election's manifestHash")
    if manifest.spec != record.spec:
        problems.append(
            f"the manifest's bounds {manifest.spec} differ from the chain's {record.spec}"
        )
    report.check("manifest", problems, f"{manifest.title!r} matches the election's manifest hash")


def _check_ceremony(report: AuditReport, record: ElectionRecord) -> bool:
    commitments, problems = ceremony_commitments(record)
    found = list(problems.values())
    missing_shares = [i for i in commitments if i not in record.shares]
    found += [f"trustee {i} has not posted its shares" for i in missing_shares]
    key = record.public_key
    if key is None:
        if record.state.phase >= ElectionPhase.OPEN:
            found.append("the election is open without an election key")
    elif not problems and election_public_key(commitments) != key:
        found.append("the posted election key is not the sum of the trustees' commitments")
    trustees = len(record.state.trustees)
    report.check(
        "key ceremony",
        found,
        f"{trustees} trustees, threshold {record.state.config.threshold}: every proof of "
        "possession verifies and the election key is the sum of their commitments",
    )
    return not found


def _casts_by_voter(record: ElectionRecord) -> Iterator[tuple[str, list[int]]]:
    sequences: dict[str, list[int]] = defaultdict(list)
    for cast in record.casts:
        sequences[to_checksum_address(cast.voter)].append(cast.sequence)
    yield from sorted(sequences.items())


def _label(cast: BallotCast | VoteCast) -> str:
    return f"the ballot of {cast.voter} #{cast.sequence} (block {cast.block_number})"


def _check_casts(
    report: AuditReport, record: ElectionRecord, eligible: frozenset[str] | None
) -> None:
    """What the contract must have enforced on every cast: hashes, window, eligibility, and
    one numbered sequence per voter (so no voter is counted twice)."""
    window = record.window
    problems: list[str] = []
    for ballot in record.ballots:
        if keccak(ballot.ballot) != ballot.ballot_hash:
            problems.append(
                f"{_label(ballot)} does not hash to its tracking code {ballot.ballot_hash.hex()}"
            )
    for cast in record.casts:
        label = _label(cast)
        if not window.contains(cast.block_timestamp):
            late = cast.block_timestamp >= window.closes_at
            problems.append(
                f"{label} was cast at {cast.block_timestamp}, "
                f"{'after the close' if late else 'before the opening'} "
                f"({window.opens_at}-{window.closes_at})"
            )
        if eligible is not None and to_checksum_address(cast.voter) not in eligible:
            problems.append(f"{label} comes from {cast.voter}, who is not on the eligibility list")
    for voter, sequences in _casts_by_voter(record):
        if sorted(sequences) != list(range(1, len(sequences) + 1)):
            problems.append(
                f"{voter}'s ballots are numbered {sorted(sequences)}, not 1..{len(sequences)}: "
                "a voter would be counted twice"
            )
    voters = len({to_checksum_address(c.voter) for c in record.casts})
    if voters != record.state.voter_count:
        problems.append(
            f"the contract counts {record.state.voter_count} voters, the events show {voters}"
        )
    casts = len(record.ballots) + len(record.votes)
    report.check(
        "ballots",
        problems,
        f"{casts} ballots from {voters} voters, all in the window, from eligible voters, "
        "numbered without gaps",
    )


def _check_poll(
    report: AuditReport, record: ElectionRecord, eligible: frozenset[str] | None
) -> None:
    _check_casts(report, record, eligible)
    count = count_votes(record.votes, spec=record.spec, window=record.window, eligible=eligible)
    report.counts, report.turnout = count.counts, count.turnout
    report.void, report.superseded = len(count.void), count.superseded
    result = record.result
    if result is None:
        report.passed("result", "no result is posted yet; live counts recomputed")
        return
    found = _compare_counts(result.counts, count.counts)
    if result.turnout != count.turnout:
        found.append(f"the posted turnout is {result.turnout} but {count.turnout} votes count")
    found += _compare_quorum(record, result.quorum_met, count.turnout)
    report.check("result", found, _result_detail(report))
    _check_rewards(report, record, count.voters)


def _compare_counts(posted: tuple[int, ...], computed: tuple[int, ...]) -> list[str]:
    if len(posted) != len(computed):
        return [f"the posted result has {len(posted)} counts for {len(computed)} options"]
    return [
        f"option {o}: posted {p}, the tally decrypts to {c}"
        for o, (p, c) in enumerate(zip(posted, computed, strict=True))
        if p != c
    ]


def _compare_quorum(record: ElectionRecord, posted: bool, turnout: int) -> list[str]:
    met = turnout >= record.state.config.quorum
    if posted != met:
        return [
            f"the result says quorum {'met' if posted else 'not met'}, turnout {turnout} "
            f"against quorum {record.state.config.quorum} says otherwise"
        ]
    return []


def _result_detail(report: AuditReport) -> str:
    return f"posted counts {list(report.counts or ())} and turnout {report.turnout} recomputed"


def _check_rewards(report: AuditReport, record: ElectionRecord, voters: frozenset[str]) -> None:
    if record.state.config.reward_amount == 0:
        return
    problems: list[str] = []
    extra = sorted(record.rewarded - voters)
    missing = sorted(voters - record.rewarded)
    problems += [f"{v} was rewarded without a counted ballot" for v in extra]
    if missing and record.rewarded:
        problems.append(f"{len(missing)} counted voters are not rewarded, e.g. {missing[0]}")
    if not record.rewarded:
        report.passed("rewards", "participation rewards are not paid yet")
        return
    report.check(
        "rewards", problems, f"{len(record.rewarded)} voters rewarded, all of them counted"
    )
