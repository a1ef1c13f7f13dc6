"""The routing checks of one invoice when its flow is processed (``listeErreurDP``).

Each invoice of a flow is checked against the sandbox's **own directory** (supplier, recipient, its
service and engagement rules: :mod:`.directory`, changed on the fly by :mod:`.directory_truth`), its
totals, and the invoices already integrated (duplicates). ``recyclerFacture`` checks a new routing
with :func:`recipient_messages`. The rules and their French messages are in :mod:`.rules`.
"""

from __future__ import annotations

from typing import Any

from . import directory as dirmod
from .analysis import amount
from .rules import MESSAGES, balise, credit_note_problem, number_problem

__all__ = ["duplicate_messages", "recipient_messages", "routing_messages"]


def routing_messages(engine: Any, facts: dict[str, Any], fmt: str | None) -> list[str]:
    """Every routing problem of one analysed invoice (its facts), duplicates aside."""
    messages: list[str] = []
    problem = number_problem(facts.get("number"), fmt)
    if problem:
        messages.append(problem)
    problem = credit_note_problem(facts, fmt)
    if problem:
        messages.append(problem)
    messages.extend(_supplier_messages(engine, facts, fmt))
    messages.extend(
        recipient_messages(
            engine,
            facts.get("buyer_siret"),
            facts.get("service_code"),
            facts.get("engagement"),
            fmt,
            supplier_siret=facts.get("seller_siret"),
        )
    )
    ht, tva, ttc = (amount(facts.get(key)) for key in ("total_without_tax", "tax_total", "total_with_tax"))
    if None not in (ht, tva, ttc) and abs(ht + tva - ttc) > 0.005:
        messages.append(
            MESSAGES["totals"].format(
                ttc=facts["total_with_tax"], ht=facts["total_without_tax"], tva=facts["tax_total"]
            )
        )
    return messages


def _supplier_messages(engine: Any, facts: dict[str, Any], fmt: str | None) -> list[str]:
    siret = facts.get("seller_siret")
    if not siret:
        return [MESSAGES["supplier_missing"].format(balise=balise(fmt, "supplier"))]
    supplier = dirmod.find_structure(engine.store, siret)
    if supplier is None:
        return [MESSAGES["supplier_unknown"].format(balise=balise(fmt, "supplier"))]
    if supplier["statut"] != "ACTIVE":
        return [MESSAGES["supplier_inactive"].format(siret=siret)]
    return []


def recipient_messages(
    engine: Any,
    siret: str | None,
    service_code: str | None,
    engagement: str | None,
    fmt: str | None,
    *,
    supplier_siret: str | None = None,
) -> list[str]:
    """Routing problems of (recipient, service code, engagement) against the sandbox directory."""
    if not siret:
        return [MESSAGES["recipient_missing"].format(balise=balise(fmt, "recipient"))]
    recipient = dirmod.find_structure(engine.store, siret)
    if recipient is None:
        return [MESSAGES["recipient_unknown"].format(balise=balise(fmt, "recipient"))]
    siret = recipient["identifiantStructure"]
    if recipient["statut"] != "ACTIVE":
        return [MESSAGES["recipient_inactive"].format(siret=siret)]
    if recipient["typeStructure"] != "PUBLIQUE":
        return [MESSAGES["recipient_not_public"].format(siret=siret)]
    params = recipient["parametres"]
    messages = []
    if params.get("codeServiceDoitEtreRenseigne") and not service_code:
        messages.append(MESSAGES["service_required"].format(siret=siret, balise=balise(fmt, "service")))
    if params.get("numeroEJDoitEtreRenseigne") and not engagement:
        messages.append(MESSAGES["engagement_required"].format(siret=siret, balise=balise(fmt, "engagement")))
    if params.get("gestionNumeroEJOuCodeService") and not service_code and not engagement:
        messages.append(MESSAGES["service_or_engagement"].format(siret=siret))
    if engagement and len(engagement) > 50:
        messages.append(MESSAGES["engagement_too_long"].format(engagement=engagement))
    if service_code:
        messages.extend(_service_messages(engine, recipient, service_code, engagement, fmt, supplier_siret))
    return messages


def _service_messages(
    engine: Any,
    recipient: dict[str, Any],
    code: str,
    engagement: str | None,
    fmt: str | None,
    supplier_siret: str | None,
) -> list[str]:
    siret = recipient["identifiantStructure"]
    service = dirmod.find_service(engine.store, recipient["idStructureCPP"], code=code)
    if service is None:
        return [MESSAGES["service_unknown"].format(code=code, siret=siret, balise=balise(fmt, "service"))]
    if not service["estActif"]:
        return [MESSAGES["service_inactive"].format(code=code, siret=siret)]
    if code == "FACTURES_PUBLIQUES":
        supplier = dirmod.find_structure(engine.store, supplier_siret)
        if supplier is None or supplier["typeStructure"] != "PUBLIQUE":
            return [MESSAGES["service_reserved"].format(siret=siret)]
    if service.get("numeroEngagement") and not engagement:
        return [
            MESSAGES["service_engagement_required"].format(code=code, siret=siret, balise=balise(fmt, "engagement"))
        ]
    return []


def duplicate_messages(conn: Any, facts: dict[str, Any]) -> list[str]:
    """The duplicate refusal when the supplier already has an integrated invoice of this number."""
    row = conn.execute(
        "SELECT id FROM invoices WHERE number = ? AND supplier_siret = ? AND status != 'REJETEE' LIMIT 1",
        (facts["number"], facts["seller_siret"]),
    ).fetchone()
    if row is None:
        return []
    return [MESSAGES["duplicate"].format(number=facts["number"], siret=facts["seller_siret"])]
