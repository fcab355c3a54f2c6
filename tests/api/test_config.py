"""Settings that refuse the development secret elsewhere, and the token bucket's arithmetic."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from api.core.config import DEFAULT_SECRET, Settings
from api.core.limits import TokenBuckets
from cityledger.cli import app


def test_default_secret_only_in_development() -> None:
    for environment in ("staging", "production"):
        with pytest.raises(ValidationError, match="CITYLEDGER_API_SECRET_KEY"):
            Settings(environment=environment)
        with pytest.raises(ValidationError, match="shorter than 32"):
            Settings(environment=environment, secret_key="short")
        assert Settings(environment=environment, secret_key="k" * 32).secret_key == "k" * 32
    with pytest.warns(UserWarning, match="CITYLEDGER_API_SECRET_KEY"):
        assert Settings(environment="development").secret_key == DEFAULT_SECRET


def test_serve_refuses_the_default_secret_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLEDGER_API_ENVIRONMENT", "production")
    monkeypatch.delenv("CITYLEDGER_API_SECRET_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--no-migrate", "--db-url", "sqlite://"])
    assert result.exit_code == 1
    assert "CITYLEDGER_API_SECRET_KEY is the default" in result.output
    assert "Traceback" not in result.output


def test_token_bucket_refills_at_its_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)  # one token every 0.5 s
    assert buckets.take("b", now=0.0) == 0.0  # another principal's bucket is full
    assert buckets.take("a", now=0.5) == 0.0
    assert buckets.take("a", now=0.5) > 0
    assert [buckets.take("a", now=100.0) for _ in range(4)][-1] > 0  # never above the burst


def test_forgotten_keys_start_full() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=2)
    assert buckets.take("a", now=0.0) == 0.0
    buckets.take("b", now=0.0)
    buckets.take("c", now=0.0)  # "a" was the least recently used
    assert buckets.take("a", now=0.0) == 0.0
