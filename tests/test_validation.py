"""Validation of Factur-X / CII / UBL invoices: input safety, XSD, Schematron, Chorus Pro routing.

The Schematron stylesheets are compiled once per process (module cache of core.validation), so
the first test that needs them pays ~2 s and the others ~50 ms per invoice.
"""

from __future__ import annotations

import http.server
import importlib.util
import io
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from odoo_chorus_rouen.core import validation, validation_artefacts, validation_input, validation_schematron
from odoo_chorus_rouen.core.budgets import Requirements
from odoo_chorus_rouen.core.errors import InputError, XmlValidationError
from odoo_chorus_rouen.core.validation import (
    Format,
    InvoiceFacts,
    check_routing,
    detect_format,
    extract_xml,
    read_facts,
    validate,
)
from odoo_chorus_rouen.core.validation_schematron import DIRECT_LAYOUT_NOT_APPLICABLE

ROOT = Path(__file__).resolve().parent.parent
INVOICES = ROOT / "data" / "invoices"
RAM = validation_input.NS_RAM
NS = {"rsm": validation_input.NS_RSM, "ram": RAM, "udt": validation_input.NS_UDT}

GOOD = {
    "facturx_principal_invoice.pdf": (Format.FACTURX_PDF, "FAC-2026-0001", "20002341400101", "380"),
    "facturx_transports_invoice.pdf": (Format.FACTURX_PDF, "FAC-2026-0002", "20002341400036", "380"),
    "cii_eau_invoice.xml": (Format.CII, "FAC-2026-0003", "20002341400069", "380"),
    "facturx_dechets_credit_note.pdf": (Format.FACTURX_PDF, "AV-2026-0001", "20002341400028", "381"),
    "ubl_assainissement_invoice.xml": (Format.UBL, "FAC-2026-0005", "20002341499004", "380"),
}
# Each broken sample fails for exactly the reason its name gives, and for nothing else.
BROKEN = {
    "broken_missing_engagement.pdf": {"CHORUS-ENGAGEMENT"},
    "broken_wrong_siret.pdf": {"CHORUS-BUYER-SIRET"},
    "broken_schema_error.xml": {"XSD"},
    "broken_credit_note_without_reference.pdf": {"BR-FR-CO-05", "CHORUS-PRECEDING-INVOICE"},
}
# The reform rules a direct-layout invoice cannot meet: reported as "info", never as errors.
DIRECT_INFO_RULES = {"BR-FR-08", "BR-FR-10", "BR-FR-12", "BR-FR-13"}


def sample(name: str) -> bytes:
    return (INVOICES / name).read_bytes()


def cii_of(name: str) -> etree._Element:
    return etree.fromstring(extract_xml(sample(name))[1])


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------------------------
# The samples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_sample_passes_all_three_layers(name):
    fmt, number, buyer_siret, type_code = GOOD[name]
    report = validate(sample(name))
    assert report.ok, [str(f) for f in report.errors]
    assert report.errors == []
    assert report.warnings == [], [str(f) for f in report.warnings]
    assert report.format is fmt
    assert report.facts.number == number
    assert report.facts.buyer_siret == buyer_siret
    assert report.facts.type_code == type_code
    assert report.facts.seller_siret == "88412345600011"
    # the only remarks are the reform rules that do not apply to a direct deposit
    assert {f.rule for f in report.infos} == DIRECT_INFO_RULES
    assert all("direct deposit" in f.message for f in report.infos)


def test_invoice_made_by_the_odoo_addon_passes_all_three_layers():
    """What the addon really sends: made by Odoo 18's exporter + the Chorus corrections, in the lab."""
    report = validate(sample("odoo_facturx_eau_invoice.pdf"))
    assert report.errors == [] and report.warnings == [], [str(f) for f in report.errors + report.warnings]
    assert report.format is Format.FACTURX_PDF
    facts = report.facts
    assert facts.number == "INV/2026/00008"
    assert (facts.buyer_siret, facts.seller_siret) == ("20002341400069", "88412345600011")
    assert facts.engagement == "EJ2026-000303" and facts.business_process == "A1"
    assert facts.iban == "FR7630006000011234567890189" and facts.payment_means_code == "30"
    # Odoo also writes the SIRETs as BT-29/BT-46 GlobalIDs: BR-FR-09 (SIRET starts with a SIREN) is informational too
    assert {f.rule for f in report.infos} == DIRECT_INFO_RULES | {"BR-FR-09"}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_sample_fails_for_exactly_its_reason(name):
    report = validate(sample(name))
    assert not report.ok
    assert report.rules("error") == BROKEN[name], [str(f) for f in report.errors]
    assert report.warnings == []


def test_missing_engagement_names_the_field_and_the_fix():
    (finding,) = validate(sample("broken_missing_engagement.pdf")).errors
    assert finding.layer == "chorus" and finding.bt == "BT-13"
    assert "Budget Principal" in finding.message and "engagement" in finding.message.lower()
    assert "purchase order" in finding.message


def test_wrong_siret_is_caught_by_its_check_digit():
    report = validate(sample("broken_wrong_siret.pdf"))
    (finding,) = report.errors
    assert finding.rule == "CHORUS-BUYER-SIRET" and finding.bt == "BT-47"
    assert "20002341400102" in finding.message and "check digit" in finding.message
    # an unknown (invalid) buyer demands nothing: no engagement error on top of the SIRET one
    assert report.facts.engagement == "EJ2026-000101"


def test_schema_error_points_at_the_element():
    (finding,) = validate(sample("broken_schema_error.xml")).errors
    assert finding.layer == "xsd"
    assert "ram:BuyerReference" in finding.message and "not expected" in finding.message
    assert finding.location.startswith("line ")
    assert "ApplicableHeaderTradeAgreement/ram:BuyerReference" in finding.location


def test_credit_note_without_reference_fails_in_both_rule_sets():
    report = validate(sample("broken_credit_note_without_reference.pdf"))
    by_rule = {f.rule: f for f in report.errors}
    assert by_rule["BR-FR-CO-05"].layer == "schematron" and by_rule["BR-FR-CO-05"].bt == "BT-3"
    assert by_rule["CHORUS-PRECEDING-INVOICE"].bt == "BT-25"
    # and a credit note is not asked for a payment means
    assert "CHORUS-PAYMENT-MEANS" not in report.rules(None)


def test_invoice_numbers_are_unique_across_samples():
    numbers = [validate(sample(p.name), layers=()).facts.number for p in sorted(INVOICES.iterdir())
               if p.suffix in (".pdf", ".xml")]
    assert len(numbers) == len(GOOD) + len(BROKEN) + 1  # + the file made by the Odoo addon
    assert len(numbers) == len(set(numbers))


def _load_make_samples():
    """data/make_samples.py as a module (it is a script, not part of the package)."""
    if "make_samples" not in sys.modules:
        spec = importlib.util.spec_from_file_location("make_samples", ROOT / "data" / "make_samples.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_samples"] = module  # dataclasses look their module up while being created
        spec.loader.exec_module(module)
    return sys.modules["make_samples"]


def test_samples_are_reproducible_and_up_to_date(tmp_path):
    make_samples = _load_make_samples()
    assert make_samples.main([str(tmp_path)]) == 0
    for produced in sorted(tmp_path.iterdir()):
        assert produced.read_bytes() == (INVOICES / produced.name).read_bytes(), (
            f"{produced.name} differs: run python3 data/make_samples.py")


@pytest.mark.parametrize(("name", "level"), [("facturx_principal_invoice.pdf", "EN 16931"),
                                             ("facturx_transports_invoice.pdf", "EXTENDED")])
def test_facturx_xmp_level_matches_the_xml_profile(name, level):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(sample(name)))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert f"<fx:ConformanceLevel>{level}</fx:ConformanceLevel>".encode() in xmp
    assert b"<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    profile = read_facts(sample(name)).profile
    assert validation_artefacts.PROFILE_LEVELS[profile] == {"EN 16931": "en16931", "EXTENDED": "extended"}[level]


def test_facts_of_a_ubl_invoice():
    facts = read_facts(sample("ubl_assainissement_invoice.xml"))
    assert facts.service_code == "DIR-ASSAINISSEMENT"
    assert facts.engagement == "EJ2026-990045"
    assert facts.iban == "FR7630006000011234567890189"
    assert facts.payment_means_code == "30"
    assert facts.business_process == "A1"
    assert str(facts.total_with_tax) == "2844.00"
    assert facts.issue_date.isoformat() == "2026-10-09"
    assert not facts.is_credit_note


def test_facts_of_a_credit_note():
    facts = read_facts(extract_xml(sample("facturx_dechets_credit_note.pdf"))[1], Format.CII)
    assert facts.is_credit_note
    assert facts.preceding_invoice == "FAC-2026-0097"
    assert facts.payment_means_code is None
    assert facts.to_dict()["is_credit_note"] is True


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------


def test_reform_layout_turns_the_direct_only_remarks_into_errors():
    report = validate(sample("facturx_principal_invoice.pdf"), layout="reform")
    assert DIRECT_INFO_RULES <= report.rules("error")
    assert report.infos == []
    # and says where the reform wants the buyer's SIRET
    assert any(f.rule == "CHORUS-BUYER-SIRET" and f.bt == "BT-46" for f in report.errors)


def _to_reform_layout(root: etree._Element) -> etree._Element:
    """SIREN under 0002 in BT-30/47, SIRET under 0009 in BT-29/46, BT-23 S1, addresses 0225."""
    root.find(".//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID", NS).text = "S1"
    for party in ("SellerTradeParty", "BuyerTradeParty"):
        node = root.find(f".//ram:{party}", NS)
        legal = node.find("ram:SpecifiedLegalOrganization/ram:ID", NS)
        siret = legal.text
        legal.text, legal.attrib["schemeID"] = siret[:9], "0002"
        global_id = etree.Element(f"{{{RAM}}}GlobalID", schemeID="0009")
        global_id.text = siret
        node.insert(0, global_id)
        uri = etree.Element(f"{{{RAM}}}URIUniversalCommunication")
        etree.SubElement(uri, f"{{{RAM}}}URIID", schemeID="0225").text = siret[:9]
        node.find("ram:PostalTradeAddress", NS).addnext(uri)
    return root


def test_the_same_invoice_in_the_reform_layout_passes_the_reform_rules():
    xml = to_bytes(_to_reform_layout(cii_of("facturx_principal_invoice.pdf")))
    report = validate(xml, layout="reform")
    assert report.ok, [str(f) for f in report.errors]
    facts = report.facts
    assert facts.buyer_siret == "20002341400101" and facts.buyer_global_siret == "20002341400101"
    assert facts.buyer_legal_id == "200023414"


def test_notes_pmt_pmd_aab_are_required_in_the_direct_layout_too():
    root = cii_of("facturx_principal_invoice.pdf")
    for note in root.findall(".//ram:IncludedNote", NS):
        if note.find("ram:SubjectCode", NS) is not None:
            note.getparent().remove(note)
    report = validate(to_bytes(root))
    assert report.rules("error") == {"BR-FR-05"}
    assert {f.message.split(":")[0] for f in report.errors} == {"BR-FR-05/BT-22 "}
    assert len(report.errors) == 3  # PMT, PMD and AAB, each named


def test_direct_layout_list_is_explicit_and_documented():
    assert DIRECT_INFO_RULES <= set(DIRECT_LAYOUT_NOT_APPLICABLE)
    assert "BR-FR-05" not in DIRECT_LAYOUT_NOT_APPLICABLE
    assert all(reason for reason in DIRECT_LAYOUT_NOT_APPLICABLE.values())


def test_odoo18_style_output_is_told_what_to_correct():
    """Odoo 18's exporter: SIRET under 0002, IBAN as ProprietaryID, payment means 42, no BT-23."""
    root = cii_of("facturx_principal_invoice.pdf")
    for legal in root.findall(".//ram:SpecifiedLegalOrganization/ram:ID", NS):
        legal.attrib["schemeID"] = "0002"
    iban = root.find(".//ram:IBANID", NS)
    iban.tag = f"{{{RAM}}}ProprietaryID"
    root.find(".//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode", NS).text = "42"
    context = root.find("rsm:ExchangedDocumentContext", NS)
    context.remove(context.find("ram:BusinessProcessSpecifiedDocumentContextParameter", NS))
    report = validate(to_bytes(root))
    assert report.rules("error") == {"CHORUS-IBAN"}
    (iban_finding,) = report.errors
    assert "ProprietaryID" in iban_finding.message and "IBANID" in iban_finding.message
    assert {"BR-FR-32", "CHORUS-BUSINESS-PROCESS"} <= report.rules("info")
    assert report.facts.buyer_siret == "20002341400101"  # a 14-digit BT-47 is read as the SIRET


# --------------------------------------------------------------------------------------------
# Chorus Pro routing rules on facts
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def invoice_facts() -> InvoiceFacts:
    return read_facts(sample("facturx_principal_invoice.pdf"))


@pytest.fixture(scope="module")
def credit_facts() -> InvoiceFacts:
    return read_facts(sample("facturx_dechets_credit_note.pdf"))


def errors_of(findings) -> set[str]:
    return {f.rule for f in findings if f.severity == "error"}


def test_routing_of_a_good_invoice_is_clean(invoice_facts):
    assert check_routing(invoice_facts) == []


@pytest.mark.parametrize("key", ["20002341400101", "200 023 414 00101", "200-023-414-00101"])
def test_service_code_required_by_mapping_any_spacing(invoice_facts, key):
    findings = check_routing(invoice_facts, {key: Requirements(service_code=True)})
    assert errors_of(findings) == {"CHORUS-SERVICE-CODE"}
    assert findings[0].bt == "BT-10" and "Service Exécutant" in findings[0].message


def test_requirements_from_a_callable(invoice_facts):
    seen = []

    def directory(siret):
        seen.append(siret)
        return Requirements(service_or_engagement=True)

    assert check_routing(replace(invoice_facts, engagement=None), directory)[0].rule == "CHORUS-SERVICE-OR-ENGAGEMENT"
    assert seen == ["20002341400101"]
    assert check_routing(invoice_facts, lambda siret: None) == []


def test_unknown_buyer_demands_nothing_by_default(invoice_facts):
    other = replace(invoice_facts, buyer_siret="88412345600011", engagement=None)  # a valid, non-budget SIRET
    assert check_routing(other) == []
    assert errors_of(check_routing(replace(invoice_facts, engagement=None))) == {"CHORUS-ENGAGEMENT"}


@pytest.mark.parametrize(
    ("changes", "rule", "bt"),
    [
        ({"buyer_siret": None, "buyer_legal_id": None}, "CHORUS-BUYER-SIRET", "BT-47"),
        ({"buyer_siret": "2000234140010"}, "CHORUS-BUYER-SIRET", "BT-47"),
        ({"seller_siret": "88412345600012"}, "CHORUS-SELLER-SIRET", "BT-30"),
        ({"seller_siret": None}, "CHORUS-SELLER-SIRET", "BT-30"),
        ({"engagement": "E" * 51}, "CHORUS-ENGAGEMENT-LENGTH", "BT-13"),
        ({"number": "FAC-2026-000000000001"}, "CHORUS-INVOICE-NUMBER-LENGTH", "BT-1"),
        ({"number": "FAC 2026#1"}, "CHORUS-INVOICE-NUMBER-FORMAT", "BT-1"),
        ({"number": None}, "CHORUS-INVOICE-NUMBER", "BT-1"),
        ({"type_code": "999"}, "CHORUS-TYPE-CODE", "BT-3"),
        ({"payment_means_code": None, "iban": None}, "CHORUS-PAYMENT-MEANS", "BT-81"),
        ({"iban": "FR7630006000011234567890188"}, "CHORUS-IBAN", "BT-84"),
        ({"iban": None}, "CHORUS-IBAN", "BT-84"),
        ({"currency": None}, "CHORUS-CURRENCY", "BT-5"),
    ],
)
def test_each_routing_rule(invoice_facts, changes, rule, bt):
    findings = [f for f in check_routing(replace(invoice_facts, **changes)) if f.severity == "error"]
    assert [(f.rule, f.bt) for f in findings] == [(rule, bt)]
    assert findings[0].layer == "chorus" and len(findings[0].message) > 40


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"currency": "USD"}, "CHORUS-CURRENCY"),
        ({"type_code": "386"}, "CHORUS-TYPE-CODE"),  # reform list, not a legacy direct-deposit code
        ({"payment_means_code": "49"}, "CHORUS-PAYMENT-MEANS"),
        ({"business_process": "S1"}, "CHORUS-BUSINESS-PROCESS"),
    ],
)
def test_routing_warnings_do_not_block(invoice_facts, changes, rule):
    findings = check_routing(replace(invoice_facts, **changes))
    assert [(f.rule, f.severity) for f in findings] == [(rule, "warning")]


def test_credit_note_rules(credit_facts):
    assert check_routing(credit_facts) == []
    assert errors_of(check_routing(replace(credit_facts, preceding_invoice=None))) == {"CHORUS-PRECEDING-INVOICE"}
    with_means = check_routing(replace(credit_facts, payment_means_code="30", iban="FR7630006000011234567890189"))
    assert [(f.rule, f.severity) for f in with_means] == [("CHORUS-CREDIT-NOTE-PAYMENT-MEANS", "warning")]


def test_reform_layout_wants_the_siret_in_bt46(invoice_facts):
    findings = check_routing(invoice_facts, layout="reform")
    assert [(f.rule, f.bt) for f in findings] == [("CHORUS-BUYER-SIRET", "BT-46")]
    assert check_routing(replace(invoice_facts, buyer_global_siret="20002341400101"), layout="reform") == []


def test_bad_layout_or_layer_is_a_programming_error(invoice_facts):
    with pytest.raises(ValueError):
        check_routing(invoice_facts, layout="portal")
    with pytest.raises(ValueError):
        validate(sample("cii_eau_invoice.xml"), layers=("xsd", "pdfa"))
    with pytest.raises(ValueError):
        validate(sample("cii_eau_invoice.xml"), layout="portal")


# --------------------------------------------------------------------------------------------
# Bad input: never a crash, always a clear finding
# --------------------------------------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">&lol9;\
</rsm:CrossIndustryInvoice>"""


def xxe(uri: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE rsm:CrossIndustryInvoice [<!ENTITY x SYSTEM "{uri}">]>'
            '<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">'
            "<rsm:ExchangedDocument>&x;</rsm:ExchangedDocument></rsm:CrossIndustryInvoice>").encode()


def only_input_finding(report, rule: str):
    assert [f.rule for f in report.findings] == [rule], [str(f) for f in report.findings]
    finding = report.findings[0]
    assert finding.layer == "input" and finding.severity == "error" and not report.ok
    return finding


def test_truncated_pdf():
    report = validate(sample("facturx_principal_invoice.pdf")[:3000])
    finding = only_input_finding(report, "INPUT-PDF-UNREADABLE")
    assert "truncated" in finding.message


def test_pdf_without_embedded_xml():
    make_samples = _load_make_samples()
    finding = only_input_finding(validate(make_samples.simple_pdf(["plain"], "x")), "INPUT-PDF-WITHOUT-XML")
    assert "factur-x.xml" in finding.message


def test_pdf_with_another_attachment_names_it():
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("order.xml", b"<order/>")
    out = io.BytesIO()
    writer.write(out)
    finding = only_input_finding(validate(out.getvalue()), "INPUT-PDF-WITHOUT-XML")
    assert "order.xml" in finding.message


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "INPUT-EMPTY-FILE"),
        (b"\x00\x01\x02 binary garbage", "INPUT-UNKNOWN-FORMAT"),
        (b"PK\x03\x04 a zip", "INPUT-UNKNOWN-FORMAT"),
        (b"<rsm:CrossIndustryInvoice xmlns:rsm='urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100'>"
         b"<a></rsm:CrossIndustryInvoice>", "INPUT-XML-NOT-WELL-FORMED"),
        (b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>", "INPUT-UNKNOWN-ROOT"),
        (b"<?xml version='1.0'?><html><body>invoice</body></html>", "INPUT-UNKNOWN-ROOT"),
        (b"<!DOCTYPE r SYSTEM 'http://127.0.0.1:9/evil.dtd'><r/>", "INPUT-XML-DOCTYPE"),
    ],
)
def test_unusable_input_becomes_a_finding(data, rule):
    finding = only_input_finding(validate(data), rule)
    assert finding.message.endswith(".") or "expected" in finding.message
    with pytest.raises(InputError):
        extract_xml(data)


def test_xml_bomb_is_refused_quickly():
    start = time.perf_counter()
    finding = only_input_finding(validate(BOMB), "INPUT-XML-ENTITIES")
    assert time.perf_counter() - start < 2
    assert "bomb" in finding.message


def test_external_entity_to_a_local_file_is_never_read():
    report = validate(xxe("file:///etc/passwd"))
    only_input_finding(report, "INPUT-XML-ENTITIES")
    assert report.xml is None and report.facts is None
    assert "root:" not in repr(report)


@pytest.fixture
def counting_server():
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<!ENTITY y 'pwned'>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_external_entity_over_http_is_never_fetched(counting_server):
    url, hits = counting_server
    only_input_finding(validate(xxe(f"{url}/secret")), "INPUT-XML-ENTITIES")
    only_input_finding(validate(f"<!DOCTYPE r SYSTEM '{url}/evil.dtd'><r/>".encode()), "INPUT-XML-DOCTYPE")
    assert hits == []


def test_external_entity_inside_a_facturx_pdf(counting_server):
    from pypdf import PdfWriter

    url, hits = counting_server
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("factur-x.xml", xxe(f"{url}/secret"))
    out = io.BytesIO()
    writer.write(out)
    only_input_finding(validate(out.getvalue()), "INPUT-XML-ENTITIES")
    assert hits == []


def test_saxon_may_only_read_local_files(tmp_path, counting_server):
    url, hits = counting_server
    stylesheet = tmp_path / "fetch.xsl"
    stylesheet.write_text(
        '<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        f'<xsl:template match="/"><r><xsl:value-of select="unparsed-text(\'{url}/x\')"/></r></xsl:template>'
        "</xsl:stylesheet>")
    with validation_schematron._SAXON_LOCK:
        processor, xslt = validation_schematron._saxon_processor()
        executable = xslt.compile_stylesheet(stylesheet_file=str(stylesheet))
        with pytest.raises(Exception, match="prohibited"):
            executable.transform_to_string(xdm_node=processor.parse_xml(xml_text="<a/>"))
    assert hits == []


def test_file_over_the_size_limit_is_refused_without_being_read(tmp_path):
    big = tmp_path / "huge_invoice.pdf"
    with open(big, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: takes no disk space
    tracemalloc.start()
    try:
        report = validate(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    finding = only_input_finding(report, "INPUT-FILE-TOO-LARGE")
    assert "200.0 MB" in finding.message and "10.0 MB" in finding.message
    assert peak < 5 * 1024 * 1024
    with pytest.raises(InputError) as err:
        validation_input.load_file(big)
    assert err.value.code == "file_too_large"


def test_max_size_is_a_parameter():
    data = sample("cii_eau_invoice.xml")
    only_input_finding(validate(data, max_size=1024), "INPUT-FILE-TOO-LARGE")
    assert validate(data, max_size=len(data), layers=("chorus",)).ok
    # the XML embedded in a PDF is measured too
    with pytest.raises(InputError):
        validation_input._xml_from_pdf(sample("facturx_principal_invoice.pdf"), max_size=100)


def test_a_path_is_accepted(tmp_path):
    path = tmp_path / "invoice.xml"
    path.write_bytes(sample("cii_eau_invoice.xml"))
    assert validate(path, layers=("chorus",)).facts.number == "FAC-2026-0003"


@pytest.mark.parametrize("seed", range(12))
def test_damaged_files_never_raise(seed):
    rng = random.Random(seed)
    data = bytearray(sample(rng.choice(sorted(GOOD))))
    for _ in range(rng.randint(1, 20)):
        operation = rng.random()
        position = rng.randrange(len(data))
        if operation < 0.4:
            data[position] = rng.randrange(256)
        elif operation < 0.7:
            del data[position:position + rng.randint(1, 400)]
        else:
            data = data[:position] if position > 10 else data
    report = validate(bytes(data))
    assert isinstance(report.findings, list)
    assert report.ok or report.errors  # a verdict either way, never an exception


# --------------------------------------------------------------------------------------------
# Helpers, tooling, timings
# --------------------------------------------------------------------------------------------


def test_detect_format():
    assert detect_format(sample("facturx_principal_invoice.pdf")) is Format.FACTURX_PDF
    assert detect_format(sample("cii_eau_invoice.xml")) is Format.CII
    assert detect_format(sample("ubl_assainissement_invoice.xml")) is Format.UBL
    assert detect_format(b"\xef\xbb\xbf<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>") \
        is Format.UBL
    assert detect_format(b"<CreditNote xmlns='urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2'/>") \
        is Format.UBL
    with pytest.raises(InputError, match="Unknown XML document"):
        detect_format(b"<Invoice/>")
    with pytest.raises(InputError):
        detect_format(b"")


def test_extract_xml_returns_the_embedded_cii():
    fmt, xml = extract_xml(sample("facturx_transports_invoice.pdf"))
    assert fmt is Format.FACTURX_PDF
    assert etree.fromstring(xml).tag == validation_input.CII_ROOT
    assert extract_xml(sample("cii_eau_invoice.xml")) == (Format.CII, sample("cii_eau_invoice.xml"))


def test_read_facts_checks_the_format():
    with pytest.raises(InputError):
        read_facts(sample("cii_eau_invoice.xml"), Format.UBL)
    with pytest.raises(InputError):
        read_facts(b"<broken")


def test_timings_per_layer_and_compile_time_apart():
    validation.warm_up()
    assert validation.warm_up() < 0.5  # everything is cached now
    times = validation.compile_times()
    assert times["cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt"] > 0
    assert times["facturx-extended/FACTUR-X_EXTENDED.xslt"] > 0
    report = validate(sample("facturx_transports_invoice.pdf"))
    assert set(report.timings) == {"input", "xsd", "schematron", "chorus", "total"}
    assert all(value >= 0 for value in report.timings.values())
    assert report.timings["total"] >= report.timings["schematron"]
    only_chorus = validate(sample("facturx_transports_invoice.pdf"), layers=("chorus",))
    assert set(only_chorus.timings) == {"input", "chorus", "total"}


def test_report_serializes(tmp_path):
    import json

    report = validate(sample("broken_missing_engagement.pdf"))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["format"] == "facturx_pdf" and data["layout"] == "direct"
    assert data["facts"]["number"] == "FAC-2026-0006"
    assert {f["rule"] for f in data["findings"] if f["severity"] == "error"} == {"CHORUS-ENGAGEMENT"}


def test_schematron_tool_failure_is_reported_not_raised(monkeypatch):
    def broken():
        raise XmlValidationError(params={"reason": "saxonche is not installed"})

    monkeypatch.setattr(validation_schematron, "_saxon_processor", broken)
    report = validate(sample("cii_eau_invoice.xml"))
    assert report.rules("error") == {"SCHEMATRON-UNAVAILABLE"}
    assert "saxonche" in report.errors[0].message


def test_importing_the_core_does_not_load_saxon():
    code = ("import sys, time; t = time.perf_counter(); import odoo_chorus_rouen.core.validation, "
            "odoo_chorus_rouen.core.payload; print(round(time.perf_counter() - t, 3)); "
            "assert 'saxonche' not in sys.modules, 'saxonche imported eagerly'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip()) < 1.5


def test_concurrent_validations_give_the_same_answers():
    names = sorted(GOOD) + sorted(BROKEN)
    expected = {name: validate(sample(name)).rules(None) for name in names}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda name: (name, validate(sample(name)).rules(None)), names * 2))
    for name, rules in results:
        assert rules == expected[name]


def test_facturx_xmp_level_must_match_the_xml_profile():
    """Odoo 18 writes 'EN 16931' in the XMP and the EXTENDED URN in the XML: validators reject that."""
    import facturx

    make_samples = _load_make_samples()
    xml = extract_xml(sample("facturx_principal_invoice.pdf"))[1]  # EN 16931
    pdf = facturx.generate_from_binary(make_samples.simple_pdf(["x"], "x"), xml, level="extended", check_xsd=False)
    report = validate(pdf)
    assert report.rules("error") == {"FACTURX-XMP-LEVEL"}
    (finding,) = report.errors
    assert "'EXTENDED'" in finding.message and "'EN 16931'" in finding.message and finding.bt == "BT-24"


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")
def test_validation_works_in_a_forked_worker():
    """Odoo's prefork workers fork after the parent may have used Saxon: the child makes its own."""
    import multiprocessing

    validate(sample("cii_eau_invoice.xml"))  # the parent has a Saxon processor now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        rules = pool.apply_async(_rules_of, ("broken_missing_engagement.pdf",)).get(timeout=60)
    assert rules == {"CHORUS-ENGAGEMENT"}


def _rules_of(name: str) -> set[str]:
    return validate(sample(name)).rules("error")


def test_an_unexpected_tool_failure_is_a_finding_not_a_crash(monkeypatch):
    def boom(*args):
        raise RuntimeError("lxml exploded")

    monkeypatch.setattr(validation, "xsd_findings", boom)
    report = validate(sample("cii_eau_invoice.xml"))
    assert report.rules("error") == {"XSD-UNAVAILABLE"} and "lxml exploded" in report.errors[0].message
    monkeypatch.setattr(validation, "load_document", boom)
    only_input_finding(validate(sample("cii_eau_invoice.xml")), "INPUT-UNREADABLE")


def test_schematrons_run_under_odoo_s_address_space_limit(invoices_dir):
    """Odoo caps every worker's address space (limit_memory_hard, 2.5 GB): Saxon would kill the process.

    The validation then runs the Schematrons in a child process and gives the same findings.
    """
    import subprocess
    import sys

    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2560 * 1024 * 1024, resource.RLIM_INFINITY))\n"
        "from odoo_chorus_rouen.core.validation import validate\n"
        "for name in sys.argv[1:]:\n"
        "    report = validate(open(name, 'rb').read())\n"
        "    print(report.ok, ','.join(sorted(report.rules())))\n"
    )
    files = [str(invoices_dir / "cii_eau_invoice.xml"), str(invoices_dir / "broken_credit_note_without_reference.pdf")]
    result = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True ", "False BR-FR-CO-05,CHORUS-PRECEDING-INVOICE"]
