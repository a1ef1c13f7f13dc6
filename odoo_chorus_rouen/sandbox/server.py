"""HTTP face of the sandbox: the PISTE token endpoint, the ``/cpro`` API gateway and the ``/sandbox`` control API.

Standard library only (``http.server.ThreadingHTTPServer``). Start it from Python::

    with SandboxServer() as sandbox:
        print(sandbox.url, sandbox.credentials)

or from a shell: ``chorus-rouen sandbox --port 8765 --state sandbox.sqlite`` (or
``python -m odoo_chorus_rouen.sandbox``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import re
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import completion as sandbox_completion
from . import directory as dirmod
from . import directory_truth, embedded
from .arguments import check_port, check_state_path
from .clock import format_datetime
from .duplicates import duplicate_report
from .engine import DEFAULT_CREDENTIALS, DEFAULT_MAX_FILE_SIZE, Engine, Reply, SandboxCredentials
from .faults import FaultBox, FaultError
from .history import write_history
from .store import Store
from .technical_account import CONTROL_ROUTES as ACCOUNT_ROUTES
from .technical_account import reset as reset_account

__all__ = ["ROUTES", "SandboxServer", "main", "serve_forever"]

_logger = logging.getLogger(__name__)
_access_logger = logging.getLogger(__name__ + ".access")

TOKEN_PATH = "/api/oauth/token"
CONTROL_PREFIX = "/sandbox"
JSON_TYPE = "application/json;charset=utf-8"
WWW_AUTHENTICATE_ACCOUNT = 'Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"'
DEFAULT_PORT = 8080
# 5xx bodies are the gateway's, not Chorus envelopes: a client cannot tell whether the call was processed.
_GATEWAY_500 = {"error": "Internal Server Error", "error_description": "simulated failure"}

# (method, PISTE path) -> (AIFE operation name, Engine method)
ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/cpro/factures/v1/deposer/flux"): ("deposerFluxFacture", "op_deposer_flux"),
    ("POST", "/cpro/transverses/v1/consulterCRDetaille"): ("consulterCRDetaille", "op_consulter_cr_detaille"),
    ("POST", "/cpro/transverses/v1/consulterCR"): ("consulterCR", "op_consulter_cr"),
    ("POST", "/cpro/factures/v1/rechercher/fournisseur"): ("rechercherFactureParFournisseur", "op_rechercher_factures"),
    ("POST", "/cpro/factures/v1/consulter/fournisseur"): ("consulterFactureParFournisseur", "op_consulter_facture"),
    ("POST", "/cpro/factures/v1/consulter/historique"): ("consulterHistoriqueFacture", "op_historique"),
    ("POST", "/cpro/factures/v1/recycler"): ("recyclerFacture", "op_recycler"),
    ("POST", "/cpro/factures/v1/completer"): ("completerFacture", "op_completer"),
    ("POST", "/cpro/transverses/v1/ajouter/fichier"): ("ajouterFichierDansSysteme", "op_ajouter_fichier"),
    ("POST", "/cpro/structures/v1/rechercher"): ("rechercherStructure", "op_rechercher_structure"),
    ("POST", "/cpro/structures/v1/consulter"): ("consulterStructure", "op_consulter_structure"),
    ("POST", "/cpro/structures/v1/rechercher/services"): ("rechercherServicesStructure", "op_rechercher_services"),
    ("POST", "/cpro/structures/v1/consulter/service"): ("consulterServiceStructure", "op_consulter_service"),
    ("GET", "/cpro/transverses/v1/health-check"): ("healthCheck", "op_health_check"),
}


class _Cut(Exception):
    """Close the connection without answering (fault ``cut``)."""


class _HttpError(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None, close: bool = False):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.close = close


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: SandboxServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (killed worker, timeout) is normal life for a server: no traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            _logger.debug("Client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PISTE-sandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are dropped after this many seconds
    server: _HTTPServer

    # -- plumbing -------------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Headers and body are two writes: without TCP_NODELAY, Nagle + delayed ACK cost ~40 ms per call.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        _access_logger.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None, close: bool = False) -> None:
        if body is None:
            payload, content_type = b"", None
        elif isinstance(body, bytes):
            payload, content_type = body, "application/octet-stream"
        else:
            payload, content_type = json.dumps(body, ensure_ascii=False).encode("utf-8"), JSON_TYPE
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise _HttpError(411, {"error": "length_required"}, close=True)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as err:
            raise _HttpError(400, {"error": "invalid Content-Length"}, close=True) from err
        if length > limit:
            # Read and drop the body (up to a hard cap) so that the client gets the 413, not a reset.
            remaining = length if length <= 4 * limit else 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise _HttpError(413, {"codeRetour": 20001, "libelle": "GDP_MSG_11.022"}, close=True)
        return self.rfile.read(length) if length > 0 else b""

    def _cut(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            if path == TOKEN_PATH:
                self._token(method)
            elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                self._control(method, path)
            else:
                self._api(method, path)
        except _Cut:
            self._cut()
        except _HttpError as err:
            self._send(err.status, err.body, err.headers, close=err.close)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug of the sandbox: answer 500 rather than hang the client
            _logger.exception("Sandbox failure on %s %s", method, path)
            self._send(500, {"error": "internal_error", "error_description": "sandbox failure"}, close=True)

    # -- faults ---------------------------------------------------------------------------------------
    def _pre_fault(self, fault: Any) -> None:
        if fault is None:
            return
        if fault.kind == "http_500":
            raise _HttpError(500, _GATEWAY_500)
        if fault.kind == "http_503":
            raise _HttpError(
                503,
                {"error": "Service Unavailable", "error_description": "panne simulee"},
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "http_429":
            raise _HttpError(
                429,
                {"error": "Too Many Requests", "error_description": "quota depasse (simule)"},
                {"Retry-After": str(fault.retry_after)},
            )

    def _post_fault(self, fault: Any) -> None:
        if fault is None:
            return
        if fault.kind == "slow":
            self.server.stopping.wait(fault.delay)
        elif fault.kind == "http_500_after":
            raise _HttpError(500, _GATEWAY_500)
        elif fault.kind == "cut":
            raise _Cut()

    # -- PISTE OAuth2 ---------------------------------------------------------------------------------
    def _token(self, method: str) -> None:
        body = self._read_body(64 * 1024)
        if method != "POST":
            raise _HttpError(405, {"error": "invalid_request", "error_description": "POST only"}, {"Allow": "POST"})
        sandbox = self.sandbox
        sandbox.engine.count_call("token")
        fault = sandbox.faults.draw("token", TOKEN_PATH, token_valid=False)
        self._pre_fault(fault)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise _HttpError(
                400, {"error": "invalid_request", "error_description": "expected application/x-www-form-urlencoded"}
            )
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            raise _HttpError(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}
            )
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _basic_credentials(self.headers.get("Authorization"))
        if basic and not client_secret:
            client_id, client_secret = basic
        if not sandbox.engine.check_client(client_id, client_secret):
            raise _HttpError(400, {"error": "invalid_client", "error_description": "Bad client credentials"})
        answer = sandbox.engine.issue_token(client_id or "")
        self._post_fault(fault)
        self._send(200, answer, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # -- /cpro API gateway ----------------------------------------------------------------------------
    def _api(self, method: str, path: str) -> None:
        sandbox = self.sandbox
        route = ROUTES.get((method, path))
        body_bytes = self._read_body(sandbox.max_request_size)
        if route is None:
            raise _HttpError(403)  # PISTE: route not declared / API not subscribed -> 403, empty body
        operation, handler = route
        engine = sandbox.engine
        engine.count_call(operation)
        engine.tick()
        token = _bearer(self.headers.get("Authorization"))
        state = engine.token_state(token)
        if state != "valid":
            raise _unauthorized(state, token)
        fault = sandbox.faults.draw(operation, path, token_valid=True)
        self._pre_fault(fault)
        if fault is not None and fault.kind == "expire_token":
            engine.expire_token(token)
            raise _unauthorized("expired", token)
        if method == "GET":
            account = self.headers.get("cpro-account")
            if account is not None and not engine.check_account(account):
                raise _HttpError(401, _account_error(), {"WWW-Authenticate": WWW_AUTHENTICATE_ACCOUNT})
            payload: dict[str, Any] = {}
        else:
            if not engine.check_account(self.headers.get("cpro-account")):
                raise _HttpError(401, _account_error(), {"WWW-Authenticate": WWW_AUTHENTICATE_ACCOUNT})
            payload = _json_body(self.headers.get("Content-Type"), body_bytes)
        kwargs = {"incident": True} if fault is not None and fault.kind == "incident" else {}
        if operation == "deposerFluxFacture":  # validates the file outside the lock, then records under it
            reply: Reply = engine.op_deposer_flux(payload, **kwargs)
        else:
            with engine.store.lock:  # one consistent view (e.g. a search's total and its page)
                reply = getattr(engine, handler)(payload)
        status = reply.status or (200 if reply.code == 0 or reply.no_result else engine.functional_errors_http)
        self._post_fault(fault)
        self._send(status, reply.body, reply.headers)

    # -- /sandbox control API -------------------------------------------------------------------------
    def _control(self, method: str, path: str) -> None:
        refuse_cross_site(method, self.headers)
        body = self._read_body(self.sandbox.max_request_size)
        query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
        payload: dict[str, Any] = {}
        if body.strip():
            try:
                payload = json.loads(body)
            except ValueError as err:
                raise _HttpError(400, {"error": f"invalid JSON body: {err}"}) from err
            if not isinstance(payload, dict):
                raise _HttpError(400, {"error": "the JSON body must be an object"})
        self.sandbox.engine.tick()
        for route_method, pattern, function in _CONTROL_ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                try:
                    status, answer = function(self.sandbox, payload, query, *match.groups())
                except (ValueError, TypeError, FaultError, dirmod.DirectoryError) as err:
                    raise _HttpError(400, {"error": str(err)}) from err
                except KeyError as err:
                    raise _HttpError(404, {"error": str(err.args[0] if err.args else err)}) from err
                self._send(status, answer)
                return
        raise _HttpError(404, {"error": f"no control route {method} {path}", "routes": _control_help()})


def refuse_cross_site(method: str, headers: Any) -> None:
    """The control API changes state only on requests a web page cannot forge.

    A page on another site can POST a form (``application/x-www-form-urlencoded``,
    ``multipart/form-data``, ``text/plain``) to 127.0.0.1 without asking; it cannot send
    ``Content-Type: application/json`` (nor PUT/DELETE/PATCH) without a CORS preflight, which the
    sandbox never grants. So a control POST must say ``application/json``.
    """
    if method != "POST":
        return
    content_type = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise _HttpError(415, {
            "error": "a control POST needs Content-Type: application/json "
                     "(a web page of another site cannot send it: no cross-site change of the sandbox)",
        })


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _unauthorized(state: str, token: str | None) -> _HttpError:
    if state == "expired":
        description = "The access token expired"
    elif token:
        description = "Invalid access token"
    else:
        description = "Missing access token (Authorization: Bearer ...)"
    error = "invalid_token" if token else "invalid_request"
    return _HttpError(
        401,
        {"error": error, "error_description": description},
        {"WWW-Authenticate": f'Bearer realm="PISTE",error="{error}",error_description="{description}"'},
    )


def _account_error() -> dict[str, str]:
    return {"error": "Unauthorized", "error_description": "login or password incorrects"}


def _json_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise _HttpError(415, {"codeRetour": 415, "libelle": "Format de requete non supporte (application/json)"})
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise _HttpError(415, {"codeRetour": 415, "libelle": "Le corps de la requete n'est pas du JSON"}) from err
    if not isinstance(payload, dict):
        raise _HttpError(400, {"codeRetour": 400, "libelle": "Le corps de la requete doit etre un objet JSON"})
    return payload


# ----------------------------------------------------------------------------------------------------
# control routes: (method, path regex, function(sandbox, payload, query, *groups) -> (status, body))
# ----------------------------------------------------------------------------------------------------
def _c_state(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.state()


def _c_reset(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    sb.reset(directory=bool(payload.get("directory", True)))
    return 200, sb.state()


def _c_clock_get(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.clock()


def _c_clock(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    if "advance" not in payload:
        raise ValueError('expected {"advance": seconds}')
    sb.advance(float(payload["advance"]))
    return 200, sb.clock()


def _c_config_get(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.config()


def _c_config(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.configure(**payload)


def _c_faults_get(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.faults.describe()


def _c_faults(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    if "random" in payload:
        config = payload["random"]
        if config:
            if not isinstance(config, dict):
                raise ValueError('"random" must be an object {"probability", "seed", "kinds", "operation", "delay"}')
            sb.random_faults(**config)
        else:
            sb.faults.clear_random()
    if "kind" in payload:
        sb.inject_fault(**{k: v for k, v in payload.items() if k != "random"})
    elif "random" not in payload:
        raise ValueError('expected {"kind": ..., "count": ...} or {"random": {...}}')
    return 200, sb.faults.describe()


def _c_faults_delete(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    sb.clear_faults()
    return 200, sb.faults.describe()


def _c_structures_get(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, {"structures": sb.structures(query.get("siret"))}


def _c_structures(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 201, sb.add_structure(payload)


def _c_structure(sb: SandboxServer, payload: dict, query: dict, structure_id: str) -> tuple[int, Any]:
    structure = dirmod.structure_by_id(sb.store, structure_id)
    if structure is None:
        raise KeyError(f"no structure {structure_id}")
    structure["services"] = dirmod.services_of(sb.store, structure["idStructureCPP"])
    return 200, structure


def _c_services(sb: SandboxServer, payload: dict, query: dict, structure_id: str) -> tuple[int, Any]:
    return 201, sb.add_service(int(structure_id), payload)


def _c_deposits(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    invoice = query.get("invoice")
    deposits = sb.deposits(invoice)
    return 200, {"invoice": invoice, "count": len(deposits), "deposits": deposits}


def _c_duplicates(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    numbers = query.get("numbers")
    return 200, sb.duplicate_report(numbers.split(",") if numbers else None)


def _c_flow(sb: SandboxServer, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    return 200, sb.flow(number)


def _c_flow_file(sb: SandboxServer, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    data = sb.engine.flow_file(number)
    if data is None:
        raise KeyError(f"no file kept for flow {number}")
    return 200, data


def _c_flow_incident(sb: SandboxServer, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    return 200, sb.engine.force_flow_incident(number)


def _c_invoices(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    invoices = sb.invoices(number=query.get("number"), flow_number=query.get("flow"))
    return 200, {"count": len(invoices), "invoices": invoices}


def _c_invoice(sb: SandboxServer, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    return 200, sb.invoice(int(invoice_id))


def _c_invoice_status(sb: SandboxServer, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    if not payload.get("status"):
        raise ValueError('expected {"status": CODE, "comment": text}')
    return 200, sb.set_invoice_status(int(invoice_id), payload["status"], payload.get("comment"))


def _c_invoice_history(sb: SandboxServer, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    return 200, write_history(sb.engine, int(invoice_id), payload.get("entries"), bool(payload.get("replace")))


def _c_seed(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 201, sb.seed_invoices(**payload)


def _c_calls(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.calls()


def _c_calls_delete(sb: SandboxServer, payload: dict, query: dict) -> tuple[int, Any]:
    sb.reset_calls()
    return 200, sb.calls()


_CONTROL_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
    ("GET", re.compile(r"/sandbox(?:/state)?"), _c_state),
    ("POST", re.compile(r"/sandbox/reset"), _c_reset),
    ("GET", re.compile(r"/sandbox/clock"), _c_clock_get),
    ("POST", re.compile(r"/sandbox/clock"), _c_clock),
    ("GET", re.compile(r"/sandbox/config"), _c_config_get),
    ("POST", re.compile(r"/sandbox/config"), _c_config),
    ("GET", re.compile(r"/sandbox/faults"), _c_faults_get),
    ("POST", re.compile(r"/sandbox/faults"), _c_faults),
    ("DELETE", re.compile(r"/sandbox/faults"), _c_faults_delete),
    ("GET", re.compile(r"/sandbox/structures"), _c_structures_get),
    ("POST", re.compile(r"/sandbox/structures"), _c_structures),
    ("GET", re.compile(r"/sandbox/structures/(\d+)"), _c_structure),
    ("POST", re.compile(r"/sandbox/structures/(\d+)/services"), _c_services),
    ("GET", re.compile(r"/sandbox/deposits"), _c_deposits),
    ("GET", re.compile(r"/sandbox/duplicates"), _c_duplicates),
    ("GET", re.compile(r"/sandbox/flows/([A-Za-z0-9]+)"), _c_flow),
    ("GET", re.compile(r"/sandbox/flows/([A-Za-z0-9]+)/file"), _c_flow_file),
    ("POST", re.compile(r"/sandbox/flows/([A-Za-z0-9]+)/incident"), _c_flow_incident),
    ("GET", re.compile(r"/sandbox/invoices"), _c_invoices),
    ("POST", re.compile(r"/sandbox/invoices/seed"), _c_seed),
    *sandbox_completion.CONTROL_ROUTES,
    *ACCOUNT_ROUTES,
    ("GET", re.compile(r"/sandbox/invoices/(\d+)"), _c_invoice),
    ("POST", re.compile(r"/sandbox/invoices/(\d+)/status"), _c_invoice_status),
    ("POST", re.compile(r"/sandbox/invoices/(\d+)/history"), _c_invoice_history),
    ("GET", re.compile(r"/sandbox/calls"), _c_calls),
    ("DELETE", re.compile(r"/sandbox/calls"), _c_calls_delete),
    *embedded.CONTROL_ROUTES,
]
_CONTROL_ROUTES += [(method, re.compile(path), function) for method, path, function in directory_truth.CONTROL_ROUTES]


def _control_help() -> list[str]:
    return [f"{method} {pattern.pattern}" for method, pattern, _ in _CONTROL_ROUTES]


# ----------------------------------------------------------------------------------------------------
# SandboxServer
# ----------------------------------------------------------------------------------------------------
class SandboxServer:
    """A local Chorus Pro (PISTE token + API gateway + control API) running in a background thread.

    :param host: interface to bind; keep the loopback default.
    :param port: TCP port; 0 picks a free one (read :attr:`url`).
    :param state_path: SQLite file of the state, or ``":memory:"``. A file survives restarts.
    :param directory_file: JSON file of extra structures (same shape as ``directory.json``).
    :param processing_delay: seconds per flow processing step (3 steps to the final state);
        0 makes a flow final on the next call after its deposit.
    :param functional_errors_http: HTTP status of answers with ``codeRetour != 0``: 200 or 400.
    :param routing_delay: seconds per automatic invoice step (DEPOSEE -> EN_COURS_ACHEMINEMENT ->
        MISE_A_DISPOSITION); defaults to ``processing_delay``.
    :param credentials: accepted PISTE client and technical account (defaults of CONTRACTS.md).
    :param max_file_size: largest decoded deposit accepted (bytes); larger files get 413.
    :param validator: ``callable(bytes) -> report`` replacing ``core.validation.validate`` (tests).
    :param validation_layers: layers asked to ``core.validation.validate`` (``xsd``, ``schematron``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | Path = ":memory:",
        directory_file: str | Path | None = None,
        processing_delay: float = 0.0,
        functional_errors_http: int = 200,
        *,
        routing_delay: float | None = None,
        credentials: SandboxCredentials | None = None,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        validator: Callable[[bytes], Any] | None = None,
        validation_layers: tuple[str, ...] = ("xsd",),
        keep_files: bool = True,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.state_path = str(state_path)
        self.directory_file = directory_file
        self.store = Store(self.state_path)
        dirmod.narrow_wide_ids(self.store)  # a state file of an earlier sandbox: ids into 32 bits
        if not self.store.scalar("SELECT COUNT(*) FROM structures"):
            dirmod.load_structures(self.store, dirmod.load_directory_file())
        if directory_file:
            dirmod.load_structures(self.store, dirmod.load_directory_file(directory_file))
        self._credentials = credentials or DEFAULT_CREDENTIALS
        self.engine = Engine(
            self.store,
            credentials=self._credentials,
            processing_delay=processing_delay,
            routing_delay=routing_delay,
            functional_errors_http=functional_errors_http,
            max_file_size=max_file_size,
            validator=validator,
            validation_layers=validation_layers,
            keep_files=keep_files,
        )
        self.faults = FaultBox(self.store)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.sandbox = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"chorus-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        _logger.info("Chorus Pro sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.stopping.set()
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start (if needed) and block until :meth:`stop` is called from another thread or a signal."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    # -- facts about the running sandbox --------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def credentials(self) -> SandboxCredentials:
        return self.engine.credentials

    @property
    def max_request_size(self) -> int:
        return self.engine.max_file_size * 4 // 3 + 1024 * 1024

    # -- control API (Python side of /sandbox/...) ----------------------------------------------------
    def state(self) -> dict[str, Any]:
        self.engine.tick()
        return {
            "url": self.url if self._httpd else None,
            "state_path": self.state_path,
            "clock": self.clock(),
            "config": self.config(),
            "counts": self.engine.counts(),
            "calls": self.engine.calls(),
            "faults": self.faults.describe(),
        }

    def clock(self) -> dict[str, Any]:
        now = self.engine.now()
        return {"now": format_datetime(now), "timestamp": now, "offset": self.engine.clock.offset}

    def now(self) -> float:
        """Sandbox time (epoch seconds)."""
        return self.engine.now()

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward and run what became due; returns the new sandbox time."""
        return self.engine.advance(seconds)

    def tick(self) -> None:
        self.engine.tick()

    def config(self) -> dict[str, Any]:
        engine = self.engine
        return {
            "processing_delay": engine.processing_delay,
            "routing_delay": engine.routing_delay,
            "functional_errors_http": engine.functional_errors_http,
            "max_file_size": engine.max_file_size,
            "validation_layers": list(getattr(engine.validator, "layers", ()) or []),
        }

    def configure(
        self,
        processing_delay: float | None = None,
        routing_delay: float | None = None,
        functional_errors_http: int | None = None,
        max_file_size: int | None = None,
    ) -> dict[str, Any]:
        """Change settings of a running sandbox (new deposits / new steps only)."""
        engine = self.engine
        if functional_errors_http is not None:
            if int(functional_errors_http) not in (200, 400):
                raise ValueError("functional_errors_http must be 200 or 400")
            engine.functional_errors_http = int(functional_errors_http)
        if processing_delay is not None:
            engine.processing_delay = max(0.0, float(processing_delay))
        if routing_delay is not None:
            engine.routing_delay = max(0.0, float(routing_delay))
        if max_file_size is not None:
            engine.max_file_size = int(max_file_size)
        return self.config()

    def reset(self, directory: bool = True) -> None:
        """Forget flows, invoices, deposits, tokens, faults, counters and the clock offset.

        With ``directory`` (default) the directory goes back to the shipped one (plus ``directory_file``).
        """
        with self.store.transaction():
            self.store.clear(directory=directory)
            if directory:
                dirmod.load_structures(self.store, dirmod.load_directory_file())
                if self.directory_file:
                    dirmod.load_structures(self.store, dirmod.load_directory_file(self.directory_file))
            self.engine.clock.offset = 0.0
            self.faults.reload()
            reset_account(self.engine, self._credentials.password)

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        operation: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
    ) -> dict[str, Any]:
        """Queue a fault for the next ``count`` matching calls (see :mod:`.faults` for the kinds)."""
        return self.faults.inject(kind, count=count, operation=operation, delay=delay, retry_after=retry_after)

    def random_faults(
        self,
        probability: float,
        seed: int | None = None,
        kinds: list[str] | None = None,
        operation: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
    ) -> dict[str, Any] | None:
        """Draw a fault on each matching call with this probability (0 turns random faults off)."""
        return self.faults.set_random(
            probability, seed=seed, kinds=kinds, operation=operation, delay=delay, retry_after=retry_after
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def structures(self, siret: str | None = None) -> list[dict[str, Any]]:
        if siret:
            found = dirmod.find_structure(self.store, siret)
            found_list = [found] if found else []
        else:
            rows = self.store.all("SELECT id FROM structures ORDER BY id")
            found_list = [dirmod.structure_by_id(self.store, row["id"]) for row in rows]
        for structure in found_list:
            structure["services"] = dirmod.services_of(self.store, structure["idStructureCPP"])
        return found_list

    def add_structure(self, structure: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Add or replace a directory structure, e.g. ``add_structure(siret="...", name="My company")``.

        A structure is PRIVEE (a supplier attached to the technical account) unless ``typeStructure`` /
        ``type`` says PUBLIQUE. Returns the stored structure with its ``idStructureCPP``.
        """
        return dirmod.upsert_structure(self.store, {**(structure or {}), **fields})

    def add_service(self, structure_id: int, service: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return dirmod.add_service(self.store, structure_id, {**(service or {}), **fields})

    def deposits(self, invoice: str | None = None) -> list[dict[str, Any]]:
        """Every deposit received (accepted or refused), optionally only those holding this invoice number."""
        return self.engine.deposits(invoice)

    def deposits_of(self, invoice_number: str) -> int:
        """How many deposits (accepted or refused) carried this invoice number."""
        return self.engine.deposits_of(invoice_number)

    def duplicate_report(self, numbers: list[str] | None = None) -> dict[str, Any]:
        """Flows refused as duplicates (allowed after an uncertain deposit) and numbers received twice (never)."""
        self.engine.tick()
        return duplicate_report(self.store, numbers)

    def flow(self, number: str) -> dict[str, Any]:
        self.engine.tick()
        return self.engine.flow(number)

    def flow_embedded(self, number: str) -> dict[str, Any]:
        """The files embedded in each invoice file of flow ``number`` (``embedded.flow_embedded``)."""
        return embedded.flow_embedded(self, number)

    def invoices(self, number: str | None = None, flow_number: str | None = None) -> list[dict[str, Any]]:
        self.engine.tick()
        return self.engine.invoices(number=number, flow_number=flow_number)

    def invoice(self, chorus_id: int) -> dict[str, Any]:
        self.engine.tick()
        return self.engine.invoice(chorus_id)

    def invoice_id(self, number: str) -> int | None:
        """``identifiantFactureCPP`` of the latest invoice with this number, or None."""
        found = self.invoices(number=number)
        return found[-1]["identifiantFactureCPP"] if found else None

    def set_invoice_status(self, chorus_id: int, status: str, comment: str | None = None) -> dict[str, Any]:
        """Act as the recipient: move the invoice to ``status`` (e.g. A_RECYCLER, SUSPENDUE, REJETEE, MANDATEE)."""
        return self.engine.set_invoice_status(chorus_id, status, comment)

    def seed_invoices(self, count: int, **options: Any) -> dict[str, Any]:
        """Create integrated invoices in bulk (no deposit): see :meth:`.engine.Engine.seed_invoices`."""
        return self.engine.seed_invoices(count, **options)

    def calls(self) -> dict[str, int]:
        """Calls received per operation (AIFE names, plus ``token``), faults included."""
        return self.engine.calls()

    def reset_calls(self) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM calls")


# ----------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------
def build_parser(prog: str = "chorus-rouen sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run a local Chorus Pro (PISTE) sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default: {DEFAULT_PORT}; 0 = any)")
    parser.add_argument(
        "--state",
        default=":memory:",
        metavar="FILE",
        help="SQLite file keeping the state across restarts (default: in memory)",
    )
    parser.add_argument("--directory", metavar="FILE", help="JSON file of extra directory structures")
    parser.add_argument(
        "--delay",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds per flow processing step and per invoice routing step (default: 2)",
    )
    parser.add_argument(
        "--functional-errors-http",
        type=int,
        choices=(200, 400),
        default=200,
        help="HTTP status of answers with codeRetour != 0 (default: 200)",
    )
    parser.add_argument(
        "--layers", default="xsd", help="validation layers applied to deposits, comma separated (default: xsd)"
    )
    parser.add_argument(
        "--supplier",
        action="append",
        default=[],
        metavar="SIRET[:NAME]",
        help="register a supplier (PRIVEE structure), e.g. your company; repeatable",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def serve_forever(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    state_path: str = ":memory:",
    *,
    out: Any = None,
    suppliers: list[str] | None = None,
    **options: Any,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C (or SIGTERM); prints where it listens.

    :param suppliers: ``"SIRET"`` or ``"SIRET:Name"`` of suppliers to register before starting.
    """
    out = out or sys.stdout
    sandbox = SandboxServer(host, port, state_path, **options)
    for supplier in suppliers or []:
        siret, _, name = supplier.partition(":")
        added = sandbox.add_structure(siret=siret, name=name or None)
        print(
            f"Supplier {added['identifiantStructure']} registered (idStructureCPP {added['idStructureCPP']})", file=out
        )
    sandbox.start()
    creds = sandbox.credentials
    print(f"Chorus Pro sandbox listening on {sandbox.url}", file=out)
    print(f"  token URL      {sandbox.token_url}", file=out)
    print(f"  API base URL   {sandbox.url}  (PISTE paths /cpro/...)", file=out)
    print(f"  control API    {sandbox.url}/sandbox/state", file=out)
    print(f"  client_id      {creds.client_id}", file=out)
    print(f"  client_secret  {creds.client_secret}", file=out)
    print(f"  login          {creds.login}", file=out)
    print(f"  password       {creds.password}", file=out)
    print(f"  state          {state_path}", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"WARNING: listening on {host}: the sandbox has no real security.", file=out, flush=True)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _stop)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        print("Stopping the sandbox.", file=out, flush=True)
    finally:
        sandbox.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None, prog: str = "chorus-rouen sandbox") -> int:
    """Entry point of ``chorus-rouen sandbox`` and ``python -m odoo_chorus_rouen.sandbox``."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    layers = tuple(layer.strip() for layer in args.layers.split(",") if layer.strip())
    try:
        check_port(args.port)
        check_state_path(args.state)
    except ValueError as err:
        print(f"Invalid sandbox setting: {err}", file=sys.stderr)
        return 2
    try:
        serve_forever(
            args.host,
            args.port,
            args.state,
            directory_file=args.directory,
            processing_delay=args.delay,
            functional_errors_http=args.functional_errors_http,
            validation_layers=layers,
            suppliers=args.supplier,
        )
    except OSError as err:
        print(f"Cannot start the sandbox: {err}", file=sys.stderr)
        return 1
    except (ValueError, dirmod.DirectoryError) as err:
        print(f"Invalid sandbox setting: {err}", file=sys.stderr)
        return 2
    except sqlite3.Error as err:
        print(f"Invalid sandbox setting: --state {args.state} cannot be used ({err})", file=sys.stderr)
        return 2
    return 0
