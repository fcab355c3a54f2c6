"""Long commands show a progress bar on a terminal and nothing but their result otherwise.

``cityledger index`` catches up with a freshly deployed city on a real pseudo-terminal: the bar
(what, how far, the rate) must be drawn on the screen. The same catch-up with ``--json`` on the
same terminal must print one JSON document and nothing else, and without a terminal (CliRunner's
pipes) no bar either.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from cityledger.cli import app
from cityledger.testing.city import TestCity
from cityledger.testing.terminal import screen_text, spawn


def _index_options(city: TestCity, database: Path) -> list[str]:
    return [
        "index",
        "--db-url",
        f"sqlite:///{database}",
        "--rpc-url",
        city.url,
        "--manifest",
        str(city.manifest_path),
        "--batch-blocks",
        "2",
        "--log-level",
        "warning",
    ]


def _run_on_a_terminal(*args: str) -> tuple[int, str]:
    child = spawn("cityledger", *args)
    shown = screen_text(child.read())
    child.close()
    assert child.exitstatus is not None, shown
    return child.exitstatus, shown


def test_index_catch_up_draws_a_bar_on_a_terminal(test_city: TestCity, tmp_path: Path) -> None:
    head = test_city.city.chain.w3.eth.block_number
    code, shown = _run_on_a_terminal(*_index_options(test_city, tmp_path / "index.sqlite3"))
    assert code == 0, shown
    bar = re.search(r"indexing\s+━+\s+(\d+)/(\d+) blocks\s+100%\s+([\d,]+ blocks/s)?", shown)
    assert bar, shown
    assert int(bar.group(1)) == int(bar.group(2)) >= head
    assert "indexed" in shown


def test_index_with_json_prints_only_json_even_on_a_terminal(
    test_city: TestCity, tmp_path: Path
) -> None:
    code, shown = _run_on_a_terminal(
        *_index_options(test_city, tmp_path / "index.sqlite3"), "--json"
    )
    assert code == 0, shown
    document = json.loads(shown)  # the whole screen is one JSON document
    assert document["head"] >= test_city.city.chain.w3.eth.block_number - 1
    assert "━" not in shown


def test_no_bar_when_output_is_not_a_terminal(test_city: TestCity, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _index_options(test_city, tmp_path / "index.sqlite3"))
    assert result.exit_code == 0, result.output
    assert "━" not in result.output
    assert "indexing" not in result.output
