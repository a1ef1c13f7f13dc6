"""The structures the technical account is attached to: what it may deposit for, and how it is read.

* ``recupererStructuresActivesPourFournisseur`` (``POST /cpro/transverses/v1/recuperer/structures/
  actives/fournisseur``, body ``{}``): the active structures the account is attached to and may
  invoice from, ``listeStructures[]`` {``idStructureCPP``, ``identifiant``, ``designationStructure``}
  with ``pageCourante``, ``pages``, ``nbResultatsParPage``, ``total`` at the top level [S] GOCP and PGF
  agree on the item; PGF gives the paging keys. None: the engine's "no result" reading.
* :func:`attachment_problem`: a deposited invoice whose seller is a private structure of the
  directory that is **not** attached to the technical account is refused when its flow is
  processed, with one ``listeErreurDP`` entry (:mod:`.routing`), the flow ending ``IN_REJETE``.

Where our reading is uncertain [U]: several clients check the attachment before depositing
(CHORUS_PRO_API.md §10 [S]), but the platform's own refusal was not recorded, and the AIFE's
monitoring guide says an account depositing through the API may submit invoices for other issuing
structures without specific authorisation (an invoicing provider, §5.1 [C]). The sandbox refuses,
in the flow's report (like every other content problem, the deposit itself being only acknowledged),
with its own French wording; public structures invoicing are not checked.
"""

from __future__ import annotations

from typing import Any

from . import directory as dirmod
from .replies import OK_TRA, Reply

__all__ = ["attachment_problem", "attached_structures", "op_structures_actives_fournisseur"]

MESSAGE = (
    "La structure fournisseur {siret} de la demande de paiement n'est pas rattachee au compte technique "
    "qui a depose le flux : rattacher la structure a ce compte technique sur le portail Chorus Pro, ou "
    "deposer avec un compte qui lui est rattache."
)


def attached_structures(engine: Any) -> list[dict[str, Any]]:
    """The active private structures attached to the technical account, in id order."""
    rows = engine.store.all(
        "SELECT id FROM structures WHERE active = 1 AND json_extract(data, '$.rattacheCompteTechnique') = 1 "
        "ORDER BY id"
    )
    return [dirmod.structure_by_id(engine.store, row["id"]) for row in rows]


def op_structures_actives_fournisseur(engine: Any, body: dict[str, Any]) -> Reply:
    structures = attached_structures(engine)
    total = len(structures)
    code, label = (0, OK_TRA) if total else engine.no_result()
    return Reply(
        {
            "codeRetour": code,
            "libelle": label,
            "listeStructures": [
                {
                    "idStructureCPP": s["idStructureCPP"],
                    "identifiant": s["identifiantStructure"],
                    "designationStructure": s["designationStructure"],
                }
                for s in structures
            ],
            "pageCourante": 1,
            "pages": 1 if total else 0,
            "nbResultatsParPage": max(total, 1),
            "total": total,
        }
    )


def attachment_problem(supplier: dict[str, Any]) -> str | None:
    """The refusal of an invoice whose seller is a private structure not attached to the account, else None."""
    if supplier.get("typeStructure") != "PRIVEE" or supplier.get("rattacheCompteTechnique", True):
        return None
    return MESSAGE.format(siret=supplier["identifiantStructure"])
