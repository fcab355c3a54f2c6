"""The packaged migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from ledger.indexer import db


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "version_table": db.VERSION_TABLE,
                "include_object": db.include_object,
            },
        )
        return list(compare_metadata(context, db.index_metadata()))


def test_the_migrated_schema_equals_the_models(engine: Engine) -> None:
    assert _differences(engine) == []
    assert db.current_revision(engine) == "0001_index"
    tables = set(inspect(engine).get_table_names())
    assert tables == {*db.INDEX_TABLES, db.VERSION_TABLE}


def test_upgrade_is_idempotent_and_leaves_other_trees_alone(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as connection:
            # Another alembic tree (the API's) keeps its version in the default table.
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            connection.execute(text("INSERT INTO alembic_version VALUES ('api_0001')"))
        db.upgrade(db_url)
        db.upgrade(engine)
        assert _differences(engine) == []
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert [tuple(row) for row in versions] == [("api_0001",)]
    finally:
        engine.dispose()


def test_the_migrations_ship_inside_the_package() -> None:
    """The wheel includes every file of the ``ledger`` package (hatchling's default), so
    ``upgrade`` needs no alembic.ini and no source checkout."""
    package = Path(db.__file__).resolve().parent
    assert package / "migrations" == db.MIGRATIONS_DIR
    scripts = ScriptDirectory(str(db.MIGRATIONS_DIR))
    assert [s.revision for s in scripts.walk_revisions()] == ["0001_index"]
    assert not list(package.glob("**/alembic.ini"))


def test_sqlite_gets_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'deep' / 'index.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "deep" / "index.sqlite3").exists()
