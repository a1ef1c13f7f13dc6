"""The purchase order reader's core (``core/purchase_order.py`` and its modules): recipients and services
given by the caller, the caller's own SIRET, hostile files read within bounds or refused in one sentence."""

from __future__ import annotations

import json
import zlib

import pytest

from odoo_chorus_rouen.core import order_text
from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.order_fields import Recipient, fold, parse_amount
from odoo_chorus_rouen.core.order_ranking import REASONS, reason
from odoo_chorus_rouen.core.purchase_order import FIELDS, read_order, read_order_file

EAU = "metropole_eau_order.pdf"


def refused(data: bytes) -> InputError:
    with pytest.raises(InputError) as caught:
        read_order(data)
    message = caught.value.message
    assert "\n" not in message and message == message.strip()
    return caught.value


def one_page(make_orders, content: bytes, extra: bytes = b"", *more: bytes) -> bytes:
    stream = zlib.compress(content)
    return make_orders.write_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> %s >> "
        b"/Contents 5 0 R >>" % extra,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        *more,
    ])


def test_every_sample_gives_plain_json(orders_dir):
    for path in orders_dir.iterdir():
        if path.suffix in (".pdf", ".xml") and path.name != "metropole_scan.pdf":
            data = read_order_file(path).to_dict()
            assert list(data)[:len(FIELDS)] == list(FIELDS)
            json.dumps(data)
            for field in FIELDS:
                assert data[field] is None or {"value", "evidence", "confidence"} <= set(data[field])


def test_recipients_and_their_services_come_from_the_caller(make_orders):
    data = make_orders.render(EAU)
    services = {"20002341400069": Recipient("20002341400069", "Eau (Odoo)", frozenset({"DIR-EAU", "DIR-EAU-2"}))}
    reading = read_order(data, recipients=services)
    assert reading.value("budget") == "Eau (Odoo)"
    assert "an active service of Eau (Odoo)" in reading.results["service_code"].chosen.why()
    closed = {"20002341400069": Recipient("20002341400069", "Eau", frozenset({"DIR-EAU-TRAVAUX"}))}
    service = read_order(data, recipients=closed).results["service_code"].chosen
    assert service.value == "DIR-EAU" and "not an active service of Eau" in service.why()
    # Without known recipients the footer's SIRET still comes first, by what surrounds it.
    reading = read_order(data, recipients={})
    assert reading.value("siret") == "20002341400069" and reading.value("budget") is None


def test_the_callers_own_siret_is_never_the_buyers(make_orders):
    text = make_orders.text_pdf(["BON DE COMMANDE N° 77", "Adressez la facture sur Chorus Pro",
                                   "SIRET 884 123 456 00011", "N° EJ : 4411"])
    assert read_order(text).value("siret") == "88412345600011"
    reading = read_order(text, own_sirets=["884 123 456 00011"])
    assert reading.value("siret") is None
    assert reading.results["siret"].ranked[0].why() == "your own SIRET, not the buyer's"


def test_a_14_digit_engagement_number_is_not_taken_for_a_siret(make_orders):
    reading = read_order(make_orders.text_pdf(["Budget de l'Eau, SIRET 200 023 414 00069",
                                                 "N° d'engagement juridique : 20002341400036"]))
    assert reading.value("engagement") == "20002341400036"
    assert [item.value for item in reading.results["siret"].ranked] == ["20002341400069"]


def test_an_engagement_number_over_50_characters_is_shown_not_taken(make_orders):
    reading = read_order(make_orders.text_pdf(["SIRET 200 023 414 00069", "N° EJ : " + "7" * 60]))
    assert reading.value("engagement") is None
    assert "60 characters: Chorus Pro accepts at most 50" in reading.results["engagement"].why


def test_fold_keeps_every_character_at_its_place():
    for text in ("N° d’Engagement Œuvre", "12\u00a0500,00\u202f€", "Nº İ ﬁ Ω", "a\u2013b"):
        assert len(fold(text)) == len(text)
    assert fold("NUMÉRO D’EJ\u00a0:") == "numero d'ej :"


@pytest.mark.parametrize(("text", "amount"), [
    ("12 500,00 €", "12500.00"), ("12.500,00", "12500.00"), ("12500.00 EUR", "12500.00"),
    ("TVA 5,5 % : 55,00", "55.00"), ("1 234", "1234.00"), ("sans montant", None),
])
def test_amounts(text, amount):
    result = parse_amount(text)
    assert (str(result) if result is not None else None) == amount


def test_reason_codes_are_known():
    with pytest.raises(KeyError):
        reason("no_such_reason")
    for code, text in REASONS.items():
        assert text == text.strip() and code == code.lower()


# --------------------------------------------------------------------------------------------
# Hostile files: bounded, refused in one sentence
# --------------------------------------------------------------------------------------------


def test_a_decompression_bomb_in_the_page_content_is_refused(make_orders):
    bomb = b"BT /F1 9 Tf 50 700 Td (SIRET 200 023 414 00069) Tj ET\n" + b" " * (64 * 1024 * 1024)
    err = refused(one_page(make_orders, bomb))
    assert err.code == "order_page_too_heavy" and "page 1" in err.message
    assert f"more than {order_text.MAX_PAGE_CONTENT // 1024} KB" in err.message


def test_a_form_drawing_itself_is_read_once(make_orders):
    form = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X1 6 0 R >> "
            b"/Font << /F1 4 0 R >> >> /Length 30 >>\nstream\nBT /F1 9 Tf (loop) Tj ET /X1 Do\nendstream")
    data = one_page(make_orders, b"BT /F1 9 Tf 50 700 Td (Budget de l'Eau, SIRET 200 023 414 00069) Tj ET /X1 Do",
                    b"/XObject << /X1 6 0 R >>", form)
    assert read_order(data).value("siret") == "20002341400069"


def test_a_looping_page_tree_is_damaged(make_orders):
    data = make_orders.write_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])
    assert refused(data).code == "order_damaged"


def test_too_many_pages_or_too_much_text_is_refused(make_orders):
    pages = [make_orders.Page().text(50, 700, f"page {index}") for index in range(order_text.MAX_PAGES + 1)]
    err = refused(make_orders.build_pdf(pages, "many"))
    assert err.code == "order_too_many_pages" and f"read up to {order_text.MAX_PAGES}" in err.message
    lines = [make_orders.Page() for _ in range(3)]
    for page in lines:
        for row in range(30):
            page.text(20, 800 - row * 12, "x" * 4000)  # 120,000 characters a page, under its 256 KB cap
    assert refused(make_orders.build_pdf(lines, "text")).code == "order_too_much_text"


def test_an_endless_line_is_cut_and_read_in_bounds(make_orders):
    page = make_orders.Page().text(20, 700, "Budget de l'Eau, SIRET 200 023 414 00069 " + "blah " * 20000)
    reading = read_order(make_orders.build_pdf([page], "endless"))
    assert reading.value("siret") == "20002341400069"
    assert all(len(item.evidence.text) <= order_text.MAX_LINE_CHARS for item in reading.results["siret"].ranked)


def test_xml_entities_are_never_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2" '
            b'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
            b"<cbc:ID>&b;</cbc:ID><cbc:Note>&x; SIRET 200 023 414 00069</cbc:Note></Order>")
    reading = read_order(bomb)
    assert reading.value("order_number") is None
    assert reading.value("siret") == "20002341400069"
    assert "root:" not in json.dumps(reading.to_dict())


def test_an_order_x_response_is_not_an_order(make_orders):
    xml = make_orders.orderx_assainissement().replace(b"<ram:TypeCode>220", b"<ram:TypeCode>231")
    err = refused(xml)
    assert err.code == "order_not_an_order" and "231" in err.message


def test_a_file_over_10_mb_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.pdf"
    with open(path, "wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)
    with pytest.raises(InputError) as caught:
        read_order_file(path)
    assert caught.value.code == "order_file_too_large"


def test_every_code_of_the_reader_has_a_translated_text():
    """The Odoo wizard shows each refusal, reason and missing value in the user's language: one text per code."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "odoo_chorus_rouen"
    messages = (root / "wizard" / "chorus_pro_order_read_messages.py").read_text(encoding="utf-8")
    tables = {}
    for name in ("REFUSALS", "REASONS", "MISSING"):
        block = messages.split(f"{name} = {{", 1)[1].split("\n}\n", 1)[0]
        tables[name] = set(re.findall(r'^    "([a-z_]+)": _lt\(', block, re.MULTILINE))
    core = "".join((root / "core" / f"{module}.py").read_text(encoding="utf-8")
                   for module in ("purchase_order", "order_text", "order_xml", "order_fields", "order_ranking"))
    refusals = set(re.findall(r'(?:code=|_refuse\()"(order_[a-z_]+)"', core))
    assert refusals and refusals == tables["REFUSALS"]
    assert set(REASONS) == tables["REASONS"]
    why_codes = set(re.findall(r'why_code(?:=|, [a-z_.]+ = )"([a-z_]+)"', core))
    chosen = {"only_value", "ranked_first", "by_siret", "totals"}
    assert why_codes - chosen == tables["MISSING"]


def test_a_page_with_thousands_of_fonts_is_refused(make_orders):
    fonts = b" ".join(b"/F%d 4 0 R" % index for index in range(order_text.MAX_RESOURCES + 1))
    data = make_orders.write_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << " + fonts + b" >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length 45 >>\nstream\nBT /F1 9 Tf 50 700 Td (SIRET 200023414) Tj ET\nendstream",
    ])
    assert refused(data).code == "order_too_complex"
