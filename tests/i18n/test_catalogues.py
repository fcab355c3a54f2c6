"""The catalogues are complete and well-formed, and the build compiles them.

Every message marked in the source (``_()``/``ngettext()``, found the way ``pybabel extract``
finds them, with babel.cfg) must have a Korean translation that is not fuzzy and uses the same
placeholders, so a new English sentence cannot ship untranslated and ``.format()`` cannot fail
in one language only. The committed template must be what extraction gives today.
"""

from __future__ import annotations

import ast
import gettext
import shutil
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from cityledger.testing.processes import ROOT
from hatch_build import compile_catalogues
from ledger.i18n import DOMAIN, LANGUAGES, LOCALES

TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def _extracted() -> set[str | tuple[str, str]]:
    method_map = [
        (f"{package}/**.py", "python") for package in ("ledger", "api", "wallet_cli", "cityledger")
    ]
    found: set[str | tuple[str, str]] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def _catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _ids(catalogue: Catalog) -> set[str | tuple[str, str]]:
    return {m.id if isinstance(m.id, str) else (m.id[0], m.id[1]) for m in catalogue if m.id}


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def test_the_template_is_what_the_source_marks() -> None:
    template = _catalogue(LOCALES / f"{DOMAIN}.pot")
    assert _ids(template) == _extracted(), "run `make messages` and translate the new ones"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(locale: str) -> None:
    catalogue = _catalogue(LOCALES / locale / "LC_MESSAGES" / f"{DOMAIN}.po", locale)
    missing = sorted(map(str, _extracted() - _ids(catalogue)))
    assert not missing, f"not in the {locale} catalogue (run `make messages`): {missing[:5]}"
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        if any(_fields(s) != _fields(ids[0]) for s in strings):
            problems.append(f"placeholders differ: {ids[0]!r} -> {strings!r}")
    assert not problems, "\n".join(problems[:10])


def test_the_build_hook_compiles_catalogues_gettext_reads(tmp_path: Path) -> None:
    shutil.copytree(LOCALES, tmp_path / "ledger" / "locales")
    written = compile_catalogues(tmp_path)
    assert {p.parts[-3] for p in written} == set(TRANSLATED)
    catalogue = _catalogue(LOCALES / "ko" / "LC_MESSAGES" / f"{DOMAIN}.po", "ko")
    message = next(m for m in catalogue if m.id and isinstance(m.id, str))
    korean = gettext.translation(DOMAIN, tmp_path / "ledger" / "locales", languages=["ko"])
    assert korean.gettext(message.id) == message.string != message.id


def test_no_module_that_translates_uses_underscore_as_a_throwaway() -> None:
    """``for _ in ...`` or ``_, x = ...`` would shadow the translation function for the rest
    of the function (Django's classic gettext bug)."""
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] not in ("ledger", "api", "wallet_cli", "cityledger"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        imports_underscore = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "ledger.i18n"
            and any(alias.name == "_" for alias in node.names)
            for node in ast.walk(tree)
        )
        if not imports_underscore:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
