"""The ``/sandbox`` control API: plain JSON over HTTP that lets tests and demos drive the sandbox.

Each route calls the Python side of the same action (:class:`.server.SandboxServer`'s methods, or a
concern module's function) as ``function(sandbox, payload, query, *groups) -> (status, body)``; the
modules of a concern bring their own routes (``CONTROL_ROUTES`` of :mod:`.completion`,
:mod:`.technical_account`, :mod:`.embedded`, :mod:`.directory_truth`). A ``ValueError`` (or a
refused fault or directory entry) is **400**, a ``KeyError`` **404**. No authentication: loopback
only, and :func:`refuse_cross_site` keeps web pages of other sites from changing anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import completion as sandbox_completion
from . import directory as dirmod
from . import directory_truth, embedded
from .faults import FaultError
from .flows import force_flow_incident
from .history import write_history
from .http_io import HttpError, read_body, send
from .technical_account import CONTROL_ROUTES as ACCOUNT_ROUTES

__all__ = ["CONTROL_PREFIX", "CONTROL_ROUTES", "refuse_cross_site", "serve_control"]

CONTROL_PREFIX = "/sandbox"


def serve_control(request: Any, method: str, path: str) -> None:
    """One ``/sandbox/...`` request: the cross-site guard, the JSON body and query, then its route."""
    refuse_cross_site(method, request.headers)
    body = read_body(request, request.sandbox.max_request_size)
    query = {key: values[0] for key, values in parse_qs(urlsplit(request.path).query).items()}
    payload: dict[str, Any] = {}
    if body.strip():
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise HttpError(400, {"error": f"invalid JSON body: {err}"}) from err
        if not isinstance(payload, dict):
            raise HttpError(400, {"error": "the JSON body must be an object"})
    request.sandbox.engine.tick()
    for route_method, pattern, function in CONTROL_ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            try:
                status, answer = function(request.sandbox, payload, query, *match.groups())
            except (ValueError, TypeError, FaultError, dirmod.DirectoryError) as err:
                raise HttpError(400, {"error": str(err)}) from err
            except KeyError as err:
                raise HttpError(404, {"error": str(err.args[0] if err.args else err)}) from err
            send(request, status, answer)
            return
    raise HttpError(404, {"error": f"no control route {method} {path}", "routes": _control_help()})


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
        raise HttpError(
            415,
            {
                "error": "a control POST needs Content-Type: application/json "
                "(a web page of another site cannot send it: no cross-site change of the sandbox)",
            },
        )


# ----------------------------------------------------------------------------------------------------
# control routes: (method, path regex, function(sandbox, payload, query, *groups) -> (status, body))
# ----------------------------------------------------------------------------------------------------
def _c_state(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.state()


def _c_reset(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    sb.reset(directory=bool(payload.get("directory", True)))
    return 200, sb.state()


def _c_clock_get(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.clock()


def _c_clock(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    if "advance" not in payload:
        raise ValueError('expected {"advance": seconds}')
    sb.advance(float(payload["advance"]))
    return 200, sb.clock()


def _c_config_get(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.config()


def _c_config(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.configure(**payload)


def _c_faults_get(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.faults.describe()


def _c_faults(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
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


def _c_faults_delete(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    sb.clear_faults()
    return 200, sb.faults.describe()


def _c_structures_get(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, {"structures": sb.structures(query.get("siret"))}


def _c_structures(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 201, sb.add_structure(payload)


def _c_structure(sb: Any, payload: dict, query: dict, structure_id: str) -> tuple[int, Any]:
    structure = dirmod.structure_by_id(sb.store, structure_id)
    if structure is None:
        raise KeyError(f"no structure {structure_id}")
    structure["services"] = dirmod.services_of(sb.store, structure["idStructureCPP"])
    return 200, structure


def _c_services(sb: Any, payload: dict, query: dict, structure_id: str) -> tuple[int, Any]:
    return 201, sb.add_service(int(structure_id), payload)


def _c_deposits(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    invoice = query.get("invoice")
    deposits = sb.deposits(invoice)
    return 200, {"invoice": invoice, "count": len(deposits), "deposits": deposits}


def _c_duplicates(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    numbers = query.get("numbers")
    return 200, sb.duplicate_report(numbers.split(",") if numbers else None)


def _c_flow(sb: Any, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    return 200, sb.flow(number)


def _c_flow_file(sb: Any, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    data = sb.flow_file(number)
    if data is None:
        raise KeyError(f"no file kept for flow {number}")
    return 200, data


def _c_flow_incident(sb: Any, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    return 200, force_flow_incident(sb.engine, number)


def _c_invoices(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    invoices = sb.invoices(number=query.get("number"), flow_number=query.get("flow"))
    return 200, {"count": len(invoices), "invoices": invoices}


def _c_invoice(sb: Any, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    return 200, sb.invoice(int(invoice_id))


def _c_invoice_status(sb: Any, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    if not payload.get("status"):
        raise ValueError('expected {"status": CODE, "comment": text}')
    return 200, sb.set_invoice_status(int(invoice_id), payload["status"], payload.get("comment"))


def _c_invoice_history(sb: Any, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    return 200, write_history(sb.engine, int(invoice_id), payload.get("entries"), bool(payload.get("replace")))


def _c_seed(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 201, sb.seed_invoices(**payload)


def _c_calls(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    return 200, sb.calls()


def _c_calls_delete(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    sb.reset_calls()
    return 200, sb.calls()


CONTROL_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
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
CONTROL_ROUTES += [(method, re.compile(path), function) for method, path, function in directory_truth.CONTROL_ROUTES]


def _control_help() -> list[str]:
    return [f"{method} {pattern.pattern}" for method, pattern, _ in CONTROL_ROUTES]
