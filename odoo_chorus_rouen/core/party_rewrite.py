"""Replace the buyer (and the seller) of an invoice file: how a real invoice is tried on qualification.

:func:`replace_parties` takes a CII or UBL XML, or a Factur-X PDF, and gives the same file with the
buyer's SIRET (BT-46 / BT-47 and, in the reform layout, its SIREN and electronic address) replaced by
a test recipient's, its service code (BT-10) set or removed, and optionally the seller's SIRET
(BT-29 / BT-30...) replaced by the test supplier's. Nothing else changes: in a Factur-X PDF only the
embedded ``factur-x.xml`` is replaced (its ``/Params`` size and checksum updated); the pages, the
other embedded files and the metadata stay as they are. The visible page still shows the real
buyer: only the XML routes the invoice. The same input always gives the same bytes, so a journal
that keeps the file recognises it when the same file is named again.

:raises InputError: the file is not an invoice this module can read, or does not carry the SIRET
    to replace.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from lxml import etree

from .budgets import compact_siret
from .errors import InputError
from .validation_input import NAMESPACES, extract_xml, format_of_root, looks_like_pdf, parse_xml
from .validation_report import Format

__all__ = ["PartyChange", "replace_parties"]

_FACTURX_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")


@dataclass(frozen=True)
class PartyChange:
    """One party to replace: every identifier built on ``real`` becomes the same one built on ``test``."""

    real: str
    test: str

    def apply(self, text: str | None) -> str | None:
        """The identifier ``text`` with the real SIRET (or SIREN) replaced; None when it holds neither."""
        if text is None:
            return None
        value = text.strip()
        real, test = compact_siret(self.real), compact_siret(self.test)
        compact = compact_siret(value)
        if compact == real:
            return test
        if compact == real[:9]:
            return test[:9]
        if f"{real[:9]}_{real}" in value:  # reform electronic address SIREN_SIRET
            return value.replace(f"{real[:9]}_{real}", f"{test[:9]}_{test}")
        return None


_CII_PARTY = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:{}TradeParty"
_UBL_PARTY = "cac:Accounting{}Party/cac:Party"
_CII_IDS = ("ram:ID", "ram:GlobalID", "ram:SpecifiedLegalOrganization/ram:ID",
            "ram:URIUniversalCommunication/ram:URIID")
_UBL_IDS = ("cbc:EndpointID", "cac:PartyIdentification/cbc:ID", "cac:PartyLegalEntity/cbc:CompanyID")


def _replace_in_party(party: etree._Element, paths: tuple[str, ...], change: PartyChange) -> int:
    done = 0
    for path in paths:
        for node in party.xpath(path, namespaces=NAMESPACES):
            new = change.apply(node.text)
            if new is not None and new != node.text:
                node.text = new
                done += 1
            elif new is not None:
                done += 1
    return done


def _set_service_code(root: etree._Element, fmt: Format, service_code: str | None) -> None:
    """BT-10: the test recipient's service code, or none."""
    if fmt is Format.UBL:
        nodes = root.xpath("cbc:BuyerReference", namespaces=NAMESPACES)
        if service_code and nodes:
            nodes[0].text = service_code
        elif service_code:
            raise InputError(
                "The UBL invoice has no BuyerReference to carry the test recipient's service code.",
                code="cannot_map", params={"reason": "no cbc:BuyerReference"},
            )
        else:
            for node in nodes:
                node.getparent().remove(node)
        return
    agreement = root.xpath("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement",
                           namespaces=NAMESPACES)[0]
    nodes = agreement.xpath("ram:BuyerReference", namespaces=NAMESPACES)
    for node in nodes:
        agreement.remove(node)
    if service_code:
        node = etree.Element("{{{}}}BuyerReference".format(NAMESPACES["ram"]))
        node.text = service_code
        agreement.insert(0, node)  # first element of ApplicableHeaderTradeAgreement (XSD sequence)


def _replace_xml(xml: bytes, buyer: PartyChange | None, service_code: str | None, seller: PartyChange | None,
                 keep_service: bool) -> bytes:
    root = parse_xml(xml)
    fmt = format_of_root(root)
    if fmt is Format.UBL:
        paths, template, names = _UBL_IDS, _UBL_PARTY, ("Customer", "Supplier")
    else:
        paths, template, names = _CII_IDS, _CII_PARTY, ("Buyer", "Seller")
    for change, name, role in ((buyer, names[0], "buyer"), (seller, names[1], "seller")):
        if change is None:
            continue
        parties = root.xpath(template.format(name), namespaces=NAMESPACES)
        if not parties or not _replace_in_party(parties[0], paths, change):
            raise InputError(
                f"The invoice's {role} does not carry the SIRET {change.real}: nothing to replace.",
                code="cannot_map", params={"reason": f"{role} {change.real} not found"},
            )
    if not keep_service:
        _set_service_code(root, fmt, service_code)
    declaration = xml.lstrip().startswith(b"<?xml")
    return etree.tostring(root, xml_declaration=declaration, encoding="UTF-8")


def _replace_in_pdf(data: bytes, new_xml: bytes) -> bytes:
    """The same PDF with its Factur-X XML replaced (every file spec pointing at it), nothing else changed."""
    from pypdf import PdfWriter
    from pypdf.generic import ByteStringObject, NameObject, NumberObject

    writer = PdfWriter(clone_from=io.BytesIO(data))
    replaced = 0
    seen: set[int] = set()
    for spec in _file_specs(writer):
        name = str(spec.get("/UF") or spec.get("/F") or "").strip().lower()
        if name not in _FACTURX_NAMES:
            continue
        stream = spec.get("/EF", {}).get("/F")
        if stream is None:
            continue
        stream = stream.get_object()
        if id(stream) in seen:
            continue
        seen.add(id(stream))
        stream.set_data(new_xml)
        params = stream.get("/Params")
        if params is not None:
            params = params.get_object()
            params[NameObject("/Size")] = NumberObject(len(new_xml))
            params[NameObject("/CheckSum")] = ByteStringObject(hashlib.md5(new_xml).digest())  # noqa: S324 - PDF's own checksum
        replaced += 1
    if not replaced:
        raise InputError("The PDF carries no factur-x.xml to replace.", code="cannot_map",
                         params={"reason": "no embedded factur-x.xml"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _file_specs(writer) -> list:
    """The file specifications of the catalog's ``/AF`` array and of its embedded-files name tree."""
    root = writer._root_object  # noqa: SLF001 - pypdf exposes the catalog this way only
    specs = [item.get_object() for item in (root.get("/AF") or [])]
    stack = [root.get("/Names", {}).get("/EmbeddedFiles")]
    visited = 0
    while stack and visited < 10_000:
        node = stack.pop()
        visited += 1
        if node is None:
            continue
        node = node.get_object()
        names = node.get("/Names") or []
        specs += [names[i + 1].get_object() for i in range(0, len(names) - 1, 2)]
        stack += list(node.get("/Kids") or [])
    return specs


def replace_parties(
    data: bytes,
    *,
    buyer: PartyChange | None,
    service_code: str | None = None,
    seller: PartyChange | None = None,
    keep_service: bool = False,
) -> bytes:
    """The invoice file with its buyer (and seller) replaced; see the module doc.

    :param buyer: the real recipient's SIRET and the test recipient's, or None to keep the buyer.
    :param service_code: BT-10 for the test recipient (None: no service code) unless ``keep_service``.
    :param seller: the real supplier's SIRET and the test supplier's, or None to keep the seller.
    :raises InputError: unreadable file, or a SIRET to replace that the file does not carry.
    """
    fmt, xml = extract_xml(data)
    new_xml = _replace_xml(xml, buyer, service_code, seller, keep_service)
    if fmt is Format.FACTURX_PDF or looks_like_pdf(data):
        return _replace_in_pdf(data, new_xml)
    return new_xml
