"""The sandbox as a local service: it answers only requests addressed to it, and no web page of another site changes it.

It has no authentication of its own (its credentials are public defaults), so two things keep a web
page the user happens to visit from driving it:

* **Host** (every request): a page of ``evil.example`` can make its own name resolve to 127.0.0.1
  (DNS rebinding) and then read and call the sandbox as if it were its own site; its requests still
  say ``Host: evil.example:PORT``. Only the names the sandbox is reached by are accepted: the
  address it listens on (``--host``), ``127.0.0.1``, ``localhost`` and ``[::1]`` when it listens on
  the loopback interface or on all interfaces, any IP address when it listens on all interfaces
  (an address cannot be rebound), and the names given with ``--allow-host`` (e.g. a container's
  service name); each with the port it listens on. No Host header at all (HTTP/1.0 tools) is
  accepted: browsers always send one.
* **Origin** (control requests that change something: POST, PUT, PATCH, DELETE on ``/sandbox``): a
  browser says which site the page comes from; any other origin than the sandbox's own, ``null``
  included, is refused. Tools (``requests``, ``curl``, Odoo) send no Origin.

Refusals: **421** for a foreign Host, **403** for a foreign Origin, each with one sentence.

>>> hosts = allowed_hosts("127.0.0.1", 8080)
>>> sorted(hosts)
['127.0.0.1:8080', '[::1]:8080', 'localhost:8080']
>>> host_refusal("127.0.0.1:8080", hosts, "127.0.0.1") is None
True
>>> print(host_refusal("evil.example:8080", hosts, "127.0.0.1"))
Host 'evil.example:8080' is not an address of this sandbox (127.0.0.1:8080, [::1]:8080, localhost:8080): \
a web page of another site may be trying to reach it through its own name. Use one of those addresses, or \
start the sandbox with --allow-host NAME.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .http_io import HttpError

__all__ = ["allowed_hosts", "check_request", "host_refusal", "origin_refusal"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_ALL_INTERFACES = ("", "0.0.0.0", "::")
_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def _bracketed(name: str) -> str:
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    """Every ``name:port`` a request to this sandbox may carry in its Host header (lower case)."""
    names = {host, *extra}
    if host in _LOOPBACK or host in _ALL_INTERFACES:
        names.update(_LOOPBACK)
    if host in _ALL_INTERFACES:
        names.update({socket.gethostname(), socket.getfqdn()})
    names.discard("")
    return {f"{_bracketed(name.strip().lower())}:{port}" for name in names if name.strip()}


def _split(value: str) -> tuple[str, str]:
    """``(host, port)`` of a Host header value (``[::1]:80`` -> ``("::1", "80")``)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host, port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _accepted(value: str, allowed: set[str], bind_host: str) -> bool:
    value = value.strip().lower()
    if value in allowed:
        return True
    host, port = _split(value)
    port = port or "80"
    ports = {name.rpartition(":")[2] for name in allowed}
    if port not in ports:
        return False
    if f"{_bracketed(host)}:{port}" in allowed:
        return True
    return bind_host in _ALL_INTERFACES and _is_ip(host)


def host_refusal(value: str | None, allowed: set[str], bind_host: str) -> str | None:
    """Why a request with this Host header is refused (``None``: accepted)."""
    if value is None or not value.strip() or _accepted(value, allowed, bind_host):
        return None
    shown = value.strip()[:100].encode("ascii", "backslashreplace").decode("ascii")
    return (
        f"Host {shown!r} is not an address of this sandbox ({', '.join(sorted(allowed))}): a web page of another "
        "site may be trying to reach it through its own name. Use one of those addresses, or start the sandbox "
        "with --allow-host NAME."
    )


def origin_refusal(method: str, origin: str | None, allowed: set[str], bind_host: str) -> str | None:
    """Why a control request from this Origin is refused (``None``: accepted)."""
    if method not in _CHANGING or origin is None:
        return None
    parts = urlsplit(origin.strip())
    if parts.scheme == "http" and parts.netloc and _accepted(parts.netloc, allowed, bind_host):
        return None
    shown = origin.strip()[:100].encode("ascii", "backslashreplace").decode("ascii")
    return (
        f"A web page of another site ({shown}) may not change the sandbox: control requests come from tools "
        "(no Origin header) or from the sandbox's own address."
    )


def check_request(request: Any, control: bool) -> None:
    """Refuse a request addressed to another name (421), or a control change from another site (403).

    :raises HttpError: the refusal, with its sentence in ``error``.
    """
    sandbox = request.sandbox
    allowed, bind_host = sandbox.allowed_hosts, sandbox.host
    why = host_refusal(request.headers.get("Host"), allowed, bind_host)
    if why:
        raise HttpError(421, {"error": why}, close=True)
    if control:
        why = origin_refusal(request.command, request.headers.get("Origin"), allowed, bind_host)
        if why:
            raise HttpError(403, {"error": why})
