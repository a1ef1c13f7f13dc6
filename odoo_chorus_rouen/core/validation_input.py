"""The input layer: read an invoice file safely, whatever is thrown at it.

The file itself is checked before any schema: its size (before a byte is read, for a path), its
format (Factur-X PDF, CII or UBL 2.1 XML), the ``factur-x.xml`` embedded in a PDF (unpacked with a
size cap), well-formed XML without DOCTYPE (entities are never expanded, nothing is ever fetched:
no XML bomb, no XXE), and for a Factur-X PDF the XMP conformance level against the XML profile
(``FACTURX-XMP-LEVEL``). pypdf is imported on first use only.

Everything raises :class:`~odoo_chorus_rouen.core.errors.InputError` with a sentence that says how
to fix the file; :func:`.validation.validate` turns it into a ``Finding(layer="input")``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from lxml import etree

from .errors import InputError, XmlValidationError
from .limits import MAX_DEPOSIT_SIZE
from .validation_artefacts import PROFILE_LEVELS
from .validation_report import Finding, Format, InvoiceFacts

__all__ = [
    "CII_ROOT",
    "DEFAULT_MAX_SIZE",
    "NAMESPACES",
    "NS_CAC",
    "NS_CBC",
    "NS_QDT",
    "NS_RAM",
    "NS_RSM",
    "NS_SVRL",
    "NS_UBL_CREDIT_NOTE",
    "NS_UBL_INVOICE",
    "NS_UDT",
    "UBL_ROOTS",
    "Document",
    "detect_format",
    "extract_xml",
    "format_of_root",
    "load_document",
    "load_file",
    "looks_like_pdf",
    "parse_xml",
    "safe_parser",
    "with_prefixes",
    "xmp_findings",
]

DEFAULT_MAX_SIZE = MAX_DEPOSIT_SIZE  # Chorus Pro: 10 MB per deposited file (sources in core/limits.py)

NS_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
NS_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NS_QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NS_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS_SVRL = "http://purl.oclc.org/dsdl/svrl"

CII_ROOT = f"{{{NS_RSM}}}CrossIndustryInvoice"
UBL_ROOTS = {f"{{{NS_UBL_INVOICE}}}Invoice": "invoice", f"{{{NS_UBL_CREDIT_NOTE}}}CreditNote": "creditnote"}

NAMESPACES = {"rsm": NS_RSM, "ram": NS_RAM, "udt": NS_UDT, "qdt": NS_QDT, "cac": NS_CAC, "cbc": NS_CBC,
              "inv": NS_UBL_INVOICE, "cn": NS_UBL_CREDIT_NOTE, "svrl": NS_SVRL}
_PREFIX_BY_NS = {uri: prefix for prefix, uri in NAMESPACES.items() if prefix not in ("inv", "cn", "svrl")}
_PREFIX_BY_NS.update({NS_UBL_INVOICE: "", NS_UBL_CREDIT_NOTE: ""})


def with_prefixes(text: str) -> str:
    """Replace ``{namespace}`` by the usual prefixes in a message."""
    def repl(match: re.Match[str]) -> str:
        prefix = _PREFIX_BY_NS.get(match.group(1))
        if prefix is None:
            return match.group(0)
        return f"{prefix}:" if prefix else ""
    return re.sub(r"\{([^}]*)\}", repl, text or "")


_PDF_MAGIC = b"%PDF-"
_FACTURX_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")


def load_file(path: str | os.PathLike[str], max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """Read an invoice file, refusing (before reading a byte) a file larger than ``max_size``.

    :raises InputError: ``file_too_large``, ``file_unreadable``.
    """
    try:
        size = os.stat(path).st_size
        if size > max_size:
            raise _too_large(size, max_size)
        with open(path, "rb") as handle:
            data = handle.read(max_size + 1)
    except OSError as err:
        raise InputError(f"Cannot read {os.fspath(path)!r}: {err.strerror or err}", code="file_unreadable",
                         params={"reason": str(err)}) from err
    if len(data) > max_size:  # grew while reading
        raise _too_large(len(data), max_size)
    return data


def _human_size(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def _too_large(size: int, max_size: int) -> InputError:
    return InputError(
        f"The file is {_human_size(size)}; at most {_human_size(max_size)} is accepted per invoice (Chorus Pro: "
        "10 MB per deposited file). "
        "Reduce the PDF (images, attachments) or send the attachments separately.",
        code="file_too_large", params={"size": size, "max_size": max_size},
    )


def _check_size(data: bytes, max_size: int) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"Expected the bytes of a file, got {type(data).__name__}", code="not_bytes",
                         params={"reason": type(data).__name__})
    if not data:
        raise InputError("The file is empty.", code="empty_file", params={"reason": "empty"})
    if len(data) > max_size:
        raise _too_large(len(data), max_size)


def looks_like_pdf(data: bytes) -> bool:
    # PDF readers accept junk before the header within the first 1024 bytes.
    return data[:5] == _PDF_MAGIC or _PDF_MAGIC in bytes(data[:1024])


def _prolog_has_doctype(data: bytes, head_size: int | None = 65536) -> tuple[bool, bool]:
    """(DOCTYPE seen, ENTITY declared) in the first 64 KB (or all of ``data``), any common encoding."""
    head = bytes(data[:head_size] if head_size else data)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("latin-1")
    match = re.search(r"<!DOCTYPE", text)
    if not match:
        return False, False
    return True, "<!ENTITY" in text[match.start():]


def _doctype_error(entities: bool) -> InputError:
    if entities:
        return InputError(
            "The XML declares entities in a DOCTYPE (the pattern of an XML bomb or of an external-entity attack). "
            "Invoices never need one: export the invoice again without a DOCTYPE.",
            code="xml_entities", params={"reason": "DOCTYPE with entities"},
        )
    return InputError(
        "The XML carries a DOCTYPE. Invoices never need one and it is refused for safety: "
        "export the invoice again without it.",
        code="xml_doctype", params={"reason": "DOCTYPE"},
    )


def safe_parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,  # never expand entities (billion laughs, XXE)
        no_network=True,  # never fetch anything
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,  # keep libxml2's depth/size limits
        remove_blank_text=False,
        collect_ids=False,
    )


def parse_xml(xml: bytes) -> etree._Element:
    """Parse XML safely and return the root element.

    :raises InputError: ``xml_not_well_formed``, ``xml_doctype``, ``xml_entities``.
    """
    doctype, entities = _prolog_has_doctype(xml)
    try:
        root = etree.fromstring(bytes(xml), safe_parser())
    except etree.XMLSyntaxError as err:
        if not doctype:  # a DOCTYPE may come after a long prolog (comments, blanks): look at all of it
            doctype, entities = _prolog_has_doctype(xml, None)
        if doctype:
            raise _doctype_error(entities) from err
        raise InputError(
            f"The XML is not well formed: {err}. "
            "The file is damaged or is not XML: export it again.",
            code="xml_not_well_formed", params={"reason": str(err)},
        ) from err
    except ValueError as err:  # e.g. a unicode string with an encoding declaration
        raise InputError(f"The XML cannot be read: {err}", code="xml_not_well_formed",
                         params={"reason": str(err)}) from err
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or doctype:
        dtd = docinfo.internalDTD
        has_entities = entities or bool(dtd is not None and list(dtd.entities()))
        raise _doctype_error(has_entities)
    return root


def format_of_root(root: etree._Element) -> Format:
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == CII_ROOT:
        return Format.CII
    if tag in UBL_ROOTS:
        return Format.UBL
    raise InputError(
        f"Unknown XML document {with_prefixes(tag)!r}: expected a CII CrossIndustryInvoice "
        f"({NS_RSM}) or a UBL 2.1 Invoice / CreditNote.",
        code="unknown_root", params={"reason": tag},
    )


def _pdf_contents(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[dict[str, bytes], bytes | None]:
    """The embedded files of a PDF (name -> bytes) and its XMP packet (or None), unpacked to at most ``max_size``."""
    try:
        from .pdf_files import TooLarge, embedded_files
    except ImportError as err:  # pragma: no cover - pypdf is a dependency of factur-x
        raise XmlValidationError(params={"reason": "pypdf is not installed"}) from err
    try:
        return embedded_files(data, max_size)
    except TooLarge as err:
        raise InputError(
            f"The file {err.name!r} embedded in the PDF unpacks to more than {_human_size(max_size)} (at least "
            f"{_human_size(err.size)}): a real invoice XML is far smaller, this one is refused unread. "
            "Generate the Factur-X PDF again.",
            code="file_too_large", params={"size": err.size, "max_size": max_size},
        ) from None
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - pypdf raises many types on damaged files
        raise InputError(
            f"The PDF cannot be read ({type(err).__name__}: {err}); it is truncated or damaged. "
            "Generate the invoice PDF again.",
            code="pdf_unreadable", params={"reason": str(err)},
        ) from err


def _xml_from_pdf(data: bytes, max_size: int) -> tuple[bytes, bytes | None]:
    attachments, xmp = _pdf_contents(data, max_size)
    by_lower = {name.lower(): name for name in attachments}
    for wanted in _FACTURX_NAMES:
        if wanted in by_lower:
            xml = attachments[by_lower[wanted]]
            if len(xml) > max_size:
                raise _too_large(len(xml), max_size)
            return xml, xmp
    listed = ", ".join(sorted(attachments)) or "none"
    raise InputError(
        f"The PDF carries no embedded factur-x.xml (attachments: {listed}): it is a plain PDF, not a Factur-X "
        "invoice. Generate it as Factur-X (PDF/A-3 with the CII XML embedded).",
        code="pdf_without_xml", params={"reason": listed},
    )


@dataclass
class Document:
    """An invoice file read: its format, its XML (bytes and parsed root), a Factur-X PDF's XMP packet."""

    format: Format
    xml: bytes
    root: etree._Element
    xmp: bytes | None = None  # XMP packet of a Factur-X PDF


def load_document(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Document:
    """Read a Factur-X PDF, CII or UBL file (:class:`~.errors.InputError` on anything else)."""
    _check_size(data, max_size)
    if looks_like_pdf(data):
        xml, xmp = _xml_from_pdf(data, max_size)
        root = parse_xml(xml)
        if format_of_root(root) is not Format.CII:
            raise InputError(
                "The factur-x.xml embedded in the PDF is not a CII CrossIndustryInvoice.",
                code="unknown_root", params={"reason": root.tag},
            )
        return Document(Format.FACTURX_PDF, xml, root, xmp)
    stripped = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n\x00")
    if not stripped.startswith(b"<") and bytes(data[:2]) not in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(
            "The file is neither a PDF nor XML: send a Factur-X PDF, a CII XML or a UBL 2.1 XML.",
            code="unknown_format", params={"reason": repr(bytes(data[:16]))},
        )
    root = parse_xml(data)
    return Document(format_of_root(root), bytes(data), root)


NS_FX = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
XMP_LEVELS = {"minimum": "MINIMUM", "basicwl": "BASIC WL", "basic": "BASIC", "en16931": "EN 16931",
              "extended": "EXTENDED"}


def _xmp_level(xmp: bytes) -> str | None:
    """``fx:ConformanceLevel`` of a Factur-X XMP packet (element or attribute form)."""
    root = parse_xml(xmp)
    for element in root.iter(f"{{{NS_FX}}}ConformanceLevel"):
        if element.text and element.text.strip():
            return element.text.strip()
    for element in root.iter():
        value = element.get(f"{{{NS_FX}}}ConformanceLevel") if isinstance(element.tag, str) else None
        if value:
            return value.strip()
    return None


def xmp_findings(document: Document, facts: InvoiceFacts) -> list[Finding]:
    """Factur-X: the PDF's XMP conformance level must be the XML's profile (BT-24)."""
    if document.format is not Format.FACTURX_PDF:
        return []
    level = PROFILE_LEVELS.get(facts.profile or "")
    expected = XMP_LEVELS.get(level or "")
    if expected is None:
        return []  # unknown profile: reported by the XSD layer
    try:
        declared = _xmp_level(document.xmp) if document.xmp else None
    except InputError:
        declared = None
    if declared is None:
        return [Finding(
            "FACTURX-XMP-LEVEL", "The PDF has no readable Factur-X XMP metadata (fx:ConformanceLevel): it is not a "
            f"complete Factur-X file. Embed the XML with the factur-x tools (level {expected!r}).", "BT-24", "XMP",
            "input", "warning")]
    if declared.replace(" ", "").upper() != expected.replace(" ", "").upper():
        return [Finding(
            "FACTURX-XMP-LEVEL", f"The PDF's XMP metadata declares the Factur-X level {declared!r} but the XML "
            f"profile (BT-24 {facts.profile}) is {expected!r}: validators reject the mismatch. Re-embed the XML "
            "with a matching level (factur-x generate_from_binary with level autodetect).", "BT-24", "XMP",
            "input", "error")]
    return []


def detect_format(data: bytes) -> Format:
    """The format of a file: Factur-X PDF (``%PDF-`` header), CII or UBL (XML root element).

    The embedded XML of a PDF is not checked here (see :func:`extract_xml`).

    :raises InputError: empty, not a PDF nor XML, not well formed, unknown root element.
    """
    _check_size(data, len(data) or 1)
    if looks_like_pdf(data):
        return Format.FACTURX_PDF
    return load_document(data, max(len(data), 1)).format


def extract_xml(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[Format, bytes]:
    """The invoice XML: the embedded ``factur-x.xml`` of a Factur-X PDF, or the XML itself.

    :raises InputError: unreadable or truncated PDF, PDF without ``factur-x.xml``, XML not well
        formed or with a DOCTYPE, unknown root, file over ``max_size``.
    """
    document = load_document(data, max_size)
    return document.format, document.xml

