"""Every Chorus Pro flow state and invoice status, in words, with what it means for the supplier.

Table-driven and total: an unknown code maps to :attr:`ChorusState.UNKNOWN`, is logged once,
and never raises (the platform adds codes without notice).

>>> flow_status("IN_INTEGRE").state, flow_status("IN_INTEGRE").final
(<ChorusState.DELIVERED: 'delivered'>, True)
>>> invoice_status("A_RECYCLER").action_needed
True
>>> invoice_status("MISE_EN_PAIEMENT").label_fr
'Mise en paiement'
>>> invoice_status("SOMETHING_NEW").state
<ChorusState.UNKNOWN: 'unknown'>

Sources: CHORUS_PRO_API.md §3.3 (flow states) and §3.8 (the 57 invoice statuses listed there, Swagger order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "FINAL_FLOW_STATES",
    "FLOW_STATES",
    "INVOICE_STATUSES",
    "REJECTED_FLOW_STATES",
    "ChorusState",
    "StatusInfo",
    "flow_status",
    "invoice_status",
]

_logger = logging.getLogger(__name__)


class ChorusState(str, Enum):
    """Our own short state of an invoice on Chorus Pro (what the invoice badge shows)."""

    SENT = "sent"  # deposited, the flow is being processed by Chorus Pro
    DELIVERED = "delivered"  # integrated: in the buyer's hands, moving along its circuit
    ACTION = "action"  # the supplier must act (recycle, complete, fix and resend)
    REJECTED = "rejected"  # refused by the buyer or by the platform
    PAID = "paid"  # payment initiated: the end of the normal path
    CANCELLED = "cancelled"  # deleted or abandoned on the platform
    UNKNOWN = "unknown"  # a code this version does not know


@dataclass(frozen=True)
class StatusInfo:
    """What one Chorus Pro code means.

    :ivar code: the raw code as Chorus Pro writes it.
    :ivar kind: ``"flow"`` (``etatCourantDepotFlux``) or ``"invoice"`` (``statut``).
    :ivar final: no later change is expected: polling stops.
    :ivar action_needed: the supplier must do something (the invoice gets an activity).
    """

    code: str
    kind: str
    label_en: str
    label_fr: str
    state: ChorusState
    final: bool = False
    action_needed: bool = False

    @property
    def known(self) -> bool:
        return self.state is not ChorusState.UNKNOWN


S, D, A, R, P, C = (
    ChorusState.SENT,
    ChorusState.DELIVERED,
    ChorusState.ACTION,
    ChorusState.REJECTED,
    ChorusState.PAID,
    ChorusState.CANCELLED,
)

# code, English label, French label, state, final, action needed
_FLOW_ROWS = [
    ("IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP", "Deposited, waiting for processing",
     "Déposé, en attente de traitement", S, False, False),
    ("IN_RECU", "Received", "Reçu", S, False, False),
    ("IN_TRAITE_SE_CPP", "Handled by the exchange system", "Traité par le système d'échange", S, False, False),
    ("IN_EN_ATTENTE_TRAITEMENT_CPP", "Queued for processing", "En attente de traitement", S, False, False),
    ("IN_EN_COURS_TRAITEMENT_CPP", "Being processed", "En cours de traitement", S, False, False),
    ("IN_EN_ATTENTE_RETRAITEMENT_CPP", "Blocked, waiting for a manual restart",
     "Bloqué, en attente de retraitement", S, False, False),
    ("IN_A_RELANCER", "To be restarted", "À relancer", S, False, False),
    ("IN_ERREUR_INTERNE", "Internal platform error", "Erreur interne de la plateforme", S, False, False),
    ("QP_RECEVABLE", "Receivable", "Recevable", S, False, False),
    ("QP_RECEVABLE_AVEC_ERREUR", "Receivable with errors", "Recevable avec erreur", S, False, False),
    ("QP_IRRECEVABLE", "Not receivable", "Irrecevable", R, True, True),
    ("IN_INCIDENTE", "Not processed: the whole flow must be sent again",
     "Incidenté : le flux entier doit être renvoyé", R, True, True),
    ("IN_REJETE", "Rejected by Chorus Pro", "Rejeté par Chorus Pro", R, True, True),
    ("IN_INTEGRE", "Integrated", "Intégré", D, True, False),
    ("IN_INTEGRE_PARTIEL", "Partly integrated: some invoices were rejected",
     "Intégré partiellement : des factures ont été rejetées", D, True, True),
]

_INVOICE_ROWS = [
    ("BROUILLON", "Draft", "Brouillon", S, False, False),
    ("A_VALIDER_1", "To be validated (1st validator)", "À valider (1er valideur)", D, False, False),
    ("ERREUR_FOURNISSEUR_SUR_VALIDEUR", "Supplier error on the validator", "Erreur fournisseur sur le valideur",
     A, False, True),
    ("REFUSEE_1", "Refused by the 1st validator", "Refusée par le 1er valideur", R, False, True),
    ("VALIDEE_1", "Validated (1st validator)", "Validée (1er valideur)", D, False, False),
    ("ABSENCE_VALIDATION_1_HORS_DELAI", "Not validated in time (1st validator)",
     "Absence de validation hors délai (1er valideur)", D, False, False),
    ("A_VALIDER_2", "To be validated (2nd validator)", "À valider (2e valideur)", D, False, False),
    ("ERREUR_COTRAITANT_SUR_VALIDEUR", "Co-contractor error on the validator",
     "Erreur cotraitant sur le valideur", A, False, True),
    ("REFUSEE_2", "Refused by the 2nd validator", "Refusée par le 2e valideur", R, False, True),
    ("VALIDEE_2", "Validated (2nd validator)", "Validée (2e valideur)", D, False, False),
    ("ABSENCE_VALIDATION_2_HORS_DELAI", "Not validated in time (2nd validator)",
     "Absence de validation hors délai (2e valideur)", D, False, False),
    ("DEPOSEE", "Deposited", "Déposée", D, False, False),
    ("ERREUR_FOURNISSEUR_SUR_MOE", "Supplier error on the project manager",
     "Erreur fournisseur sur la maîtrise d'œuvre", A, False, True),
    ("EN_COURS_ACHEMINEMENT", "Being routed to the recipient", "En cours d'acheminement", D, False, False),
    ("MISE_A_DISPOSITION", "Made available to the recipient", "Mise à disposition du destinataire", D, False, False),
    ("A_RECYCLER", "To recycle: the routing data must be corrected",
     "À recycler : les données d'acheminement doivent être corrigées", A, False, True),
    ("SUSPENDUE", "Suspended: supporting documents are missing",
     "Suspendue : des pièces justificatives manquent", A, False, True),
    ("REJETEE", "Rejected by the recipient: issue a credit note and a new invoice",
     "Rejetée par le destinataire : émettre un avoir et une nouvelle facture", R, True, True),
    ("MANDATEE", "Payment order issued", "Mandatée", D, False, False),
    ("MISE_EN_PAIEMENT", "Payment initiated", "Mise en paiement", P, True, False),
    ("COMPTABILISEE", "Accounted by the recipient", "Comptabilisée", D, False, False),
    ("MISE_A_DISPOSITION_COMPTABLE", "Made available to the public accountant",
     "Mise à disposition du comptable", D, False, False),
    ("ABANDONNEE", "Abandoned", "Abandonnée", C, True, False),
    ("SUPPRIMEE", "Deleted", "Supprimée", C, True, False),
    ("ASSOCIEE", "Associated", "Associée", D, False, False),
    ("EN_COURS_TRAITEMENT_PIVOT_S", "Being processed (pivot)", "En cours de traitement (pivot)", D, False, False),
    ("A_VALIDER_MOE", "To be validated by the project manager", "À valider par la maîtrise d'œuvre",
     D, False, False),
    ("REFUSEE_MOE", "Refused by the project manager", "Refusée par la maîtrise d'œuvre", R, False, True),
    ("EN_ATTENTE_RECYCLAGE_FOURNISSEUR", "Waiting for the supplier to recycle",
     "En attente de recyclage par le fournisseur", A, False, True),
    ("ERREUR_MOE_SUR_FOURNISSEUR", "Project manager error on the supplier",
     "Erreur de la maîtrise d'œuvre sur le fournisseur", D, False, False),
    ("ERREUR_MOA_SUR_FOURNISSEUR", "Project owner error on the supplier",
     "Erreur de la maîtrise d'ouvrage sur le fournisseur", D, False, False),
    ("INTERPRETEE_OCR", "Read by OCR, not yet submitted", "Interprétée par OCR, non soumise", A, False, True),
    ("COMPLETEE", "Completed by the supplier", "Complétée", D, False, False),
    ("ERREUR_FOURNISSEUR_SUR_MOA", "Supplier error on the project owner",
     "Erreur fournisseur sur la maîtrise d'ouvrage", A, False, True),
    ("ERREUR_MOE_SUR_MOA", "Project manager error on the project owner",
     "Erreur de la maîtrise d'œuvre sur la maîtrise d'ouvrage", D, False, False),
    ("ERREUR_DESTINATAIRE_PD", "Recipient error (payment request)", "Erreur destinataire (demande de paiement)",
     D, False, False),
    ("ERREUR_DESTINATAIRE_EA", "Recipient error (acceptance)", "Erreur destinataire (acceptation)", D, False, False),
    ("SERVICE_FAIT", "Service certified as done", "Service fait", D, False, False),
    ("NON_CONFORME", "Not compliant", "Non conforme", A, False, True),
    ("A_ASSOCIER_MOE", "To be associated by the project manager", "À associer par la maîtrise d'œuvre",
     D, False, False),
    ("ERREUR_DE_MOE", "Project manager error", "Erreur de la maîtrise d'œuvre", D, False, False),
    ("MISE_A_DISPOSITION_MOE", "Made available to the project manager", "Mise à disposition de la maîtrise d'œuvre",
     D, False, False),
    ("PRISE_EN_COMPTE_MOE", "Acknowledged by the project manager", "Prise en compte par la maîtrise d'œuvre",
     D, False, False),
    ("A_ASSOCIER_MOA", "To be associated by the project owner", "À associer par la maîtrise d'ouvrage",
     D, False, False),
    ("ERREUR_DE_MOA", "Project owner error", "Erreur de la maîtrise d'ouvrage", D, False, False),
    ("REFUSEE_MOA", "Refused by the project owner", "Refusée par la maîtrise d'ouvrage", R, False, True),
    ("A_ASSOCIER_FOURNISSEUR", "To be associated by the supplier", "À associer par le fournisseur", A, False, True),
    ("REFUSEE_FOURNISSEUR", "Refused by the supplier", "Refusée par le fournisseur", R, False, False),
    ("A_COMPLETER", "To be completed by the supplier", "À compléter par le fournisseur", A, False, True),
    ("TRANSMISE_MOA", "Sent to the project owner", "Transmise à la maîtrise d'ouvrage", D, False, False),
    ("PRISE_EN_COMPTE_DESTINATAIRE", "Acknowledged by the recipient", "Prise en compte par le destinataire",
     D, False, False),
    ("REMPLACEE_PAR_A22", "Replaced by a tacit final statement (A22)", "Remplacée par un A22", C, True, False),
    ("DUPLIQUE_APRES_REFUS", "Duplicated after refusal", "Dupliquée après refus", C, True, False),
    ("MISE_A_DISPOSITION_MOA", "Made available to the project owner", "Mise à disposition de la maîtrise d'ouvrage",
     D, False, False),
    ("PRISE_EN_COMPTE_MOA", "Acknowledged by the project owner", "Prise en compte par la maîtrise d'ouvrage",
     D, False, False),
    ("ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE", "Not validated by the project manager within the legal time",
     "Absence de validation de la maîtrise d'œuvre dans le délai réglementaire", D, False, False),
    ("TECHNIQUE_INCONNU", "Unknown technical status", "Statut technique inconnu", D, False, False),
]

FLOW_STATES: dict[str, StatusInfo] = {
    row[0]: StatusInfo(row[0], "flow", *row[1:]) for row in _FLOW_ROWS
}
INVOICE_STATUSES: dict[str, StatusInfo] = {
    row[0]: StatusInfo(row[0], "invoice", *row[1:]) for row in _INVOICE_ROWS
}

#: Flow states after which Chorus Pro no longer processes the flow; every other state, documented
#: (``IN_RECU``, ``IN_TRAITE_SE_CPP``, ``IN_EN_ATTENTE_TRAITEMENT_CPP``, ``QP_RECEVABLE``...) or not,
#: is still in processing. The client, the outbox and the addon all read it from here.
FINAL_FLOW_STATES: frozenset[str] = frozenset(code for code, info in FLOW_STATES.items() if info.final)
#: Final flow states in which no invoice was integrated (the file may be fixed and sent again).
REJECTED_FLOW_STATES: frozenset[str] = frozenset(
    code for code in FINAL_FLOW_STATES if FLOW_STATES[code].state is ChorusState.REJECTED
)

_warned: set[tuple[str, str]] = set()


def _unknown(code: str | None, kind: str) -> StatusInfo:
    code = (code or "").strip()
    if (kind, code) not in _warned:
        _warned.add((kind, code))
        _logger.warning("Unknown Chorus Pro %s code %r", kind, code)
    label = code or "?"
    return StatusInfo(
        code, kind, f"Unknown status {label}", f"Statut inconnu {label}", ChorusState.UNKNOWN
    )


def flow_status(code: str | None) -> StatusInfo:
    """What a flow state (``etatCourantDepotFlux``) means; never raises."""
    return FLOW_STATES.get((code or "").strip()) or _unknown(code, "flow")


def invoice_status(code: str | None) -> StatusInfo:
    """What an invoice status (``statut`` / ``statutCourantCode``) means; never raises."""
    return INVOICE_STATUSES.get((code or "").strip()) or _unknown(code, "invoice")
