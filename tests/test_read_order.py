"""``chorus-rouen read-order``: the sample orders and their distorted variants, through the command's entry point.

Issue #22, "Done when": every value of each sample found with its evidence; distorted variants
(spacing, line breaks, two SIRETs, no engagement number, a scan, a damaged PDF) read or refused as a
person expects; exit status 0 (read), 1 (a person must look), 2 (not readable as an order).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from odoo_chorus_rouen import cli

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "data" / "orders"
KEYS = {"siret", "budget", "engagement", "service_code", "contract", "order_number", "order_date", "totals",
        "candidates", "missing"}


def read(capsys, path, *options):
    """Run ``read-order`` through ``cli.main``: (exit status, stdout, stderr)."""
    status = cli.main(["read-order", str(path), *options])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_json(capsys, path):
    status, out, err = read(capsys, path, "--json")
    assert err == ""
    data = json.loads(out)
    assert set(data) == KEYS
    return status, data


@pytest.fixture
def variant(tmp_path, make_orders):
    """``variant(sample, edits, name)``: the sample printed with ``edits`` (see make_orders.render), as a file."""

    def write(sample, edits, name="variant.pdf"):
        path = tmp_path / name
        path.write_bytes(make_orders.render(sample, edits))
        return path

    return write


def value(data, field):
    return data[field]["value"] if data[field] else None


# --------------------------------------------------------------------------------------------
# The samples: every value, with its evidence
# --------------------------------------------------------------------------------------------


def test_samples_are_reproducible_and_up_to_date(tmp_path, make_orders):
    assert make_orders.main([str(tmp_path)]) == 0
    for produced in tmp_path.iterdir():
        assert produced.read_bytes() == (ORDERS / produced.name).read_bytes(), (
            f"{produced.name} differs: run python3 data/make_orders.py")
    assert {path.name for path in tmp_path.iterdir()} == {path.name for path in ORDERS.iterdir()} - {"README.rst"}


def test_letterhead_with_the_seat_and_footer_with_the_budget(capsys):
    status, data = read_json(capsys, ORDERS / "metropole_eau_order.pdf")
    assert status == 0
    assert value(data, "siret") == "20002341400069"
    assert data["siret"]["evidence"]["page"] == 1
    assert "SIRET 200 023 414 00069" in data["siret"]["evidence"]["text"]
    assert data["siret"]["confidence"] == "high"
    assert value(data, "budget") == "Budget de l'Eau"
    assert (value(data, "engagement"), value(data, "service_code"), value(data, "contract")) == (
        "EJ2026-004217", "DIR-EAU", "2025-M-0142")
    assert "engagement juridique" in data["engagement"]["evidence"]["text"]
    assert (value(data, "order_number"), value(data, "order_date")) == ("BC-2026-00871", "2026-03-12")
    assert value(data, "totals") == {"untaxed": "7800.00", "tax": "1560.00", "with_tax": "9360.00", "currency": "EUR"}
    assert data["missing"] == []
    # The seat's SIRET (letterhead) ranks below, with the reason; the supplier's is excluded.
    ranked = data["candidates"]["siret"]["ranked"]
    assert [item["value"] for item in ranked] == ["20002341400069", "20002341400010", "88412345600011"]
    assert data["candidates"]["siret"]["decision"] == "chosen"
    assert "letterhead" in " ".join(ranked[1]["reasons"])
    assert ranked[2]["excluded"] is True and "supplier" in ranked[2]["reasons"][0]
    # A contract printed twice is given once, the other place in "also".
    assert data["contract"]["evidence"]["also"] == [{"page": 1, "line": 31, "source": "pdf"}]


def test_human_output_says_values_and_where(capsys):
    status, out, err = read(capsys, ORDERS / "metropole_eau_order.pdf")
    assert (status, err) == (0, "")
    assert "Buyer SIRET   200 023 414 00069  [high]" in out
    assert "page 1, line 30: \u201cBudget de l'Eau - SIRET 200 023 414 00069 - Code service : DIR-EAU\u201d" in out
    assert "Engagement    EJ2026-004217  [high]" in out
    assert "200 023 414 00010  [#2, score 0]" in out


def test_compact_list(capsys):
    status, data = read_json(capsys, ORDERS / "metropole_transports_compact.pdf")
    assert status == 0
    assert (value(data, "siret"), value(data, "budget")) == ("20002341400036", "Budget annexe des Transports")
    assert data["siret"]["evidence"]["text"] == "SIRET : 20002341400036"
    assert (value(data, "engagement"), value(data, "service_code"), value(data, "contract")) == (
        "26TR000512", "DIR-MOBILITES", "AC-2024-031")
    assert (value(data, "order_number"), value(data, "order_date")) == ("2026/TR/0412", "2026-02-03")
    assert value(data, "totals")["with_tax"] == "5016.00"
    assert data["candidates"]["siret"]["ranked"][1]["value"] == "51234567900017"  # the "Titulaire"
    assert data["candidates"]["siret"]["ranked"][1]["excluded"] is True


def test_a_sentence_that_wraps_the_siret(capsys):
    status, data = read_json(capsys, ORDERS / "metropole_dechets_letter.pdf")
    assert status == 0
    evidence = data["siret"]["evidence"]
    assert value(data, "siret") == "20002341400028"
    assert (evidence["line"], evidence["line_end"]) == (14, 15)
    assert "read across two lines" in data["siret"]["reasons"]
    assert (value(data, "engagement"), value(data, "service_code")) == ("2026DM000931", "DIR-DECHETS")
    assert value(data, "order_number") == "BC-DM-2026-0093"
    assert value(data, "order_date") == "2026-02-05"  # "Rouen, le 5 février 2026"
    # Said plainly: no contract, no labelled totals on this letter.
    missing = {item["field"]: item["why"] for item in data["missing"]}
    assert set(missing) == {"contract", "totals"}
    assert "N\u00b0 de march\u00e9" in missing["contract"]


def test_multipage_order_gives_each_value_once(capsys):
    status, data = read_json(capsys, ORDERS / "metropole_principal_multipage.pdf")
    assert status == 0
    assert value(data, "siret") == "20002341400101"
    also = [(place["page"]) for place in data["siret"]["evidence"]["also"]]
    assert data["siret"]["evidence"]["page"] == 1 and also == [2, 3]
    assert (value(data, "engagement"), value(data, "service_code"), value(data, "contract")) == (
        "2026-00154", "DIR-VOIRIE", "AC-2023-007")
    assert [item["value"] for item in data["candidates"]["siret"]["ranked"]] == ["20002341400101", "20002341400010"]
    # The grand total of page 3, not the subtotals carried from page to page.
    assert value(data, "totals") == {"untaxed": "55323.00", "tax": "11064.60", "with_tax": "66387.60",
                                     "currency": "EUR"}
    assert data["totals"]["evidence"]["page"] == 3


def test_another_buyers_wording(capsys):
    status, data = read_json(capsys, ORDERS / "commune_order.pdf")
    assert status == 0
    assert value(data, "siret") == "21769990900016"
    assert data["siret"]["confidence"] == "medium"
    assert "not one of the known Chorus Pro recipients" in data["siret"]["reasons"]
    assert (value(data, "engagement"), value(data, "service_code"), value(data, "contract")) == (
        "1300087412", "SERV-TECHNIQUE", "MAPA-2025-12")
    assert data["budget"] is None
    (budget,) = [item for item in data["missing"] if item["field"] == "budget"]
    assert "not one of the known Chorus Pro recipients" in budget["why"]


def test_order_x_xml(capsys):
    status, data = read_json(capsys, ORDERS / "orderx_assainissement_order.xml")
    assert status == 1  # the engagement number is the order's number, unsure: a person confirms it
    assert (value(data, "siret"), value(data, "budget")) == ("20002341499004", "Budget de l'Assainissement")
    assert data["siret"]["evidence"]["element"] == "ram:InvoiceeTradeParty/ram:SpecifiedLegalOrganization/ram:ID"
    assert data["siret"]["evidence"]["page"] is None and data["siret"]["evidence"]["line"] > 0
    assert (value(data, "service_code"), value(data, "contract"), value(data, "order_number")) == (
        "DIR-ASSAINISSEMENT", "2024-M-0311", "BC-2026-00917")
    # The order's own number is offered as engagement number, to be checked (low).
    assert value(data, "engagement") == "BC-2026-00917" and data["engagement"]["confidence"] == "low"
    assert value(data, "totals") == {"untaxed": "2400.00", "tax": "480.00", "with_tax": "2880.00",
                                     "currency": "EUR"}
    buyer = data["candidates"]["siret"]["ranked"][1]
    assert buyer["value"] == "20002341400010" and "the order's buyer" in buyer["reasons"][0]


def test_order_x_embedded_in_its_pdf(capsys):
    status, out, _err = read(capsys, ORDERS / "orderx_assainissement_order.pdf")
    assert status == 1
    assert "PDF text layer + Order-X (order-x.xml)" in out
    assert "order-x.xml line" in out and "Budget de l'Assainissement" in out


def test_ubl_order(capsys):
    status, data = read_json(capsys, ORDERS / "ubl_energie_order.xml")
    assert status == 0
    assert (value(data, "siret"), value(data, "budget")) == ("20002341400093", "Budget de l'Energie Calorifique")
    # The engagement number of the note wins over the order's number, and the reason is said.
    assert value(data, "engagement") == "EJ2026-012020"
    assert [item["value"] for item in data["candidates"]["engagement"]["ranked"]] == ["EJ2026-012020",
                                                                                      "BC-2026-01202"]
    assert (value(data, "service_code"), value(data, "contract"), value(data, "order_date")) == (
        "DIR-ENERGIE", "2025-M-0077", "2026-04-02")


def test_a_scan_is_refused_in_words(capsys):
    status, out, err = read(capsys, ORDERS / "metropole_scan.pdf", "--json")
    assert (status, out) == (2, "")
    assert err == (f"chorus-rouen read-order: {ORDERS / 'metropole_scan.pdf'}: this order has no text to read "
                   "(a scan): type the values\n")


# --------------------------------------------------------------------------------------------
# Distorted variants
# --------------------------------------------------------------------------------------------

FOOTER_SIRET = "Budget de l'Eau - SIRET 200 023 414 00069 - Code service : DIR-EAU"
FOOTER_EJ = "N° d'engagement juridique : EJ2026-004217 - Marché n° 2025-M-0142"


@pytest.mark.parametrize("siret_text", [
    "Budget de l'Eau - SIRET 20002341400069 - Code service : DIR-EAU",
    "Budget de l'Eau - SIRET 200.023.414.00069 - Code service : DIR-EAU",
    "Budget de l'Eau - SIRET 200\u00a0023\u00a0414\u00a000069 - Code service : DIR-EAU",
    "BUDGET DE L'EAU   -   S.I.R.E.T. : 200 023 414 00069   -   CODE SERVICE:DIR-EAU",
])
def test_spacing_variants(capsys, tmp_path, siret_text, variant):
    path = variant("metropole_eau_order.pdf", {FOOTER_SIRET: siret_text})
    status, data = read_json(capsys, path)
    assert status == 0
    assert (value(data, "siret"), value(data, "service_code")) == ("20002341400069", "DIR-EAU")


@pytest.mark.parametrize("engagement_text", [
    "N°d’engagement juridique:EJ2026-004217 - Marché n° 2025-M-0142",
    "N °  D'ENGAGEMENT   JURIDIQUE  (EJ) : EJ2026-004217 - MARCHÉ N° 2025-M-0142",
    "Engagement n° EJ2026-004217 - Marché n° 2025-M-0142",
    "Numéro d'EJ : EJ2026-004217 - Marché n° 2025-M-0142",
])
def test_wording_variants_of_the_engagement(capsys, tmp_path, engagement_text, variant):
    path = variant("metropole_eau_order.pdf", {FOOTER_EJ: engagement_text})
    status, data = read_json(capsys, path)
    assert status == 0
    assert (value(data, "engagement"), value(data, "contract")) == ("EJ2026-004217", "2025-M-0142")


def test_line_breaks_between_label_and_value_and_inside_the_siret(capsys, tmp_path, variant):
    path = variant("metropole_eau_order.pdf", {
        FOOTER_SIRET: "Budget de l'Eau - SIRET 200 023 414\n00069 - Code service : DIR-EAU",
        FOOTER_EJ: "N° d'engagement juridique :\nEJ2026-004217",
    })
    status, data = read_json(capsys, path)
    assert status == 0
    assert value(data, "siret") == "20002341400069"
    assert data["siret"]["evidence"]["line_end"] == data["siret"]["evidence"]["line"] + 1
    assert value(data, "engagement") == "EJ2026-004217"
    assert "the value is on the line after its label" in data["engagement"]["reasons"]


def test_two_budget_sirets_are_ambiguous_and_nothing_is_chosen(capsys, tmp_path, variant):
    path = variant("metropole_eau_order.pdf", {
        FOOTER_SIRET: "Budget de l'Eau - SIRET 200 023 414 00069 / "
                      "Budget de l'Assainissement - SIRET 200 023 414 99004",
    })
    status, data = read_json(capsys, path)
    assert status == 1
    assert data["siret"] is None and data["budget"] is None
    assert data["candidates"]["siret"]["decision"] == "ambiguous"
    assert [item["value"] for item in data["candidates"]["siret"]["ranked"][:2]] == ["20002341400069",
                                                                                  "20002341499004"]
    missing = {item["field"]: item for item in data["missing"]}
    assert missing["siret"]["code"] == "ambiguous" and "choose" in missing["siret"]["why"]
    # The rest is still read.
    assert value(data, "engagement") == "EJ2026-004217"
    status, out, _err = read(capsys, path)
    assert "Buyer SIRET   AMBIGUOUS, nothing chosen" in out
    assert "A person must look: Buyer SIRET, Budget" in out


def test_a_budget_named_with_another_budgets_siret_is_ambiguous(capsys, tmp_path, variant):
    path = variant("metropole_eau_order.pdf", {
        FOOTER_SIRET: "Budget de l'Assainissement - SIRET 200 023 414 00069 - Code service : DIR-EAU",
    })
    status, data = read_json(capsys, path)
    assert status == 1
    assert data["siret"] is None
    values = {item["value"] for item in data["candidates"]["siret"]["ranked"]}
    assert {"20002341400069", "20002341499004"} <= values


def test_no_engagement_number(capsys, tmp_path, variant):
    path = variant("metropole_eau_order.pdf", {FOOTER_EJ: "Marché n° 2025-M-0142"})
    status, data = read_json(capsys, path)
    assert status == 1  # the Métropole's budgets require one: a person must ask the buyer
    assert data["engagement"] is None
    (missing,) = [item for item in data["missing"] if item["field"] == "engagement"]
    assert missing["code"] == "not_found" and "N\u00b0 d'engagement juridique" in missing["why"]
    assert value(data, "siret") == "20002341400069"


def test_two_engagement_numbers(capsys, tmp_path, variant):
    replaced = variant("metropole_eau_order.pdf", {
        "Toute facture incomplète sera rejetée. Délai global de paiement : 30 jours.":
            "Annule et remplace l'engagement n° EJ2025-000111.",
    })
    status, data = read_json(capsys, replaced)
    assert (status, value(data, "engagement")) == (0, "EJ2026-004217")
    assert "replaced or former" in " ".join(data["candidates"]["engagement"]["ranked"][1]["reasons"])
    competing = variant("metropole_eau_order.pdf", {
        "Date de commande : 12/03/2026": "Date de commande : 12/03/2026 - N° EJ : EJ2026-004999",
    }, name="competing.pdf")
    status, data = read_json(capsys, competing)
    assert (status, data["engagement"]) == (1, None)
    assert data["candidates"]["engagement"]["decision"] == "ambiguous"


def test_a_siret_with_a_wrong_check_digit_is_said(capsys, tmp_path, variant):
    seat = "Tél. 02 35 52 68 10 - metropole-rouen-normandie.fr - SIRET 200 023 414 00010"
    path = variant("metropole_eau_order.pdf", {
        FOOTER_SIRET: "SIRET 200 023 414 00068 - Code service : DIR-EAU", seat: "Tél. 02 35 52 68 10",
    })
    status, data = read_json(capsys, path)
    assert (status, data["siret"]) == (1, None)
    (missing,) = [item for item in data["missing"] if item["field"] == "siret"]
    assert missing["code"] == "invalid_siret"
    assert "200 023 414 00068" in missing["why"] and "check digit" in missing["why"]
    # The budget named beside the wrong SIRET is proposed, unsure, and the wrong SIRET is said.
    named = variant("metropole_eau_order.pdf", {
        FOOTER_SIRET: "Budget de l'Eau - SIRET 200 023 414 00068 - Code service : DIR-EAU", seat: "Tél.",
    }, name="named.pdf")
    status, data = read_json(capsys, named)
    assert (status, value(data, "siret"), data["siret"]["confidence"]) == (1, "20002341400069", "low")
    assert any("200 023 414 00068" in item and "not a valid SIRET" in item for item in data["siret"]["reasons"])


def test_vat_exemption_is_not_a_tax_amount(capsys, tmp_path, variant):
    path = variant("metropole_eau_order.pdf", {
        "TVA 20 %": "TVA non applicable, article 293 B du CGI", "1 560,00 €": None,
    })
    _status, data = read_json(capsys, path)
    assert "tax" not in value(data, "totals")


# --------------------------------------------------------------------------------------------
# What cannot be read: one line on stderr, exit status 2, never a traceback
# --------------------------------------------------------------------------------------------


def refused(capsys, path):
    status, out, err = read(capsys, path)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"chorus-rouen read-order: {path}: ")
    assert "Traceback" not in err
    return err


def test_a_damaged_pdf(capsys, tmp_path):
    path = tmp_path / "damaged.pdf"
    path.write_bytes((ORDERS / "metropole_eau_order.pdf").read_bytes()[:1200])
    assert "damaged and cannot be read" in refused(capsys, path)


def test_a_scan_variant_and_a_blank_pdf(capsys, tmp_path, make_orders):
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_orders.scan_pdf("another scan"))
    assert "no text to read (a scan): type the values" in refused(capsys, scan)
    blank = tmp_path / "blank.pdf"
    blank.write_bytes(make_orders.text_pdf(["", "1"]))
    assert "no text to read (a scan)" in refused(capsys, blank)


def test_password_protected_pdf(capsys, tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(ORDERS / "metropole_eau_order.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "protected.pdf"
    path.write_bytes(buffer.getvalue())
    assert "protected by a password: ask the buyer for an unprotected copy" in refused(capsys, path)


def test_an_invoice_is_not_an_order(capsys):
    err = refused(capsys, ROOT / "data" / "invoices" / "facturx_principal_invoice.pdf")
    assert "is an invoice (it carries factur-x.xml), not a purchase order" in err
    err = refused(capsys, ROOT / "data" / "invoices" / "cii_eau_invoice.xml")
    assert "is a CII invoice, not a purchase order" in err


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "the file is empty"),
    (b"PK\x03\x04 a zip", "neither a PDF nor an XML order"),
    (b"<html><body>commande</body></html>", "XML but not a purchase order"),
    (b"<?xml version='1.0'?><Order", "not well-formed XML"),
])
def test_files_that_are_not_orders(capsys, tmp_path, content, expected):
    path = tmp_path / "file"
    path.write_bytes(content)
    assert expected in refused(capsys, path)


def test_missing_file_folder_and_pipe(capsys, tmp_path):
    assert "no such file" in refused(capsys, tmp_path / "nothing.pdf")
    assert "is a directory" in refused(capsys, tmp_path)
    pipe = tmp_path / "pipe.pdf"
    os.mkfifo(pipe)
    assert "is not a regular file" in refused(capsys, pipe)  # never read: it would block


def test_a_file_over_10_mb_is_refused_unread(capsys, tmp_path):
    path = tmp_path / "big.pdf"
    with open(path, "wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    assert "read up to 10 MB" in refused(capsys, path)


def test_the_installed_command_prints_no_traceback(tmp_path):
    path = tmp_path / "damaged.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 50)
    result = subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.cli", "read-order", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "damaged" in result.stderr
    help_text = subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.cli", "read-order", "--help"],
                               capture_output=True, text=True, timeout=120).stdout
    assert "exit status: 0" in help_text and "--json" in help_text


def test_the_readme_shows_the_real_output():
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    command = "    $ chorus-rouen read-order data/orders/metropole_eau_order.pdf\n"
    shown = readme.split(command, 1)[1].split("\n\n", 1)[0]
    result = subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.cli", "read-order",
                             "data/orders/metropole_eau_order.pdf"], capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    assert result.returncode == 0
    assert shown.splitlines() == ["    " + line for line in result.stdout.rstrip("\n").splitlines()], (
        "README.rst shows another output than the command's: paste the command's output again")
