"""A deposited flow's life: its processing states, its final step, its reports (``consulterCR...``).

A flow accepted by ``deposerFluxFacture`` (:mod:`.deposits`) goes through :data:`FLOW_STAGES`, one
per ``processing_delay`` seconds of sandbox time; :func:`finalize_due` (run by ``Engine.tick``) then
gives it its final state: each analysed file is rejected for its technical errors, each invoice for
its routing problems (:mod:`.routing`), and the others are integrated as invoices (``DEPOSEE``, from
:data:`FIRST_INVOICE_ID`), whose later steps are :mod:`.invoice_status`'s.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from . import directory as dirmod
from .analysis import MAX_TECHNICAL_ERRORS, amount
from .analysis import technical as _technical
from .clock import format_datetime
from .pdf import simple_pdf
from .replies import OK_TRA, Reply
from .replies import error as _error
from .replies import text as _text
from .routing import duplicate_messages, routing_messages
from .rules import SUPPORTED_SYNTAXES, cadre_facturation

__all__ = [
    "FINAL_FLOW_STATES",
    "FIRST_FLOW_SEQUENCE",
    "FIRST_INVOICE_ID",
    "FLOW_STAGES",
    "finalize_due",
    "flow",
    "flow_file",
    "flow_state",
    "force_flow_incident",
    "op_consulter_cr",
    "op_consulter_cr_detaille",
]

FLOW_STAGES = ("IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP", "IN_RECU", "IN_EN_COURS_TRAITEMENT_CPP")
FINAL_FLOW_STATES = ("IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE", "IN_INCIDENTE")
FIRST_FLOW_SEQUENCE = 300001
FIRST_INVOICE_ID = 3200001


def finalize_due(engine: Any, conn: Any, now: float) -> None:
    """Give every flow whose processing is over by ``now`` its final state (in the caller's transaction)."""
    due = conn.execute(
        "SELECT * FROM flows WHERE finalized = 0 AND final_at <= ? ORDER BY final_at, seq", (now,)
    ).fetchall()
    for row in due:
        _finalize_flow(engine, conn, row)


def _finalize_flow(engine: Any, conn: Any, row: Any) -> None:
    at = row["final_at"]
    analysis = json.loads(row["analysis"])
    dp_errors: list[dict[str, Any]] = []
    technical: list[dict[str, Any]] = []
    created = rejected = 0
    if row["forced_state"]:
        state = row["forced_state"]
        technical.append(_technical("INCIDENT", "Le flux n'a pas pu etre traite : il doit etre depose a nouveau."))
    else:
        for entry in analysis:
            if entry["technical"]:
                technical.extend(entry["technical"])
                rejected += 1
                continue
            facts = entry["facts"]
            messages = list(entry["business"]) + routing_messages(engine, facts, entry["format"])
            if not messages:
                messages = duplicate_messages(conn, facts)
            if messages:
                dp_errors.extend(_dp_error(facts, message) for message in messages)
                rejected += 1
                continue
            _create_invoice(engine, conn, facts, entry["format"], row["number"], row["deposited_at"], at)
            created += 1
        state = "IN_INTEGRE" if not rejected else "IN_REJETE" if not created else "IN_INTEGRE_PARTIEL"
    result = {
        "listeErreurDP": dp_errors,
        "listeErreurTechnique": technical[:MAX_TECHNICAL_ERRORS],
        "created": created,
        "rejected": rejected,
    }
    conn.execute(
        "UPDATE flows SET finalized = 1, state = ?, state_at = ?, result = ? WHERE number = ?",
        (state, at, json.dumps(result), row["number"]),
    )


def _create_invoice(
    engine: Any, conn: Any, facts: dict[str, Any], fmt: str | None, flow_number: str, deposited_at: float, at: float
) -> int:
    supplier = dirmod.find_structure(engine.store, facts.get("seller_siret")) or {}
    recipient = dirmod.find_structure(engine.store, facts.get("buyer_siret")) or {}
    service = None
    if facts.get("service_code") and recipient:
        service = dirmod.find_service(engine.store, recipient["idStructureCPP"], code=facts["service_code"])
    invoice_id = engine.store.next_sequence("invoice", FIRST_INVOICE_ID)
    data = {
        "facts": facts,
        "format": fmt,
        "supplier_name": supplier.get("designationStructure") or facts.get("seller_name"),
        "recipient_name": recipient.get("designationStructure") or facts.get("buyer_name"),
        "service_name": service["libelleService"] if service else None,
        "cadre": cadre_facturation(facts.get("business_process")),
    }
    conn.execute(
        "INSERT INTO invoices (id, number, supplier_siret, supplier_id, recipient_siret, recipient_id, "
        "service_code, service_id, engagement, flow_number, invoice_type, invoice_date, deposited_at, status, "
        "status_at, comment, amount_ht, amount_ttc, amount_due, next_at, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'DEPOSEE', ?, NULL, ?, ?, ?, ?, ?)",
        (
            invoice_id,
            facts["number"],
            facts.get("seller_siret"),
            supplier.get("idStructureCPP"),
            recipient.get("identifiantStructure") or facts.get("buyer_siret"),
            recipient.get("idStructureCPP"),
            facts.get("service_code"),
            service["idService"] if service else None,
            facts.get("engagement"),
            flow_number,
            "AVOIR" if facts.get("is_credit_note") else "FACTURE",
            facts.get("issue_date"),
            deposited_at,
            at,
            amount(facts.get("total_without_tax")),
            amount(facts.get("total_with_tax")),
            amount(facts.get("amount_due")),
            at + engine.routing_delay,
            json.dumps(data),
        ),
    )
    conn.execute(
        "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, 'DEPOSEE', ?, NULL, 'platform')",
        (invoice_id, at),
    )
    return invoice_id


def _dp_error(facts: dict[str, Any] | None, message: str) -> dict[str, Any]:
    facts = facts or {}
    return {
        "identifiantFournisseur": facts.get("seller_siret"),
        "identifiantDestinataire": facts.get("buyer_siret"),
        "numeroDP": facts.get("number"),
        "libelleErreurDP": message,
    }


def _flow(engine: Any, body: dict[str, Any]) -> tuple[Any, Reply | None]:
    number = _text(body, "numeroFluxDepot")
    if not number:
        return None, _error(20004, "Le numero de flux (numeroFluxDepot) est obligatoire.")
    row = engine.store.one("SELECT * FROM flows WHERE number = ?", (number,))
    if row is None:
        return None, _error(20000, f"Le flux {number} n'existe pas.")
    syntax = _text(body, "syntaxeFlux")
    if syntax and syntax != row["syntax"]:
        return None, _error(20001, f"La syntaxe {syntax} ne correspond pas au flux {number}.")
    return row, None


def flow_state(engine: Any, row: Any) -> tuple[str, float]:
    """The flow's current state and since when: a processing stage until its final step is done."""
    if row["finalized"]:
        return row["state"], row["state_at"]
    delay = row["delay"]
    stage = 0 if delay <= 0 else min(len(FLOW_STAGES) - 1, int((engine.now() - row["deposited_at"]) // delay))
    return FLOW_STAGES[max(stage, 0)], row["deposited_at"] + max(stage, 0) * delay


def op_consulter_cr_detaille(engine: Any, body: dict[str, Any]) -> Reply:
    row, problem = _flow(engine, body)
    if problem:
        return problem
    state, state_at = flow_state(engine, row)
    result = json.loads(row["result"]) if row["result"] else {}
    interface = SUPPORTED_SYNTAXES[row["syntax"]][1]
    return Reply(
        {
            "codeRetour": 0,
            "libelle": OK_TRA,
            "codeInterfaceDepotFlux": interface,
            "dateDepotFlux": format_datetime(row["deposited_at"]),
            "dateHeureEtatCourantFlux": format_datetime(state_at),
            "etatCourantDepotFlux": state,
            "nomFichier": f"{interface}_CPP001_{row['number']}",
            "listeErreurDP": result.get("listeErreurDP", []),
            "listeErreurTechnique": result.get("listeErreurTechnique", []),
        }
    )


def op_consulter_cr(engine: Any, body: dict[str, Any]) -> Reply:
    row, problem = _flow(engine, body)
    if problem:
        return problem
    state, state_at = flow_state(engine, row)
    result = json.loads(row["result"]) if row["result"] else {}
    interface = SUPPORTED_SYNTAXES[row["syntax"]][1]
    lines = [
        "Chorus Pro (bac a sable odoo_chorus_rouen) - compte rendu de depot",
        f"Flux : {row['number']}",
        f"Fichier : {row['file_name']}",
        f"Syntaxe : {row['syntax']}",
        f"Depose le : {format_datetime(row['deposited_at'])}",
        f"Etat : {state} ({format_datetime(state_at)})",
    ]
    lines += [f"Erreur {e['numeroDP']} : {e['libelleErreurDP']}"[:110] for e in result.get("listeErreurDP", [])]
    lines += [f"Erreur {e['codeErreur']} : {e['libelleErreur']}"[:110] for e in result.get("listeErreurTechnique", [])]
    report = simple_pdf(lines[:55], title=f"CR {row['number']}")
    return Reply(
        {
            "codeRetour": 0,
            "libelle": OK_TRA,
            "codeAppliPartenaire": "CPP001",
            "codeInterfaceFlux": interface,
            "dateDepotFlux": format_datetime(row["deposited_at"]),
            "dateHeureEtatCourantFlux": format_datetime(state_at),
            "designationPartenaire": "Compte technique du bac a sable",
            "etatCourantFlux": state,
            "fichierCR": base64.b64encode(report).decode("ascii"),
            "nomFichierFlux": row["file_name"],
            "numeroFluxDepot": row["number"],
        }
    )


def flow(engine: Any, number: str) -> dict[str, Any]:
    """Everything the sandbox knows of a flow (control API): state, analysis, errors, invoice ids."""
    row = engine.store.one("SELECT * FROM flows WHERE number = ?", (number,))
    if row is None:
        raise KeyError(f"no flow {number}")
    state, state_at = flow_state(engine, row)
    result = json.loads(row["result"]) if row["result"] else {}
    analysis = json.loads(row["analysis"])
    return {
        "numeroFluxDepot": row["number"],
        "syntaxeFlux": row["syntax"],
        "nomFichier": row["file_name"],
        "size": row["size"],
        "dateDepotFlux": format_datetime(row["deposited_at"]),
        "etatCourantDepotFlux": state,
        "dateHeureEtatCourantFlux": format_datetime(state_at),
        "final": bool(row["finalized"]),
        "final_at": format_datetime(row["final_at"]),
        "invoices": [
            {
                "name": e["name"],
                "format": e["format"],
                "number": (e.get("facts") or {}).get("number"),
                "technical": e["technical"],
                "business": e["business"],
            }
            for e in analysis
        ],
        "listeErreurDP": result.get("listeErreurDP", []),
        "listeErreurTechnique": result.get("listeErreurTechnique", []),
        "identifiantsFactureCPP": [
            r["id"] for r in engine.store.all("SELECT id FROM invoices WHERE flow_number = ? ORDER BY id", (number,))
        ],
    }


def flow_file(engine: Any, number: str) -> bytes | None:
    """The deposited bytes of a flow, or None (unknown flow, or ``keep_files=False``)."""
    row = engine.store.one("SELECT data FROM flow_files WHERE number = ?", (number,))
    return None if row is None else bytes(row["data"])


def force_flow_incident(engine: Any, number: str) -> dict[str, Any]:
    """Make a flow still in processing end ``IN_INCIDENTE`` (control API)."""
    with engine.store.transaction() as conn:
        row = conn.execute("SELECT finalized FROM flows WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise KeyError(f"no flow {number}")
        if row["finalized"]:
            raise ValueError(f"flow {number} is already processed")
        conn.execute("UPDATE flows SET forced_state = 'IN_INCIDENTE' WHERE number = ?", (number,))
    return flow(engine, number)
