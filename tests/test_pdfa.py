"""The structural PDF/A-3 checker (core.pdfa) and the embedded-file reader, on files built here.

The Odoo test (odoo_chorus_rouen/tests/test_documents.py) runs the same checker on the file the
send job really deposits; here each rule is shown to catch what it is meant to catch.
"""

from __future__ import annotations

import io

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from odoo_chorus_rouen.core.pdfa import check_pdfa3, embedded_files, facturx_level, xmp_info
from odoo_chorus_rouen.sandbox.pdf import simple_pdf
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

FAKE_ICC = bytes(36) + b"acsp" + bytes(88)  # 128 bytes: an ICC header is all the checker reads


def facturx_pdf(attachments: dict | None = None, level: str = "en16931", xml: bytes | None = None) -> bytes:
    return facturx.generate_from_binary(
        simple_pdf(["Facture FX-1"]),
        xml or make_cii("FX-1"),
        flavor="factur-x",
        level=level,
        check_xsd=False,
        attachments=attachments or {},
    )


def pdfa_like(data: bytes, *, output_intent: bool = True, file_id: bool = True, embed_fonts: bool = True) -> bytes:
    """``data`` with what a PDF/A conversion adds (or without the parts a test drops)."""
    writer = PdfWriter(clone_from=io.BytesIO(data))
    if output_intent:
        profile = DecodedStreamObject()
        profile.set_data(FAKE_ICC)
        profile[NameObject("/N")] = NumberObject(3)
        intent = DictionaryObject({
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB"),
            NameObject("/DestOutputProfile"): writer._add_object(profile),
        })
        writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
    if embed_fonts:
        for page in writer.pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                font_file = DecodedStreamObject()
                font_file.set_data(b"\x00\x01\x00\x00 not a real font")
                font[NameObject("/FontDescriptor")] = writer._add_object(DictionaryObject({
                    NameObject("/Type"): NameObject("/FontDescriptor"),
                    NameObject("/FontName"): NameObject("/Helvetica"),
                    NameObject("/FontFile2"): writer._add_object(font_file),
                }))
    # Document information = what the XMP says (factur-x writes Keywords the XMP lacks).
    xmp = etree.fromstring(writer._root_object["/Metadata"].get_object().get_data())
    writer.metadata = xmp_info(xmp)
    if file_id:
        writer._ID = ArrayObject([TextStringObject("a" * 16), TextStringObject("a" * 16)])
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    if not file_id:
        assert not PdfReader(io.BytesIO(data)).trailer.get("/ID") or pytest.skip("pypdf always writes an /ID")
    return data


def codes(data: bytes) -> list[str]:
    return [problem.code for problem in check_pdfa3(data)]


DOCS = {
    "bon-livraison.pdf": {"filedata": simple_pdf(["BL 12"]), "description": "Bon de livraison", "afrelationship":
                          "supplement"},
    "releve-heures.csv": {"filedata": b"jour;heures\n1;7\n", "description": "Relevé d'heures",
                          "afrelationship": "supplement"},
}


def test_a_plain_facturx_only_declares_pdfa3():
    """What the factur-x library alone produces: XMP says PDF/A-3, the structure does not follow."""
    problems = codes(facturx_pdf())
    assert "output_intent" in problems and "font_not_embedded" in problems
    assert "info" in problems  # /Keywords in the document information, absent from the XMP
    assert "xmp" not in problems and "af" not in problems


@pytest.mark.parametrize("attachments", [None, DOCS], ids=["alone", "with-documents"])
def test_structure_passes_with_and_without_documents(attachments):
    assert check_pdfa3(pdfa_like(facturx_pdf(attachments))) == []


def test_missing_output_intent_and_fonts_are_named():
    problems = check_pdfa3(pdfa_like(facturx_pdf(), output_intent=False, embed_fonts=False))
    assert [p.code for p in problems] == ["output_intent", "font_not_embedded"]
    assert "Helvetica" in problems[1].message


def test_conformance_level_must_match_bt24():
    # BASIC XML in a PDF whose XMP says EN 16931.
    basic = make_cii("FX-2").replace(
        b"<ram:ID>urn:cen.eu:en16931:2017</ram:ID>",
        b"<ram:ID>urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic</ram:ID>",
    )
    assert facturx_level(basic) == "BASIC"
    problems = check_pdfa3(pdfa_like(facturx_pdf(xml=basic, level="en16931")))
    assert [p.code for p in problems] == ["xmp"]
    assert "EN 16931" in problems[0].message and "BASIC" in problems[0].message


def test_every_embedded_file_must_be_in_af_with_a_relationship():
    data = pdfa_like(facturx_pdf(DOCS))
    writer = PdfWriter(clone_from=io.BytesIO(data))
    af = writer._root_object["/AF"].get_object()
    del af[0]  # the first file (sorted by name: bon-livraison.pdf) is no longer listed
    names = writer._root_object["/Names"]["/EmbeddedFiles"]["/Names"]
    spec = names[5].get_object()  # releve-heures.csv (after bon-livraison.pdf and factur-x.xml)
    del spec["/AFRelationship"]
    out = io.BytesIO()
    writer.write(out)
    problems = check_pdfa3(out.getvalue())
    messages = " ".join(p.message for p in problems)
    assert {p.code for p in problems} == {"af"}
    assert "bon-livraison.pdf is not listed" in messages and "releve-heures.csv has no valid" in messages


def test_encrypted_pdf_is_refused():
    writer = PdfWriter(clone_from=io.BytesIO(pdfa_like(facturx_pdf())))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert codes(out.getvalue()) == ["encrypted"]


def test_not_a_pdf():
    assert codes(b"<xml/>") == ["unreadable"]
    with pytest.raises(ValueError):
        embedded_files(b"<xml/>")


def test_embedded_files_are_described():
    files = {f.name: f for f in embedded_files(facturx_pdf(DOCS))}
    assert set(files) == {"factur-x.xml", "bon-livraison.pdf", "releve-heures.csv"}
    csv = files["releve-heures.csv"]
    assert (csv.size, csv.mime_type, csv.relationship, csv.description, csv.in_af) == (
        16, "text/csv", "Supplement", "Relevé d'heures", True
    )
    assert csv.data == b"jour;heures\n1;7\n"
    assert files["factur-x.xml"].relationship == "Data"


def test_document_information_must_match_the_xmp():
    writer = PdfWriter(clone_from=io.BytesIO(pdfa_like(facturx_pdf())))
    writer.add_metadata({"/Producer": "Odoo"})
    out = io.BytesIO()
    writer.write(out)
    (problem,) = check_pdfa3(out.getvalue())
    assert problem.code == "info" and "Producer is 'Odoo'" in problem.message


def test_header_needs_the_binary_comment_right_after_it():
    data = pdfa_like(facturx_pdf())
    assert check_pdfa3(data) == []
    broken = data.replace(b"%PDF-1.", b"%PDF-1.", 1).replace(b"\n%\xe2\xe3\xcf\xd3", b"\n\n%\xe2\xe3\xcf\xd3", 1)
    assert codes(broken) == ["header"]
