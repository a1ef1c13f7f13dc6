"""What a first deposit needs from the platform, read once: the supplier attached, the recipients known.

``chorus-rouen doctor`` and Odoo's "Test connection" ask the same questions and word the answers
each in its own way (English on the command line, translated in Odoo); the reading is here:

* :func:`check_supplier`: is the supplier's SIRET on the platform, and is it among the structures the
  technical account is attached to (``recupererStructuresActivesPourFournisseur``)?
* :func:`check_recipient`: is a recipient's SIRET on the platform, active, what does it demand
  (engagement number, service code), which services are active?

Both raise :class:`~.errors.ChorusError` when the platform cannot be asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .budgets import Requirements, compact_siret
from .errors import ApiError

__all__ = ["RecipientCheck", "SupplierCheck", "attached_structures", "check_recipient", "check_supplier"]


@dataclass(frozen=True)
class SupplierCheck:
    """The supplier's structure on the platform and its attachment to the technical account.

    :ivar structure: the structure found in the directory (``Structure``), or None.
    :ivar attached: True / False, or None when the platform does not say (operation refused).
    :ivar attached_to: the structures the account is attached to (empty when unknown).
    """

    siret: str
    structure: Any = None
    attached: bool | None = None
    attached_to: tuple = ()

    @property
    def structure_id(self) -> int | None:
        attached = next((s for s in self.attached_to if compact_siret(s.identifier) == self.siret), None)
        found = self.structure or attached
        return getattr(found, "structure_id", None) or None

    @property
    def name(self) -> str:
        attached = next((s for s in self.attached_to if compact_siret(s.identifier) == self.siret), None)
        return getattr(self.structure or attached, "name", "") or ""


@dataclass(frozen=True)
class RecipientCheck:
    """A recipient's structure on the platform (``found`` False: the directory has no such SIRET)."""

    siret: str
    found: bool
    structure_id: int | None = None
    name: str = ""
    active: bool = True
    requirements: Requirements = field(default_factory=Requirements)
    services: tuple[str, ...] = ()  # active service codes

    def has_service(self, code: str | None) -> bool:
        return bool(code) and code in self.services


def attached_structures(client) -> tuple | None:
    """The structures the technical account is attached to, or None when the platform refuses to say
    (an operation the PISTE application is not subscribed to, or not served: an :class:`ApiError`)."""
    try:
        return tuple(client.supplier_structures())
    except ApiError:
        return None


def check_supplier(client, siret: str, attached: tuple | None = None) -> SupplierCheck:
    """Look the supplier up in the directory and among the account's structures.

    :param attached: the account's structures when already read (:func:`attached_structures`).
    """
    siret = compact_siret(siret)
    if attached is None:
        attached = attached_structures(client)
    found = client.search_structures(siret, all_private=True)  # an unattached private structure too
    structure = next((s for s in found if compact_siret(s.identifier) == siret), found[0] if found else None)
    if attached is None:
        return SupplierCheck(siret, structure, None, ())
    is_attached = any(compact_siret(s.identifier) == siret for s in attached)
    return SupplierCheck(siret, structure, is_attached, attached)


def check_recipient(client, siret: str) -> RecipientCheck:
    """Read a recipient's structure, requirements and active services from the directory."""
    siret = compact_siret(siret)
    found = client.search_structures(siret)
    if not found:
        return RecipientCheck(siret, False)
    structure = next((s for s in found if compact_siret(s.identifier) == siret), found[0])
    details = client.get_structure(structure.structure_id)
    services = tuple(sorted(s.code for s in client.search_services(structure.structure_id) if s.active))
    return RecipientCheck(
        siret=siret,
        found=True,
        structure_id=structure.structure_id,
        name=structure.name or details.name,
        active=structure.active is not False,
        requirements=details.requirements,
        services=services,
    )
