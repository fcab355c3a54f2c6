"""The API's schema migrations (alembic), versioned in ``alembic_version_api``.

The index keeps its own migration tree and version table on the same database; each tree
creates and changes only its own tables.

Data migrations that seal secrets (``api_0002``) need the API's encryption keys: pass the
``Sealer`` of the settings the API will run with, or they are read from the environment
(``CITYLEDGER_API_ENCRYPTION_KEYS``, else the key derived from ``CITYLEDGER_API_SECRET_KEY``),
as ``cityledger serve`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

if TYPE_CHECKING:
    from api.core.sealing import Sealer

VERSION_TABLE = "alembic_version_api"
HERE = Path(__file__).resolve().parent


SEALER = "sealer"
"""The ``Config.attributes`` entry holding the :class:`Sealer` for data migrations."""
SEALED_ROWS = "sealed_rows"
"""Set there by a data migration that overwrote clear-text secrets (``env.py`` then truncates
SQLite's WAL, which still holds their older copies)."""


def config(url: str, sealer: Sealer | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if sealer is not None:
        cfg.attributes[SEALER] = sealer
    return cfg


def upgrade(url: str, revision: str = "head", *, sealer: Sealer | None = None) -> None:
    """Bring the API's tables in the database at ``url`` up to ``revision``."""
    command.upgrade(config(url, sealer), revision)


def downgrade(url: str, revision: str, *, sealer: Sealer | None = None) -> None:
    command.downgrade(config(url, sealer), revision)
