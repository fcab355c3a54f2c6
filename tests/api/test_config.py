"""Settings that refuse a known or short token secret, and the token bucket's arithmetic."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from api.core.config import DEFAULT_SECRET, Settings
from api.core.limits import TokenBuckets
from cityledger.cli import app


def test_the_default_secret_only_when_a_development_run_asks_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYLEDGER_API_SECRET_KEY", raising=False)
    for environment in ("development", "staging", "production"):
        with pytest.raises(ValidationError, match="CITYLEDGER_API_SECRET_KEY"):
            Settings(environment=environment)
        with pytest.raises(ValidationError, match="shorter than 32"):
            Settings(environment=environment, secret_key="short")
        assert Settings(environment=environment, secret_key="k" * 32).secret_key == "k" * 32
    for environment in ("staging", "production"):  # the flag does not open production
        with pytest.raises(ValidationError, match="CITYLEDGER_API_SECRET_KEY"):
            Settings(environment=environment, allow_insecure_secret=True)
    with pytest.warns(UserWarning, match="CITYLEDGER_API_SECRET_KEY"):
        insecure = Settings(environment="development", allow_insecure_secret=True)
    assert insecure.secret_key == DEFAULT_SECRET


@pytest.mark.parametrize("environment", [None, "development", "production"])
def test_serve_refuses_the_default_secret_in_one_line(
    monkeypatch: pytest.MonkeyPatch, environment: str | None
) -> None:
    """A forged year-long resident token read resident-1's history when `serve` ran in its
    default (development) environment with the public default secret."""
    if environment is None:
        monkeypatch.delenv("CITYLEDGER_API_ENVIRONMENT", raising=False)
    else:
        monkeypatch.setenv("CITYLEDGER_API_ENVIRONMENT", environment)
    monkeypatch.delenv("CITYLEDGER_API_SECRET_KEY", raising=False)
    monkeypatch.delenv("CITYLEDGER_API_ALLOW_INSECURE_SECRET", raising=False)
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
