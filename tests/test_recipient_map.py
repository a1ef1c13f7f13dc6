"""The qualification map (``core/recipient_map.py``) and the file it rewrites (``core/party_rewrite.py``)."""

import hashlib
import io

import pytest

from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.party_rewrite import PartyChange, replace_parties
from odoo_chorus_rouen.core.pdfa import embedded_files
from odoo_chorus_rouen.core.recipient_map import Target, applies, parse_map, split_variable
from odoo_chorus_rouen.core.validation import validate
from odoo_chorus_rouen.core.validation_facts import read_facts
from odoo_chorus_rouen.core.validation_input import extract_xml
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

PRINCIPAL, TRANSPORTS = "20002341400101", "20002341400036"
TEST_RECIPIENT, TEST_SUPPLIER, DEMO_SUPPLIER = "13000001100010", "99000001000019", "88412345600011"


def facts_of(data):
    fmt, xml = extract_xml(data)
    return read_facts(xml, fmt)


# --------------------------------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------------------------------
def test_map_reads_both_forms_and_any_spacing():
    mapping = parse_map(split_variable(f"200 023 414 00101={TEST_RECIPIENT} ; {TRANSPORTS}={TEST_RECIPIENT}:SVC-1,"))
    assert mapping.target(PRINCIPAL) == Target(TEST_RECIPIENT, None)
    assert mapping.target("200.023.414.00036") == Target(TEST_RECIPIENT, "SVC-1")
    assert mapping.target("20002341400069") is None
    assert f"{TRANSPORTS}={TEST_RECIPIENT}:SVC-1" in mapping.describe()


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("20002341400101", "expected REAL_SIRET=TEST_SIRET"),
        ("20002341400101=", "the test SIRET (empty) is not a valid SIRET"),
        ("20002341400102=13000001100010", "the real SIRET 20002341400102 is not a valid SIRET"),
        ("20002341400101=13000001100011", "the test SIRET 13000001100011 is not a valid SIRET"),
        ("20002341400101=13000001100010:", "nothing after ':'"),
        ("20002341400101=13000001100010:<b>", "is not a service code"),
    ],
)
def test_bad_map_entries_are_refused_naming_the_entry(entry, says):
    with pytest.raises(ValueError, match="recipient map") as err:
        parse_map([entry])
    assert says in str(err.value)


def test_one_real_recipient_cannot_go_to_two_test_recipients():
    with pytest.raises(ValueError, match="mapped twice"):
        parse_map([f"{PRINCIPAL}={TEST_RECIPIENT}", f"{PRINCIPAL}=13000002900012"])
    assert parse_map([f"{PRINCIPAL}={TEST_RECIPIENT}", f"{PRINCIPAL}={TEST_RECIPIENT}"])  # the same twice is fine


def test_production_never_maps():
    mapping = parse_map([f"{PRINCIPAL}={TEST_RECIPIENT}"])
    assert applies("qualification", mapping) and applies("sandbox", mapping)
    assert not applies("production", mapping)
    assert not applies("qualification", parse_map([]))


# --------------------------------------------------------------------------------------------------
# the rewritten file
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sample",
    ["cii_eau_invoice.xml", "ubl_assainissement_invoice.xml", "facturx_principal_invoice.pdf",
     "odoo_facturx_eau_invoice.pdf", "facturx_transports_invoice.pdf"],
)
def test_buyer_and_seller_replaced_file_still_valid_and_stable(read_sample, sample):
    data = read_sample(sample)
    before = facts_of(data)
    changes = {"buyer": PartyChange(before.buyer_siret, TEST_RECIPIENT),
               "seller": PartyChange(DEMO_SUPPLIER, TEST_SUPPLIER)}
    new = replace_parties(data, **changes)
    after = facts_of(new)
    assert (after.buyer_siret, after.seller_siret) == (TEST_RECIPIENT, TEST_SUPPLIER)
    assert (after.number, after.engagement, after.total_with_tax) == (before.number, before.engagement,
                                                                      before.total_with_tax)
    assert after.service_code is None, "the real service code means nothing to the test recipient"
    assert validate(new).ok
    # The same input gives the same bytes: a journal recognises the file when it is named again.
    assert hashlib.sha256(replace_parties(data, **changes)).digest() == hashlib.sha256(new).digest()
    assert before.buyer_siret.encode() not in extract_xml(new)[1]


def test_test_service_code_is_set_and_a_kept_one_stays(read_sample):
    data = read_sample("facturx_transports_invoice.pdf")
    new = replace_parties(data, buyer=PartyChange(TRANSPORTS, TEST_RECIPIENT), service_code="SERVICE_QUALIF")
    assert facts_of(new).service_code == "SERVICE_QUALIF"
    kept = replace_parties(data, buyer=None, seller=PartyChange(DEMO_SUPPLIER, TEST_SUPPLIER), keep_service=True)
    assert facts_of(kept).service_code == "DIR-MOBILITES"


def test_reform_layout_siren_and_electronic_address_follow():
    siret = f'<ram:ID schemeID="0009">{PRINCIPAL}</ram:ID>'.encode()
    xml = make_cii("FAC-REFORM-1").replace(siret, f'<ram:ID schemeID="0002">{PRINCIPAL[:9]}</ram:ID>'.encode())
    new = replace_parties(xml, buyer=PartyChange(PRINCIPAL, TEST_RECIPIENT))
    assert PRINCIPAL[:9].encode() not in new.split(b"BuyerTradeParty")[1]


def test_pdf_keeps_its_pages_and_other_embedded_files(read_sample):
    from pypdf import PdfReader, PdfWriter

    base = read_sample("facturx_principal_invoice.pdf")
    writer = PdfWriter(clone_from=io.BytesIO(base))
    writer.add_attachment("bon-de-livraison.pdf", b"%PDF-1.4 supporting document")
    out = io.BytesIO()
    writer.write(out)
    with_document = out.getvalue()
    new = replace_parties(with_document, buyer=PartyChange(PRINCIPAL, TEST_RECIPIENT))
    names = {f.name for f in embedded_files(new)}
    assert {"factur-x.xml", "bon-de-livraison.pdf"} <= names
    assert len(PdfReader(io.BytesIO(new)).pages) == len(PdfReader(io.BytesIO(with_document)).pages)
    assert facts_of(new).buyer_siret == TEST_RECIPIENT


def test_a_siret_the_file_does_not_carry_is_refused(read_sample):
    with pytest.raises(InputError, match="does not carry the SIRET 20002341400069"):
        replace_parties(read_sample("facturx_principal_invoice.pdf"),
                        buyer=PartyChange("20002341400069", TEST_RECIPIENT))
