"""Candidates of a purchase order's values, their evidence, and how one is chosen (or not).

Every value read from an order (a SIRET, an engagement number...) is a :class:`Candidate` with its
:class:`Evidence` (page and line, or the XML element) and the :class:`Reason` list that gives it its
score. :func:`decide` groups the candidates of one field by value (an order repeating its footer on
every page gives each value once, with the other places in ``Evidence.also``), ranks them and
decides:

* ``chosen``: one value, or a first value ahead of the others by :data:`MARGIN` points, and no
  *veto* against it (a budget the order names while its SIRET is another budget's);
* ``ambiguous``: several values and no clear first: nothing is chosen, a person picks one;
* ``missing``: nothing usable was found (what was looked for is said).

Reasons carry a stable ``code`` (the Odoo wizard translates them) and English text.

>>> a = Candidate("engagement", "EJ1", "EJ1", Evidence(1, 3, "N° d'engagement : EJ1"),
...               [reason("label", 4, label="N° d'engagement")])
>>> b = Candidate("engagement", "EJ0", "EJ0", Evidence(1, 9, "Ancien engagement : EJ0"),
...               [reason("label", 3, label="engagement"), reason("superseded", -4, word="ancien")])
>>> result = decide("engagement", [a, b])
>>> result.decision, result.chosen.value, result.confidence
('chosen', 'EJ1', 'high')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "MARGIN",
    "REASONS",
    "Candidate",
    "Evidence",
    "FieldResult",
    "Reason",
    "decide",
    "reason",
]

#: Points by which the first value must lead the second to be chosen; closer, the field is ambiguous.
MARGIN = 2

#: Reason code -> English text (``%(name)s`` placeholders from the reason's params). The Odoo wizard
#: has a translated text for each code (``wizard/chorus_pro_order_read_messages.py``).
REASONS: dict[str, str] = {
    # Where a value was read
    "label": "labelled \u201c%(label)s\u201d",
    "value_on_next_line": "the value is on the line after its label",
    "xml_element": "the order's structured data (%(element)s)",
    "xml_order_number": "the order's own number: an invoice quotes it as its purchase order reference (BT-13); "
    "check that it is the engagement number",
    "xml_invoicee": "the order's invoicee (%(element)s): the party the invoice goes to",
    "xml_buyer": "the order's buyer (%(element)s)",
    "date_with_number": "the date given with the order number",
    "letter_date": "the date of the letter (\u201c%(label)s\u201d)",
    # SIRET
    "known_recipient": "a known Chorus Pro recipient: %(name)s",
    "not_recipient": "not one of the known Chorus Pro recipients",
    "labelled_siret": "labelled SIRET",
    "invoicing_context": "in the invoicing instructions (\u201c%(word)s\u201d)",
    "footer": "in the page footer",
    "letterhead": "in the letterhead (the buyer's seat)",
    "split_over_lines": "read across two lines",
    "named_budget": "the order names %(name)s",
    "named_budget_only": "the order names %(name)s, whose SIRET is %(siret)s",
    "invalid_siret_seen": "the order also prints %(siret)s (page %(page)s, line %(line)s), which is not a valid "
    "SIRET (wrong check digit)",
    # Values of the other fields
    "known_service": "an active service of %(name)s",
    "unknown_service": "not an active service of %(name)s",
    "superseded": "labelled as replaced or former (\u201c%(word)s\u201d)",
    "excluded_date": "a date of another kind (\u201c%(word)s\u201d), not the order's date",
    "subtotal": "a subtotal or carried-forward amount, not the order's total",
    "totals_add_up": "excluding tax + VAT = including tax",
    "totals_do_not_add_up": "excluding tax + VAT does not give the total including tax",
    # Excluded: shown, never chosen
    "supplier_siret": "the supplier's SIRET (\u201c%(word)s\u201d), not the buyer's",
    "own_siret": "your own SIRET, not the buyer's",
    "too_long": "%(length)s characters: Chorus Pro accepts at most %(max)s",
}

#: Fields whose decision says "high" from this score, "medium" from the second; below, "low".
CONFIDENCE_THRESHOLDS = {
    "siret": (6, 3),
    "engagement": (4, 3),
    "service_code": (4, 3),
    "contract": (4, 3),
    "order_number": (4, 3),
    "order_date": (4, 2),
}
DEFAULT_THRESHOLDS = (4, 2)


@dataclass(frozen=True)
class Reason:
    """Why a candidate scores what it scores: a stable ``code``, its ``params`` and its ``weight``."""

    code: str
    weight: int
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def text(self) -> str:
        return REASONS[self.code] % dict(self.params)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "params": dict(self.params)}


def reason(code: str, weight: int = 0, **params: Any) -> Reason:
    """A :class:`Reason` (its code must be one of :data:`REASONS`)."""
    if code not in REASONS:
        raise KeyError(code)
    return Reason(code, weight, tuple(sorted(params.items())))


@dataclass(frozen=True)
class Evidence:
    """Where a value was read: page and line of the PDF's text (1-based), or the XML element.

    ``line_end`` is the last line when the value runs over two lines; ``source`` names the file part
    (``pdf`` for the text layer, else the XML file's name); ``also`` lists the other places where the
    same value was read (their ``text`` left empty).
    """

    page: int | None
    line: int | None
    text: str
    source: str = "pdf"
    line_end: int | None = None
    element: str | None = None
    also: tuple[Evidence, ...] = ()

    def where(self) -> str:
        """``page 1, line 23`` / ``order-x.xml line 27``."""
        if self.source == "pdf":
            lines = f"lines {self.line}-{self.line_end}" if self.line_end else f"line {self.line}"
            return f"page {self.page}, {lines}"
        return f"{self.source} line {self.line}" if self.line else self.source

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"page": self.page, "line": self.line, "text": self.text, "source": self.source}
        if self.line_end:
            data["line_end"] = self.line_end
        if self.element:
            data["element"] = self.element
        if self.also:
            data["also"] = [{"page": place.page, "line": place.line, "source": place.source} for place in self.also]
        return data


@dataclass
class Candidate:
    """One value of one field, where it was read and why it scores what it scores."""

    field: str
    value: Any  # str for identifiers, ISO date string, a dict of amounts for totals
    display: str
    evidence: Evidence
    reasons: list[Reason] = field(default_factory=list)
    excluded: bool = False  # shown to the person, never chosen (the supplier's SIRET...)
    veto: bool = False  # when another value comes first, the field is ambiguous all the same

    @property
    def score(self) -> int:
        return sum(item.weight for item in self.reasons)

    def has(self, code: str) -> bool:
        return any(item.code == code for item in self.reasons)

    def add(self, item: Reason) -> None:
        if not self.has(item.code):
            self.reasons.append(item)

    def why(self) -> str:
        return "; ".join(item.text for item in self.reasons) or "found"

    def as_dict(self, confidence: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value, "display": self.display, "evidence": self.evidence.as_dict()}
        if confidence:
            data["confidence"] = confidence
        data["score"] = self.score
        data["reasons"] = [item.text for item in self.reasons]
        data["reason_codes"] = [item.code for item in self.reasons]
        if self.excluded:
            data["excluded"] = True
        return data


@dataclass
class FieldResult:
    """The decision for one field: ``chosen``, ``ambiguous`` or ``missing``, with every candidate ranked."""

    field: str
    decision: str
    ranked: list[Candidate]
    chosen: Candidate | None = None
    confidence: str | None = None
    why: str = ""
    why_code: str = ""
    why_params: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> Any:
        return self.chosen.value if self.chosen else None

    @property
    def competing(self) -> bool:
        """Several distinct values were read (the chosen one, if any, was ranked against the others)."""
        return len(self.ranked) > 1


def _merge(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per value: the best-scoring occurrence, the other places in ``evidence.also``."""
    groups: dict[Any, list[Candidate]] = {}
    for candidate in candidates:
        key = repr(candidate.value)
        groups.setdefault(key, []).append(candidate)
    merged = []
    for group in groups.values():
        excluded = [item for item in group if item.excluded]
        best = max(excluded or group, key=lambda item: (item.score, -_order(item)))
        places = {(item.evidence.source, item.evidence.page, item.evidence.line) for item in group}
        places.discard((best.evidence.source, best.evidence.page, best.evidence.line))
        others = [Evidence(page, line, "", source=source)
                  for source, page, line in sorted(places, key=lambda p: (p[0] != "pdf", p[0], p[1] or 0, p[2] or 0))]
        reasons = list(best.reasons)
        for item in group:  # a budget the order names corroborates its SIRET read elsewhere
            for extra in item.reasons:
                if (item is not best and extra.code == "named_budget_only"
                        and not any(r.code.startswith("named_budget") for r in reasons)):
                    reasons.append(reason("named_budget", 1, name=dict(extra.params)["name"]))
        merged.append(
            replace(
                best,
                reasons=reasons,
                evidence=replace(best.evidence, also=tuple(others)),
                veto=all(item.veto for item in group),
            )
        )
    return merged


def _order(candidate: Candidate) -> int:
    """Reading order of a candidate (earlier first), for ties."""
    page = candidate.evidence.page or 0
    line = candidate.evidence.line or 0
    return page * 100_000 + line


def _confidence(field_name: str, score: int) -> str:
    high, medium = CONFIDENCE_THRESHOLDS.get(field_name, DEFAULT_THRESHOLDS)
    if score >= high:
        return "high"
    return "medium" if score >= medium else "low"


def decide(field_name: str, candidates: list[Candidate], looked_for: str = "") -> FieldResult:
    """Rank the candidates of one field and decide (see the module's docstring).

    :param looked_for: the wordings searched, said when nothing was found.
    """
    merged = _merge([item for item in candidates if item.field == field_name])
    usable = sorted((item for item in merged if not item.excluded), key=lambda item: (-item.score, _order(item)))
    excluded = sorted((item for item in merged if item.excluded), key=_order)
    ranked = usable + excluded
    if not usable:
        if excluded:
            why = "only " + "; ".join(f"{item.display} ({item.why()})" for item in excluded)
            return FieldResult(field_name, "missing", ranked, why=why, why_code="only_excluded",
                               why_params={"values": ", ".join(item.display for item in excluded)})
        why = f"not on the order (looked for {looked_for})" if looked_for else "not on the order"
        return FieldResult(field_name, "missing", ranked, why=why, why_code="not_found",
                           why_params={"looked_for": looked_for})
    first = usable[0]
    rivals = usable[1:]
    vetoes = [item for item in rivals if item.veto]
    if not rivals:
        return FieldResult(field_name, "chosen", ranked, chosen=first, confidence=_confidence(field_name, first.score),
                           why=first.why(), why_code="only_value")
    lead = first.score - rivals[0].score
    if lead >= MARGIN and not vetoes:
        below = "; ".join(f"{item.display} ({item.why()})" for item in rivals)
        return FieldResult(
            field_name, "chosen", ranked, chosen=first, confidence=_confidence(field_name, first.score),
            why=f"ranked first: {first.why()}; below: {below}", why_code="ranked_first",
            why_params={"others": ", ".join(item.display for item in rivals)},
        )
    contenders = [first] + [item for item in rivals if first.score - item.score < MARGIN or item.veto]
    values = ", ".join(item.display for item in contenders)
    why = f"{len(contenders)} values with no clear first: {values}; choose the right one"
    return FieldResult(field_name, "ambiguous", ranked, why=why, why_code="ambiguous",
                       why_params={"count": len(contenders), "values": values})
