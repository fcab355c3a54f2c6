"""Messages for people in Korean or English: gettext catalogues, one language per run or request.

Sejong's residents and staff read Korean first, so every sentence a person reads (a refusal, a
summary, a prompt, the API's ``detail``) goes through :func:`_` here. The catalogues are
gettext's: ``pybabel extract`` collects the messages (``babel.cfg``), translators keep
``ledger/locales/<lang>/LC_MESSAGES/cityledger.po`` in the repository, and the build compiles
them to ``.mo`` (``hatch_build.py``; ``make messages`` by hand). English is the source language
and the fallback: a message without a translation is shown as written.

The language is a context variable, not a global: a CLI sets it once from ``--lang`` or the
locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), and the API sets it per request from
``Accept-Language``, so concurrent requests in different languages do not mix. Messages are
translated when they are made (``raise X(_("..."))``), which is inside the run or the request.

Codes, addresses, amounts' ``₩`` formatting and ``--json`` documents are language-neutral and
never pass through here.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from ledger.exceptions import InputError

DOMAIN = "cityledger"
LOCALES = Path(__file__).with_name("locales")
LANGUAGES = ("en", "ko")
"""What the catalogues cover; the first is the source language and the fallback."""
DEFAULT_LANGUAGE = LANGUAGES[0]
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
"""Where POSIX looks for the messages' language, in its order of precedence."""
MAX_ACCEPT_LANGUAGE = 512
"""Longest ``Accept-Language`` header read; browsers send well under 100 characters."""
MAX_LANGUAGE_RANGES = 16

_language: ContextVar[str] = ContextVar("cityledger_language", default=DEFAULT_LANGUAGE)
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$"
)


class UnknownLanguageError(InputError):
    """A language asked for by name (``--lang``) that has no catalogue."""


@cache
def _catalogue(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALES, languages=[language], fallback=True)


def _(message: str) -> str:
    """``message`` in the current language (as written if it has no translation)."""
    return _catalogue(_language.get()).gettext(message)


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Mark a constant as a message without translating it yet (it is translated where it is
    shown, with ``_(CONSTANT)``): pybabel extracts ``N_`` like ``_``."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for ``count`` in the current language."""
    return _catalogue(_language.get()).ngettext(singular, plural, count)


def language() -> str:
    """The language messages are being made in."""
    return _language.get()


def parse_language(name: str) -> str:
    """``ko``, ``ko-KR``, ``ko_KR.UTF-8`` -> ``ko``; refuse a language without a catalogue."""
    base = _base(name)
    if base not in LANGUAGES:
        raise UnknownLanguageError(
            _("no messages in {name!r}: choose one of {languages}").format(
                name=name, languages=", ".join(LANGUAGES)
            )
        )
    return base


def set_language(name: str) -> None:
    """Make messages in ``name`` from now on, in this context (a CLI run)."""
    _language.set(parse_language(name))


@contextmanager
def using_language(name: str) -> Iterator[None]:
    """Make messages in ``name`` inside the block only (a request, a test)."""
    token = _language.set(parse_language(name))
    try:
        yield
    finally:
        _language.reset(token)


def language_from_environment(environ: Mapping[str, str]) -> str:
    """The language POSIX's locale variables ask for, if there is a catalogue for it.

    The first variable set decides, as in setlocale(3): ``LC_ALL=C`` with ``LANG=ko_KR`` is
    English. ``LANGUAGE`` (GNU's list of fallbacks) is read before them when it is set.
    """
    for choice in environ.get("LANGUAGE", "").split(":"):
        if _base(choice) in LANGUAGES:
            return _base(choice)
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable)
        if value:
            base = _base(value)
            return base if base in LANGUAGES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def negotiate(accept_language: str | None) -> str:
    """The best catalogue for an HTTP ``Accept-Language`` header (RFC 9110 §12.5.4).

    The header comes from the network: it is read only up to :data:`MAX_ACCEPT_LANGUAGE`
    characters and :data:`MAX_LANGUAGE_RANGES` ranges, and anything malformed is skipped, never
    an error (the fallback is English).
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language[:MAX_ACCEPT_LANGUAGE].split(",")):
        if position >= MAX_LANGUAGE_RANGES:
            break
        match = _RANGE.match(part)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if not 0 < quality <= 1:
            continue
        tag = match.group(1)
        base = DEFAULT_LANGUAGE if tag == "*" else _base(tag)
        if base in LANGUAGES:
            ranked.append((-quality, position, base))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def _base(name: str) -> str:
    """The primary language subtag: ``ko_KR.UTF-8@x`` -> ``ko``; ``C``/``POSIX`` -> ``en``."""
    base = re.split(r"[-_.@]", name.strip(), maxsplit=1)[0].lower()
    return DEFAULT_LANGUAGE if base in ("c", "posix") else base
