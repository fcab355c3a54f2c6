"""Compile the gettext catalogues (``.po`` in the repository) to ``.mo`` when the package is
built or installed, editable installs included, so no compiled file is committed.

Hatchling runs this hook (``[tool.hatch.build.hooks.custom]`` in pyproject.toml) with Babel
from ``build-system.requires``; ``make messages`` does the same by hand after editing a ``.po``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LOCALES = Path("ledger") / "locales"


def compile_catalogues(root: Path) -> list[Path]:
    """Write ``cityledger.mo`` beside every ``cityledger.po`` under ``root/LOCALES``."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((root / LOCALES).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parts[-3])
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalogue, use_fuzzy=False)
        written.append(mo)
    return written


class CustomBuildHook(BuildHookInterface):  # type: ignore[misc]  # hatchling ships no types
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:  # noqa: ARG002
        root = Path(self.root)
        for mo in compile_catalogues(root):
            # .mo files are ignored by git, so hatch would leave them out of a wheel.
            build_data["artifacts"].append(str(mo.relative_to(root)))
