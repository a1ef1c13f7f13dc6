"""One call to the Chorus Pro API through PISTE: the client's only HTTP path (with :mod:`.auth`).

:class:`ChorusTransport` holds the session, the token and the retry policy, and runs one operation
of CHORUS_PRO_API.md (``_call``): headers, token refresh, the error and retry rules below, and
pagination (``_pages``). :class:`~.client.ChorusClient` builds each operation's body on it and reads
the answer; :mod:`.client_completion` calls it for the completion operations.

Error rules
-----------

* ``codeRetour`` other than 0, whether on HTTP 200 or HTTP 400: :class:`ApiError` carrying
  ``chorus_code``, ``chorus_label``, ``http_status`` and ``operation``. A search that finds nothing
  (``codeRetour`` 20000) is an empty result, not an error.
* 401: the cached token is dropped, a new one fetched and the call made once more; a second 401
  is an :class:`AuthenticationError` (with the gateway's ``error_description``). 403:
  :class:`AuthenticationError` at once (application not subscribed to the API, or refused).
* Reads (searches, reports, history, directory): 429, 5xx and network failures are retried with
  exponential back-off honouring ``Retry-After``, at most ``max_retries`` times and never waiting
  more than ``max_wait`` seconds at once; then :class:`ApiError` (retryable) or
  :class:`TransportError`.
* Writes (``deposerFluxFacture``, ``recyclerFacture``, ``ajouterFichierDansSysteme``,
  ``completerFacture``: :mod:`.client_completion`) are **never retried by the client**, and a
  failure is reported as what it means for the caller:

  ===================================================  ==========================================
  what happened                                        error
  ===================================================  ==========================================
  no token, connection refused, DNS failure, connect   :class:`TransportError` - nothing was sent,
  timeout, TLS certificate refused                     safe to send again
  401 twice / 403                                      :class:`AuthenticationError` - refused by
                                                       the gateway, not processed
  429, 503                                             :class:`ApiError` retryable - the server
                                                       says it did not process the request
  an answer with ``codeRetour`` != 0, any 4xx          :class:`ApiError` - refused
  read timeout, connection cut, other 5xx without a    :class:`OutcomeUnknownError` - the request
  Chorus error body, 2xx that cannot be read, 2xx      may have been recorded: look the invoice up
  without ``numeroFluxDepot``                          before any new deposit
  ===================================================  ==========================================

  A 401 on a write is retried once with a new token: the gateway answers 401 before the request
  reaches Chorus Pro, so nothing was recorded.

Every call passes an explicit ``timeout``; ``calls`` counts HTTP requests per operation (and
``"token"``). Logs (logger ``odoo_chorus_rouen.core.client``) show request summaries at DEBUG,
never a header, a secret or a file's base64.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .auth import (
    DEFAULT_TIMEOUT,
    Credentials,
    Endpoints,
    Environment,
    Timeout,
    Token,
    TokenCache,
    TokenProvider,
    describe_exception,
    parse_retry_after,
    redact,
    www_authenticate_reason,
)
from .client_answers import as_int, dicts
from .errors import ApiError, AuthenticationError, ChorusError, ConfigurationError, OutcomeUnknownError, TransportError

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_WAIT",
    "MAX_PAGES",
    "NO_RESULT_CODE",
    "OPERATIONS",
    "WRITE_OPERATIONS",
    "ChorusTransport",
]

# The client's logger (``<package>.core.client``), as for every module of the client.
_logger = logging.getLogger(__name__.rpartition(".")[0] + ".client")

#: AIFE operation name -> (HTTP method, path under the API base URL). CHORUS_PRO_API.md §2.
OPERATIONS: dict[str, tuple[str, str]] = {
    "deposerFluxFacture": ("POST", "/cpro/factures/v1/deposer/flux"),
    "consulterCRDetaille": ("POST", "/cpro/transverses/v1/consulterCRDetaille"),
    "rechercherFactureParFournisseur": ("POST", "/cpro/factures/v1/rechercher/fournisseur"),
    "consulterHistoriqueFacture": ("POST", "/cpro/factures/v1/consulter/historique"),
    "recyclerFacture": ("POST", "/cpro/factures/v1/recycler"),
    "ajouterFichierDansSysteme": ("POST", "/cpro/transverses/v1/ajouter/fichier"),
    "completerFacture": ("POST", "/cpro/factures/v1/completer"),
    "rechercherStructure": ("POST", "/cpro/structures/v1/rechercher"),
    "consulterStructure": ("POST", "/cpro/structures/v1/consulter"),
    "rechercherServicesStructure": ("POST", "/cpro/structures/v1/rechercher/services"),
    "consulterServiceStructure": ("POST", "/cpro/structures/v1/consulter/service"),
    "healthCheck": ("GET", "/cpro/transverses/v1/health-check"),
}
#: Operations that change something on the platform: never retried by the client.
WRITE_OPERATIONS = frozenset({"deposerFluxFacture", "recyclerFacture", "ajouterFichierDansSysteme", "completerFacture"})
#: ``codeRetour`` of a search that found nothing (``TRA_MSG_00.015``).
NO_RESULT_CODE = 20000

DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF = 0.5  # seconds before the first retry, doubled each time
DEFAULT_MAX_WAIT = 30.0  # never sleep longer than this at once; a longer Retry-After is handed to the caller
MAX_PAGES = 10_000  # guard against a server whose pagination never ends
_BULKY_KEYS = frozenset({"fichierFlux", "fichierFacture", "pieceJointeFichier", "fichierResultat", "fichierCR"})

_Transport = TypeVar("_Transport", bound="ChorusTransport")


class ChorusTransport:
    """The session, the token and the rules of one call, shared by every operation of the client.

    The constructor's parameters are those of :class:`~.client.ChorusClient`, which documents them.
    """

    def __init__(
        self,
        credentials: Credentials | Mapping[str, str] | Any,
        endpoints: Endpoints | Environment | str,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        token_cache: TokenCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = Credentials.coerce(credentials)
        self.endpoints = Endpoints.coerce(endpoints)
        if max_retries < 0 or backoff < 0 or max_wait < 0:
            raise ConfigurationError("invalid_retry_policy", "max_retries, backoff and max_wait must be >= 0")
        if not timeout:
            raise ConfigurationError("missing_timeout", "An explicit timeout is required", params={"fields": "timeout"})
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=0)  # the client decides what is retried, never urllib3
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._auth = TokenProvider(
            self.credentials,
            self.endpoints.token_url,
            session=session,
            timeout=timeout,
            cache=token_cache,
            clock=clock,
            on_fetch=lambda _token: self._count("token"),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.endpoints.api_url!r}, client_id={self.credentials.client_id!r})"

    def __enter__(self: _Transport) -> _Transport:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session if the client created it."""
        if self._owns_session:
            self.session.close()

    def _count(self, operation: str) -> None:
        with self._calls_lock:
            self.calls[operation] += 1

    def _secrets(self, token: Token | None = None) -> tuple[str, ...]:
        extra = (token.access_token,) if token is not None else ()
        return self.credentials.secrets + extra

    def _headers(self, token: Token, method: str) -> dict[str, str]:
        headers = {
            "Authorization": token.authorization,
            "cpro-account": self.credentials.cpro_account,
            "Accept": "application/json;charset=utf-8",
            "Accept-Charset": "utf-8",
        }
        if method != "GET":
            headers["Content-Type"] = "application/json;charset=utf-8"
        return headers

    def _pages(
        self,
        operation: str,
        page_body: Callable[[int], dict[str, Any]],
        list_key: str,
        page_size: int,
    ) -> Iterator[Mapping[str, Any]]:
        """Yield the items of every page; pagination read from ``parametresRetour`` or top-level keys."""
        page = 1
        while True:
            answer = self._call(operation, page_body(page), accept_codes=(NO_RESULT_CODE,))
            items = list(dicts(answer.get(list_key)))
            yield from items
            paging = answer.get("parametresRetour")
            paging = paging if isinstance(paging, Mapping) else answer
            pages = as_int(paging.get("pages"))
            current = as_int(paging.get("pageCourante")) or page
            if not items or page >= MAX_PAGES:
                return
            if pages is not None:
                if max(current, page) >= pages:
                    return
            elif len(items) < page_size:
                return
            page = max(current, page) + 1

    def _call(
        self,
        operation: str,
        body: Mapping[str, Any] | None,
        *,
        context: Mapping[str, Any] | None = None,
        accept_codes: Iterable[int] = (),
        retries: int | None = None,
        json_required: bool = True,
    ) -> dict[str, Any]:
        """One operation with the module's error, refresh and retry rules; returns the JSON object.

        The answer dict gets an extra ``_http_status`` key.
        """
        call = _Call(
            operation=operation,
            body=body,
            payload=json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None,
            write=operation in WRITE_OPERATIONS,
            context=dict(context or {}),
            accept_codes=frozenset(accept_codes),
            json_required=json_required,
        )
        max_retries = self.max_retries if retries is None else retries
        attempt = 0  # retries done
        while True:
            try:
                return self._attempt(call)
            except _Refresh:
                call.refreshed = True
                continue
            except _Retry as retry:
                delay = None if call.write else self._retry_delay(attempt, max_retries, retry.retry_after)
                if delay is None:
                    raise retry.error from retry.error.__cause__
                attempt += 1
                self._wait(operation, delay, attempt, max_retries, retry.reason)

    def _attempt(self, call: _Call) -> dict[str, Any]:
        """One HTTP exchange; raises :class:`_Retry` / :class:`_Refresh` to ask :meth:`_call` for another."""
        try:
            token = self._auth.token()
        except AuthenticationError:
            raise
        except ChorusError as err:  # the token endpoint failed: nothing was sent to Chorus Pro
            if call.write or not err.retryable:
                raise
            raise _Retry(err, getattr(err, "retry_after", None), f"token: {err}") from None
        response = self._send(call, token)
        return self._interpret(call, token, response)

    def _send(self, call: _Call, token: Token) -> requests.Response:
        operation = call.operation
        method, path = OPERATIONS[operation]
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("%s %s %s %s", method, operation, path, _summary(call.body))
        self._count(operation)
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self.endpoints.api_url + path,
                data=call.payload,
                headers=self._headers(token, method),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            reason = describe_exception(err, self._secrets(token))
            params = {"reason": reason, "operation": operation, **call.context}
            if not call.write:
                error = TransportError(f"{operation}: Chorus Pro could not be reached ({reason})", params=params)
                error.__cause__ = err
                raise _Retry(error, None, reason) from None
            if _never_sent(err):
                raise TransportError(
                    f"{operation}: Chorus Pro could not be reached, nothing was sent ({reason})", params=params
                ) from err
            raise self._outcome_unknown(operation, call.context, reason) from err
        _logger.debug(
            "%s %s -> HTTP %s in %.1f ms",
            method,
            operation,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _interpret(self, call: _Call, token: Token, response: requests.Response) -> dict[str, Any]:
        operation, context = call.operation, call.context
        secrets = self._secrets(token)
        status = response.status_code
        if status in (401, 403):
            reason = www_authenticate_reason(response, secrets)
            if status == 401 and not call.refreshed:
                self._auth.invalidate(token)
                _logger.info("%s: HTTP 401 (%s), getting a new token and trying once more", operation, reason or "-")
                raise _Refresh()
            if status == 401:
                message = f"{operation}: Chorus Pro refused the credentials twice: {reason or 'HTTP 401'}"
            else:
                reason = reason or "access refused (is the PISTE application subscribed to this API?)"
                message = f"{operation}: HTTP 403, {reason}"
            raise AuthenticationError(
                message,
                params={"reason": reason or f"HTTP {status}", "http_status": status, "operation": operation, **context},
            )
        data = _json_object(response)
        if data is None and not call.json_required and 200 <= status < 300:
            data = {}
        code = as_int(data.get("codeRetour")) if data is not None else None
        label = redact(data.get("libelle"), secrets) if data is not None and data.get("libelle") else None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        refused = code not in (None, 0) and code not in call.accept_codes
        if status == 429 or status >= 500:
            if call.write and status not in (429, 503) and not refused:
                raise self._outcome_unknown(operation, context, f"HTTP {status}", status)
            error = self._api_error(operation, status, data, code, label, retry_after, context)
            raise _Retry(error, retry_after, f"HTTP {status}")
        if data is None and call.write and 200 <= status < 300:
            raise self._outcome_unknown(operation, context, f"HTTP {status} with a body that is not JSON", status)
        if data is None or refused or not 200 <= status < 300:
            raise self._api_error(operation, status, data, code, label, retry_after, context)
        data["_http_status"] = status
        return data

    def _retry_delay(self, attempt: int, max_retries: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None when the retries are over."""
        if attempt >= max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        return min(self.max_wait, self.backoff * (2**attempt))

    def _wait(self, operation: str, delay: float, attempt: int, max_retries: int, why: str) -> None:
        _logger.info("%s: %s, retry %d/%d in %.2f s", operation, why, attempt, max_retries, delay)
        if delay > 0:
            self._sleep(delay)

    def _api_error(
        self,
        operation: str,
        status: int,
        data: Mapping[str, Any] | None,
        code: int | None,
        label: str | None,
        retry_after: float | None,
        context: Mapping[str, Any],
    ) -> ApiError:
        retryable = status == 429 or status >= 500
        if data is None:
            message = f"{operation}: Chorus Pro answered HTTP {status} with a body that is not JSON"
            error_code = "invalid_response"
        elif code not in (None, 0):
            message = f"{operation}: Chorus Pro answered HTTP {status}, codeRetour {code}: {label or '?'}"
            error_code = "api_error"
        else:
            message = f"{operation}: Chorus Pro answered HTTP {status}" + (f" ({label})" if label else "")
            error_code = "api_error"
        if retry_after is not None:
            message += f"; retry after {retry_after:.0f} s"
        return ApiError(
            message,
            code=error_code,
            http_status=status,
            chorus_code=code,
            chorus_label=label,
            retry_after=retry_after,
            operation=operation,
            retryable=retryable,
            params=dict(context),
        )

    def _invalid(self, operation: str, answer: Mapping[str, Any], reason: str) -> ApiError:
        return ApiError(
            f"{operation}: unusable answer from Chorus Pro: {reason}",
            code="invalid_response",
            http_status=as_int(answer.get("_http_status")),
            operation=operation,
            retryable=False,
            params={"reason": reason},
        )

    def _outcome_unknown(
        self, operation: str, context: Mapping[str, Any], reason: str, status: int | None = None
    ) -> OutcomeUnknownError:
        what = context.get("file_name") or context.get("chorus_id") or ""
        subject = f"{operation} ({what})" if what else operation
        _logger.info("%s: outcome unknown (%s); look it up before sending again", subject, reason)
        return OutcomeUnknownError(
            f"No usable answer from Chorus Pro after sending {subject}: it may have been recorded; "
            f"look it up on Chorus Pro before sending it again ({reason})",
            params={"operation": operation, "reason": reason, "http_status": status, **context},
        )



# --------------------------------------------------------------------------- helpers


@dataclass
class _Call:
    """What one operation call needs across its attempts."""

    operation: str
    body: Mapping[str, Any] | None
    payload: bytes | None
    write: bool
    context: dict[str, Any]
    accept_codes: frozenset[int]
    json_required: bool = True
    refreshed: bool = False


class _Refresh(Exception):
    """HTTP 401 with a token not yet renewed: renew it and try again (once)."""


class _Retry(Exception):
    """A failure a read may retry; ``error`` is raised when the retries are over (writes: at once)."""

    def __init__(self, error: ChorusError, retry_after: float | None, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.retry_after = retry_after
        self.reason = reason


def _never_sent(err: BaseException) -> bool:
    """Whether a transport exception proves the request never left this machine.

    True only when the TCP connection (or the TLS handshake, refused certificate) could not be
    established: urllib3's ``NewConnectionError`` (refused, unreachable, DNS failure) and
    ``ConnectTimeoutError``. Since the client's session does not retry at the transport level,
    no earlier attempt can have carried the request either. Anything else (read timeout,
    connection reset or closed while waiting for the answer) may have happened after the server
    got the request.
    """
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    stack: list[Any] = [err]
    seen: set[int] = set()
    while stack:
        exc = stack.pop()
        if not isinstance(exc, BaseException) or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, (NewConnectionError, ConnectTimeoutError, ssl.SSLCertVerificationError)):
            return True
        stack.extend([getattr(exc, "reason", None), exc.__cause__, exc.__context__, *exc.args])
    return False


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content or b"", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _summary(body: Mapping[str, Any] | None) -> str:
    """A loggable view of a request body: files replaced by their size."""
    if body is None:
        return "-"

    def shorten(key: str, value: Any) -> Any:
        if key in _BULKY_KEYS and isinstance(value, str):
            return f"<base64, {len(value)} chars>"
        if isinstance(value, str) and len(value) > 200:
            return value[:60] + f"...<{len(value)} chars>"
        if isinstance(value, Mapping):
            return {k: shorten(k, v) for k, v in value.items()}
        return value

    return repr({k: shorten(k, v) for k, v in body.items()})
