"""Who may call the sandbox: its credentials, the PISTE OAuth2 tokens it issues, the ``cpro-account`` check.

The PISTE application (``client_id`` / ``client_secret``) gets a bearer token valid one hour of sandbox
time; every ``/cpro`` call also carries the technical account (``login:password`` in base64) in the
``cpro-account`` header, refused when the password is wrong, expired or locked
(:mod:`.technical_account`). The HTTP side of these checks is in :mod:`.gateway`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

from .technical_account import usable as account_usable

__all__ = [
    "DEFAULT_CREDENTIALS",
    "TOKEN_LIFETIME",
    "SandboxCredentials",
    "check_account",
    "check_client",
    "expire_token",
    "issue_token",
    "token_state",
]

TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class SandboxCredentials:
    """PISTE application + technical account of the sandbox; same field order as ``core.auth.Credentials``."""

    client_id: str
    client_secret: str
    login: str
    password: str

    def __iter__(self):
        return iter((self.client_id, self.client_secret, self.login, self.password))

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @property
    def cpro_account(self) -> str:
        """The ``cpro-account`` header value: base64 of ``login:password``."""
        return base64.b64encode(f"{self.login}:{self.password}".encode()).decode("ascii")


DEFAULT_CREDENTIALS = SandboxCredentials(
    "sandbox-client-id", "sandbox-client-secret", "TECH_1_sandbox@cpro.fr", "sandbox-password"
)


def check_client(engine: Any, client_id: str | None, client_secret: str | None) -> bool:
    return secrets.compare_digest(client_id or "", engine.credentials.client_id) and secrets.compare_digest(
        client_secret or "", engine.credentials.client_secret
    )


def issue_token(engine: Any, client_id: str) -> dict[str, Any]:
    now = engine.now()
    token = secrets.token_urlsafe(32)
    with engine.store.transaction() as conn:
        conn.execute("DELETE FROM tokens WHERE expires_at < ?", (now - 86400,))
        conn.execute(
            "INSERT INTO tokens (token, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
            (token, client_id, now, now + TOKEN_LIFETIME),
        )
    return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "scope": "openid"}


def token_state(engine: Any, token: str | None) -> str:
    """``valid``, ``expired`` or ``invalid``."""
    if not token:
        return "invalid"
    row = engine.store.one("SELECT expires_at FROM tokens WHERE token = ?", (token,))
    if row is None:
        return "invalid"
    return "valid" if row["expires_at"] > engine.now() else "expired"


def expire_token(engine: Any, token: str) -> None:
    with engine.store.transaction() as conn:
        conn.execute("UPDATE tokens SET expires_at = ? WHERE token = ?", (engine.now(), token))


def check_account(engine: Any, header: str | None) -> bool:
    """Whether a ``cpro-account`` header holds the technical account's ``login:password``."""
    if not header:
        return False
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    login, _, password = decoded.partition(":")
    return (
        secrets.compare_digest(login, engine.credentials.login)
        and secrets.compare_digest(password, engine.credentials.password)
        and account_usable(engine)  # an expired or locked password is refused like a wrong one [U]
    )
