"""How an integrated invoice's status moves: the platform's automatic steps, ``recyclerFacture``, the recipient.

* The platform: ``DEPOSEE`` -> ``EN_COURS_ACHEMINEMENT`` -> ``MISE_A_DISPOSITION``, one step per
  ``routing_delay`` seconds of sandbox time (:func:`run_due_steps`, run by ``Engine.tick``).
* The supplier: ``recyclerFacture`` (only ``A_RECYCLER``) gives a new routing, checked like a deposit
  (:func:`.routing.recipient_messages`, no duplicate check); the invoice is ``DEPOSEE`` again.
* The recipient (control API): :func:`set_invoice_status` moves an invoice to any status; the
  automatic steps stop. Supporting documents (``completerFacture``) are :mod:`.completion`'s.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.budgets import compact_siret
from ..core.status import INVOICE_STATUSES
from . import directory as dirmod
from .clock import format_minutes
from .invoices import invoice, invoice_row
from .replies import Reply
from .replies import error as _error
from .replies import text as _text
from .routing import recipient_messages

__all__ = ["AUTO_NEXT", "op_recycler", "run_due_steps", "set_invoice_status"]

AUTO_NEXT = {"DEPOSEE": "EN_COURS_ACHEMINEMENT", "EN_COURS_ACHEMINEMENT": "MISE_A_DISPOSITION"}
REASON_REQUIRED = ("REJETEE", "SUSPENDUE")


def run_due_steps(engine: Any, conn: Any, now: float) -> None:
    """Take every automatic step due by ``now`` (in the caller's transaction), dated when it was due."""
    while True:
        rows = conn.execute(
            "SELECT id, status, next_at FROM invoices WHERE next_at IS NOT NULL AND next_at <= ? "
            "ORDER BY next_at, id LIMIT 500",
            (now,),
        ).fetchall()
        if not rows:
            break
        for row in rows:
            _auto_steps(engine, conn, row["id"], row["status"], row["next_at"], now)


def _auto_steps(engine: Any, conn: Any, invoice_id: int, status: str, next_at: float, now: float) -> None:
    at = next_at
    while at is not None and at <= now and status in AUTO_NEXT:
        status = AUTO_NEXT[status]
        conn.execute(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, ?, ?, NULL, 'platform')",
            (invoice_id, status, at),
        )
        conn.execute("UPDATE invoices SET status = ?, status_at = ? WHERE id = ?", (status, at, invoice_id))
        at = at + engine.routing_delay if status in AUTO_NEXT else None
    conn.execute("UPDATE invoices SET next_at = ? WHERE id = ?", (at, invoice_id))


def op_recycler(engine: Any, body: dict[str, Any]) -> Reply:
    with engine.store.transaction() as conn:
        row, problem = invoice_row(engine, body, "identifiantFactureCPP", "idFacture")
        if problem:
            return problem
        if row["status"] != "A_RECYCLER":
            return _error(20002, f"La facture {row['number']} n'est pas au statut A_RECYCLER (statut {row['status']}).")
        destinataire = body.get("destinataire") or {}
        reference = body.get("reference") or body.get("references") or {}
        siret = compact_siret(str(destinataire.get("codeDestinataire") or row["recipient_siret"] or ""))
        service = (
            (str(destinataire["codeServiceExecutant"]).strip() or None)
            if destinataire.get("codeServiceExecutant") is not None
            else row["service_code"]
        )
        engagement = (
            (str(reference["numeroBonCommande"]).strip() or None)
            if reference.get("numeroBonCommande") is not None
            else row["engagement"]
        )
        data = json.loads(row["data"])
        messages = recipient_messages(
            engine, siret, service, engagement, data.get("format"), supplier_siret=row["supplier_siret"]
        )
        if messages:
            return _error(20003, " ".join(messages))
        recipient = dirmod.find_structure(engine.store, siret)
        service_row = dirmod.find_service(engine.store, recipient["idStructureCPP"], code=service) if service else None
        data.update(
            recipient_name=recipient["designationStructure"],
            service_name=service_row["libelleService"] if service_row else None,
        )
        now = engine.now()
        comment = _text(body, "commentaire")
        conn.execute(
            "UPDATE invoices SET recipient_siret = ?, recipient_id = ?, service_code = ?, service_id = ?, "
            "engagement = ?, status = 'DEPOSEE', status_at = ?, comment = ?, next_at = ?, data = ? WHERE id = ?",
            (
                siret,
                recipient["idStructureCPP"],
                service,
                service_row["idService"] if service_row else None,
                engagement,
                now,
                comment,
                now + engine.routing_delay,
                json.dumps(data),
                row["id"],
            ),
        )
        conn.execute(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, 'DEPOSEE', ?, ?, 'supplier')",
            (row["id"], now, comment),
        )
    return Reply(
        {
            "codeRetour": 0,
            "libelle": "CODE PAR DEFAUT",
            "dateDepot": format_minutes(now),
            "identifiantFactureCPP": row["id"],
            "numeroFacture": row["number"],
            "statutFacture": "DEPOSEE",
        }
    )


def set_invoice_status(engine: Any, invoice_id: int, status: str, comment: str | None = None) -> dict[str, Any]:
    """A recipient (or the platform) moves an invoice to ``status``; the automatic routing stops.

    :raises KeyError: no such invoice. :raises ValueError: unknown status code.
    """
    status = str(status or "").strip().upper()
    if status not in INVOICE_STATUSES:
        raise ValueError(f"unknown invoice status {status!r}")
    if status in REASON_REQUIRED and not comment:
        comment = "Motif de test (bac a sable)"
    with engine.store.transaction() as conn:
        engine.tick()
        row = conn.execute("SELECT id FROM invoices WHERE id = ?", (int(invoice_id),)).fetchone()
        if row is None:
            raise KeyError(f"no invoice with identifiantFactureCPP {invoice_id}")
        now = engine.now()
        conn.execute(
            "UPDATE invoices SET status = ?, status_at = ?, comment = ?, next_at = NULL WHERE id = ?",
            (status, now, comment, row["id"]),
        )
        conn.execute(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, ?, ?, ?, 'recipient')",
            (row["id"], status, now, comment),
        )
    return invoice(engine, row["id"])
