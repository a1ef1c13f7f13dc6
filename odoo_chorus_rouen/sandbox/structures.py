"""The directory operations of the API: ``rechercherStructure``, ``consulterStructure`` and their services.

They read the sandbox's directory (:mod:`.directory`, the stored structures and services, which
:mod:`.directory_truth` may change at any time). ``rechercherStructure`` lists the public structures
and the private ones attached to the technical account unless ``restreindreStructuresPrivees`` is
``false``; ``consulterStructure`` gives a supplier's technical account password expiry
(:mod:`.technical_account`).
"""

from __future__ import annotations

from typing import Any

from ..core.budgets import compact_siret
from . import directory as dirmod
from .clock import format_datetime, format_minutes
from .replies import DEFAULT_PAGE_SIZE, NO_RESULT, OK_GCU, OK_TRA, Reply
from .replies import error as _error
from .replies import page_info as _page_info
from .replies import paging as _paging
from .replies import text as _text
from .technical_account import expiry as account_expiry

__all__ = ["op_consulter_service", "op_consulter_structure", "op_rechercher_services", "op_rechercher_structure"]


def op_rechercher_structure(engine: Any, body: dict[str, Any]) -> Reply:
    criteria = body.get("structure") or {}
    where, params = [], []
    identifier = _text(criteria, "identifiantStructure")
    if identifier:
        where.append("identifier IN (?, ?)")
        params += [identifier, compact_siret(identifier)]
    kind = _text(criteria, "typeStructure")
    if kind:
        where.append("kind = ?")
        params.append(kind.upper())
    status = _text(criteria, "statutStructure")
    if status:
        where.append("active = ?")
        params.append(int(status.upper() in ("ACTIF", "ACTIVE")))
    if body.get("restreindreStructuresPrivees", True) is not False:
        where.append("(kind = 'PUBLIQUE' OR json_extract(data, '$.rattacheCompteTechnique') = 1)")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = engine.store.all(f"SELECT id, data FROM structures{clause} ORDER BY id", params)  # noqa: S608
    structures = [dirmod.structure_by_id(engine.store, row["id"]) for row in rows]
    structures = [s for s in structures if _structure_matches(s, criteria)]
    paging = body.get("parametres") or {}
    page, size = _paging(paging.get("pageResultatDemandee"), paging.get("nbResultatsParPage"), DEFAULT_PAGE_SIZE)
    columns = {
        "DesignationStructure": "designationStructure",
        "Statut": "statut",
        "TypeIdentifiantStructure": "typeIdentifiantStructure",
    }
    column = columns.get(str(paging.get("triColonne") or ""), "identifiantStructure")
    structures.sort(key=lambda s: str(s.get(column)), reverse=str(paging.get("triSens")).strip() == "Descendant")
    total = len(structures)
    chosen = structures[(page - 1) * size : page * size]
    code, label = (0, OK_TRA) if total else NO_RESULT
    return Reply(
        {
            "codeRetour": code,
            "libelle": label,
            "listeStructures": [
                {
                    "idStructureCPP": s["idStructureCPP"],
                    "identifiantStructure": s["identifiantStructure"],
                    "designationStructure": s["designationStructure"],
                    "typeIdentifiantStructure": s["typeIdentifiantStructure"],
                    "statut": s["statut"],
                }
                for s in chosen
            ],
            "parametresRetour": _page_info(size, page, total),
        },
        no_result=not total,
    )


def op_consulter_structure(engine: Any, body: dict[str, Any]) -> Reply:
    structure = dirmod.structure_by_id(engine.store, body.get("idStructureCPP", body.get("idStructure")))
    if structure is None:
        return _error(20001, "La structure demandee n'existe pas.")
    address = structure.get("adresse") or {}
    params = structure["parametres"]
    return Reply(
        {
            "codeRetour": 0,
            "libelle": OK_GCU,
            "adressePostaleDuSiege": {
                "adresse": address.get("adresse"),
                "codePostal": address.get("codePostal"),
                "complementAdresse1": address.get("complementAdresse1"),
                "complementAdresse2": address.get("complementAdresse2"),
                "fax": None,
                "indicatifFax": None,
                "indicatifTelephone": None,
                "pays": address.get("pays", "FR"),
                "telephone": None,
                "ville": address.get("ville"),
            },
            "informationGenerales": {
                "idStructureCPP": structure["idStructureCPP"],
                "idStructureOrigine": None,
                "identifiantStructure": structure["identifiantStructure"],
                "typeIdentifiantStructure": structure["typeIdentifiantStructure"],
                "libelleStructure": structure["designationStructure"],
                "raisonSocialeStructure": structure["raisonSocialeStructure"],
                "nomStructure": None,
                "prenomStructure": None,
                "emailStructure": structure.get("email"),
                "numeroRcsStructure": None,
                "numeroTVA": structure.get("numeroTVA"),
                "structurePriveePublique": structure["typeStructure"],
                "estValideurDeleguee": False,
                "dateExpirationMotPasseCompteTech": format_datetime(account_expiry(engine))
                if structure["typeStructure"] == "PRIVEE"
                else None,
                "listeStructureDupliquees": [],
            },
            "parametres": {
                "codeServiceDoitEtreRenseigne": bool(params.get("codeServiceDoitEtreRenseigne")),
                "numeroEJDoitEtreRenseigne": bool(params.get("numeroEJDoitEtreRenseigne")),
                "gestionNumeroEJOuCodeService": bool(params.get("gestionNumeroEJOuCodeService")),
                "estMoaUniquement": False,
                "getaMoa": False,
                "estValideurDelegue": False,
                "connexionEDI": False,
                "recevoirDonneesViaEDI": False,
                "nonDiffusibleInsee": False,
                "statutMiseEnPaiementNestPasRemonte": False,
            },
        }
    )


def op_rechercher_services(engine: Any, body: dict[str, Any]) -> Reply:
    structure = dirmod.structure_by_id(engine.store, body.get("idStructure", body.get("idStructureCPP")))
    if structure is None:
        return _error(20001, "La structure demandee n'existe pas.")
    services = dirmod.services_of(engine.store, structure["idStructureCPP"])
    paging = body.get("parametresRechercherServicesStructure") or {}
    page, size = _paging(paging.get("pageResultatDemandee"), paging.get("nbResultatsParPage"), DEFAULT_PAGE_SIZE)
    column = {"LibelleService": "libelleService", "EstActif": "estActif"}.get(
        str(paging.get("triColonne") or ""), "codeService"
    )
    services.sort(key=lambda s: str(s.get(column)), reverse=str(paging.get("triSens")).strip() == "Descendant")
    total = len(services)
    created = format_minutes(engine.store.get_meta("created_at", engine.now()))
    chosen = services[(page - 1) * size : page * size]
    code, label = (0, OK_TRA) if total else NO_RESULT
    return Reply(
        {
            "codeRetour": code,
            "libelle": label,
            "listeServices": [
                {
                    "idService": s["idService"],
                    "codeService": s["codeService"],
                    "libelleService": s["libelleService"],
                    "estActif": s["estActif"],
                    "statutService": "ACTIF" if s["estActif"] else "INACTIF",
                    "dateDbtService": created,
                    "dateFinService": None if s["estActif"] else created,
                }
                for s in chosen
            ],
            "parametresRetour": _page_info(size, page, total),
        },
        no_result=not total,
    )


def op_consulter_service(engine: Any, body: dict[str, Any]) -> Reply:
    structure = dirmod.structure_by_id(engine.store, body.get("idStructure", body.get("idStructureCPP")))
    if structure is None:
        return _error(20001, "La structure demandee n'existe pas.")
    service = dirmod.find_service(engine.store, structure["idStructureCPP"], service_id=body.get("idService"))
    if service is None:
        return _error(20002, "Le service demande n'existe pas pour cette structure.")
    created = format_datetime(engine.store.get_meta("created_at", engine.now()))
    address = structure.get("adresse") or {}
    return Reply(
        {
            "codeRetour": 0,
            "libelle": OK_GCU,
            "adressePostale": {
                "adresse": address.get("adresse"),
                "codePostal": address.get("codePostal"),
                "ville": address.get("ville"),
                "pays": address.get("pays", "FR"),
            },
            "informationsGenerales": {
                "codeService": service["codeService"],
                "descriptionService": service["libelleService"],
                "nomService": service["libelleService"],
            },
            "parametres": {
                "dateCreation": created,
                "dateDebutValidite": created,
                "dateFinValidite": None if service["estActif"] else created,
                "dateModification": created,
                "miseEnPaiement": False,
                "numeroEngagement": bool(service.get("numeroEngagement")),
            },
            "nbResultatsParPage": 1,
            "pageCourante": 1,
            "pages": 1,
            "total": 1,
        }
    )


def _structure_matches(structure: dict[str, Any], criteria: dict[str, Any]) -> bool:
    for key, field_name in (
        ("raisonSocialeStructure", "raisonSocialeStructure"),
        ("libelleStructure", "designationStructure"),
    ):
        wanted = _text(criteria, key)
        if wanted and wanted.lower() not in str(structure.get(field_name, "")).lower():
            return False
    id_type = _text(criteria, "typeIdentifiantStructure")
    if id_type and id_type.upper() != structure["typeIdentifiantStructure"]:
        return False
    postal = _text(criteria, "adresseCodePostal")
    return not (postal and postal != (structure.get("adresse") or {}).get("codePostal"))
