"""One rule for secrets from the environment: ``$NAME``, else the file ``$NAME_FILE``, else a
deprecated name with a warning; and one keystore password variable for both CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.exceptions import ConfigError
from ledger.secrets import env_secret, keystore_password


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CITYLEDGER_PASSWORD", "CITYLEDGER_WALLET_PASSWORD", "T_SECRET", "T_OLD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def test_value_then_file_then_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert env_secret("T_SECRET") is None
    (tmp_path / "s").write_text("from-file\n")
    monkeypatch.setenv("T_SECRET_FILE", str(tmp_path / "s"))
    assert env_secret("T_SECRET") == "from-file"  # the trailing newline is not part of it
    monkeypatch.setenv("T_SECRET", "from-env")
    assert env_secret("T_SECRET") == "from-env"
    monkeypatch.setenv("T_SECRET", "")  # empty counts as unset
    assert env_secret("T_SECRET") == "from-file"


def test_an_unreadable_file_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("T_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot read secret file"):
        env_secret("T_SECRET")


def test_a_deprecated_name_still_works_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_OLD", "old")
    with pytest.warns(FutureWarning, match=r"\$T_OLD is deprecated: use \$T_SECRET"):
        assert env_secret("T_SECRET", deprecated="T_OLD") == "old"
    monkeypatch.setenv("T_SECRET", "new")
    assert env_secret("T_SECRET", deprecated="T_OLD") == "new"  # the new name wins, silently


def test_keystore_password_flag_then_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert keystore_password(None) is None  # the caller asks the person
    monkeypatch.setenv("CITYLEDGER_WALLET_PASSWORD", "wallet-era")
    with pytest.warns(FutureWarning):
        assert keystore_password(None) == "wallet-era"
    monkeypatch.setenv("CITYLEDGER_PASSWORD", "current")
    assert keystore_password(None) == "current"
    (tmp_path / "pw").write_text("flag\n")
    assert keystore_password(tmp_path / "pw") == "flag"
