"""The Métropole Rouen Normandie and its eight budgets: the one source of truth.

Each budget is a public structure of its own on Chorus Pro, with its own SIRET; all share the
SIREN 200 023 414. The Odoo addon loads them as child contacts of the Métropole, the sandbox
preloads them in its directory, and the command line lists them.

>>> find_budget("200 023 414 00036").name
'Budget annexe des Transports'
>>> find_budget("20002341400036") is find_budget(" 200-023-414-00036 ")
True
>>> find_budget("20002341400010") is None
True
>>> format_siret("20002341400101")
'200 023 414 00101'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.exceptions import ValidationError
from stdnum.fr import siret as stdnum_siret

from .errors import InputError

__all__ = [
    "BUDGETS",
    "METROPOLE_ADDRESS",
    "METROPOLE_NAME",
    "METROPOLE_SIREN",
    "Budget",
    "Requirements",
    "compact_siret",
    "find_budget",
    "format_siret",
    "is_valid_siret",
    "validate_siret",
]

METROPOLE_NAME = "Métropole Rouen Normandie"
METROPOLE_SIREN = "200023414"
#: The Métropole's current seat (every budget's postal address, as the sandbox directory has it;
#: the former "14 bis avenue Pasteur" is no longer used): the addon's partners and the sandbox
#: directory both use it (tests/test_budgets.py checks both files).
METROPOLE_ADDRESS = {
    "street": "Le 108, 108 allée François Mitterrand",
    "street2": "CS 50589",
    "zip": "76006",
    "city": "Rouen Cedex",
    "country": "FR",
}


@dataclass(frozen=True)
class Requirements:
    """What a public structure demands on the invoices it receives (Chorus Pro directory).

    Mirrors ``consulterStructure.parametres``: ``codeServiceDoitEtreRenseigne``,
    ``numeroEJDoitEtreRenseigne`` and ``gestionNumeroEJOuCodeService``.
    """

    service_code: bool = False  # BT-10 required
    engagement: bool = False  # BT-13 required
    service_or_engagement: bool = False  # at least one of BT-10 / BT-13


@dataclass(frozen=True)
class Budget:
    """One budget of the Métropole: a Chorus Pro recipient structure."""

    key: str  # stable identifier, used for XML ids and the command line
    name: str
    siret: str  # 14 digits, compact
    # What we assume the structure demands until the platform's directory says otherwise:
    # the Métropole prints an engagement number on every purchase order.
    requirements: Requirements = Requirements(engagement=True)

    @property
    def siret_display(self) -> str:
        return format_siret(self.siret)


BUDGETS: tuple[Budget, ...] = (
    Budget("principal", "Budget Principal", "20002341400101"),
    Budget("transports", "Budget annexe des Transports", "20002341400036"),
    Budget("dechets", "Budget annexe des Déchets ménagers", "20002341400028"),
    Budget("zones_activites", "Budget annexe des Zones d'activités", "20002341400044"),
    Budget("eau", "Budget de l'Eau", "20002341400069"),
    Budget("assainissement", "Budget de l'Assainissement", "20002341499004"),
    Budget("rouen_normandie_creation", "Budget Rouen Normandie Création", "20002341400077"),
    Budget("energie_calorifique", "Budget de l'Energie Calorifique", "20002341400093"),
)

_BY_SIRET = {budget.siret: budget for budget in BUDGETS}


def compact_siret(value: str) -> str:
    """Strip spaces, dots, dashes, slashes and other separators a person may type."""
    return re.sub(r"[\s.\-/_]", "", value or "")


def is_valid_siret(value: str) -> bool:
    """Whether ``value`` is a SIRET with a valid SIREN and Luhn checksum (any spacing)."""
    return stdnum_siret.is_valid(compact_siret(value))


def validate_siret(value: str) -> str:
    """Return the compact SIRET or raise :class:`InputError` naming the problem.

    :raises InputError: code ``invalid_siret`` with the reason in ``params``.
    """
    try:
        return stdnum_siret.validate(compact_siret(value))
    except ValidationError as err:
        raise InputError(
            f"Invalid SIRET {value!r}: {err.message}",
            code="invalid_siret",
            params={"siret": value, "reason": err.message},
        ) from err


def format_siret(value: str) -> str:
    """Return the SIRET in the ``NNN NNN NNN NNNNN`` layout."""
    return stdnum_siret.format(value)


def find_budget(siret: str) -> Budget | None:
    """The Métropole budget with this SIRET (any spacing), or None."""
    return _BY_SIRET.get(compact_siret(siret))


def _check() -> None:
    for budget in BUDGETS:
        if not is_valid_siret(budget.siret) or not budget.siret.startswith(METROPOLE_SIREN):
            raise AssertionError(f"budget {budget.key} has an invalid SIRET {budget.siret}")


_check()
