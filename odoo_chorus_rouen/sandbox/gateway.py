"""The PISTE face of the sandbox: the OAuth2 token endpoint and the ``/cpro`` API gateway.

Gateway rules, in this order: a method/path not in :data:`ROUTES` is **403** with an empty body (a
route the PISTE application is not subscribed to); a missing, unknown or expired bearer token is
**401** ``invalid_token``; a missing or wrong ``cpro-account`` is **401** ``Unauthorized``; a body
that is not JSON is **415**, JSON that is not an object **400**. Then the operation runs on the
engine and its reply becomes the answer (functional errors on 200 or 400, ``functional_errors_http``).
Faults drawn from :mod:`.faults` apply before (5xx, 429, expired token) or after (slow, 500, cut) it,
or make a deposited flow end ``IN_INCIDENTE``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from .access import check_account, check_client, expire_token, issue_token, token_state
from .http_io import Cut, HttpError, read_body, send
from .replies import Reply

__all__ = ["ROUTES", "TOKEN_PATH", "serve_api", "serve_token"]

TOKEN_PATH = "/api/oauth/token"
WWW_AUTHENTICATE_ACCOUNT = 'Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"'
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


# -- PISTE OAuth2 token endpoint ---------------------------------------------------------------------
def serve_token(request: Any, method: str) -> None:
    """``POST /api/oauth/token`` (``client_credentials``, client in the form or in HTTP Basic)."""
    body = read_body(request, 64 * 1024)
    if method != "POST":
        raise HttpError(405, {"error": "invalid_request", "error_description": "POST only"}, {"Allow": "POST"})
    sandbox = request.sandbox
    sandbox.engine.count_call("token")
    fault = sandbox.faults.draw("token", TOKEN_PATH, token_valid=False)
    _pre_fault(fault)
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HttpError(
            400, {"error": "invalid_request", "error_description": "expected application/x-www-form-urlencoded"}
        )
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        raise HttpError(
            400, {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}
        )
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    basic = _basic_credentials(request.headers.get("Authorization"))
    if basic and not client_secret:
        client_id, client_secret = basic
    if not check_client(sandbox.engine, client_id, client_secret):
        raise HttpError(400, {"error": "invalid_client", "error_description": "Bad client credentials"})
    answer = issue_token(sandbox.engine, client_id or "")
    _post_fault(request, fault)
    send(request, 200, answer, {"Cache-Control": "no-store", "Pragma": "no-cache"})


# -- /cpro API gateway -------------------------------------------------------------------------------
def serve_api(request: Any, method: str, path: str) -> None:
    """One ``/cpro`` call: the gateway rules, then the engine's operation, then its answer."""
    sandbox = request.sandbox
    route = ROUTES.get((method, path))
    body_bytes = read_body(request, sandbox.max_request_size)
    if route is None:
        raise HttpError(403)  # PISTE: route not declared / API not subscribed -> 403, empty body
    operation, handler = route
    engine = sandbox.engine
    engine.count_call(operation)
    engine.tick()
    token = _bearer(request.headers.get("Authorization"))
    state = token_state(engine, token)
    if state != "valid":
        raise _unauthorized(state, token)
    fault = sandbox.faults.draw(operation, path, token_valid=True)
    _pre_fault(fault)
    if fault is not None and fault.kind == "expire_token":
        expire_token(engine, token)
        raise _unauthorized("expired", token)
    if method == "GET":
        account = request.headers.get("cpro-account")
        if account is not None and not check_account(engine, account):
            raise HttpError(401, _account_error(), {"WWW-Authenticate": WWW_AUTHENTICATE_ACCOUNT})
        payload: dict[str, Any] = {}
    else:
        if not check_account(engine, request.headers.get("cpro-account")):
            raise HttpError(401, _account_error(), {"WWW-Authenticate": WWW_AUTHENTICATE_ACCOUNT})
        payload = _json_body(request.headers.get("Content-Type"), body_bytes)
    kwargs = {"incident": True} if fault is not None and fault.kind == "incident" else {}
    if operation == "deposerFluxFacture":  # validates the file outside the lock, then records under it
        reply: Reply = engine.op_deposer_flux(payload, **kwargs)
    else:
        with engine.store.lock:  # one consistent view (e.g. a search's total and its page)
            reply = getattr(engine, handler)(payload)
    status = reply.status or (200 if reply.code == 0 or reply.no_result else engine.functional_errors_http)
    _post_fault(request, fault)
    send(request, status, reply.body, reply.headers)


# -- faults ------------------------------------------------------------------------------------------
def _pre_fault(fault: Any) -> None:
    if fault is None:
        return
    if fault.kind == "http_500":
        raise HttpError(500, _GATEWAY_500)
    if fault.kind == "http_503":
        raise HttpError(
            503,
            {"error": "Service Unavailable", "error_description": "panne simulee"},
            {"Retry-After": str(fault.retry_after)},
        )
    if fault.kind == "http_429":
        raise HttpError(
            429,
            {"error": "Too Many Requests", "error_description": "quota depasse (simule)"},
            {"Retry-After": str(fault.retry_after)},
        )


def _post_fault(request: Any, fault: Any) -> None:
    if fault is None:
        return
    if fault.kind == "slow":
        request.server.stopping.wait(fault.delay)
    elif fault.kind == "http_500_after":
        raise HttpError(500, _GATEWAY_500)
    elif fault.kind == "cut":
        raise Cut()


# -- headers, bodies and refusals --------------------------------------------------------------------
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


def _unauthorized(state: str, token: str | None) -> HttpError:
    if state == "expired":
        description = "The access token expired"
    elif token:
        description = "Invalid access token"
    else:
        description = "Missing access token (Authorization: Bearer ...)"
    error = "invalid_token" if token else "invalid_request"
    return HttpError(
        401,
        {"error": error, "error_description": description},
        {"WWW-Authenticate": f'Bearer realm="PISTE",error="{error}",error_description="{description}"'},
    )


def _account_error() -> dict[str, str]:
    return {"error": "Unauthorized", "error_description": "login or password incorrects"}


def _json_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HttpError(415, {"codeRetour": 415, "libelle": "Format de requete non supporte (application/json)"})
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise HttpError(415, {"codeRetour": 415, "libelle": "Le corps de la requete n'est pas du JSON"}) from err
    if not isinstance(payload, dict):
        raise HttpError(400, {"codeRetour": 400, "libelle": "Le corps de la requete doit etre un objet JSON"})
    return payload
