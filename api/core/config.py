"""The API's settings, from the environment (``CITYLEDGER_API_*``) or ``cityledger serve`` flags.

Secrets: the JWT secret's placeholder default and short keys are refused (in development too,
unless ``CITYLEDGER_API_ALLOW_INSECURE_SECRET`` asks for them); the service signer's private key
is never a setting (``$CITYLEDGER_API_SERVICE_KEY`` or an encrypted keystore with a password
file, see :mod:`api.services`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.core.sealing import parse_keys
from ledger.config import LedgerSettings
from ledger.secrets import read_secret_file

DEFAULT_SECRET = "changethis"
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLEDGER_API_", extra="ignore")

    environment: Literal["development", "staging", "production"] = "development"
    api_prefix: str = "/api/v1"
    secret_key: str = Field(default=DEFAULT_SECRET, description="HS256 key of access tokens")
    ledger: LedgerSettings = Field(
        default_factory=LedgerSettings,
        description="the chain, the deployment, the data dir and the index database the API "
        "shares: the ledger's CITYLEDGER_* settings",
    )
    elections_dir: Path | None = Field(
        default=None,
        description="published vote files (default: the ledger's, <data dir>/elections, where "
        "`cityledger election` publishes them)",
    )

    # Service signer (PAYMENT_OPERATOR): a private key in $CITYLEDGER_API_SERVICE_KEY, or:
    service_keystore: Path | None = Field(default=None, description="keystore v3 file")
    service_password_file: Path | None = None

    # Sign-in with Ethereum.
    siwe_domain: str = "localhost:8000"
    siwe_uri: str = "http://localhost:8000"
    siwe_statement: str = "Sign in to CityLedger."
    siwe_nonce_ttl: int = Field(default=300, gt=0, description="seconds a nonce may be used")
    siwe_nonces_per_minute: float = Field(
        default=20.0, gt=0, description="sign-in nonces one client IP may ask for per minute"
    )
    siwe_nonce_burst: int = Field(default=20, gt=0)
    siwe_clock_skew: int = Field(
        default=60, ge=0, description="seconds a message's issued-at may lie ahead of the clock"
    )
    access_token_ttl: int = Field(default=900, gt=0, description="seconds a token is valid")

    # Request hygiene (the rate limit is per replica: each process keeps its own buckets).
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, gt=0)
    idempotency_ttl: int = Field(default=24 * 3600, gt=0, description="seconds a key is kept")
    idempotency_wait: float = Field(
        default=15.0, ge=0, description="seconds a duplicate waits for the first request"
    )
    idempotency_lock: float = Field(
        default=120.0, gt=0, description="seconds before an unfinished request's key is retaken"
    )

    # Invoices, relays and reports.
    invoice_default_ttl: int = Field(default=900, gt=0)
    invoice_max_ttl: int = Field(default=30 * 24 * 3600, gt=0)
    expiry_grace: int = Field(default=30, ge=0, description="seconds past valid_until")
    expiry_scan_interval: float = Field(
        default=10.0, ge=0, description="seconds between looks for invoices past paying"
    )
    relay_wait: float = Field(default=15.0, ge=0, description="seconds to wait for a receipt")
    card_fee_bps: int = Field(default=220, ge=0, le=10_000)
    van_fee_bps: int = Field(default=30, ge=0, le=10_000)
    report_timezone: str = "Asia/Seoul"

    # Webhooks.
    webhooks_enabled: bool = True
    webhook_poll_interval: float = Field(default=2.0, gt=0)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_backoff_base: float = Field(default=10.0, gt=0)
    webhook_backoff_max: float = Field(default=6 * 3600.0, gt=0)
    webhook_backoff_jitter: float = Field(default=0.1, ge=0, le=1)
    webhook_max_attempts: int = Field(default=15, gt=0)
    webhook_rescan_blocks: int = Field(default=12, ge=0)
    webhook_batch: int = Field(
        default=10, gt=0, description="due deliveries one endpoint's lane claims at once"
    )
    webhook_concurrency: int = Field(
        default=16, gt=0, description="endpoints one process delivers to at the same time"
    )
    webhook_secret_overlap: int = Field(
        default=24 * 3600, ge=0, description="seconds a rotated secret still signs"
    )
    webhook_allow_private_hosts: bool = False
    webhook_require_https: bool = False

    allow_insecure_secret: bool = Field(
        default=False,
        description="development only: accept the public default or a short secret_key "
        "(anyone who knows it can forge a resident's access token)",
    )
    # Secrets at rest (webhook signing secrets, stored answers that carry one): Fernet keys,
    # newest first; the first seals, every one opens. Unset: one derived from SECRET_KEY.
    encryption_keys: SecretStr | None = Field(
        default=None, description="comma-separated Fernet keys, newest first"
    )
    encryption_keys_file: Path | None = Field(
        default=None, description="a file holding ENCRYPTION_KEYS (read when that is unset)"
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Self:
        """A known or short signing key lets anyone forge access tokens: refused in every
        environment unless a development run asks for it explicitly."""
        if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH:
            message = (
                "CITYLEDGER_API_SECRET_KEY is the default or shorter than "
                f"{MIN_SECRET_LENGTH} characters: set a random one "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
            if self.environment != "development" or not self.allow_insecure_secret:
                raise ValueError(message)
            warnings.warn(message, stacklevel=1)
        return self

    @model_validator(mode="after")
    def _read_encryption_keys(self) -> Self:
        """Keys from the file if given, each checked now: a typo must stop the start, not
        surface as undecryptable secrets at the first delivery."""
        if self.encryption_keys is None and self.encryption_keys_file is not None:
            self.encryption_keys = SecretStr(read_secret_file(self.encryption_keys_file))
        if self.encryption_keys is not None:
            parse_keys(self.encryption_keys.get_secret_value())
        return self

    @property
    def database_url(self) -> str:
        return self.ledger.database_url

    @property
    def elections_path(self) -> Path:
        return self.elections_dir or self.ledger.elections_dir
