"""What the sandbox reads in one deposited file: its format, its facts, and the errors found in it.

:func:`analyse` runs the validator (``core.validation`` through :class:`CoreValidator`) on each file
of a deposit and keeps one JSON-friendly entry per file in the flow (``flows.analysis``): the format
read, the invoice facts the routing checks need (:func:`facts_to_dict`), the technical errors
(unreadable file, schema, embedded files over the limits: ``listeErreurTechnique``) and the business
findings of the Schematron layers (``listeErreurDP``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from ..core.budgets import compact_siret
from . import embedded

__all__ = ["MAX_TECHNICAL_ERRORS", "CoreValidator", "amount", "analyse", "facts_to_dict", "technical"]

_logger = logging.getLogger(__name__)

CREDIT_NOTE_CODES = {"381", "261", "262", "396", "502", "503", "532"}
MAX_TECHNICAL_ERRORS = 50


def _plain(value: Any) -> Any:
    """JSON-friendly copy of validation facts (Decimal -> str, date -> ISO, Enum -> value)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def facts_to_dict(facts: Any) -> dict[str, Any] | None:
    if facts is None:
        return None
    if dataclasses.is_dataclass(facts):
        data = {f.name: getattr(facts, f.name) for f in dataclasses.fields(facts)}
    elif isinstance(facts, dict):
        data = dict(facts)
    else:
        data = {key: value for key, value in vars(facts).items() if not key.startswith("_")}
    credit = getattr(facts, "is_credit_note", None)
    if credit is None:
        credit = str(data.get("type_code") or "").strip() in CREDIT_NOTE_CODES
    data["is_credit_note"] = bool(credit)
    for key in ("seller_siret", "buyer_siret"):
        if data.get(key):
            data[key] = compact_siret(str(data[key]))
    for key in ("number", "service_code", "engagement"):
        if isinstance(data.get(key), str):
            data[key] = data[key].strip() or None
    return _plain(data)


def amount(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


class CoreValidator:
    """Adapter over ``odoo_chorus_rouen.core.validation.validate`` (imported on first use).

    The sandbox routes with its own directory, so the ``chorus`` layer is never asked for.
    """

    def __init__(self, layers: tuple[str, ...] = ("xsd",)) -> None:
        unknown = set(layers) - {"xsd", "schematron", "chorus"}
        if unknown:
            raise ValueError(f"unknown validation layer(s) {sorted(unknown)}: use xsd and/or schematron")
        self.layers = tuple(layer for layer in layers if layer != "chorus")
        self._module: Any = None

    @property
    def module(self) -> Any:
        if self._module is None:
            from ..core import validation  # heavy: imported on first deposit

            self._module = validation
        return self._module

    def __call__(self, data: bytes) -> Any:
        return self.module.validate(data, layers=self.layers)

    def detect(self, data: bytes) -> str | None:
        """The format of a file the validator could not open (a PDF without XML is still a PDF)."""
        try:
            return self.module.detect_format(data).value
        except Exception:  # InputError: neither PDF nor a known XML
            return None


def analyse(validator: Callable[[bytes], Any], name: str, data: bytes, expected: str) -> dict[str, Any]:
    """The analysis entry of one file of a deposit whose syntax announces the format ``expected``."""
    try:
        report = validator(data)
    except Exception as err:  # the validator must never raise; a sandbox must not crash if it does
        _logger.exception("The invoice validator failed on %s", name)
        return {
            "name": name,
            "format": None,
            "facts": None,
            "business": [],
            "technical": [technical("REJ_FICHIER", f"Le fichier {name} n'a pas pu etre lu : {err}")],
        }
    fmt = _plain(getattr(report, "format", None))
    if fmt is None and hasattr(validator, "detect"):
        fmt = validator.detect(data)
    facts = facts_to_dict(getattr(report, "facts", None))
    entry: dict[str, Any] = {"name": name, "format": fmt, "facts": facts, "technical": [], "business": []}
    if fmt != expected:
        entry["mismatch"] = (
            f"Le fichier {name} ne correspond pas a la syntaxe du flux "
            f"(format attendu : {expected}, format lu : {fmt or 'illisible'})."
        )
        entry["technical"].append(technical("REJ_FORMAT", entry["mismatch"]))
        return entry
    for finding in getattr(report, "findings", None) or []:
        if getattr(finding, "severity", "error") != "error":
            continue
        layer = getattr(finding, "layer", "xsd")
        text = str(getattr(finding, "message", finding))
        location = getattr(finding, "location", None)
        if layer in ("input", "xsd"):
            code = "REJ_FICHIER" if layer == "input" else "REJ_XSD"
            entry["technical"].append(technical(code, f"{location} : {text}" if location else text))
        elif layer != "chorus":
            rule = getattr(finding, "rule", None)
            entry["business"].append(f"[{rule}] {text}" if rule else text)
    entry["technical"] += [technical(code, label) for code, label in embedded.problems(data)]
    del entry["technical"][MAX_TECHNICAL_ERRORS:]
    if not entry["technical"] and not facts:
        entry["technical"].append(technical("REJ_FICHIER", f"Le fichier {name} n'a pas pu etre lu."))
    return entry


def technical(code: str, label: str) -> dict[str, str]:
    return {"codeErreur": code, "libelleErreur": label, "natureErreur": "TECHNIQUE"}
