"""Reading integrated invoices: ``consulterFactureParFournisseur``, ``consulterHistoriqueFacture``, the control views.

:func:`invoice_summary` is the invoice as the searches list it (:mod:`.invoice_search`) and the base
of the control API's view (:func:`invoice`, with its whole history); :func:`invoice_row` finds the
invoice an operation names (20004 without an id, 20000 ``GDP_MSG_11.008`` for an unknown one).
"""

from __future__ import annotations

import json
import math
from typing import Any

from . import directory as dirmod
from .analysis import amount
from .clock import format_date, format_datetime, format_minutes
from .replies import OK_GCU, OK_TRA, Reply
from .replies import error as _error
from .replies import integer as _int
from .replies import paging as _paging

__all__ = [
    "MODE_DEPOT",
    "invoice",
    "invoice_row",
    "invoice_summary",
    "invoices",
    "op_consulter_facture",
    "op_historique",
]

MODE_DEPOT = "UPLOAD_API"
HISTORY_PAGE_SIZE = 50


def invoice_summary(row: Any) -> dict[str, Any]:
    """One invoice as ``rechercherFactureParFournisseur`` lists it."""
    data = json.loads(row["data"])
    facts = data.get("facts") or {}
    return {
        "identifiantFactureCPP": row["id"],
        "numeroFacture": row["number"],
        "statut": row["status"],
        "dateHeureEtatCourant": format_datetime(row["status_at"]),
        "commentaireEtatCourant": row["comment"],
        "numeroFluxDepot": row["flow_number"],
        "modeDepot": MODE_DEPOT,
        "dateDepot": format_date(row["deposited_at"]),
        "dateFacture": row["invoice_date"],
        "typeFacture": row["invoice_type"],
        "typeDemandePaiement": "FACTURE",
        "cadreFacturation": data.get("cadre"),
        "montantHT": row["amount_ht"],
        "montantTTC": row["amount_ttc"],
        "montantAPayer": row["amount_due"],
        "devise": facts.get("currency") or "EUR",
        "codeFournisseur": row["supplier_siret"],
        "typeIdentifiantFournisseur": "SIRET",
        "designationFournisseur": data.get("supplier_name"),
        "idFournisseur": row["supplier_id"],
        "codeServiceFournisseur": None,
        "nomServiceFournisseur": None,
        "idDestinataire": row["recipient_id"],
        "codeDestinataire": row["recipient_siret"],
        "designationDestinataire": data.get("recipient_name"),
        "idServiceExecutant": row["service_id"],
        "codeServiceExecutant": row["service_code"],
        "nomServiceExecutant": data.get("service_name"),
        "numeroBonCommande": row["engagement"],
        "numeroMarche": facts.get("contract"),
        "numeroFactureOrigine": facts.get("preceding_invoice"),
        "rejetTraite": False,
    }


def invoice_row(engine: Any, body: dict[str, Any], *keys: str) -> tuple[Any, Reply | None]:
    """The invoice whose id is in the first of ``keys`` given in ``body``, or the error reply."""
    value = next((body.get(key) for key in keys if body.get(key) not in (None, "")), None)
    invoice_id = _int(value)
    if invoice_id is None:
        return None, _error(20004, f"L'identifiant de la facture ({keys[0]}) est obligatoire.")
    row = engine.store.one("SELECT * FROM invoices WHERE id = ?", (invoice_id,))
    if row is None:
        return None, _error(20000, "GDP_MSG_11.008")
    return row, None


def op_consulter_facture(engine: Any, body: dict[str, Any]) -> Reply:
    row, problem = invoice_row(engine, body, "identifiantFactureCPP", "idFacture")
    if problem:
        return problem
    summary = invoice_summary(row)
    data = json.loads(row["data"])
    facts = data.get("facts") or {}
    recipient = dirmod.find_structure(engine.store, row["recipient_siret"]) or {}
    supplier = dirmod.find_structure(engine.store, row["supplier_siret"]) or {}
    facture = {
        "identifiantFactureCPP": row["id"],
        "numeroFacture": row["number"],
        "statutFacture": row["status"],
        "modeDepot": MODE_DEPOT,
        "commentaire": row["comment"],
        "cadreDeFacturation": {"codeCadreFacturation": data.get("cadre"), "codeStructureValideur": None},
        "destinataire": {
            "codeDestinataire": row["recipient_siret"],
            "idDestinataire": row["recipient_id"],
            "libelleDestinataire": summary["designationDestinataire"],
            "codeServiceExecutant": row["service_code"],
            "idServiceExecutant": row["service_id"],
            "libelleServiceExecutant": summary["nomServiceExecutant"],
            "destinataireEtat": recipient.get("statut"),
        },
        "fournisseur": {
            "codeFournisseur": row["supplier_siret"],
            "idFournisseur": row["supplier_id"],
            "typeIdentifiantFournisseur": "SIRET",
            "raisonSocialeFournisseur": supplier.get("raisonSocialeStructure") or summary["designationFournisseur"],
            "codeServiceFournisseur": None,
        },
        "references": {
            "codeDeviseFacture": summary["devise"],
            "dateFacture": row["invoice_date"],
            "dateDepot": summary["dateDepot"],
            "typeFacture": row["invoice_type"],
            "typeTva": "TVA_SUR_DEBIT",
            "modePaiement": "VIREMENT"
            if str(facts.get("payment_means_code") or "") in ("30", "31", "42", "58")
            else None,
            "numeroBonCommande": row["engagement"],
            "numeroMarche": facts.get("contract"),
            "numeroFactureOrigine": facts.get("preceding_invoice"),
        },
        "montantTotal": {
            "montantHtTotal": row["amount_ht"],
            "montantTVA": amount(facts.get("tax_total")),
            "montantTtcTotal": row["amount_ttc"],
            "montantTtcAvantRemiseGlobalTTC": row["amount_ttc"],
            "montantRemiseGlobaleTTC": 0,
            "motifRemiseGlobaleTTC": None,
            "montantAPayer": row["amount_due"],
        },
    }
    return Reply({"codeRetour": 0, "libelle": OK_GCU, "facture": facture})


def op_historique(engine: Any, body: dict[str, Any]) -> Reply:
    row, problem = invoice_row(engine, body, "idFacture", "identifiantFactureCPP")
    if problem:
        return problem
    paging = body.get("paramRechercheHistoStatuts") or {}
    page, size = _paging(
        paging.get("pageResultatDemandeeListeHistoStatut"),
        paging.get("nbResultatsParPageListeHistoStatut"),
        HISTORY_PAGE_SIZE,
    )
    direction = "ASC" if str(paging.get("triSensListeHistoStatut") or "").strip() == "Ascendant" else "DESC"
    total = engine.store.scalar("SELECT COUNT(*) FROM history WHERE invoice_id = ?", (row["id"],))
    entries = engine.store.all(
        f"SELECT * FROM history WHERE invoice_id = ? ORDER BY at {direction}, id {direction} LIMIT ? OFFSET ?",  # noqa: S608
        (row["id"], size, (page - 1) * size),
    )
    return Reply(
        {
            "codeRetour": 0,
            "libelle": OK_TRA,
            "idFacture": row["id"],
            "numeroFacture": row["number"],
            "modeDepot": MODE_DEPOT,
            "statutCourantCode": row["status"],
            "historiquesDesStatuts": {
                "histoStatut": [_history_entry(entry) for entry in entries],
                "nbResultatsParPageHistoStatut": size,
                "pageCouranteHistoStatut": page,
                "pagesHistoStatut": math.ceil(total / size),
                "totalHistoStatut": total,
            },
            "historiquesDesActionsUtilisateurs": {
                "histoAction": [],
                "nbResultatsParPageHistoAction": size,
                "pageCouranteHistoAction": 1,
                "pagesHistoAction": 0,
                "totalHistoAction": 0,
            },
            "historiquesDesEvenementsComplementaires": {
                "evenement": [],
                "nbResultatsParPageHistoEvenement": size,
                "pageCouranteHistoEvenement": 1,
                "pagesHistoEvenement": 0,
                "totalHistoEvenement": 0,
            },
            "derniereAction": {"derniereActionId": None, "derniereActionCode": None},
        }
    )


def _history_entry(row: Any) -> dict[str, Any]:
    return {
        "histoStatutId": row["id"],
        "histoStatutCode": row["status"],
        "histoStatutDatePassage": format_minutes(row["at"]),
        "histoStatutCommentaire": row["comment"],
        "histoStatutUtilisateurNom": "SANDBOX" if row["actor"] != "platform" else None,
        "histoStatutUtilisateurPrenom": row["actor"] if row["actor"] != "platform" else None,
        "histoStatutUtilisateurEmail": None,
        "histoStatutUtilisateurTelephone": None,
    }


def invoice(engine: Any, invoice_id: int) -> dict[str, Any]:
    """One invoice and its whole history (control API). :raises KeyError: no such invoice."""
    row = engine.store.one("SELECT * FROM invoices WHERE id = ?", (int(invoice_id),))
    if row is None:
        raise KeyError(f"no invoice with identifiantFactureCPP {invoice_id}")
    summary = invoice_summary(row)
    history = engine.store.all("SELECT * FROM history WHERE invoice_id = ? ORDER BY at, id", (row["id"],))
    summary["history"] = [
        {"status": h["status"], "at": format_datetime(h["at"]), "comment": h["comment"], "actor": h["actor"]}
        for h in history
    ]
    return summary


def invoices(engine: Any, number: str | None = None, flow_number: str | None = None) -> list[dict[str, Any]]:
    """The invoices (control API), optionally only those of one number and/or one flow."""
    where, params = [], []
    if number:
        where.append("number = ?")
        params.append(number)
    if flow_number:
        where.append("flow_number = ?")
        params.append(flow_number)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return [
        invoice_summary(row)
        for row in engine.store.all(
            f"SELECT * FROM invoices{clause} ORDER BY id",  # noqa: S608
            params,
        )
    ]
