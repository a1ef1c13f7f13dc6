"""What a validation says: the file's format, each finding, the invoice's facts, the report.

:func:`.validation.validate` returns a :class:`ValidationReport`; its findings come from the
layers of :mod:`.validation_input`, :mod:`.validation_xsd`, :mod:`.validation_schematron` and
:mod:`.validation_routing`, its facts from :mod:`.validation_facts`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["CREDIT_NOTE_TYPE_CODES", "LAYOUTS", "Finding", "Format", "InvoiceFacts", "ValidationReport"]

#: Where an invoice is going: ``"direct"`` (a deposit on Chorus Pro) or ``"reform"`` (an accredited
#: platform); see :mod:`.validation`.
LAYOUTS = ("direct", "reform")

# BT-3 codes that make the document a credit note (out of BR-FR-04's list of document types).
CREDIT_NOTE_TYPE_CODES = frozenset({"381", "261", "262", "396", "502", "503"})


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
    """Everything :func:`.validation.validate` found. ``ok`` means: no finding of severity ``"error"``."""

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

