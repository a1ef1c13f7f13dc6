"""Every documented Chorus Pro code is mapped; an unknown code is 'unknown', never an exception.

The code lists in data/reference/ were extracted from CHORUS_PRO_API.md §3.3 and §3.8 by
data/reference/extract_statuses.py (see data/reference/README.rst).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

import pytest

from odoo_chorus_rouen.core.status import (
    FLOW_STATES,
    INVOICE_STATUSES,
    ChorusState,
    flow_status,
    invoice_status,
)

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"
# CI lays the shared documents out next to the repository: ../shared/docs (CHORUS_PRO_API_DOC overrides).
API_DOC = Path(
    os.environ.get("CHORUS_PRO_API_DOC") or Path(__file__).resolve().parent.parent.parent / "shared" / "docs"
    / "CHORUS_PRO_API.md"
)


def codes(name: str) -> list[str]:
    lines = (REFERENCE / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


FLOW_CODES = codes("flow_states.txt")
INVOICE_CODES = codes("invoice_statuses.txt")


def test_reference_lists_are_complete():
    assert len(FLOW_CODES) == 15 and len(set(FLOW_CODES)) == 15
    assert len(INVOICE_CODES) == 57 and len(set(INVOICE_CODES)) == 57
    assert INVOICE_CODES[0] == "BROUILLON" and INVOICE_CODES[-1] == "TECHNIQUE_INCONNU"


@pytest.mark.parametrize("code", FLOW_CODES)
def test_every_flow_state_is_mapped(code):
    info = flow_status(code)
    assert info.known and info.state is not ChorusState.UNKNOWN
    assert info.code == code and info.kind == "flow"
    assert info.label_en and info.label_fr


@pytest.mark.parametrize("code", INVOICE_CODES)
def test_every_invoice_status_is_mapped(code):
    info = invoice_status(code)
    assert info.known and info.state is not ChorusState.UNKNOWN
    assert info.code == code and info.kind == "invoice"
    assert info.label_en and info.label_fr


def test_tables_hold_exactly_the_documented_codes():
    assert set(FLOW_STATES) == set(FLOW_CODES)
    assert set(INVOICE_STATUSES) == set(INVOICE_CODES)


@pytest.mark.parametrize("lookup", [flow_status, invoice_status])
@pytest.mark.parametrize("code", ["SOMETHING_NEW", "", None, "in_integre", "IN INTEGRE"])
def test_unknown_code_is_unknown_and_never_raises(lookup, code, caplog):
    with caplog.at_level(logging.WARNING):
        info = lookup(code)
    assert info.state is ChorusState.UNKNOWN
    assert not info.known and not info.final
    assert info.label_en.startswith("Unknown status")


def test_codes_are_trimmed():
    assert flow_status(" IN_INTEGRE\n").state is ChorusState.DELIVERED


def test_meaning_of_the_codes_a_supplier_meets():
    # flows: OCA stops polling at these three; PAST also at IN_INCIDENTE
    for code in ("IN_INTEGRE", "IN_INTEGRE_PARTIEL", "IN_REJETE", "IN_INCIDENTE"):
        assert flow_status(code).final, code
    assert flow_status("IN_REJETE").state is ChorusState.REJECTED
    assert not flow_status("IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP").final
    # invoices: CHORUS_PRO_API.md §3.8 recommended terminal set and needs-action set
    for code in ("REJETEE", "MISE_EN_PAIEMENT", "SUPPRIMEE", "ABANDONNEE"):
        assert invoice_status(code).final, code
    for code in ("A_RECYCLER", "SUSPENDUE", "REJETEE"):
        assert invoice_status(code).action_needed, code
    assert invoice_status("MISE_EN_PAIEMENT").state is ChorusState.PAID
    assert invoice_status("A_RECYCLER").state is ChorusState.ACTION
    assert not invoice_status("DEPOSEE").final


@pytest.mark.skipif(
    not API_DOC.is_file(),
    reason=f"{API_DOC} is absent (CI puts it in ../shared/docs; or set CHORUS_PRO_API_DOC)",
)
def test_reference_files_match_the_document():
    spec = importlib.util.spec_from_file_location("extract_statuses", REFERENCE / "extract_statuses.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("extract_statuses", module)
    spec.loader.exec_module(module)
    text = API_DOC.read_text(encoding="utf-8")
    assert module.flow_states(text) == FLOW_CODES
    assert module.invoice_statuses(text) == INVOICE_CODES
