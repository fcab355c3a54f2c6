"""Which language a run or a request gets: POSIX locale variables, ``--lang``,
``Accept-Language`` (bounded, never an error), and the context variable that keeps
concurrent requests apart."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.i18n import (
    LANGUAGES,
    MAX_ACCEPT_LANGUAGE,
    UnknownLanguageError,
    language,
    language_from_environment,
    negotiate,
    parse_language,
    using_language,
)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "ko_KR.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL wins, as in setlocale(3)
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),  # no catalogue: the fallback
        ({"LANG": "fr_FR.UTF-8", "LANGUAGE": "fr:ko:en"}, "ko"),  # GNU's list of fallbacks
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": ""}, "en"),
    ],
)
def test_the_locale_variables_choose_as_posix_does(environ: dict[str, str], expected: str) -> None:
    assert language_from_environment(environ) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),  # a Korean Chrome
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("fr-FR, ko;q=0.2", "ko"),  # the best one we have
        ("ko;q=0.3, en;q=0.4", "en"),
        ("ko;q=0, en", "en"),  # q=0 means "not this one"
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("ko;q=abc, en", "en"),  # a malformed range is skipped, not an error
        ("ko;q=2", "en"),  # out of range
        ("🙂, ;;, ko-", "en"),
        ("KO", "ko"),
    ],
)
def test_accept_language_picks_the_best_catalogue(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_a_huge_header_is_read_only_up_to_its_bound() -> None:
    padding = "x-unknown;q=0.5," * 10_000
    assert negotiate(padding + "ko") == "en"  # "ko" lies beyond MAX_ACCEPT_LANGUAGE
    assert negotiate("ko," + padding) == "ko"
    assert len(padding) > 100 * MAX_ACCEPT_LANGUAGE


@given(st.text(max_size=2_000))
def test_any_header_gives_a_language_and_never_an_error(header: str) -> None:
    assert negotiate(header) in LANGUAGES


def test_lang_names_are_parsed_and_unknown_ones_refused() -> None:
    assert parse_language("ko") == "ko"
    assert parse_language("ko-KR") == "ko"
    assert parse_language("en_GB.UTF-8") == "en"
    with pytest.raises(UnknownLanguageError, match="choose one of en, ko"):
        parse_language("fr")


def test_concurrent_requests_keep_their_own_language() -> None:
    seen: dict[str, list[str]] = {"ko": [], "en": []}

    async def request(name: str) -> None:
        with using_language(name):
            for _step in range(20):
                await asyncio.sleep(0)
                seen[name].append(language())

    async def both() -> None:
        await asyncio.gather(request("ko"), request("en"))

    asyncio.run(both())
    assert seen == {"ko": ["ko"] * 20, "en": ["en"] * 20}
    assert language() == "en"  # and nothing leaked out of the blocks
