"""Purchase orders as XML: Order-X (the CII order, alone or in its PDF) and UBL Order 2.1 (Peppol ordering).

The structured order says plainly what the PDF prints: the order number (Order-X
``ExchangedDocument/ID``, UBL ``cbc:ID``), its date, the buyer's reference (``BuyerReference``,
``CustomerReference``: on an invoice to Chorus Pro it is the service code, BT-10), the contract
(``ContractReferencedDocument``, ``cac:Contract``), the buyer's and the invoicee's SIRET (legal
identifiers with scheme 0009, or 0002 holding 14 digits) and the totals. The order's number is also
offered as engagement number: an invoice quotes it as its purchase order reference (BT-13), which
Chorus Pro reads as the engagement number; the person confirms it. Free notes are read like the
PDF's text.

Parsing is hardened: no entity expansion, no network, libxml2's size limits kept.
"""

from __future__ import annotations

from datetime import date

from lxml import etree
from stdnum.fr import siret as stdnum_siret

from .budgets import compact_siret, format_siret
from .errors import InputError
from .order_fields import Line, Recipient, parse_amount
from .order_ranking import Candidate, Evidence, reason

__all__ = ["ORDERX_NS", "UBL_ORDER_NS", "is_order_xml", "parse_xml", "xml_candidates"]

ORDERX_NS = "urn:un:unece:uncefact:data:SCRDMCCBDACIOMessageStructure:100"
UBL_ORDER_NS = "urn:oasis:names:specification:ubl:schema:xsd:Order-2"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:128"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:128"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"rsm": ORDERX_NS, "ram": RAM, "udt": UDT, "ubl": UBL_ORDER_NS, "cac": CAC, "cbc": CBC}
PREFIXES = {value: key for key, value in NS.items()}

#: Roots that are invoices, not orders: refused with their name.
INVOICE_ROOTS = {
    "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice": "a CII invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": "a UBL invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": "a UBL credit note",
}
#: Order-X document types read (220 order, 230 order change); 231 is the supplier's response.
ORDERX_TYPES = {"220": "order", "230": "order change"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True)


def parse_xml(data: bytes, name: str) -> etree._Element:
    """The root of an XML order, or :class:`InputError` naming what the file is instead.

    :raises InputError: ``order_damaged`` (not well-formed), ``order_not_an_order`` (an invoice, another XML).
    """
    try:
        root = etree.fromstring(bytes(data), parser=_parser())
    except etree.XMLSyntaxError as err:
        raise InputError(f"{name} is not well-formed XML ({str(err)[:160]}): ask the buyer for the order again",
                         code="order_damaged", params={"reason": str(err)[:160]}) from None
    if root.tag in INVOICE_ROOTS:
        raise InputError(f"{name} is {INVOICE_ROOTS[root.tag]}, not a purchase order: read the order the buyer "
                         "sent you", code="order_not_an_order", params={"what": INVOICE_ROOTS[root.tag]})
    if not is_order_xml(root):
        local = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise InputError(f"{name} is XML but not a purchase order (root element {local}): an XML order is an "
                         "Order-X or a UBL Order", code="order_not_an_order", params={"what": local})
    if root.tag == f"{{{ORDERX_NS}}}SCRDMCCBDACIOMessageStructure":
        code = (root.findtext("rsm:ExchangedDocument/ram:TypeCode", None, NS) or "").strip()
        if code not in ORDERX_TYPES:
            raise InputError(f"{name} is an Order-X of type {code or '?'} (231 is the supplier's response), not a "
                             "purchase order", code="order_not_an_order", params={"what": f"Order-X {code}"})
    return root


def is_order_xml(root: etree._Element) -> bool:
    return root.tag in (f"{{{ORDERX_NS}}}SCRDMCCBDACIOMessageStructure", f"{{{UBL_ORDER_NS}}}Order")


def _path(element: etree._Element, depth: int = 3) -> str:
    parts = []
    while element is not None and len(parts) < depth and isinstance(element.tag, str):
        qname = etree.QName(element)
        parts.append(f"{PREFIXES.get(qname.namespace, 'ns')}:{qname.localname}")
        element = element.getparent()
    return "/".join(reversed(parts))


class _Reader:
    """Builds candidates from one XML order; ``source`` names the file in the evidence."""

    def __init__(self, root: etree._Element, source: str, recipients: dict[str, Recipient],
                 own_sirets: frozenset[str]) -> None:
        self.root = root
        self.source = source
        self.recipients = recipients
        self.own_sirets = own_sirets
        self.candidates: list[Candidate] = []

    def evidence(self, element: etree._Element, value: str) -> Evidence:
        path = _path(element)
        return Evidence(None, element.sourceline, f"{path} = {value}", source=self.source, element=path)

    def text(self, xpath: str) -> tuple[etree._Element, str] | None:
        element = self.root.find(xpath, NS)
        value = (element.text or "").strip() if element is not None else ""
        return (element, value) if value else None

    def add(self, field: str, xpath: str, weight: int, code: str = "xml_element", display=None) -> str | None:
        found = self.text(xpath)
        if not found:
            return None
        element, value = found
        params = {"element": _path(element, 2)} if code in ("xml_element", "xml_invoicee", "xml_buyer") else {}
        self.candidates.append(Candidate(field, value, display(value) if display else value,
                                         self.evidence(element, value), [reason(code, weight, **params)]))
        return value

    def add_date(self, xpath: str, parse) -> None:
        found = self.text(xpath)
        if not found:
            return
        element, raw = found
        value = parse(raw)
        if value is None:
            return
        self.candidates.append(Candidate("order_date", value.isoformat(), value.strftime("%d/%m/%Y"),
                                         self.evidence(element, raw),
                                         [reason("xml_element", 5, element=_path(element, 2))]))

    def add_party_sirets(self, party_xpath: str, id_xpaths: tuple[str, ...], code: str, weight: int) -> None:
        party = self.root.find(party_xpath, NS)
        if party is None:
            return
        for xpath in id_xpaths:
            for element in party.iterfind(xpath, NS):
                value = compact_siret(element.text or "")
                scheme = element.get("schemeID", "")
                if scheme not in ("", "0009", "0002", "SIRET") or len(value) != 14 or not value.isdigit():
                    continue
                if not stdnum_siret.is_valid(value):
                    continue
                reasons = [reason(code, weight, element=_path(party, 1))]
                recipient = self.recipients.get(value)
                reasons.append(reason("known_recipient", 4, name=recipient.name) if recipient
                               else reason("not_recipient", 0))
                candidate = Candidate("siret", value, format_siret(value), self.evidence(element, value), reasons)
                if value in self.own_sirets:
                    candidate.excluded, candidate.reasons = True, [reason("own_siret")]
                self.candidates.append(candidate)

    def add_amount(self, part: str, xpath: str) -> None:
        found = self.text(xpath)
        if not found:
            return
        element, raw = found
        amount = parse_amount(raw)
        if amount is None:
            return
        currency = element.get("currencyID", "")
        self.candidates.append(Candidate(f"totals.{part}", str(amount), f"{amount:,.2f}".replace(",", " "),
                                         self.evidence(element, f"{raw} {currency}".strip()),
                                         [reason("xml_element", 5, element=_path(element, 2))]))

    def note_lines(self, *xpaths: str) -> list[Line]:
        """Free text of the order (notes, party names), as lines numbered by their XML line."""
        lines = []
        elements = sorted((e for xpath in xpaths for e in self.root.iterfind(xpath, NS)),
                          key=lambda e: e.sourceline or 0)
        for element in elements:
            for offset, text in enumerate("".join(element.itertext()).splitlines()):
                if text.strip():
                    lines.append(Line(0, (element.sourceline or 0) + offset, text.strip()[:2000], "body"))
        return lines


def _date_102(raw: str) -> date | None:
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) == 8 and raw.isdigit() else None
    except ValueError:
        return None


def _date_iso(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _orderx(reader: _Reader) -> list[Line]:
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    number = reader.add("order_number", "rsm:ExchangedDocument/ram:ID", 5)
    if number:
        reader.add("engagement", "rsm:ExchangedDocument/ram:ID", 2, code="xml_order_number")
    reader.add_date("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", _date_102)
    reader.add("service_code", f"{agreement}/ram:BuyerReference", 4)
    reader.add("contract", f"{agreement}/ram:ContractReferencedDocument/ram:IssuerAssignedID", 5)
    reader.add("contract", f"{agreement}/ram:BlanketOrderReferencedDocument/ram:IssuerAssignedID", 3)
    ids = ("ram:SpecifiedLegalOrganization/ram:ID", "ram:GlobalID", "ram:ID")
    reader.add_party_sirets(f"{agreement}/ram:BuyerTradeParty", ids, "xml_buyer", 2)
    reader.add_party_sirets(f"{settlement}/ram:InvoiceeTradeParty", ids, "xml_invoicee", 4)
    summation = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    reader.add_amount("untaxed", f"{summation}/ram:TaxBasisTotalAmount")
    reader.add_amount("tax", f"{summation}/ram:TaxTotalAmount")
    reader.add_amount("with_tax", f"{summation}/ram:GrandTotalAmount")
    return reader.note_lines("rsm:ExchangedDocument/ram:IncludedNote/ram:Content",
                             f"{agreement}/ram:BuyerTradeParty/ram:Name",
                             f"{settlement}/ram:InvoiceeTradeParty/ram:Name")


def _ubl(reader: _Reader) -> list[Line]:
    number = reader.add("order_number", "cbc:ID", 5)
    if number:
        reader.add("engagement", "cbc:ID", 2, code="xml_order_number")
    reader.add_date("cbc:IssueDate", _date_iso)
    reader.add("service_code", "cbc:CustomerReference", 4)
    reader.add("contract", "cac:Contract/cbc:ID", 5)
    ids = ("cac:PartyLegalEntity/cbc:CompanyID", "cac:PartyIdentification/cbc:ID", "cbc:EndpointID")
    reader.add_party_sirets("cac:BuyerCustomerParty/cac:Party", ids, "xml_buyer", 2)
    reader.add_party_sirets("cac:AccountingCustomerParty/cac:Party", ids, "xml_invoicee", 4)
    reader.add_amount("untaxed", "cac:AnticipatedMonetaryTotal/cbc:TaxExclusiveAmount")
    if not any(c.field == "totals.untaxed" for c in reader.candidates):
        reader.add_amount("untaxed", "cac:AnticipatedMonetaryTotal/cbc:LineExtensionAmount")
    reader.add_amount("tax", "cac:TaxTotal/cbc:TaxAmount")
    reader.add_amount("with_tax", "cac:AnticipatedMonetaryTotal/cbc:TaxInclusiveAmount")
    if not any(c.field == "totals.with_tax" for c in reader.candidates):
        reader.add_amount("with_tax", "cac:AnticipatedMonetaryTotal/cbc:PayableAmount")
    return reader.note_lines("cbc:Note", "cac:BuyerCustomerParty/cac:Party/cac:PartyName/cbc:Name",
                             "cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name")


def xml_candidates(root: etree._Element, source: str, recipients: dict[str, Recipient],
                   own_sirets: frozenset[str] = frozenset()) -> tuple[list[Candidate], list[Line], str]:
    """Candidates of an XML order, the lines of its free notes (read like text), and its kind."""
    reader = _Reader(root, source, recipients, own_sirets)
    if root.tag == f"{{{UBL_ORDER_NS}}}Order":
        notes = _ubl(reader)
        kind = "UBL Order"
    else:
        notes = _orderx(reader)
        kind = "Order-X"
    return reader.candidates, notes, kind
