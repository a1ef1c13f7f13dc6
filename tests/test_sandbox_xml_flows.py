"""Structured (E1) flows: the sandbox checks a CII or UBL XML deposit like the platform does.

The declared syntax must match the file (well-formed XML of that syntax, no PDF), supporting documents
travel inside the XML (BG-24, base64) and are shown by the control API, and one that breaks a limit
(type outside EN 16931's list, content that is not base64, Chorus Pro's attached-file limits) makes the
flow end ``IN_REJETE`` with a technical error; a good XML flow is integrated and followed like any other.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.pdf import simple_pdf
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii, make_facturx

from .test_sandbox import Api

UBL_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "invoices" / "ubl_assainissement_invoice.xml"
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CII_SYNTAX, UBL_SYNTAX, FACTURX_SYNTAX = "IN_DP_E1_CII_16B", "IN_DP_E1_UBL_INVOICE", "IN_DP_E2_CII_FACTURX"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _el(ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.Element(f"{{{NS[ns]}}}{tag}", attrs)
    element.text = text
    return element


def cii_with(number: str, documents: list[tuple[str, str, bytes]]) -> bytes:
    """A CII invoice embedding ``(file name, MIME type, bytes)`` documents (BG-24, AttachmentBinaryObject)."""
    root = etree.fromstring(make_cii(number))
    agreement = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement", NS)
    anchor = agreement.find("ram:BuyerOrderReferencedDocument", NS)
    position = list(agreement).index(anchor) + 1
    for name, mime, data in documents:
        document = _el("ram", "AdditionalReferencedDocument")
        document.append(_el("ram", "IssuerAssignedID", name))
        document.append(_el("ram", "TypeCode", "916"))
        document.append(_el("ram", "Name", "PJA"))
        document.append(_el("ram", "AttachmentBinaryObject", base64.b64encode(data).decode(), mimeCode=mime,
                            filename=name))
        agreement.insert(position, document)
        position += 1
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def ubl_with(documents: list[tuple[str, str, bytes | str]]) -> bytes:
    """The UBL sample embedding ``(file name, MIME type, bytes or raw text)`` documents."""
    root = etree.fromstring(UBL_SAMPLE.read_bytes())
    supplier = root.find("cac:AccountingSupplierParty", NS)
    for name, mime, data in documents:
        reference = _el("cac", "AdditionalDocumentReference")
        reference.append(_el("cbc", "ID", name))
        reference.append(_el("cbc", "DocumentDescription", f"Justificatif {name}"))
        attachment = _el("cac", "Attachment")
        content = data if isinstance(data, str) else base64.b64encode(data).decode()
        attachment.append(_el("cbc", "EmbeddedDocumentBinaryObject", content, mimeCode=mime, filename=name))
        reference.append(attachment)
        supplier.addprevious(reference)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer() as sb:
        yield sb


@pytest.fixture
def api(sandbox):
    return Api(sandbox)


def test_the_declared_syntax_must_be_the_file_s(api, sandbox):
    ubl = UBL_SAMPLE.read_bytes()
    cii = make_cii("FAC-E1-0001")
    cases = [
        (cii, "a.xml", UBL_SYNTAX, "format attendu : ubl, format lu : cii"),
        (ubl, "b.xml", CII_SYNTAX, "format attendu : cii, format lu : ubl"),
        (ubl, "c.xml", FACTURX_SYNTAX, "format attendu : facturx_pdf, format lu : ubl"),
        (make_facturx("FAC-E1-0002"), "d.pdf", UBL_SYNTAX, "format lu : facturx_pdf"),
        (cii[:-40], "e.xml", CII_SYNTAX, "format lu : illisible"),  # cut: not well formed
        (b"<Facture xmlns='urn:example'/>", "f.xml", UBL_SYNTAX, "format lu : illisible"),  # another XML
    ]
    before = len(sandbox.deposits())
    for data, name, syntax, reason in cases:
        answer = api.deposit(data, name, syntax)
        assert answer["codeRetour"] == 20003, (name, answer)
        assert "numeroFluxDepot" not in answer and reason in answer["libelle"], (name, answer["libelle"])
    refused = sandbox.deposits()[before:]
    assert [d["outcome"] for d in refused] == ["refused"] * len(cases)
    assert [d["syntaxeFlux"] for d in refused] == [syntax for _d, _n, syntax, _r in cases]


def test_a_ubl_flow_is_integrated_and_followed(api):
    answer = api.deposit(UBL_SAMPLE.read_bytes(), "ubl_chorus_facture_FAC-2026-0005.xml", UBL_SYNTAX)
    assert answer["codeRetour"] == 0 and answer["syntaxeFlux"] == UBL_SYNTAX
    flow = answer["numeroFluxDepot"]
    assert flow.startswith("CPP0011100")  # FSO1100A: the interface of UBL E1 flows
    report = api.report(flow)
    assert report["etatCourantDepotFlux"] == "IN_INTEGRE", report
    invoice = api.invoice_of(flow)
    assert (invoice["numeroFacture"], invoice["statut"]) == ("FAC-2026-0005", "MISE_A_DISPOSITION")


def test_documents_travel_inside_a_cii_flow(api, sandbox):
    delivery_note = simple_pdf(["Bon de livraison 12"])
    timesheet = b"jour;heures\n1;7\n2;8\n"
    data = cii_with("FAC-E1-0003", [("bon-livraison.pdf", "application/pdf", delivery_note),
                                    ("heures.csv", "text/csv", timesheet)])
    flow = api.deposit(data, "cii_chorus_facture_FAC-E1-0003.xml", CII_SYNTAX)["numeroFluxDepot"]
    assert api.report(flow)["etatCourantDepotFlux"] == "IN_INTEGRE"
    (document,) = sandbox.flow_embedded(flow)["documents"]
    files = {f["name"]: f for f in document["embedded"]}
    assert set(files) == {"bon-livraison.pdf", "heures.csv"}
    assert files["heures.csv"]["sha256"] == hashlib.sha256(timesheet).hexdigest()
    assert files["bon-livraison.pdf"]["size"] == len(delivery_note)
    assert (files["bon-livraison.pdf"]["mime_type"], files["bon-livraison.pdf"]["relationship"]) == (
        "application/pdf", "BG-24")


def test_documents_that_cannot_travel_in_an_xml_flow_reject_it(api, sandbox):
    data = ubl_with([
        ("compte-rendu.docx", DOCX, b"PK\x03\x04" + bytes(50)),  # Chorus Pro accepts .docx, EN 16931 does not
        ("photo.png", "image/png", "%%% pas du base 64 %%%"),
        ("setup.exe", "application/octet-stream", b"MZ"),
        ("plan.pdf", "application/pdf", simple_pdf(["plan"])),  # fine
    ])
    flow = api.deposit(data, "ubl.xml", UBL_SYNTAX)["numeroFluxDepot"]  # acknowledged: checked at integration
    report = api.report(flow)
    assert report["etatCourantDepotFlux"] == "IN_REJETE", report
    labels = [e["libelleErreur"] for e in report["listeErreurTechnique"] if e["codeErreur"] == "REJ_PIECE_JOINTE"]
    assert any("compte-rendu.docx" in label and DOCX in label for label in labels), labels
    assert any("photo.png" in label and "base 64" in label for label in labels), labels
    assert any("setup.exe" in label and ".exe" in label for label in labels), labels
    assert not any("plan.pdf" in label for label in labels), labels
    assert api.search(numeroFluxDepot=flow)["listeFactures"] == []
    names = {f["name"] for f in sandbox.flow_embedded(flow)["documents"][0]["embedded"]}
    assert names == {"compte-rendu.docx", "photo.png", "setup.exe", "plan.pdf"}
