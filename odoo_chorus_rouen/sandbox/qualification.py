"""The sandbox's personalities: ``sandbox`` (today's default) and ``qualification`` (a test data set).

``chorus-rouen sandbox --platform qualification`` plays the real qualification platform as the
clients written by others met it (CHORUS_PRO_API.md §10):

* **only a data set**: the structures of ``qualification.json`` (a test supplier attached to the
  technical account, a private structure that is not attached, three test public recipients); no
  Métropole SIRET, no demo supplier. Start lines give the SIRETs (:func:`start_lines`), as
  ``test_supplier_siret ...`` and ``test_recipient_siret ...``, like the credentials;
* **the other intermediate flow states**: a flow goes through :data:`QUALIFICATION_FLOW_STAGES`
  (``IN_RECU``, ``IN_TRAITE_SE_CPP``, ``QP_RECEVABLE`` or ``QP_RECEVABLE_AVEC_ERREUR``,
  ``IN_EN_ATTENTE_TRAITEMENT_CPP``, ``IN_EN_COURS_TRAITEMENT_CPP``) within the same processing time
  as the default personality (3 × ``processing_delay``); their real order is not documented [U];
* the supplier's attachment to the technical account, which both personalities enforce
  (:mod:`.attached`), only bites here out of the box (the data set has an unattached
  structure; every private structure of ``directory.json`` is attached).

The personality is chosen when a state file is created and recorded in it: a state file of one
personality is refused with the other (:func:`check_platform`), since its directory is the other's.
"""

from __future__ import annotations

from typing import Any

from . import directory as dirmod
from .flows import FLOW_STAGES
from .store import Store

__all__ = [
    "DATA_SET_FILE",
    "PLATFORMS",
    "QUALIFICATION_FLOW_STAGES",
    "check_platform",
    "directory_structures",
    "flow_stages",
    "start_lines",
]

PLATFORMS = ("sandbox", "qualification")
DATA_SET_FILE = "qualification.json"
META_KEY = "platform"

#: Processing states of a flow on the qualification personality, in this order [U: not documented].
#: ``QP_RECEVABLE`` becomes ``QP_RECEVABLE_AVEC_ERREUR`` for a flow whose files have technical errors.
QUALIFICATION_FLOW_STAGES = (
    "IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP",
    "IN_RECU",
    "IN_TRAITE_SE_CPP",
    "QP_RECEVABLE",
    "IN_EN_ATTENTE_TRAITEMENT_CPP",
    "IN_EN_COURS_TRAITEMENT_CPP",
)


def check_platform(store: Store, platform: str) -> None:
    """Record the personality in a new state, or check that an existing state is of this personality.

    :raises ValueError: unknown personality, or a state file of the other one (the message says what to do).
    """
    if platform not in PLATFORMS:
        raise ValueError(f"--platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
    has_structures = bool(store.scalar("SELECT COUNT(*) FROM structures"))
    recorded = store.get_meta(META_KEY, None) or ("sandbox" if has_structures else None)
    if recorded is None:
        with store.transaction():
            store.set_meta(META_KEY, platform)
        return
    if recorded != platform:
        raise ValueError(
            f"this state file holds a {recorded} sandbox, not a {platform} one: give --platform {recorded}, "
            "or another --state file"
        )


def directory_structures(platform: str) -> list[dict[str, Any]]:
    """The structures a new state of this personality starts with."""
    if platform == "qualification":
        return dirmod.load_directory_file(_data_set_path())
    return dirmod.load_directory_file()


def _data_set_path():
    from importlib import resources

    return resources.files(__package__).joinpath(DATA_SET_FILE)


def flow_stages(platform: str) -> tuple[str, ...]:
    """The processing states a flow goes through before its final state."""
    return QUALIFICATION_FLOW_STAGES if platform == "qualification" else FLOW_STAGES


def start_lines(store: Store) -> list[str]:
    """``test_supplier_siret ...`` and ``test_recipient_siret ...`` lines of the data set (printed on start)."""
    lines = []
    rows = store.all("SELECT id FROM structures ORDER BY id")
    structures = [dirmod.structure_by_id(store, row["id"]) for row in rows]
    for role, key in (("test_supplier", "test_supplier_siret"), ("test_recipient", "test_recipient_siret")):
        for structure in structures:
            if structure.get("role") != role:
                continue
            params = structure.get("parametres") or {}
            needs = [
                label
                for flag, label in (
                    ("numeroEJDoitEtreRenseigne", "engagement number required"),
                    ("codeServiceDoitEtreRenseigne", "service code required"),
                    ("gestionNumeroEJOuCodeService", "service code or engagement number required"),
                )
                if params.get(flag)
            ]
            services = [s["codeService"] for s in dirmod.services_of(store, structure["idStructureCPP"])
                        if s.get("estActif") and s["codeService"] != "FACTURES_PUBLIQUES"]
            details = [structure["designationStructure"], *needs]
            if role == "test_recipient" and services:
                details.append("services " + ", ".join(services))
            lines.append(f"  {key:<21}{structure['identifiantStructure']}  ({'; '.join(details)})")
    return lines
