"""Recovery phrases: ``wallet new --mnemonic`` and ``wallet import --mnemonic``.

The derivation must be the one every Ethereum wallet uses (BIP-39 seed, BIP-44 path
m/44'/60'/0'/0/i), checked against the addresses MetaMask, Trust Wallet and the BIP-44 test
suites publish for the all-"abandon" phrase. ``new --mnemonic`` runs on a real pseudo-terminal
so the test can read the phrase and answer the words it is asked for, as a resident would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from cityledger.testing.terminal import screen_text, spawn
from tests.wallet.helpers import CLEAN_ENV, FAST, PASSWORD, one_line_error
from wallet_cli.main import app

REFERENCE_PHRASE = " ".join(["abandon"] * 11 + ["about"])
REFERENCE_ADDRESSES = {
    0: "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
    1: "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0",
    2: "0xb6716976A3ebe8D39aCEB04372f22Ff8e6802D7A",
}
"""Published BIP-44 Ethereum addresses of the phrase (the same in MetaMask and Trust Wallet)."""


def _words_shown(text: str) -> list[str]:
    """The phrase as the numbered grid shows it (numbered down the columns)."""
    numbered = {int(n): word for n, word in re.findall(r"(\d+)\.\s+([a-z]+)", text)}
    assert sorted(numbered) == list(range(1, len(numbered) + 1)), text
    return [numbered[n] for n in sorted(numbered)]


def _wallet(keys: Path, *args: str, input: str | None = None) -> Result:
    command, *rest = args
    return CliRunner().invoke(
        app,
        [command, "--keystore-dir", str(keys), *rest],
        input=input,
        env={**CLEAN_ENV, "CITYLEDGER_PASSWORD": PASSWORD},
    )


def _restore(keys: Path, alias: str, phrase: str, *extra: str) -> str:
    result = _wallet(keys, "import", alias, "--mnemonic", *extra, *FAST, "--json", input=phrase)
    assert result.exit_code == 0, result.output
    address: str = json.loads(result.stdout)["address"]
    return address


@pytest.mark.parametrize("index", sorted(REFERENCE_ADDRESSES))
def test_import_matches_the_published_derivation(tmp_path: Path, index: int) -> None:
    extra = ("--index", str(index)) if index else ()
    address = _restore(tmp_path, "ref", REFERENCE_PHRASE + "\n", *extra)
    assert address == REFERENCE_ADDRESSES[index]
    document = json.loads((tmp_path / "ref.json").read_text())
    assert Account.from_key(Account.decrypt(document, PASSWORD)).address == address


def test_the_phrase_is_forgiving_of_spacing_and_case_only(tmp_path: Path) -> None:
    sloppy = "  " + REFERENCE_PHRASE.upper().replace(" ", "   ") + "  \n"
    assert _restore(tmp_path, "ref", sloppy) == REFERENCE_ADDRESSES[0]


@pytest.mark.parametrize(
    ("phrase", "reason"),
    [
        (" ".join(["abandon"] * 12), "checksum does not match"),
        (" ".join(["abandon"] * 11), "12 to 24 words, not 11"),
        (REFERENCE_PHRASE.replace("about", "aboot"), "not words of the BIP-39 English list: aboot"),
        ("", "12 to 24 words, not 0"),
    ],
)
def test_a_wrong_phrase_is_refused_before_anything_is_written(
    tmp_path: Path, phrase: str, reason: str
) -> None:
    result = _wallet(tmp_path, "import", "ref", "--mnemonic", *FAST, input=phrase + "\n")
    one_line_error(result, reason)
    assert not (tmp_path / "ref.json").exists()


def test_import_takes_one_source_and_index_only_with_a_phrase(tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("11" * 32)
    one_line_error(
        _wallet(tmp_path, "import", "x", "--mnemonic", "--private-key-file", str(key_file)),
        "exactly one of --mnemonic",
        code=2,
    )
    one_line_error(
        _wallet(tmp_path, "import", "x", "--private-key-file", str(key_file), "--index", "3"),
        "--index goes with --mnemonic",
        code=2,
    )


def test_new_with_json_keeps_the_phrase_off_stdout_and_it_restores_the_key(
    tmp_path: Path,
) -> None:
    made = _wallet(
        tmp_path, "new", "ana", "--mnemonic", "--skip-check", "--words", "24", *FAST, "--json"
    )
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)  # stdout is the JSON document and nothing else
    words = _words_shown(made.stderr)
    assert len(words) == 24
    assert " ".join(words) not in made.stdout
    assert _restore(tmp_path, "ana-again", " ".join(words) + "\n") == created["address"]


def test_new_refuses_a_phrase_length_other_than_12_or_24(tmp_path: Path) -> None:
    result = _wallet(tmp_path, "new", "ana", "--mnemonic", "--words", "15", *FAST)
    assert result.exit_code == 2
    assert "15 is not 12 or 24" in result.output
    assert not (tmp_path / "ana.json").exists()


def _new_on_a_terminal(keys: Path, alias: str) -> tuple[pexpect.spawn[str], list[str]]:
    child = spawn(
        "wallet_cli",
        "new",
        alias,
        "--mnemonic",
        "--keystore-dir",
        str(keys),
        *FAST,
        env={"CITYLEDGER_PASSWORD": PASSWORD},
    )
    child.expect("Press Enter when you have written them down")
    words = _words_shown(screen_text(child.before or ""))
    assert len(words) == 12, child.before
    child.sendline("")
    return child, words


def test_new_shows_the_phrase_once_asks_words_back_and_import_restores_it(
    tmp_path: Path,
) -> None:
    child, words = _new_on_a_terminal(tmp_path, "ana")
    asked = []
    for _ in range(3):
        child.expect(r"Word #(\d+)")
        position = int(child.match.group(1))
        asked.append(position)
        child.sendline(words[position - 1])
    child.expect("created key")
    child.expect(r"0x[0-9a-fA-F]{40}")
    address = child.match.group(0)
    rest = child.read()
    child.close()
    assert child.exitstatus == 0, rest
    assert len(set(asked)) == 3
    assert asked == sorted(asked)
    assert " ".join(words) not in screen_text(rest)  # shown once, before the check
    assert _restore(tmp_path, "ana-restored", " ".join(words) + "\n") == address


def test_a_wrong_word_writes_no_key(tmp_path: Path) -> None:
    child, words = _new_on_a_terminal(tmp_path, "ana")
    child.expect(r"Word #(\d+)")
    position = int(child.match.group(1))
    wrong = "zoo" if words[position - 1] != "zoo" else "zone"
    child.sendline(wrong)
    rest = screen_text(child.read())
    child.close()
    assert child.exitstatus == 1
    assert f"word #{position} does not match: no key was written" in rest
    assert "Traceback" not in rest
    assert not (tmp_path / "ana.json").exists()
