"""PISTE OAuth2 for Chorus Pro: credentials, endpoints and a thread-safe token cache.

Chorus Pro sits behind PISTE, the State's API gateway. Every call needs two things
(CHORUS_PRO_API.md §1.2, §1.3):

* an OAuth2 *client credentials* token of the PISTE application (``Authorization: Bearer``),
  obtained with ``client_id`` / ``client_secret`` and cached until shortly before it expires;
* the Chorus Pro *technical account* (``cpro-account: base64(login:password)``).

Secrets never show in a ``repr``, a log line or an exception text:

>>> creds = Credentials("my-app", "s3cret", "TECH_1_x@cpro.fr", "pa55")
>>> creds
Credentials(client_id='my-app', client_secret='***', login='TECH_1_x@cpro.fr', password='***')
>>> "s3cret" in str(creds) or "pa55" in repr(creds)
False
>>> Endpoints.for_environment("qualification").token_url
'https://sandbox-oauth.piste.gouv.fr/api/oauth/token'
>>> Endpoints.from_base_url("http://127.0.0.1:8080/")
Endpoints(token_url='http://127.0.0.1:8080/api/oauth/token', api_url='http://127.0.0.1:8080')
>>> parse_retry_after("12")
12.0
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import ApiError, AuthenticationError, ConfigurationError, TransportError

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXPIRY_MARGIN",
    "TOKEN_CACHE",
    "Credentials",
    "Endpoints",
    "Environment",
    "Token",
    "TokenCache",
    "TokenProvider",
    "parse_retry_after",
    "redact",
]

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # seconds, connect and read (OCA uses 30 s, Pastell 60 s)
EXPIRY_MARGIN = 240.0  # renew a token this many seconds before it expires (as OCA does)...
EXPIRY_MARGIN_RATIO = 0.1  # ...or 10 % of its lifetime when that is shorter (short-lived test tokens)
DEFAULT_EXPIRES_IN = 3600.0  # PISTE's lifetime, assumed when the answer does not say
SCOPE = "openid"
MASK = "***"

Timeout = float | tuple[float, float]


class Environment(str, Enum):
    """The two real Chorus Pro platforms reachable through PISTE."""

    QUALIFICATION = "qualification"
    PRODUCTION = "production"


_PISTE_URLS = {
    Environment.PRODUCTION: ("https://oauth.piste.gouv.fr/api/oauth/token", "https://api.piste.gouv.fr"),
    Environment.QUALIFICATION: (
        "https://sandbox-oauth.piste.gouv.fr/api/oauth/token",
        "https://sandbox-api.piste.gouv.fr",
    ),
}


@dataclass(frozen=True)
class Endpoints:
    """Where to get tokens and where the API lives (``api_url`` + ``/cpro/<api>/v1/<operation>``)."""

    token_url: str
    api_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", (self.api_url or "").rstrip("/"))
        if not self.token_url or not self.api_url:
            raise ConfigurationError("missing_endpoint", params={"fields": "token_url, api_url"})

    @classmethod
    def for_environment(cls, environment: Environment | str) -> Endpoints:
        """The PISTE URLs of ``production`` or ``qualification``.

        :raises ConfigurationError: code ``unknown_environment``.
        """
        try:
            env = Environment(environment)
        except ValueError as err:
            raise ConfigurationError(
                "unknown_environment",
                f"Unknown Chorus Pro environment {environment!r} (expected qualification or production)",
                params={"environment": str(environment)},
            ) from err
        return cls(*_PISTE_URLS[env])

    @classmethod
    def from_base_url(cls, url: str) -> Endpoints:
        """One server serving both ``/api/oauth/token`` and ``/cpro/...`` (the local sandbox)."""
        base = (url or "").strip().rstrip("/")
        if not re.match(r"^https?://[^/]+", base):
            raise ConfigurationError(
                "invalid_base_url", f"Invalid base URL {url!r}", params={"fields": "base_url", "url": str(url)}
            )
        return cls(base + "/api/oauth/token", base)

    @classmethod
    def coerce(cls, value: Endpoints | Environment | str) -> Endpoints:
        """Accept an :class:`Endpoints`, an environment (or its name) or a sandbox base URL."""
        if isinstance(value, Endpoints):
            return value
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return cls.from_base_url(value)
        return cls.for_environment(value)

    @property
    def environment(self) -> Environment | None:
        """The real platform these URLs point to, or None (a sandbox or another server)."""
        for env, urls in _PISTE_URLS.items():
            if (self.token_url, self.api_url) == urls:
                return env
        return None

    @property
    def is_production(self) -> bool:
        """Whether either URL points at a production host (a neutralized database copy must refuse it)."""
        hosts = {urlsplit(url).hostname for url in _PISTE_URLS[Environment.PRODUCTION]}
        return bool({urlsplit(self.token_url).hostname, urlsplit(self.api_url).hostname} & hosts)


@dataclass(frozen=True, repr=False)
class Credentials:
    """PISTE application credentials plus the Chorus Pro technical account.

    :ivar client_id: PISTE application id (not secret; shown in messages).
    :ivar client_secret: PISTE application secret (never shown).
    :ivar login: technical account login, e.g. ``TECH_1_...@cpro.fr`` (shown).
    :ivar password: technical account password (never shown).
    """

    client_id: str
    client_secret: str
    login: str
    password: str

    def __repr__(self) -> str:
        return (
            f"Credentials(client_id={self.client_id!r}, client_secret={MASK!r}, "
            f"login={self.login!r}, password={MASK!r})"
        )

    __str__ = __repr__

    @classmethod
    def coerce(cls, value: Any) -> Credentials:
        """Build credentials from a :class:`Credentials`, a mapping, a 4-tuple or any object with the 4 attributes.

        :raises ConfigurationError: code ``missing_credentials`` when a field is absent.
        """
        if isinstance(value, Credentials):
            return value
        names = [f.name for f in fields(cls)]
        if isinstance(value, Mapping):
            values = [value.get(name) for name in names]
        elif isinstance(value, (tuple, list)) and len(value) == len(names) and not hasattr(value, "_fields"):
            values = list(value)
        else:
            values = [getattr(value, name, None) for name in names]
        creds = cls(*[("" if v is None else str(v)) for v in values])
        creds.check()
        return creds

    def missing(self) -> list[str]:
        """Names of the empty fields."""
        return [f.name for f in fields(self) if not (getattr(self, f.name) or "").strip()]

    def check(self) -> Credentials:
        """Return self, or raise :class:`ConfigurationError` (``missing_credentials``) naming the empty fields."""
        missing = self.missing()
        if missing:
            raise ConfigurationError("missing_credentials", params={"fields": ", ".join(missing)})
        return self

    @property
    def cpro_account(self) -> str:
        """Value of the ``cpro-account`` header: base64 of ``login:password`` (UTF-8). A secret."""
        return base64.b64encode(f"{self.login}:{self.password}".encode()).decode("ascii")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string that must never appear in a log or a message."""
        return tuple(s for s in (self.client_secret, self.password, self.cpro_account) if s)


def redact(text: Any, secrets: Iterable[str] = ()) -> str:
    """``str(text)`` with every secret replaced by ``***`` (longest first).

    >>> redact("bad password hunter2 for x", ["hunter2"])
    'bad password *** for x'
    """
    out = "" if text is None else str(text)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def describe_exception(err: BaseException, secrets: Iterable[str] = (), limit: int = 300) -> str:
    """Short, secret-free text for a transport exception (class name and first words)."""
    text = redact(f"{type(err).__name__}: {err}", secrets)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delay in seconds or HTTP date); None if absent/unreadable.

    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))
    30.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, repr=False)
class Token:
    """A PISTE access token. ``valid_until`` is on the provider's clock, margin already taken off."""

    access_token: str
    token_type: str
    expires_in: float
    valid_until: float
    scope: str = ""

    def __repr__(self) -> str:
        return f"Token(token_type={self.token_type!r}, expires_in={self.expires_in!r}, access_token={MASK!r})"

    __str__ = __repr__

    @property
    def authorization(self) -> str:
        """Value of the ``Authorization`` header."""
        kind = "Bearer" if (self.token_type or "bearer").lower() == "bearer" else self.token_type
        return f"{kind} {self.access_token}"


CacheKey = tuple[str, str, str]


class TokenCache:
    """Process-wide token store, keyed by (token URL, client id, digest of the secret).

    The secret's digest is part of the key so that two configurations sharing a ``client_id``
    (two databases of one Odoo server, one with a wrong secret) never share a token.
    Thread-safe; :meth:`fetch_lock` serializes refreshes of one key (no stampede on expiry).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[CacheKey, Token] = {}
        self._fetch_locks: dict[CacheKey, threading.Lock] = {}

    def get(self, key: CacheKey, now: float) -> Token | None:
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and token.valid_until <= now:
                del self._tokens[key]
                token = None
            return token

    def put(self, key: CacheKey, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, key: CacheKey, token: Token | None = None) -> None:
        """Forget the token of ``key`` (only if it is still ``token``, when given)."""
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and (token is None or current is token):
                del self._tokens[key]

    def fetch_lock(self, key: CacheKey) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


TOKEN_CACHE = TokenCache()


def _margin(expires_in: float) -> float:
    return min(EXPIRY_MARGIN, expires_in * EXPIRY_MARGIN_RATIO)


class TokenProvider:
    """Gets PISTE tokens for one set of credentials, through a shared :class:`TokenCache`.

    :param credentials: the application credentials (only ``client_id``/``client_secret`` are used here).
    :param token_url: the PISTE token endpoint.
    :param session: ``requests.Session`` to use (a new one when None).
    :param timeout: seconds (or ``(connect, read)``) for the token request; always passed.
    :param cache: token store; the process-wide :data:`TOKEN_CACHE` by default.
    :param clock: monotonic clock (injectable for tests).
    :param on_fetch: called after each token actually fetched from PISTE (call counters).
    """

    def __init__(
        self,
        credentials: Credentials,
        token_url: str,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[Token], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.token_url = token_url
        self.session = session or requests.Session()
        self.timeout = timeout
        self.cache = TOKEN_CACHE if cache is None else cache
        self.clock = clock
        self.on_fetch = on_fetch
        digest = hashlib.sha256(credentials.client_secret.encode("utf-8")).hexdigest()
        self.key: CacheKey = (token_url, credentials.client_id, digest)

    def token(self) -> Token:
        """A valid token: the cached one, or a new one fetched from PISTE.

        :raises AuthenticationError: PISTE refused the application credentials.
        :raises TransportError: PISTE could not be reached.
        :raises ApiError: PISTE answered something else (5xx, 429, non-JSON...).
        """
        token = self.cache.get(self.key, self.clock())
        if token is not None:
            return token
        with self.cache.fetch_lock(self.key):
            token = self.cache.get(self.key, self.clock())  # another thread may have just fetched it
            if token is None:
                token = self.fetch()
                self.cache.put(self.key, token)
            return token

    def invalidate(self, token: Token | None = None) -> None:
        """Drop the cached token (only if it is still ``token``: a newer one fetched meanwhile is kept)."""
        self.cache.discard(self.key, token)

    def fetch(self) -> Token:
        """Ask PISTE for a new token (no cache involved)."""
        creds = self.credentials
        secrets = creds.secrets
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": SCOPE,
        }
        started = self.clock()
        try:
            response = self.session.post(
                self.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            reason = describe_exception(err, secrets)
            _logger.info("PISTE token request failed: %s", reason)
            raise TransportError(
                f"The PISTE token endpoint could not be reached: {reason}",
                params={"reason": reason, "operation": "token"},
            ) from err
        status = response.status_code
        data = json_or_none(response)
        if status in (400, 401, 403):
            reason = _oauth_reason(data, response, secrets) or f"HTTP {status}"
            _logger.info("PISTE refused the token request of client_id %s: %s", creds.client_id, reason)
            raise AuthenticationError(
                f"PISTE refused the application credentials (client_id {creds.client_id!r}): {reason}",
                code="authentication_error",
                params={"reason": reason, "http_status": status, "client_id": creds.client_id, "operation": "token"},
            )
        if status != 200:
            retryable = status == 429 or status >= 500
            raise ApiError(
                f"The PISTE token endpoint answered HTTP {status}",
                code="api_error" if data is not None else "invalid_response",
                http_status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                operation="token",
                retryable=retryable,
            )
        access_token = data.get("access_token") if data is not None else None
        if not isinstance(access_token, str) or not access_token:
            raise ApiError(
                "The PISTE token endpoint answered HTTP 200 without an access token",
                code="invalid_response",
                http_status=status,
                operation="token",
                retryable=False,
            )
        try:
            expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN
        token = Token(
            access_token=access_token,
            token_type=str(data.get("token_type") or "Bearer"),
            expires_in=expires_in,
            valid_until=started + expires_in - _margin(expires_in),
            scope=str(data.get("scope") or ""),
        )
        _logger.debug("PISTE token obtained for client_id %s (expires in %.0f s)", creds.client_id, expires_in)
        if self.on_fetch is not None:
            self.on_fetch(token)
        return token


def json_or_none(response: requests.Response) -> dict[str, Any] | None:
    """The JSON object of a response body, or None when the body is not a JSON object."""
    try:
        data = json.loads(response.content or b"")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


_WWW_AUTH_DESCRIPTION = re.compile(r'error_description\s*=\s*"([^"]*)"')


def _oauth_reason(data: Mapping[str, Any] | None, response: requests.Response, secrets: Iterable[str]) -> str:
    """``error: error_description`` from an OAuth error body or a ``WWW-Authenticate`` header."""
    parts = []
    if data:
        for key in ("error", "error_description"):
            if data.get(key):
                parts.append(str(data[key]))
    if not parts:
        match = _WWW_AUTH_DESCRIPTION.search(response.headers.get("WWW-Authenticate", ""))
        if match:
            parts.append(match.group(1))
    return redact(": ".join(parts), secrets)[:300]


def www_authenticate_reason(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """The ``error_description`` of a ``WWW-Authenticate`` header (or of a JSON body), secret-free."""
    match = _WWW_AUTH_DESCRIPTION.search(response.headers.get("WWW-Authenticate", ""))
    if match:
        return redact(match.group(1), secrets)[:300]
    return _oauth_reason(json_or_none(response), response, secrets)
