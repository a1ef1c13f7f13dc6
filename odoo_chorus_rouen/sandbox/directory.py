"""The sandbox's Chorus Pro directory: structures (public buyers, private suppliers) and services.

The default directory ships as ``directory.json`` next to this module (the eight Métropole budgets
of :mod:`odoo_chorus_rouen.core.budgets`, a few invented public structures covering every
combination of the mandatory-data flags, and the two demo suppliers). A user file with the same
shape, or the control endpoint, adds or replaces structures (matched on ``identifiantStructure``).

Accepted input keys (Chorus names first, short aliases second)::

    {"identifiantStructure" | "siret": "88412345600011",
     "typeIdentifiantStructure": "SIRET",
     "designationStructure" | "designation" | "name": "...",
     "typeStructure" | "type": "PRIVEE" | "PUBLIQUE",          # default PRIVEE
     "statut": "ACTIVE" | "INACTIVE" (or ACTIF / INACTIF),     # default ACTIVE
     "parametres": {"codeServiceDoitEtreRenseigne": bool, "numeroEJDoitEtreRenseigne": bool,
                    "gestionNumeroEJOuCodeService": bool},
     "services": [{"codeService" | "code": "...", "libelleService" | "name": "...",
                   "estActif" | "active": bool, "numeroEngagement" | "engagement_required": bool}],
     "idStructureCPP": int (optional), "numeroTVA", "adresse": {...}, "rattacheCompteTechnique": bool}
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.budgets import compact_siret, is_valid_siret
from .store import Store

__all__ = [
    "DEFAULT_DIRECTORY",
    "DirectoryError",
    "find_service",
    "find_structure",
    "load_directory_file",
    "load_structures",
    "normalize_structure",
    "services_of",
    "structure_by_id",
    "upsert_structure",
]

DEFAULT_DIRECTORY = "directory.json"
FIRST_ADDED_STRUCTURE_ID = 40000001
FIRST_ADDED_SERVICE_ID = 50000001
#: The platform's structure, service and invoice ids fit in a signed 32-bit integer (8 digits in
#: practice, e.g. identifiantFactureCPP 3123988): connectors store them in 32-bit columns, so the
#: sandbox never produces nor accepts a larger one.
MAX_PLATFORM_ID = 2**31 - 1
PARAMETER_FLAGS = ("codeServiceDoitEtreRenseigne", "numeroEJDoitEtreRenseigne", "gestionNumeroEJOuCodeService")
IDENTIFIER_TYPES = ("SIRET", "UE_HORS_FRANCE", "HORS_UE", "RIDET", "TAHITI", "AUTRE", "PARTICULIER")


class DirectoryError(ValueError):
    """A structure given to the sandbox cannot be used (the message names the field)."""


def load_directory_file(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Structures of a directory JSON file (the shipped default when ``path`` is None)."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_DIRECTORY).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    doc = json.loads(text)
    structures = doc.get("structures") if isinstance(doc, dict) else doc
    if not isinstance(structures, list):
        raise DirectoryError(f"{path or DEFAULT_DIRECTORY}: expected a list of structures under 'structures'")
    return structures


def _first(doc: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in doc and doc[key] is not None:
            return doc[key]
    return default


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "oui", "actif", "active")
    return bool(value)


def _status(value: Any) -> str:
    if isinstance(value, bool):
        return "ACTIVE" if value else "INACTIVE"
    text = str(value or "ACTIVE").strip().upper()
    if text in ("ACTIVE", "ACTIF"):
        return "ACTIVE"
    if text in ("INACTIVE", "INACTIF"):
        return "INACTIVE"
    raise DirectoryError(f"statut must be ACTIVE or INACTIVE, not {value!r}")


def _parametres(doc: dict[str, Any]) -> dict[str, bool]:
    given = doc.get("parametres") or {}
    requirements = doc.get("requirements") or {}
    return {
        "codeServiceDoitEtreRenseigne": _flag(
            given.get("codeServiceDoitEtreRenseigne", requirements.get("service_code", False))
        ),
        "numeroEJDoitEtreRenseigne": _flag(
            given.get("numeroEJDoitEtreRenseigne", requirements.get("engagement", False))
        ),
        "gestionNumeroEJOuCodeService": _flag(
            given.get("gestionNumeroEJOuCodeService", requirements.get("service_or_engagement", False))
        ),
    }


def _platform_id(value: Any, name: str) -> int | None:
    """An id given by a file or the control API: None, or an integer in the platform's range."""
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DirectoryError(f"{name} {value!r} is not an integer") from None
    if not 1 <= number <= MAX_PLATFORM_ID:
        raise DirectoryError(f"{name} {number} is outside the platform's range (1 to {MAX_PLATFORM_ID}, 32 bits)")
    return number


def _narrow_service_id(old: int, taken: set[int]) -> int:
    """The id an earlier sandbox's 10-digit service id gets: the directory's scheme, else a new one."""
    structure, rank = divmod(old, 100)
    candidate = (structure - 26_000_000) * 100 + rank  # 2631100101 -> 31100101, as in directory.json
    if not 1 <= candidate <= MAX_PLATFORM_ID or candidate in taken:
        candidate = max([FIRST_ADDED_SERVICE_ID - 1, *taken]) + 1
    return candidate


def narrow_wide_ids(store: Store) -> int:
    """Bring a state file of an earlier sandbox (10-digit service ids) into the platform's range.

    Each service over 32 bits gets a new id (the one ``directory.json`` now gives it, else the next
    free one); invoices keep pointing at their service. Returns how many services were renumbered.
    """
    with store.transaction() as conn:
        wide = conn.execute("SELECT id, data FROM services WHERE id > ? ORDER BY id", (MAX_PLATFORM_ID,)).fetchall()
        if not wide:
            return 0
        taken = {row[0] for row in conn.execute("SELECT id FROM services WHERE id <= ?", (MAX_PLATFORM_ID,))}
        for old, data in wide:
            new = _narrow_service_id(old, taken)
            taken.add(new)
            service = {**json.loads(data), "idService": new}
            conn.execute("UPDATE services SET id = ?, data = ? WHERE id = ?", (new, json.dumps(service), old))
            conn.execute("UPDATE invoices SET service_id = ? WHERE service_id = ?", (new, old))
    return len(wide)


def _normalize_service(doc: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise DirectoryError("each service must be an object")
    code = str(_first(doc, "codeService", "code", default="")).strip()
    if not code:
        raise DirectoryError("a service needs a codeService")
    if len(code) > 100:
        raise DirectoryError(f"codeService {code!r} is longer than 100 characters")
    service_id = _first(doc, "idService", "id")
    return {
        "idService": _platform_id(service_id, "idService"),
        "codeService": code,
        "libelleService": str(_first(doc, "libelleService", "name", "label", default=code)),
        "estActif": _flag(_first(doc, "estActif", "active", default=True)),
        "numeroEngagement": _flag(_first(doc, "numeroEngagement", "engagement_required", default=False)),
    }


def normalize_structure(doc: dict[str, Any]) -> dict[str, Any]:
    """Check a structure given by a file or the control endpoint and fill the defaults.

    :raises DirectoryError: naming the field at fault.
    """
    if not isinstance(doc, dict):
        raise DirectoryError("a structure must be a JSON object")
    id_type = str(_first(doc, "typeIdentifiantStructure", "identifier_type", default="SIRET")).upper()
    if id_type not in IDENTIFIER_TYPES:
        raise DirectoryError(f"typeIdentifiantStructure must be one of {', '.join(IDENTIFIER_TYPES)}")
    raw = str(_first(doc, "identifiantStructure", "siret", "identifier", default="")).strip()
    identifier = compact_siret(raw) if id_type == "SIRET" else raw
    if not identifier:
        raise DirectoryError("identifiantStructure (the SIRET) is required")
    if id_type == "SIRET" and not is_valid_siret(identifier):
        raise DirectoryError(f"identifiantStructure {raw!r} is not a valid SIRET (14 digits, Luhn checksum)")
    kind = str(_first(doc, "typeStructure", "type", "structurePriveePublique", default="PRIVEE")).upper()
    if kind not in ("PRIVEE", "PUBLIQUE"):
        raise DirectoryError("typeStructure must be PRIVEE or PUBLIQUE")
    designation = str(_first(doc, "designationStructure", "designation", "name", default=f"Structure {identifier}"))
    structure_id = _first(doc, "idStructureCPP", "id")
    services = [_normalize_service(service) for service in doc.get("services") or []]
    codes = [service["codeService"] for service in services]
    if len(codes) != len(set(codes)):
        raise DirectoryError(f"structure {identifier}: duplicate codeService")
    result = {
        key: value
        for key, value in doc.items()
        if key not in ("services", "siret", "identifier", "type", "name", "designation", "id", "requirements")
    }
    result.update(
        {
            "idStructureCPP": _platform_id(structure_id, "idStructureCPP"),
            "identifiantStructure": identifier,
            "typeIdentifiantStructure": id_type,
            "designationStructure": designation,
            "raisonSocialeStructure": str(_first(doc, "raisonSocialeStructure", default=designation.upper())),
            "typeStructure": kind,
            "statut": _status(_first(doc, "statut", "status", "active", default="ACTIVE")),
            "parametres": _parametres(doc),
            "rattacheCompteTechnique": _flag(_first(doc, "rattacheCompteTechnique", default=kind == "PRIVEE")),
            "services": services,
        }
    )
    return result


def upsert_structure(store: Store, doc: dict[str, Any]) -> dict[str, Any]:
    """Add or replace a structure (matched on its identifier); returns the stored structure."""
    structure = normalize_structure(doc)
    with store.transaction() as conn:
        existing = conn.execute(
            "SELECT id FROM structures WHERE identifier = ?", (structure["identifiantStructure"],)
        ).fetchone()
        structure_id = structure["idStructureCPP"] or (existing["id"] if existing else None)
        if structure_id is None:
            top = conn.execute("SELECT MAX(id) FROM structures").fetchone()[0] or 0
            structure_id = max(top + 1, FIRST_ADDED_STRUCTURE_ID)
        clash = conn.execute(
            "SELECT identifier FROM structures WHERE id = ? AND identifier != ?",
            (structure_id, structure["identifiantStructure"]),
        ).fetchone()
        if clash:
            raise DirectoryError(f"idStructureCPP {structure_id} already belongs to {clash['identifier']}")
        if existing and existing["id"] != structure_id:
            conn.execute("DELETE FROM services WHERE structure_id = ?", (existing["id"],))
            conn.execute("DELETE FROM structures WHERE id = ?", (existing["id"],))
        structure["idStructureCPP"] = structure_id
        services = structure.pop("services")
        conn.execute(
            "INSERT INTO structures (id, identifier, kind, active, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET identifier = excluded.identifier, kind = excluded.kind, "
            "active = excluded.active, data = excluded.data",
            (
                structure_id,
                structure["identifiantStructure"],
                structure["typeStructure"],
                int(structure["statut"] == "ACTIVE"),
                json.dumps(structure, ensure_ascii=False),
            ),
        )
        for service in services:
            _upsert_service(conn, structure_id, service)
        structure["services"] = services_of(store, structure_id)
    return structure


def add_service(store: Store, structure_id: int, doc: dict[str, Any]) -> dict[str, Any]:
    """Add or replace one service of an existing structure."""
    service = _normalize_service(doc)
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM structures WHERE id = ?", (structure_id,)).fetchone() is None:
            raise DirectoryError(f"no structure with idStructureCPP {structure_id}")
        return _upsert_service(conn, structure_id, service)


def _upsert_service(conn: Any, structure_id: int, service: dict[str, Any]) -> dict[str, Any]:
    existing = conn.execute(
        "SELECT id FROM services WHERE structure_id = ? AND code = ?", (structure_id, service["codeService"])
    ).fetchone()
    service_id = service["idService"] or (existing["id"] if existing else None)
    if service_id is None:
        top = conn.execute("SELECT MAX(id) FROM services").fetchone()[0] or 0
        service_id = max(top + 1, FIRST_ADDED_SERVICE_ID)
    if existing and existing["id"] != service_id:
        conn.execute("DELETE FROM services WHERE id = ?", (existing["id"],))
    service = {**service, "idService": service_id}
    conn.execute(
        "INSERT INTO services (id, structure_id, code, active, data) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET structure_id = excluded.structure_id, code = excluded.code, "
        "active = excluded.active, data = excluded.data",
        (service_id, structure_id, service["codeService"], int(service["estActif"]), json.dumps(service)),
    )
    return service


def load_structures(store: Store, structures: list[dict[str, Any]]) -> int:
    """Upsert many structures; returns how many were loaded."""
    narrow_wide_ids(store)
    with store.transaction():
        for doc in structures:
            upsert_structure(store, doc)
    return len(structures)


def _structure(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    data = json.loads(row["data"])
    data["idStructureCPP"] = row["id"]
    return data


def find_structure(store: Store, identifier: str | None) -> dict[str, Any] | None:
    """The structure with this identifier (a SIRET in any spacing), or None."""
    if not identifier:
        return None
    row = store.one("SELECT id, data FROM structures WHERE identifier = ?", (compact_siret(str(identifier)),))
    if row is None:
        row = store.one("SELECT id, data FROM structures WHERE identifier = ?", (str(identifier).strip(),))
    return _structure(row)


def structure_by_id(store: Store, structure_id: Any) -> dict[str, Any] | None:
    try:
        key = int(structure_id)
    except (TypeError, ValueError):
        return None
    return _structure(store.one("SELECT id, data FROM structures WHERE id = ?", (key,)))


def services_of(store: Store, structure_id: int) -> list[dict[str, Any]]:
    rows = store.all("SELECT data FROM services WHERE structure_id = ? ORDER BY code", (structure_id,))
    return [json.loads(row["data"]) for row in rows]


def find_service(store: Store, structure_id: int, code: str | None = None, service_id: Any = None) -> dict | None:
    if code is not None:
        row = store.one("SELECT data FROM services WHERE structure_id = ? AND code = ?", (structure_id, code.strip()))
    else:
        try:
            key = int(service_id)
        except (TypeError, ValueError):
            return None
        row = store.one("SELECT data FROM services WHERE structure_id = ? AND id = ?", (structure_id, key))
    return None if row is None else json.loads(row["data"])
