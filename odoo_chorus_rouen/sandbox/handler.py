"""The sandbox's HTTP server and request handler: each request to its face, every early end to its answer.

``/api/oauth/token`` and ``/cpro/...`` go to :mod:`.gateway`, ``/sandbox/...`` to :mod:`.control`.
A :class:`.http_io.HttpError` becomes its answer, a :class:`.http_io.Cut` a closed connection, and
a failure of the sandbox itself a 500 rather than a hanging client. Standard library only
(``http.server.ThreadingHTTPServer``, one thread per connection, keep-alive).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .control import CONTROL_PREFIX, serve_control
from .gateway import TOKEN_PATH, serve_api, serve_token
from .http_io import Cut, HttpError, cut, send

__all__ = ["RequestHandler", "SandboxHTTPServer"]

_logger = logging.getLogger(__name__)
_access_logger = logging.getLogger(__name__ + ".access")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Any  # the SandboxServer that started it

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


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PISTE-sandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are dropped after this many seconds
    server: SandboxHTTPServer

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
    def sandbox(self) -> Any:
        return self.server.sandbox

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            if path == TOKEN_PATH:
                serve_token(self, method)
            elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                serve_control(self, method, path)
            else:
                serve_api(self, method, path)
        except Cut:
            cut(self)
        except HttpError as err:
            send(self, err.status, err.body, err.headers, close=err.close)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug of the sandbox: answer 500 rather than hang the client
            _logger.exception("Sandbox failure on %s %s", method, path)
            send(self, 500, {"error": "internal_error", "error_description": "sandbox failure"}, close=True)
