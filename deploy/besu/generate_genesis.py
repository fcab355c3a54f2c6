#!/usr/bin/env python3
"""Write CityLedger's Besu QBFT genesis file from the template and a list of validators.

The only part of a QBFT genesis that depends on the validators is ``extraData``. Besu's QBFT
docs define it, for block-header validator selection, as

    RLP([32 bytes vanity, [validator addresses], no vote, round 0, no seals])

which encodes as ``rlp([b"\\x00" * 32, [addr, ...], [], b"", []])``: the vote is an empty
list (0xc0), round 0 is the empty byte string (0x80) and the seals are an empty list (0xc0).
Addresses are written in ascending order, as ``besu rlp encode --type=QBFT_EXTRA_DATA`` asks.

Alternatives in Besu itself (see docs/besu.md):
  * ``besu operator generate-blockchain-config`` makes keys *and* the genesis in one go;
  * ``besu rlp encode --type=QBFT_EXTRA_DATA`` encodes just the extraData.
This script is for the case where each validator operator generates its own key on its own
host and only sends us the address (``besu public-key export-address``), so that no private
key ever travels.

Examples:
  python deploy/besu/generate_genesis.py 0xAb.. 0xCd.. 0xEf.. 0x01.. --out deploy/besu/genesis.json
  python deploy/besu/generate_genesis.py --alloc allocations.json   # reads validators.txt
  python deploy/besu/generate_genesis.py --decode 0xf87aa000...      # check an extraData
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rlp  # type: ignore[import-untyped]  # rlp ships no type information
from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address

HERE = Path(__file__).resolve().parent
DEFAULT_TEMPLATE = HERE / "genesis.qbft.template.json"
DEFAULT_VALIDATORS_FILE = HERE / "validators.txt"
VANITY_BYTES = 32
MIN_BFT_VALIDATORS = 4
"""QBFT tolerates f faulty validators out of 3f + 1: fewer than four tolerate none."""


class GenesisError(Exception):
    """A problem with the inputs; printed as one line, exit status 2."""


def parse_address(text: str, where: str) -> bytes:
    """Return the 20 address bytes, refusing anything that is not an address.

    Mixed-case input must carry a valid EIP-55 checksum, so a mistyped character in a
    hand-copied address is caught here, not after genesis. All-lower-case input (what
    ``besu public-key export-address`` prints) carries no checksum and is taken as is.
    """
    candidate = text.strip()
    if not is_hex_address(candidate):
        raise GenesisError(f"{where}: not a 0x-prefixed 20-byte hex address: {candidate!r}")
    digits = candidate[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(candidate):
        raise GenesisError(f"{where}: mixed-case address with a bad EIP-55 checksum: {candidate}")
    return bytes.fromhex(digits)


def read_validators_file(path: Path) -> list[str]:
    """One address per line; blank lines and ``#`` comments are ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GenesisError(f"cannot read validators file {path}: {exc.strerror}") from exc
    entries = (line.split("#", 1)[0].strip() for line in lines)
    return [entry for entry in entries if entry]


def validator_list(texts: Sequence[str], source: str) -> list[bytes]:
    """Parse, refuse duplicates, and sort ascending (Besu's documented order)."""
    addresses = [parse_address(t, f"{source} entry {i + 1}") for i, t in enumerate(texts)]
    if not addresses:
        raise GenesisError(f"no validators given ({source} is empty)")
    seen: set[bytes] = set()
    for address in addresses:
        if address in seen:
            raise GenesisError(f"duplicate validator {to_checksum_address(address)}")
        seen.add(address)
    return sorted(addresses)


def encode_extra_data(validators: Sequence[bytes], vanity: bytes = b"\x00" * VANITY_BYTES) -> str:
    """The genesis ``extraData`` for QBFT with block-header validator selection."""
    if len(vanity) != VANITY_BYTES:
        raise GenesisError(f"vanity must be exactly {VANITY_BYTES} bytes, got {len(vanity)}")
    no_vote: list[bytes] = []
    round_zero = b""  # RLP of the integer 0 is the empty string, 0x80
    no_seals: list[bytes] = []
    encoded: bytes = rlp.encode([vanity, list(validators), no_vote, round_zero, no_seals])
    return "0x" + encoded.hex()


def decode_extra_data(extra_data: str) -> tuple[bytes, list[str], Any, int, Any]:
    """Split a QBFT extraData into (vanity, validators, vote, round, seals)."""
    text = extra_data[2:] if extra_data.startswith(("0x", "0X")) else extra_data
    try:
        items: Any = rlp.decode(bytes.fromhex(text))
    except (ValueError, rlp.exceptions.DecodingError) as exc:
        raise GenesisError(f"extraData is not valid hex RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) != 5:
        raise GenesisError("QBFT extraData must be an RLP list of 5 items")
    vanity, raw_validators, vote, raw_round, seals = items
    if not isinstance(raw_validators, list) or not all(
        isinstance(v, bytes) and len(v) == 20 for v in raw_validators
    ):
        raise GenesisError("extraData item 2 must be a list of 20-byte addresses")
    validators: list[str] = [to_checksum_address(v) for v in raw_validators]
    return bytes(vanity), validators, vote, int.from_bytes(raw_round, "big"), seals


def load_json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GenesisError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise GenesisError(f"{what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise GenesisError(f"{what} {path} must hold a JSON object")
    return data


def merge_alloc(base: dict[str, Any], extra: dict[str, Any], source: str) -> dict[str, Any]:
    """Add ``extra`` allocations to ``base``; keys are normalised to lower-case 0x addresses.

    Each value is passed through unchanged (``balance``, ``code``, ``storage``, ``nonce``),
    because Besu validates those fields itself when it loads the genesis.
    """
    merged: dict[str, Any] = {}
    for label, entries in (("template alloc", base), (source, extra)):
        for key, value in entries.items():
            address = "0x" + parse_address(key, f"{label} key").hex()
            if not isinstance(value, dict):
                raise GenesisError(f"{label} entry {key}: value must be a JSON object")
            if address in merged:
                raise GenesisError(f"{label} entry {key}: address allocated twice")
            merged[address] = value
    return merged


def build_genesis(
    template: dict[str, Any],
    validators: Sequence[bytes],
    alloc: dict[str, Any] | None = None,
    alloc_source: str = "allocations file",
) -> dict[str, Any]:
    config = template.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("qbft"), dict):
        raise GenesisError("template has no config.qbft section: is it a QBFT genesis?")
    if "validatorcontractaddress" in {k.lower() for k in config["qbft"]}:
        raise GenesisError(
            "template uses contract validator selection; extraData must then list no validators"
        )
    genesis = dict(template)
    genesis["extraData"] = encode_extra_data(validators)
    genesis["alloc"] = merge_alloc(template.get("alloc") or {}, alloc or {}, alloc_source)
    return genesis


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Write a Besu QBFT genesis for CityLedger: the template plus an RLP-encoded "
            "extraData naming the initial validators (32-byte zero vanity, validators in "
            "ascending order, no vote, round 0, no seals) and optional extra allocations."
        ),
        epilog=(
            "Validator addresses are node addresses: `besu public-key export-address "
            "--node-private-key-file=<key>` prints one. Alternative: `besu operator "
            "generate-blockchain-config` generates keys and genesis together. See docs/besu.md."
        ),
    )
    parser.add_argument(
        "validators",
        nargs="*",
        metavar="ADDRESS",
        help="validator (node) addresses; if none are given, --validators-file is read",
    )
    parser.add_argument(
        "--validators-file",
        type=Path,
        default=DEFAULT_VALIDATORS_FILE,
        help="one address per line, '#' comments allowed (default: %(default)s)",
    )
    parser.add_argument(
        "--alloc",
        type=Path,
        metavar="FILE",
        help='JSON object {"0xaddress": {"balance": "0x0", "code": ..., "storage": ...}} '
        "merged into the template's alloc",
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=DEFAULT_TEMPLATE,
        help="genesis template (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="-",
        metavar="FILE",
        help="where to write the genesis; '-' is standard output (default)",
    )
    parser.add_argument(
        "--allow-fewer-than-4",
        action="store_true",
        help="accept 1-3 validators (a test network that tolerates no faulty validator)",
    )
    parser.add_argument(
        "--decode",
        metavar="EXTRADATA",
        help="instead of writing a genesis, decode a QBFT extraData and print its validators",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    if args.decode is not None:
        vanity, names, vote, round_number, seals = decode_extra_data(args.decode)
        print(f"vanity:     0x{vanity.hex()}")
        vote_text = "none" if vote == [] else repr(vote)
        seals_text = str(len(seals)) if isinstance(seals, list) else repr(seals)
        print(f"vote:       {vote_text}")
        print(f"round:      {round_number}")
        print(f"seals:      {seals_text}")
        print(f"validators: {len(names)}")
        for name in names:
            print(f"  {name}")
        return

    if args.validators:
        validators = validator_list(args.validators, "command line")
    else:
        path: Path = args.validators_file
        validators = validator_list(read_validators_file(path), str(path))
    if len(validators) < MIN_BFT_VALIDATORS and not args.allow_fewer_than_4:
        raise GenesisError(
            f"{len(validators)} validator(s): QBFT needs at least {MIN_BFT_VALIDATORS} to "
            "tolerate one faulty validator (pass --allow-fewer-than-4 for a test network)"
        )

    template = load_json_object(args.template, "template")
    alloc = load_json_object(args.alloc, "allocations file") if args.alloc else None
    genesis = build_genesis(template, validators, alloc, str(args.alloc))
    text = json.dumps(genesis, indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out} with {len(validators)} validators:", file=sys.stderr)
        for address in validators:
            print(f"  {to_checksum_address(address)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except GenesisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
