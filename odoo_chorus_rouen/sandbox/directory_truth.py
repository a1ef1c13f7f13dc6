"""Change what the sandbox's directory says of a structure, after the fact (control API).

A recipient's requirements change on the real platform without notice: a budget starts to demand a
service code, a structure is closed. Tests and demonstrations need the same: post an invoice while
the directory says one thing, then change the truth before the send job deposits it.

Control routes (registered by ``control.py``)::

    GET  /sandbox/directory/<siret>   what the directory says of that SIRET now
    POST /sandbox/directory/<siret>   change it; body, every key optional:
         {"service_code_required": bool,           # codeServiceDoitEtreRenseigne
          "engagement_required": bool,             # numeroEJDoitEtreRenseigne
          "service_or_engagement_required": bool,  # gestionNumeroEJOuCodeService
          "active": bool}                          # statut ACTIVE / INACTIVE
         (the Chorus names of the flags and {"statut": "ACTIVE" | "INACTIVE"} are accepted too)

The routing checks of a deposit (``routing.routing_messages``), the directory search
(``rechercherStructure``) and the structure details (``consulterStructure``) read the stored
structure, so a change shows at once in all of them.
"""

from __future__ import annotations

import json
from typing import Any

from . import directory as dirmod
from .store import Store

__all__ = ["CONTROL_ROUTES", "FLAG_ALIASES", "set_truth", "truth_of"]

# short name of the control API -> Chorus Pro's name of the flag in ``parametres``
FLAG_ALIASES = {
    "service_code_required": "codeServiceDoitEtreRenseigne",
    "engagement_required": "numeroEJDoitEtreRenseigne",
    "service_or_engagement_required": "gestionNumeroEJOuCodeService",
}
_KNOWN_KEYS = {*FLAG_ALIASES, *FLAG_ALIASES.values(), "active", "statut"}


def truth_of(store: Store, siret: str) -> dict[str, Any]:
    """What the directory says of ``siret``: its flags (short names), whether it is active, its id.

    :raises KeyError: no structure has this identifier.
    """
    structure = dirmod.find_structure(store, siret)
    if structure is None:
        raise KeyError(f"no structure with identifiantStructure {siret}")
    params = structure.get("parametres") or {}
    return {
        "siret": structure["identifiantStructure"],
        "idStructureCPP": structure["idStructureCPP"],
        "designationStructure": structure.get("designationStructure"),
        **{short: bool(params.get(chorus)) for short, chorus in FLAG_ALIASES.items()},
        "active": structure.get("statut", "ACTIVE") == "ACTIVE",
    }


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).strip().lower() in ("1", "0", "true", "false"):
        return str(value).strip().lower() in ("1", "true")
    raise ValueError(f"{name} must be true or false, not {value!r}")


def set_truth(store: Store, siret: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change the flags and the status of the structure ``siret``; returns :func:`truth_of` after it.

    :raises KeyError: no structure has this identifier.
    :raises ValueError: an unknown key or a value that is not a boolean (the message names it).
    """
    unknown = sorted(set(changes) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(_KNOWN_KEYS))}")
    structure = dirmod.find_structure(store, siret)
    if structure is None:
        raise KeyError(f"no structure with identifiantStructure {siret}")
    params = dict(structure.get("parametres") or {})
    for short, chorus in FLAG_ALIASES.items():
        for key in (short, chorus):
            if key in changes:
                params[chorus] = _bool(key, changes[key])
    status = structure.get("statut", "ACTIVE")
    if "active" in changes:
        status = "ACTIVE" if _bool("active", changes["active"]) else "INACTIVE"
    if "statut" in changes:
        status = str(changes["statut"]).strip().upper()
        if status not in ("ACTIVE", "INACTIVE"):
            raise ValueError(f"statut must be ACTIVE or INACTIVE, not {changes['statut']!r}")
    structure_id = structure["idStructureCPP"]
    structure.update({"parametres": params, "statut": status})
    with store.transaction() as conn:
        conn.execute(
            "UPDATE structures SET active = ?, data = ? WHERE id = ?",
            (int(status == "ACTIVE"), json.dumps(structure, ensure_ascii=False), structure_id),
        )
    return truth_of(store, siret)


def _c_truth_get(sb: Any, payload: dict, query: dict, siret: str) -> tuple[int, Any]:
    return 200, truth_of(sb.store, siret)


def _c_truth_set(sb: Any, payload: dict, query: dict, siret: str) -> tuple[int, Any]:
    if not payload:
        raise ValueError('expected {"service_code_required": bool, "engagement_required": bool, '
                         '"service_or_engagement_required": bool, "active": bool}')
    return 200, set_truth(sb.store, siret, payload)


# (method, path regex, function(sandbox, payload, query, *groups) -> (status, body)), as server._CONTROL_ROUTES
CONTROL_ROUTES = [
    ("GET", r"/sandbox/directory/(\d{14})", _c_truth_get),
    ("POST", r"/sandbox/directory/(\d{14})", _c_truth_set),
]
