"""`wallet vote cast`'s CHOICE arguments: option numbers (1-based, as `vote show` prints them)
or labels, judged by the one selection rule in ledger (``BallotSpec.check_choices``)."""

from __future__ import annotations

import pytest

from ledger.voting.manifest import ElectionManifest
from wallet_cli.commands.vote import _choices
from wallet_cli.errors import WalletError

PARKS = ElectionManifest.build(
    "Which parks get new benches?",
    "approval",
    ["North park", "Lake park", "Station square"],
    min_selections=1,
    max_selections=2,
)
MAYOR = ElectionManifest.build("Chair of the 5-1 life zone council", "single", ["Kim", "Lee"])


def test_numbers_and_labels_name_options() -> None:
    assert _choices(PARKS, ["1", "station SQUARE"]) == [0, 2]
    assert _choices(MAYOR, ["Lee"]) == [1]


@pytest.mark.parametrize(
    ("manifest", "picks", "message"),
    [
        (PARKS, ["1", "North park"], "an option is chosen twice"),
        (PARKS, ["1", "2", "3"], "choose 1 to 2 options; 3 chosen"),
        (PARKS, [], "choose 1 to 2 options; 0 chosen"),
        (MAYOR, ["1", "2"], "choose one option; 2 chosen"),
        (MAYOR, ["4"], "'4' is not an option of this vote"),
        (MAYOR, ["Park"], "'Park' is not an option of this vote"),
    ],
)
def test_refused_choices_say_why(
    manifest: ElectionManifest, picks: list[str], message: str
) -> None:
    with pytest.raises(WalletError, match=message):
        _choices(manifest, picks)
