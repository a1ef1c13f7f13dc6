"""One HTTP exchange of the sandbox: the request body read under a cap, the answer written, the early ends.

Shared by its three faces (:mod:`.gateway`'s token endpoint and ``/cpro`` API, :mod:`.control`'s
``/sandbox`` API), which raise :class:`HttpError` to answer at once and :class:`Cut` to close the
connection without answering; :mod:`.handler` turns both into what the client sees.
"""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any

__all__ = ["JSON_TYPE", "Cut", "HttpError", "cut", "read_body", "send"]

JSON_TYPE = "application/json;charset=utf-8"


class Cut(Exception):
    """Close the connection without answering (fault ``cut``)."""


class HttpError(Exception):
    """Answer ``status`` with ``body`` (JSON, bytes or nothing) and ``headers``; ``close`` ends the connection."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None, close: bool = False):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.close = close


def send(
    request: BaseHTTPRequestHandler,
    status: int,
    body: Any = None,
    headers: dict[str, str] | None = None,
    close: bool = False,
) -> None:
    """Answer the request: ``body`` None (empty), bytes (octet-stream) or JSON."""
    if body is None:
        payload, content_type = b"", None
    elif isinstance(body, bytes):
        payload, content_type = body, "application/octet-stream"
    else:
        payload, content_type = json.dumps(body, ensure_ascii=False).encode("utf-8"), JSON_TYPE
    request.send_response(status)
    if content_type:
        request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(payload)))
    for key, value in (headers or {}).items():
        request.send_header(key, value)
    if close:
        request.send_header("Connection", "close")
        request.close_connection = True
    request.end_headers()
    request.wfile.write(payload)


def read_body(request: BaseHTTPRequestHandler, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes: 411 when chunked, 400 for a bad length, 413 over the limit."""
    if "chunked" in (request.headers.get("Transfer-Encoding") or "").lower():
        raise HttpError(411, {"error": "length_required"}, close=True)
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError as err:
        raise HttpError(400, {"error": "invalid Content-Length"}, close=True) from err
    if length > limit:
        # Read and drop the body (up to a hard cap) so that the client gets the 413, not a reset.
        remaining = length if length <= 4 * limit else 0
        while remaining > 0:
            chunk = request.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)
        raise HttpError(413, {"codeRetour": 20001, "libelle": "GDP_MSG_11.022"}, close=True)
    return request.rfile.read(length) if length > 0 else b""


def cut(request: BaseHTTPRequestHandler) -> None:
    """Close the connection without an answer."""
    request.close_connection = True
    try:
        request.wfile.flush()
        request.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
