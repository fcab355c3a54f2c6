"""Secrets from the environment: ``$NAME`` or, for container secrets and files made 0600,
the contents of the file named by ``$NAME_FILE``. One rule for every secret the tools read
(keystore passwords, the credential pepper, the node's admin token, service keys).

Never a flag with the value itself (it would be in the shell history and ``ps``), never a
setting with a default, never logged.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ledger.exceptions import ConfigError

PASSWORD_ENV = "CITYLEDGER_PASSWORD"
"""The keystore password of both CLIs (``..._FILE``: a file holding it)."""
DEPRECATED_PASSWORD_ENV = "CITYLEDGER_WALLET_PASSWORD"
"""The wallet's former name for it, still read, with a warning."""
PEPPER_ENV = "CITYLEDGER_CREDENTIAL_PEPPER"
"""The city's secret key of credential hashes (see ledger.contracts.registry)."""
NODE_ADMIN_TOKEN_ENV = "CITYLEDGER_NODE_ADMIN_TOKEN"
"""The bearer token of the nodes' admin (perm_*) methods."""


class SecretError(ConfigError):
    """A secret's file cannot be read."""


def read_secret_file(path: Path) -> str:
    """A secret kept in a file: its text without the trailing newline."""
    try:
        return path.read_text().rstrip("\n")
    except OSError as exc:
        raise SecretError(f"cannot read secret file {path}: {exc.strerror}") from exc


def env_secret(name: str, *, deprecated: str | None = None) -> str | None:
    """``$name``, else the file ``$name_FILE``, else (with a warning) the same
    under the ``deprecated`` name; None if none is set. An empty value counts as unset."""
    for variable, old in ((name, False), (deprecated, True)):
        if variable is None:
            continue
        value = os.environ.get(variable) or None
        file = os.environ.get(f"{variable}_FILE")
        if value is None and file:
            value = read_secret_file(Path(file)) or None
        if value is not None:
            if old:
                # FutureWarning, not DeprecationWarning: the reader is a person at a
                # terminal, whom Python shows only the former by default.
                warnings.warn(
                    f"${variable} is deprecated: use ${name} (or ${name}_FILE)",
                    FutureWarning,
                    stacklevel=2,
                )
            return value
    return None


def keystore_password(password_file: Path | None) -> str | None:
    """A keystore password from ``--password-file``, else ``$CITYLEDGER_PASSWORD`` (or its
    file); None means the caller must ask the person (or refuse when nobody can answer)."""
    if password_file is not None:
        return read_secret_file(password_file)
    return env_secret(PASSWORD_ENV, deprecated=DEPRECATED_PASSWORD_ENV)
