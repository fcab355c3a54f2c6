"""`cityledger election …`: run a city vote (election admin), take part in its key ceremony and
decryption (trustees), and audit any vote from chain data (anyone).

The steps follow docs/voting-spec.md; every one is safe to re-run after an interruption, and the
chain decides who may take it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ledger import defaults
from ledger.cli.common import (
    JsonOutput,
    Staff,
    StateDir,
    console,
    emit,
    friendly_errors,
    option,
    staff_callback,
)
from ledger.exceptions import InputError
from ledger.types import AccountKind, format_krw, parse_address, parse_krw
from ledger.voting.methods import VoteMethod

if TYPE_CHECKING:
    from ledger.contracts.elections import ElectionState
    from ledger.contracts.rewards import RewardsPool
    from ledger.voting.audit import AuditReport
    from ledger.voting.eligibility import EligibilityList
    from ledger.voting.files import ElectionFiles
    from ledger.voting.manifest import ElectionManifest
    from ledger.voting.vault import TrusteeVault

app = typer.Typer(
    help="City votes: create and run them, trustee steps, results and the public audit.",
    no_args_is_help=True,
)

ElectionId = Annotated[int, typer.Argument(help="The election's number.", min=1)]
Workers = Annotated[int, typer.Option(help="Processes that verify ballot proofs.", min=1, max=64)]


@dataclass
class Officer(Staff):
    """Staff options plus the local state folder (published vote files, trustee vaults)."""

    data_dir: Path = defaults.DATA_DIR

    @property
    def files(self) -> ElectionFiles:
        from ledger.voting.files import ElectionFiles

        return ElectionFiles(self.data_dir / "elections", self.city.chain.chain_id)

    def vault(self, trustee: str, election_id: int) -> TrusteeVault:
        from ledger.voting import lifecycle
        from ledger.voting.vault import TrusteeVault

        return TrusteeVault(
            self.data_dir / "trustees", lifecycle.context_of(self.city, election_id), trustee
        )

    def eligibility(self, election_id: int, path: Path | None) -> EligibilityList:
        from ledger.voting.eligibility import EligibilityList

        if path is not None:
            return EligibilityList.from_json(_read(path))
        return self.files.eligibility(election_id)


app.callback()(staff_callback(Officer, [option("data_dir", StateDir, defaults.DATA_DIR)]))


def _officer(ctx: typer.Context) -> Officer:
    officer: Officer = ctx.obj
    return officer


_RELATIVE = re.compile(r"^\+(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_when(text: str, now: int) -> int:
    """``now``, ``+90m``/``+2h``/``+7d`` from now, or an ISO 8601 time with its offset."""
    text = text.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return now + int(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{text!r} is not a time: use now, +30m, +2h, +7d or ISO 8601 with an offset"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"{text!r} has no UTC offset (e.g. 2026-12-24T09:00+09:00)")
    return int(moment.timestamp())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _trustee_addresses(officer: Officer, trustees: list[str]) -> list[str]:
    """Trustees by address or by keystore alias."""
    from ledger.keys import KeyStore

    keys = KeyStore(officer.keystore_dir)
    resolved = []
    for trustee in trustees:
        if trustee.startswith("0x"):
            resolved.append(trustee)
        else:
            resolved.append(keys.address(trustee))
    return resolved


@app.command()
@friendly_errors
def create(
    ctx: typer.Context,
    title: Annotated[str, typer.Option(help="The question, as voters will read it.")],
    method: Annotated[VoteMethod, typer.Option(help="How voters choose.")],
    option: Annotated[
        list[str] | None, typer.Option("--option", help="An option (repeat; yes-no needs none).")
    ] = None,
    cost: Annotated[
        list[str] | None, typer.Option("--cost", help="A project's cost (budget; repeat).")
    ] = None,
    budget: Annotated[str | None, typer.Option(help="Participatory budget in KRW.")] = None,
    min_selections: Annotated[int | None, typer.Option("--min", min=0)] = None,
    max_selections: Annotated[int | None, typer.Option("--max", min=1)] = None,
    public: Annotated[
        bool, typer.Option("--public", help="A public poll: choices visible, live counts.")
    ] = False,
    opens: Annotated[str, typer.Option(help="now, +1h, or ISO 8601.")] = "now",
    closes: Annotated[str, typer.Option(help="+7d, or ISO 8601.")] = "+7d",
    district: Annotated[
        list[int] | None, typer.Option("--district", help="Only these districts (repeat).")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Account kinds that vote (default resident).")
    ] = None,
    trustee: Annotated[
        list[str] | None,
        typer.Option("--trustee", help="A trustee's address or keystore alias (repeat)."),
    ] = None,
    threshold: Annotated[
        int | None, typer.Option(help="Trustees needed to decrypt (default: a majority).")
    ] = None,
    quorum: Annotated[int, typer.Option(help="Minimum turnout (ballots).", min=0)] = 0,
    reward: Annotated[str, typer.Option(help="Participation reward per voter.")] = "0",
    json_output: JsonOutput = False,
) -> None:
    """Create a vote: snapshot eligibility, publish the manifest and list (election admin)."""
    from ledger.voting import lifecycle
    from ledger.voting.eligibility import snapshot
    from ledger.voting.manifest import ElectionManifest

    officer = _officer(ctx)
    manifest = ElectionManifest.build(
        title,
        method,
        option or (),
        costs=None if not cost else [parse_krw(c) for c in cost],
        min_selections=min_selections,
        max_selections=max_selections,
        budget=None if budget is None else parse_krw(budget),
        public=public,
    )
    city = officer.city
    now = city.chain.latest_timestamp()
    opens_at, closes_at = parse_when(opens, now), parse_when(closes, now)
    kinds = tuple(AccountKind.parse(k) for k in (kind or ["resident"]))
    eligibility = snapshot(
        city.registry,
        block=city.chain.block_number(),
        kinds=kinds,
        districts=tuple(district or ()),
    )
    if not eligibility.accounts:
        raise InputError("no registered account matches these districts and kinds")
    trustees = _trustee_addresses(officer, trustee or [])
    chosen = threshold if threshold is not None else (len(trustees) // 2 + 1 if trustees else 0)
    election_id = lifecycle.create_election(
        city,
        officer.signer,
        manifest,
        eligibility,
        opens_at=opens_at,
        closes_at=closes_at,
        trustees=trustees,
        threshold=chosen,
        quorum=quorum,
        reward=parse_krw(reward),
        files=officer.files,
    )
    folder = officer.files.folder(election_id)
    if json_output:
        emit({"election": election_id, "eligible": len(eligibility.accounts), "files": str(folder)})
        return
    console.print(
        f"[green]created election {election_id}[/green]: {manifest.title!r}, "
        f"{len(eligibility.accounts)} eligible, files in {folder}"
    )
    if trustees:
        console.print(
            f"next: each trustee runs `cityledger election --as ALIAS trustee-keygen {election_id}`"
            " until it reports the share is stored, then `open`"
        )


@app.command("trustee-keygen")
@friendly_errors
def trustee_keygen(ctx: typer.Context, election_id: ElectionId) -> None:
    """Take this trustee's next key-ceremony step (run until the share is stored)."""
    from ledger.voting import lifecycle

    officer = _officer(ctx)
    signer, password = officer.signer_and_password()
    step = lifecycle.trustee_keygen(
        officer.city, signer, officer.vault(signer.address, election_id), password, election_id
    )
    console.print(f"trustee {signer.address}: {step.value}")


@app.command("open")
@friendly_errors
def open_(ctx: typer.Context, election_id: ElectionId) -> None:
    """Post the election key and open the vote (election admin)."""
    from ledger.voting import lifecycle

    officer = _officer(ctx)
    record = lifecycle.open_election(officer.city, officer.signer, election_id)
    key = record.state.public_key
    detail = f" under election key {key.hex()}" if key else ""
    console.print(f"[green]election {election_id} is open[/green]{detail}")


@app.command()
@friendly_errors
def close(ctx: typer.Context, election_id: ElectionId) -> None:
    """Close the vote once its window has passed (anyone)."""
    from ledger.voting import lifecycle

    officer = _officer(ctx)
    lifecycle.close_election(officer.city, officer.signer, election_id)
    console.print(f"election {election_id} is closed")


@app.command()
@friendly_errors
def decrypt(
    ctx: typer.Context,
    election_id: ElectionId,
    eligibility: Annotated[Path | None, typer.Option(help="The published list file.")] = None,
    workers: Workers = 2,
) -> None:
    """Post this trustee's decryption share of the tally, with its proof (trustee)."""
    from ledger.voting import lifecycle

    officer = _officer(ctx)
    signer, password = officer.signer_and_password()
    tally = lifecycle.trustee_decrypt(
        officer.city,
        signer,
        officer.vault(signer.address, election_id),
        password,
        election_id,
        officer.eligibility(election_id, eligibility),
        workers=workers,
    )
    console.print(
        f"posted the decryption share of {tally.count.turnout} counted ballots "
        f"(tally {tally.hash.hex()[:16]}…)"
    )


@app.command()
@friendly_errors
def publish(
    ctx: typer.Context,
    election_id: ElectionId,
    eligibility: Annotated[Path | None, typer.Option(help="The published list file.")] = None,
    rewards: Annotated[
        bool, typer.Option(help="Also pay the participation rewards to counted voters.")
    ] = True,
    workers: Workers = 2,
    json_output: JsonOutput = False,
) -> None:
    """Combine the trustees' shares, post the result and pay rewards (election admin)."""
    from ledger.voting import lifecycle

    officer = _officer(ctx)
    city, signer = officer.city, officer.signer
    published = lifecycle.publish_result(
        city, signer, election_id, officer.eligibility(election_id, eligibility), workers=workers
    )
    paid = (
        lifecycle.pay_rewards(city, signer, election_id, sorted(published.voters)) if rewards else 0
    )
    if json_output:
        emit(
            {
                "election": election_id,
                "counts": list(published.counts),
                "turnout": published.turnout,
                "void": published.void,
                "rewarded": paid,
            }
        )
        return
    console.print(
        f"[green]result of election {election_id}[/green]: counts {list(published.counts)}, "
        f"turnout {published.turnout}, void {published.void}, rewards paid to {paid} voters"
    )


@app.command()
@friendly_errors
def show(ctx: typer.Context, election_id: ElectionId, json_output: JsonOutput = False) -> None:
    """An election's state, question, options and (once posted) result."""
    from ledger.voting.manifest import fund_projects

    officer = _officer(ctx)
    state = officer.city.elections.election(election_id)
    manifest = officer.files.manifest(election_id)
    result = officer.city.elections.result(election_id)
    if json_output:
        emit(_state_document(state, manifest, result.counts if result else None))
        return
    console.print(f"[bold]{election_id}. {manifest.title}[/bold] — {_phase(state)}")
    table = Table("#", "option", "votes")
    counts = result.counts if result else None
    for index, item in enumerate(manifest.options):  # numbered from 1, as `wallet vote` does
        label = item.label if item.cost is None else f"{item.label} ({format_krw(item.cost)})"
        table.add_row(str(index + 1), label, "—" if counts is None else str(counts[index]))
    console.print(table)
    if counts is not None and manifest.method is VoteMethod.BUDGET:
        outcome = fund_projects(manifest, counts)
        console.print(
            f"funded {len(outcome.funded)} projects for {format_krw(outcome.total_cost)} "
            f"of the {format_krw(outcome.budget)} budget"
        )


def _phase(state: ElectionState) -> str:
    from ledger.contracts.elections import ElectionKind

    kind = "public poll" if state.config.kind is ElectionKind.PUBLIC_POLL else "secret ballot"
    return f"{kind}, {state.phase.name.lower()}, {state.voter_count} voters so far"


def _state_document(
    state: ElectionState, manifest: ElectionManifest, counts: tuple[int, ...] | None
) -> dict[str, object]:
    return {
        "election": state.id,
        "title": manifest.title,
        "method": manifest.method.value,
        "kind": state.config.kind.name.lower(),
        "phase": state.phase.name.lower(),
        "opensAt": state.config.opens_at,
        "closesAt": state.config.closes_at,
        "options": [o.label for o in manifest.options],
        "voters": state.voter_count,
        "counts": None if counts is None else list(counts),
    }


@app.command()
@friendly_errors
def audit(
    ctx: typer.Context,
    election_id: ElectionId,
    eligibility: Annotated[
        Path | None, typer.Option(help="The published eligibility list file.")
    ] = None,
    manifest: Annotated[Path | None, typer.Option(help="The published manifest file.")] = None,
    elections: Annotated[
        str | None,
        typer.Option(
            "--elections",
            help="The Elections contract's address, to audit without a deployment manifest.",
        ),
    ] = None,
    rewards: Annotated[
        str | None,
        typer.Option("--rewards", help="The RewardsPool's address (with --elections)."),
    ] = None,
    workers: Workers = 2,
    json_output: JsonOutput = False,
) -> None:
    """Verify a vote from chain data alone: exits 1 on any discrepancy (anyone)."""
    from ledger.chain import Chain
    from ledger.contracts.elections import Elections
    from ledger.contracts.rewards import RewardsPool
    from ledger.voting.audit import audit_election
    from ledger.voting.eligibility import EligibilityList
    from ledger.voting.files import ElectionFiles
    from ledger.voting.manifest import ElectionManifest
    from ledger.voting.record import read_record

    officer = _officer(ctx)
    started = time.perf_counter()
    pool: RewardsPool | None
    if elections is None:
        city = officer.city
        board, pool, files = city.elections, city.rewards, officer.files
    else:
        chain = Chain(officer.rpc_url or defaults.RPC_URL)
        board = Elections(chain, parse_address(elections, "a contract address"))
        pool = (
            None
            if rewards is None
            else RewardsPool(chain, parse_address(rewards, "a contract address"))
        )
        files = ElectionFiles(officer.data_dir / "elections", chain.chain_id)
    record = read_record(board, election_id, pool)
    raw_list = _read(eligibility) if eligibility else files.eligibility_bytes(election_id)
    manifest_doc = ElectionManifest.from_json(_read(manifest)) if manifest else None
    report = audit_election(
        record,
        EligibilityList.from_json(raw_list),
        raw_list,
        manifest_doc,
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    if json_output:
        emit(_report_document(report, elapsed))
    else:
        _print_report(report, elapsed)
    if not report.ok:
        raise typer.Exit(code=1)


def _report_document(report: AuditReport, elapsed: float) -> dict[str, object]:
    return {
        "election": report.election_id,
        "ok": report.ok,
        "counts": None if report.counts is None else list(report.counts),
        "turnout": report.turnout,
        "void": report.void,
        "superseded": report.superseded,
        "seconds": round(elapsed, 2),
        "findings": [{"check": f.check, "ok": f.ok, "detail": f.detail} for f in report.findings],
    }


def _print_report(report: AuditReport, elapsed: float) -> None:
    for finding in report.findings:
        mark = "[green]ok[/green]  " if finding.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {finding.check}: {finding.detail}", highlight=False)
    verdict = "[green]PASSED[/green]" if report.ok else "[red]FAILED[/red]"
    console.print(
        f"audit of election {report.election_id} {verdict} in {elapsed:.1f} s "
        f"(turnout {report.turnout}, void {report.void}, re-votes {report.superseded})"
    )


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of these commands."""
    root.add_typer(app, name="election")
