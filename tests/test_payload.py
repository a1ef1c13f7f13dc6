"""The deposerFluxFacture body: what Chorus Pro receives for each kind of file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.payload import (
    MAX_FILENAME_LENGTH,
    SYNTAX_BY_FORMAT,
    build_deposit,
    deposit_filename,
)
from odoo_chorus_rouen.core.validation import Format

INVOICES = Path(__file__).resolve().parent.parent / "data" / "invoices"

CASES = [
    ("facturx_principal_invoice.pdf", Format.FACTURX_PDF, "IN_DP_E2_CII_FACTURX", "FAC-2026-0001"),
    ("cii_eau_invoice.xml", Format.CII, "IN_DP_E1_CII_16B", "FAC-2026-0003"),
    ("ubl_assainissement_invoice.xml", Format.UBL, "IN_DP_E1_UBL_INVOICE", "FAC-2026-0005"),
]


def test_syntax_per_format_is_the_contract():
    assert SYNTAX_BY_FORMAT == {
        Format.FACTURX_PDF: "IN_DP_E2_CII_FACTURX",
        Format.CII: "IN_DP_E1_CII_16B",
        Format.UBL: "IN_DP_E1_UBL_INVOICE",
    }


@pytest.mark.parametrize(("name", "fmt", "syntax", "number"), CASES)
def test_deposit_of_each_sample(name, fmt, syntax, number):
    data = (INVOICES / name).read_bytes()
    filename = deposit_filename(number, fmt)
    body = build_deposit(data, filename)  # format detected from the bytes
    assert body == build_deposit(data, filename, fmt)  # or given
    assert set(body) == {"fichierFlux", "nomFichier", "syntaxeFlux", "avecSignature"}
    assert base64.b64decode(body["fichierFlux"], validate=True) == data
    assert body["syntaxeFlux"] == syntax
    assert body["nomFichier"] == filename and filename.endswith(".pdf" if fmt is Format.FACTURX_PDF else ".xml")
    assert body["avecSignature"] is False
    json.dumps(body)  # ready to be sent as JSON


def test_format_may_be_given_as_its_value():
    data = (INVOICES / "cii_eau_invoice.xml").read_bytes()
    assert build_deposit(data, "eau.xml", "cii")["syntaxeFlux"] == "IN_DP_E1_CII_16B"


def test_deposit_filename():
    assert deposit_filename("FAC/2026/0001", Format.FACTURX_PDF) == "facturx_chorus_facture_FAC-2026-0001.pdf"
    assert deposit_filename("FAC 2026 0001", Format.UBL) == "ubl_chorus_facture_FAC-2026-0001.xml"
    long_name = deposit_filename("X" * 300, Format.CII)
    assert len(long_name) == MAX_FILENAME_LENGTH and long_name.endswith(".xml")
    with pytest.raises(InputError):
        deposit_filename("  ", Format.CII)
    with pytest.raises(InputError):
        deposit_filename("FAC-1", "docx")


@pytest.mark.parametrize(
    ("data", "filename", "fmt", "code"),
    [
        (b"", "a.pdf", None, "empty_file"),
        (b"%PDF-1.7", "", Format.FACTURX_PDF, "invalid_filename"),
        (b"%PDF-1.7", "facture", Format.FACTURX_PDF, "invalid_filename"),  # no extension
        (b"%PDF-1.7", "facture.xml", Format.FACTURX_PDF, "invalid_filename"),  # wrong extension
        (b"%PDF-1.7", "dir/facture.pdf", Format.FACTURX_PDF, "invalid_filename"),
        (b"%PDF-1.7", "f" * 197 + ".pdf", Format.FACTURX_PDF, "invalid_filename"),  # 201 characters
        (b"%PDF-1.7", "facture.xml", Format.CII, "format_mismatch"),
        (b"<x/>", "facture.pdf", Format.FACTURX_PDF, "format_mismatch"),
        (b"plain text", "facture.xml", None, "unknown_format"),
    ],
)
def test_refused_deposits(data, filename, fmt, code):
    with pytest.raises(InputError) as err:
        build_deposit(data, filename, fmt)
    assert err.value.code == code
    assert str(err.value)
