"""What the sandbox checks on a deposit, and the French messages it answers with.

Chorus Pro's wording is only known for the unknown-supplier case (CHORUS_PRO_API.md §3.3); the
other messages follow the same pattern and are sandbox choices, listed in README.rst. Like the
platform's published example they are written without accents.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "KNOWN_SYNTAXES",
    "MESSAGES",
    "SUPPORTED_SYNTAXES",
    "balise",
    "cadre_facturation",
    "credit_note_problem",
    "number_problem",
]

# deposerFluxFacture.syntaxeFlux values (CHORUS_PRO_API.md §3.2); IN_DP_E3_UBL_INVOICE is [U].
KNOWN_SYNTAXES = (
    "IN_DP_E1_UBL_INVOICE",
    "IN_DP_E1_CII_16B",
    "IN_DP_E1_CII",
    "IN_DP_E1_PES_FACTURE",
    "IN_DP_E1_XCBL",
    "IN_DP_E2_UBL_INVOICE_MIN",
    "IN_DP_E2_CII_MIN_16B",
    "IN_DP_E2_CII_MIN",
    "IN_DP_E2_PES_FACTURE_MIN",
    "IN_DP_E2_CPP_FACTURE_MIN",
    "IN_DP_E2_CII_FACTURX",
    "IN_DP_PDFARCHIVE_UBL_INVOICE_MUG",
    "IN_DP_PDFARCHIVE_CII_MUG",
    "IN_DP_E3_UBL_INVOICE",
)

# The syntaxes the sandbox really reads: syntax -> (core.validation Format value, interface code).
SUPPORTED_SYNTAXES = {
    "IN_DP_E1_UBL_INVOICE": ("ubl", "FSO1100A"),
    "IN_DP_E1_CII_16B": ("cii", "FSO1106A"),
    "IN_DP_E2_CII_FACTURX": ("facturx_pdf", "FSO1117A"),
}

_CII_AGREEMENT = "SupplyChainTradeTransaction.ApplicableHeaderTradeAgreement"
_CII_SETTLEMENT = "SupplyChainTradeTransaction.ApplicableHeaderTradeSettlement"
_BALISES = {
    "ubl": {
        "supplier": "AccountingSupplierParty.Party.PartyIdentification.ID.value",
        "recipient": "AccountingCustomerParty.Party.PartyIdentification.ID.value",
        "service": "BuyerReference.value",
        "engagement": "OrderReference.ID.value",
        "number": "ID.value",
        "preceding_invoice": "BillingReference.InvoiceDocumentReference.ID.value",
    },
    "cii": {
        "supplier": f"{_CII_AGREEMENT}.SellerTradeParty.SpecifiedLegalOrganization.ID.value",
        "recipient": f"{_CII_AGREEMENT}.BuyerTradeParty.SpecifiedLegalOrganization.ID.value",
        "service": f"{_CII_AGREEMENT}.BuyerReference.value",
        "engagement": f"{_CII_AGREEMENT}.BuyerOrderReferencedDocument.IssuerAssignedID.value",
        "number": "ExchangedDocument.ID.value",
        "preceding_invoice": f"{_CII_SETTLEMENT}.InvoiceReferencedDocument.IssuerAssignedID.value",
    },
}


def balise(fmt: str | None, field: str) -> str:
    """The XML element a message points at, written the way Chorus Pro writes it."""
    if fmt == "ubl":
        return _BALISES["ubl"][field]
    path = _BALISES["cii"][field]
    return f"FichierXml.{path}" if fmt == "facturx_pdf" else path


MESSAGES = {
    "supplier_missing": "L'identifiant fournisseur de la demande de paiement (balise : {balise}) est obligatoire.",
    "supplier_unknown": (
        "L'identifiant fournisseur de la demande de paiement (balise : {balise}) n'est pas reference dans notre "
        "systeme."
    ),
    "supplier_inactive": (
        "La structure fournisseur {siret} de la demande de paiement n'est pas active dans notre systeme."
    ),
    "recipient_missing": "L'identifiant destinataire de la demande de paiement (balise : {balise}) est obligatoire.",
    "recipient_unknown": (
        "L'identifiant destinataire de la demande de paiement (balise : {balise}) n'est pas reference dans notre "
        "systeme."
    ),
    "recipient_inactive": (
        "La structure destinataire {siret} de la demande de paiement n'est pas active dans notre systeme."
    ),
    "recipient_not_public": (
        "La structure destinataire {siret} de la demande de paiement n'est pas une structure publique."
    ),
    "service_required": "Le code service est obligatoire pour la structure destinataire {siret} (balise : {balise}).",
    "engagement_required": (
        "Le numero d'engagement est obligatoire pour la structure destinataire {siret} (balise : {balise})."
    ),
    "service_or_engagement": (
        "Le numero d'engagement ou le code service doit etre renseigne pour la structure destinataire {siret}."
    ),
    "service_unknown": (
        "Le code service {code} (balise : {balise}) n'est pas reference pour la structure destinataire {siret}."
    ),
    "service_inactive": "Le service {code} de la structure destinataire {siret} n'est pas actif.",
    "service_engagement_required": (
        "Le numero d'engagement est obligatoire pour le service {code} de la structure destinataire {siret} "
        "(balise : {balise})."
    ),
    "service_reserved": (
        "Le service FACTURES_PUBLIQUES de la structure destinataire {siret} est reserve aux factures entre "
        "entites publiques."
    ),
    "engagement_too_long": "Le numero d'engagement {engagement} depasse 50 caracteres.",
    "number_missing": "Le numero de la facture (balise : {balise}) est obligatoire.",
    "number_invalid": (
        "Le numero de facture {number} est invalide : 20 caracteres au plus, lettres, chiffres et - _ / + uniquement."
    ),
    "preceding_invoice_required": (
        "La reference de la facture d'origine est obligatoire pour un avoir (balise : {balise})."
    ),
    "totals": "Le montant TTC ({ttc}) est different de la somme du montant HT ({ht}) et du montant de TVA ({tva}).",
    "duplicate": (
        "La facture {number} du fournisseur {siret} a deja ete deposee dans Chorus Pro (doublon, D-CPP-006) : "
        "emettre une facture avec un nouveau numero."
    ),
}

_NUMBER = re.compile(r"^[A-Za-z0-9_/+\-]{1,20}$")


def number_problem(number: str | None, fmt: str | None) -> str | None:
    """The message for a missing or malformed invoice number (numeroFacture varchar(20), 2017 spec)."""
    if not number:
        return MESSAGES["number_missing"].format(balise=balise(fmt, "number"))
    if not _NUMBER.match(number):
        return MESSAGES["number_invalid"].format(number=number)
    return None


def credit_note_problem(facts: dict[str, Any], fmt: str | None) -> str | None:
    """The message for a credit note (AVOIR) that does not name the invoice it corrects (BT-25)."""
    if not facts.get("is_credit_note"):
        return None
    if str(facts.get("preceding_invoice") or "").strip():
        return None
    return MESSAGES["preceding_invoice_required"].format(balise=balise(fmt, "preceding_invoice"))


_CADRES = {
    "A1": "A1_FACTURE_FOURNISSEUR",
    "A2": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
    "A9": "A9_FACTURE_SOUSTRAITANT",
    "A12": "A12_FACTURE_COTRAITANT",
}


def cadre_facturation(business_process: Any) -> str:
    """``codeCadreFacturation`` from BT-23 (A1/A2/A9/A12 in the direct layout; B2/S2/M2 mean already paid)."""
    code = str(business_process or "").strip().upper()
    if code in _CADRES:
        return _CADRES[code]
    if code in _CADRES.values():
        return code
    if code in ("B2", "S2", "M2"):
        return _CADRES["A2"]
    return _CADRES["A1"]
