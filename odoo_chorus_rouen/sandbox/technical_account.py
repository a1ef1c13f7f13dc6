"""The sandbox's technical account: its password, when it expires, and whether it is locked.

Every ``/cpro`` call carries the technical account in ``cpro-account`` (CHORUS_PRO_API.md §1.3).
Its password expires; ``consulterStructure`` gives the date in
``informationGenerales.dateExpirationMotPasseCompteTech`` (§3.9 [C] PGF-SW) for the supplier
structures the account is attached to (``PRIVEE``; public buyers get ``null`` [U]).

* By default the password expires 424 days after "now" (sandbox clock), so it never bites unless
  a test asks: the Chorus Pro community's guidance is to change the technical account's password
  every 424 days (CHORUS_PRO_API.md §10 [S]; ``core.technical_account.PASSWORD_PERIOD_DAYS``).
* An expired or locked account, like a wrong password, gets **HTTP 401** with
  ``WWW-Authenticate: Bearer realm="PISTE",error="Unauthorized",error_description="login or password
  incorrects"`` (documented for a wrong ``cpro-account`` [S] OCA-co14; that an expired or locked
  password gives the same answer is [U]).
* A new password (set through the control API, as a user does on the portal) unlocks the account
  and moves the expiry 424 days ahead [S].

State lives in the store's ``meta`` table (key ``technical_account``): it survives a restart.

Control API::

    GET  /sandbox/technical-account            login, status (active/expired/locked), expiry
    POST /sandbox/technical-account            {"expire": true} | {"lock": true} | {"unlock": true}
                                               | {"expires_at": "2026-03-01T00:00:00+01:00"}
                                               | {"expires_in_days": 30} | {"password": "new"}
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..core.technical_account import PASSWORD_PERIOD_DAYS
from .clock import format_datetime, parse_moment

__all__ = ["CONTROL_ROUTES", "DEFAULT_VALIDITY_DAYS", "describe", "expiry", "status", "update"]

META_KEY = "technical_account"
DEFAULT_VALIDITY_DAYS = PASSWORD_PERIOD_DAYS  # 424
DAY = 86400.0


def _state(engine: Any) -> dict[str, Any]:
    return dict(engine.store.get_meta(META_KEY, {}) or {})


def load(engine: Any) -> None:
    """Apply a password changed through the control API before a restart."""
    password = _state(engine).get("password")
    if password and password != engine.credentials.password:
        engine.credentials = dataclasses.replace(engine.credentials, password=password)


def expiry(engine: Any) -> float:
    """When the password expires (sandbox epoch seconds)."""
    value = _state(engine).get("expires_at")
    return float(value) if value is not None else engine.now() + DEFAULT_VALIDITY_DAYS * DAY


def status(engine: Any) -> str:
    """``active``, ``expired`` or ``locked``."""
    state = _state(engine)
    if state.get("locked"):
        return "locked"
    return "expired" if expiry(engine) <= engine.now() else "active"


def usable(engine: Any) -> bool:
    return status(engine) == "active"


def describe(engine: Any) -> dict[str, Any]:
    return {
        "login": engine.credentials.login,
        "status": status(engine),
        "expires_at": format_datetime(expiry(engine)),
        "expiry_set": _state(engine).get("expires_at") is not None,
    }


def update(
    engine: Any,
    *,
    expire: bool = False,
    lock: bool | None = None,
    expires_at: str | float | None = None,
    expires_in_days: float | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """Change the technical account the way the platform (or its user on the portal) would."""
    with engine.store.transaction():
        state = _state(engine)
        now = engine.now()
        if password is not None:
            password = str(password)
            if not password:
                raise ValueError("password must not be empty")
            engine.credentials = dataclasses.replace(engine.credentials, password=password)
            state.update(password=password, locked=False, expires_at=now + DEFAULT_VALIDITY_DAYS * DAY)
        if expire:
            state["expires_at"] = now - 60
        if expires_at is not None:
            state["expires_at"] = (
                float(expires_at) if isinstance(expires_at, (int, float)) else parse_moment(str(expires_at))
            )
        if expires_in_days is not None:
            state["expires_at"] = now + float(expires_in_days) * DAY
        if lock is not None:
            state["locked"] = bool(lock)
        engine.store.set_meta(META_KEY, state)
    return describe(engine)


def reset(engine: Any, default_password: str) -> None:
    """Back to the default account (used by the sandbox's reset)."""
    with engine.store.transaction():
        engine.store.set_meta(META_KEY, {})
    engine.credentials = dataclasses.replace(engine.credentials, password=default_password)


# -- control API ---------------------------------------------------------------------------------------
def _c_get(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, describe(sb.engine)


def _c_post(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    known = {"expire", "lock", "unlock", "expires_at", "expires_in_days", "password"}
    unknown = set(payload) - known
    if unknown or not payload:
        raise ValueError(f"expected one of {', '.join(sorted(known))}; got {', '.join(sorted(unknown)) or 'nothing'}")
    lock = True if payload.get("lock") else (False if payload.get("unlock") else None)
    return 200, update(
        sb.engine,
        expire=bool(payload.get("expire")),
        lock=lock,
        expires_at=payload.get("expires_at"),
        expires_in_days=payload.get("expires_in_days"),
        password=payload.get("password"),
    )


CONTROL_ROUTES = [
    ("GET", re.compile(r"/sandbox/technical-account"), _c_get),
    ("POST", re.compile(r"/sandbox/technical-account"), _c_post),
]
