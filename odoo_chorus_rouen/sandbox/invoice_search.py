"""``rechercherFactureParFournisseur``: the supplier's invoice search, its criteria, sort and paging.

Criteria (others are ignored): ``numeroFluxDepot``, ``numeroFacture``, ``numeroBonCommande``,
``typeFacture``, ``statutCourant`` (a code or a list), ``idFournisseur``,
``listeDestinataire[].idDestinataire``, the periods ``periodeDateHeureEtatCourantDu/Au``,
``periodeDateDepotDu/Au`` (:func:`.clock.parse_moment`; a bare date in ``...Au`` is the end of that
day), ``periodeDateFactureDu/Au`` and ``montantTTCMin/Max``. An unreadable criterion is ``20003``; no
result is :data:`.replies.NO_RESULT` with HTTP 200.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .clock import parse_moment
from .invoices import invoice_summary
from .replies import DEFAULT_PAGE_SIZE, NO_RESULT, OK_TRA, Reply
from .replies import error as _error
from .replies import integer as _int
from .replies import page_info as _page_info
from .replies import paging as _paging
from .replies import text as _text

__all__ = ["op_rechercher_factures"]


def op_rechercher_factures(engine: Any, body: dict[str, Any]) -> Reply:
    try:
        where, params = _invoice_criteria(body)
    except ValueError as err:
        return _error(20003, f"Critere de recherche invalide : {err}")
    paging = body.get("rechercheFactureParFournisseur") or {}
    page, size = _paging(paging.get("pageResultatDemandee"), paging.get("nbResultatsParPage"), DEFAULT_PAGE_SIZE)
    order = _invoice_order(paging.get("triColonne"), paging.get("triSens"))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = engine.store.scalar(f"SELECT COUNT(*) FROM invoices{clause}", params)  # noqa: S608
    rows = engine.store.all(
        f"SELECT * FROM invoices{clause} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
        [*params, size, (page - 1) * size],
    )
    code, label = (0, OK_TRA) if total else NO_RESULT
    return Reply(
        {
            "codeRetour": code,
            "libelle": label,
            "listeFactures": [invoice_summary(row) for row in rows],
            "parametresRetour": _page_info(size, page, total),
        },
        no_result=not total,
    )


_ORDER_COLUMNS = {
    "identifiantfacturecpp": "id",
    "idfacture": "id",
    "numerofacture": "number",
    "datedepot": "deposited_at",
    "dateheureetatcourant": "status_at",
    "datestatut": "status_at",
    "statutcourant": "status",
    "statut": "status",
    "montantttc": "amount_ttc",
    "datefacture": "invoice_date",
}


def _invoice_order(column: Any, direction: Any) -> str:
    sql_column = _ORDER_COLUMNS.get(str(column or "").strip().lower(), "id")
    sql_direction = "DESC" if str(direction or "").strip() == "Descendant" else "ASC"
    return f"{sql_column} {sql_direction}, id {sql_direction}"


def _invoice_criteria(body: dict[str, Any]) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    simple = {
        "numeroFluxDepot": "flow_number",
        "numeroFacture": "number",
        "numeroBonCommande": "engagement",
        "typeFacture": "invoice_type",
    }
    for key, column in simple.items():
        value = _text(body, key)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    statuses = body.get("statutCourant")
    if isinstance(statuses, str):
        statuses = [statuses]
    statuses = [str(s).strip() for s in statuses or [] if str(s).strip()]
    if statuses:
        where.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += statuses
    if _int(body.get("idFournisseur")):
        where.append("supplier_id = ?")
        params.append(_int(body["idFournisseur"]))
    recipients = [_int(d.get("idDestinataire")) for d in body.get("listeDestinataire") or [] if isinstance(d, dict)]
    recipients = [r for r in recipients if r]
    if recipients:
        where.append(f"recipient_id IN ({', '.join('?' * len(recipients))})")
        params += recipients
    ranges = (("periodeDateHeureEtatCourant", "status_at"), ("periodeDateDepot", "deposited_at"))
    for prefix, column in ranges:
        for suffix, operator, end in (("Du", ">=", False), ("Au", "<=", True)):
            value = _text(body, prefix + suffix)
            if value:
                where.append(f"{column} {operator} ?")
                params.append(parse_moment(value, end_of_day=end))
    for suffix, operator in (("Du", ">="), ("Au", "<=")):
        value = _text(body, "periodeDateFacture" + suffix)
        if value:
            where.append(f"invoice_date {operator} ?")
            params.append(date.fromisoformat(value[:10]).isoformat())
    for key, column, operator in (("montantTTCMin", "amount_ttc", ">="), ("montantTTCMax", "amount_ttc", "<=")):
        if body.get(key) not in (None, ""):
            where.append(f"{column} {operator} ?")
            params.append(float(body[key]))
    return where, params
