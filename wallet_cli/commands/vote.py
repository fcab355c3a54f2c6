"""``wallet vote``: city votes from the voter's side — list, show, cast, status, verify.

The wallet trusts no server with a choice: it fetches the vote's published files (manifest and
eligibility list) from the city API or a folder, checks them against the hashes on chain, builds
its own eligibility proof, and encrypts and proves the ballot on this machine. The tracking code
it prints is the ballot's hash, which anyone can look up on the chain's bulletin board.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from ledger.types import parse_address
from ledger.voting.methods import VoteMethod
from wallet_cli import output
from wallet_cli.commands.keys import PasswordFile
from wallet_cli.commands.payments import ApiUrl, Yes
from wallet_cli.context import Wallet, wallet_command
from wallet_cli.errors import WalletError

if TYPE_CHECKING:
    from ledger.contracts.elections import ElectionState
    from ledger.voting.eligibility import EligibilityList
    from ledger.voting.manifest import ElectionManifest

# The voting library (the group arithmetic, the proofs, web3) is imported by the commands that
# use it, so `wallet --help` and the payment commands do not load it.

app = typer.Typer(help="City votes: see them, cast an encrypted ballot, check it counted.")

ElectionId = Annotated[int, typer.Argument(metavar="ELECTION", help="The vote's number.", min=1)]
VoterAlias = Annotated[str, typer.Argument(metavar="VOTER", help="Alias of the voter's key.")]
FilesDir = Annotated[
    Path | None,
    typer.Option(
        "--files-dir",
        envvar="CITYLEDGER_ELECTIONS_DIR",
        help="A folder of published vote files (instead of the city API).",
        show_default="none",
    ),
]


class PublishedFiles:
    """A vote's manifest and eligibility list, fetched and checked against the chain."""

    def __init__(self, wallet: Wallet, api_url: str | None, files_dir: Path | None) -> None:
        self.wallet = wallet
        self.api_url = api_url
        self.files_dir = files_dir

    def _fetch(self, election_id: int, name: str) -> bytes:
        import httpx

        from ledger.voting.files import ElectionFiles

        if self.files_dir is not None:
            files = ElectionFiles(self.files_dir, self.wallet.city.chain.chain_id)
            path = files.folder(election_id) / name
            try:
                return path.read_bytes()
            except OSError:
                raise WalletError(f"no {name} for vote {election_id} in {self.files_dir}") from None
        if self.api_url is None:
            raise WalletError(
                "the vote's published files come from the city API: pass --api-url (or set "
                "CITYLEDGER_API_URL), or --files-dir with a folder of them"
            )
        url = f"{self.api_url.rstrip('/')}/elections/{election_id}/{name.removesuffix('.json')}"
        try:
            response = httpx.get(url, timeout=30)
        except httpx.HTTPError as exc:
            raise WalletError(f"cannot reach the city API at {self.api_url}: {exc}") from None
        if response.status_code != 200:
            raise WalletError(f"the city API has no {name} for vote {election_id}")
        return response.content

    def manifest(self, state: ElectionState) -> ElectionManifest:
        from eth_utils import keccak

        from ledger.voting.files import MANIFEST
        from ledger.voting.manifest import ElectionManifest

        data = self._fetch(state.id, MANIFEST)
        if keccak(data) != state.config.manifest_hash:
            raise WalletError(f"the manifest served for vote {state.id} is not the one on chain")
        return ElectionManifest.from_json(data)

    def eligibility(self, state: ElectionState) -> EligibilityList:
        from eth_utils import keccak

        from ledger.voting.eligibility import EligibilityList
        from ledger.voting.files import ELIGIBILITY

        data = self._fetch(state.id, ELIGIBILITY)
        if keccak(data) != state.config.eligibility_list_hash:
            raise WalletError(
                f"the eligibility list served for vote {state.id} is not the one on chain"
            )
        return EligibilityList.from_json(data)


def _state(wallet: Wallet, election_id: int) -> ElectionState:
    elections = wallet.city.elections
    if not 1 <= election_id <= elections.election_count():
        raise WalletError(f"there is no vote {election_id}")
    return elections.election(election_id)


def _status(wallet: Wallet, state: ElectionState) -> str:
    from ledger.contracts.elections import ElectionPhase
    from ledger.voting.record import window_of

    now = wallet.city.chain.next_block_time()  # the time a ballot sent now would see
    window = window_of(state.config)
    if state.phase is ElectionPhase.OPEN and window.contains(now):
        return "open"
    if state.phase is ElectionPhase.OPEN and now < window.opens_at:
        return "opens soon"
    return {
        ElectionPhase.SETUP: "in preparation",
        ElectionPhase.OPEN: "closing",
        ElectionPhase.CLOSED: "closed, counting",
        ElectionPhase.TALLIED: "result published",
    }.get(state.phase, state.phase.name.lower())


@app.command("list")
@wallet_command
def list_(wallet: Wallet) -> None:
    """Every vote on this chain, with its state."""
    from ledger.contracts.elections import ElectionKind

    elections = wallet.city.elections
    states = [elections.election(i) for i in range(1, elections.election_count() + 1)]
    if wallet.json:
        output.print_json(
            [
                {
                    "election": s.id,
                    "kind": s.config.kind.name.lower(),
                    "status": _status(wallet, s),
                    "voters": s.voter_count,
                    "closes_at": s.config.closes_at,
                }
                for s in states
            ]
        )
        return
    table = Table("#", "kind", "status", "voters", "closes at (block time)")
    for s in states:
        kind = "public poll" if s.config.kind is ElectionKind.PUBLIC_POLL else "secret ballot"
        table.add_row(
            str(s.id), kind, _status(wallet, s), str(s.voter_count), str(s.config.closes_at)
        )
    wallet.out.print(table)


@app.command()
@wallet_command
def show(
    wallet: Wallet, election: ElectionId, api_url: ApiUrl = None, files_dir: FilesDir = None
) -> None:
    """A vote's question and options (numbered for `wallet vote cast`)."""
    state = _state(wallet, election)
    manifest = PublishedFiles(wallet, api_url, files_dir).manifest(state)
    result = wallet.city.elections.result(election)
    if wallet.json:
        output.print_json(
            {
                "election": election,
                "title": manifest.title,
                "method": manifest.method.value,
                "status": _status(wallet, state),
                "min_selections": manifest.min_selections,
                "max_selections": manifest.max_selections,
                "options": [o.label for o in manifest.options],
                "counts": None if result is None else list(result.counts),
            }
        )
        return
    wallet.out.print(
        Text.assemble((f"{election}. {manifest.title}", "bold"), f" ({_status(wallet, state)})")
    )
    wallet.out.print(_how_to_choose(manifest))
    table = Table("#", "option", *(["votes"] if result else []))
    for index, option in enumerate(manifest.options, start=1):
        label = (
            option.label if option.cost is None else f"{option.label} ({output.krw(option.cost)})"
        )
        table.add_row(str(index), label, *([str(result.counts[index - 1])] if result else []))
    wallet.out.print(table)


def _how_to_choose(manifest: ElectionManifest) -> str:
    low, high = manifest.min_selections, manifest.max_selections
    if low == high == 1:
        return "choose one option"
    if manifest.method is VoteMethod.BUDGET and manifest.budget is not None:
        return f"choose up to {high} projects (budget {output.krw(manifest.budget)})"
    return f"choose {low} to {high} options"


def _choices(manifest: ElectionManifest, picks: list[str]) -> list[int]:
    """Option numbers (1-based, as `show` prints them) or exact labels → 0-based indices."""
    from ledger.voting.crypto import InvalidSelection, SelectionCountError

    labels = {o.label.casefold(): i for i, o in enumerate(manifest.options)}
    chosen: list[int] = []
    for pick in picks:
        if pick.isdigit() and 1 <= int(pick) <= len(manifest.options):
            chosen.append(int(pick) - 1)
        elif pick.casefold() in labels:
            chosen.append(labels[pick.casefold()])
        else:
            raise WalletError(f"{pick!r} is not an option of this vote (see `wallet vote show`)")
    try:
        manifest.spec.check_choices(chosen)
    except SelectionCountError:
        raise WalletError(f"{_how_to_choose(manifest)}; {len(chosen)} chosen") from None
    except InvalidSelection:  # options were named by number or label: only a repeat is left
        raise WalletError("an option is chosen twice") from None
    return chosen


@app.command()
@wallet_command
def cast(
    wallet: Wallet,
    voter: VoterAlias,
    election: ElectionId,
    choice: Annotated[
        list[str] | None,
        typer.Argument(metavar="CHOICE...", help="Option numbers or labels (none: abstain)."),
    ] = None,
    api_url: ApiUrl = None,
    files_dir: FilesDir = None,
    yes: Yes = False,
    password_file: PasswordFile = None,
) -> None:
    """Encrypt your choice on this machine and cast it; re-casting replaces your ballot."""
    from ledger.contracts.elections import ElectionKind
    from ledger.voting import lifecycle

    if voter[:2].lower() == "0x":
        raise WalletError("VOTER must be the alias of a key in the keystore, not an address")
    address = wallet.keys.address(voter)
    state = _state(wallet, election)
    if _status(wallet, state) != "open":
        raise WalletError(f"vote {election} is not open ({_status(wallet, state)})")
    files = PublishedFiles(wallet, api_url, files_dir)
    manifest, eligibility = files.manifest(state), files.eligibility(state)
    if address not in eligibility:
        raise WalletError(f"{voter} ({address}) is not eligible for vote {election}")
    chosen = _choices(manifest, list(choice or []))
    picked = ", ".join(manifest.options[i].label for i in chosen) or "nothing (abstain)"
    secret = state.config.kind is ElectionKind.SECRET_BALLOT
    wallet.info.print(f"vote {election}: {manifest.title}\nyour choice: {picked}")
    wallet.info.print(
        "encrypted on this machine; only the trustees together can count it"
        if secret
        else "this is a public poll: your choice is visible to everyone"
    )
    if state.voter_count and wallet.city.elections.sequence_of(election, address):
        wallet.info.print("this replaces your earlier ballot")
    if not yes and not typer.confirm("Cast this ballot?", err=True):
        raise WalletError("cancelled: nothing was cast")
    signer = wallet.unlock(voter, password_file)
    receipt = lifecycle.cast_ballot(wallet.city, signer, election, chosen, eligibility)
    code = f"0x{receipt.tracking_code.hex()}"
    if wallet.json:
        output.print_json(
            {
                "election": election,
                "voter": receipt.voter,
                "sequence": receipt.sequence,
                "tracking_code": code,
                "block": receipt.block_number,
            }
        )
        return
    wallet.out.print(f"cast in block {receipt.block_number} (ballot #{receipt.sequence})")
    wallet.out.print(f"tracking code: {code}")
    wallet.out.print(f"check it any time: wallet vote verify {election} {code}")


@app.command()
@wallet_command
def status(wallet: Wallet, voter: VoterAlias, election: ElectionId) -> None:
    """Whether you have voted in a vote, and your live ballot's tracking code."""
    address = wallet.party(voter).address
    state = _state(wallet, election)
    elections = wallet.city.elections
    sequence = elections.sequence_of(election, address)
    code = elections.last_ballot_hash_of(election, address) if sequence else None
    document = {
        "election": election,
        "voter": address,
        "status": _status(wallet, state),
        "ballots_cast": sequence,
        "tracking_code": None if code is None else f"0x{code.hex()}",
    }
    if wallet.json:
        output.print_json(document)
        return
    if not sequence:
        wallet.out.print(f"{voter} has not voted in vote {election} ({document['status']})")
        return
    wallet.out.print(
        f"{voter} has cast {sequence} ballot(s) in vote {election}; the last one counts: "
        f"{document['tracking_code']}"
    )


@app.command()
@wallet_command
def verify(
    wallet: Wallet,
    election: ElectionId,
    tracking_code: Annotated[str, typer.Argument(help="The code `wallet vote cast` printed.")],
) -> None:
    """Find a ballot by its tracking code on the chain and say whether it counts."""
    from ledger.voting import lifecycle
    from ledger.voting.counting import BallotStatus, ballot_verdict
    from ledger.voting.record import spec_of, window_of

    try:
        code = bytes.fromhex(tracking_code.removeprefix("0x"))
    except ValueError:
        code = b""
    if len(code) != 32:
        raise WalletError(f"{tracking_code!r} is not a tracking code (0x and 64 hex digits)")
    state = _state(wallet, election)
    city = wallet.city
    casts = city.elections.ballots(election)
    found = next((c for c in casts if c.ballot_hash == code), None)
    if found is None:
        raise WalletError(f"no ballot with tracking code {tracking_code} in vote {election}")
    voter = parse_address(found.voter)
    judged = ballot_verdict(
        found,
        casts,
        context=lifecycle.context_of(city, election),
        public_key=lifecycle.public_key_of(state),
        spec=spec_of(state.config),
        window=window_of(state.config),
        eligible=None,  # the contract checked each voter's Merkle proof
    )
    verdict = {
        BallotStatus.COUNTED: "counts: it is the voter's last ballot and its proofs verify",
        BallotStatus.SUPERSEDED: "superseded by a later ballot of the same voter",
    }.get(judged.status, f"void: {judged.reason}")
    if wallet.json:
        output.print_json(
            {
                "election": election,
                "tracking_code": f"0x{code.hex()}",
                "voter": voter,
                "sequence": found.sequence,
                "block": found.block_number,
                "verdict": verdict,
            }
        )
        return
    wallet.out.print(f"ballot #{found.sequence} of {voter}, block {found.block_number}: {verdict}")
