"""The wordings of French public purchase orders, and the candidates they give for each value.

Buyers word the same thing many ways: "N° d'engagement juridique", "Engagement n°", "EJ",
"Numéro d'EJ"; "Code service", "Service exécutant"; "N° de marché", "Accord-cadre"... Each label
below is matched on a *folded* copy of a line (lower case, accents removed, typographic apostrophes
and spaces made plain) that keeps every character at its place, so the value is then read from the
original text, with its case.

SIRETs are found as runs of digit groups ("200 023 414 00069", "20002341400069", "200.023.414.00069"),
also across two lines (a sentence that wraps a SIRET), and kept only when their check digit is
right. Their rank comes from what surrounds them: a known Chorus Pro recipient (e.g. one of the eight
budgets), the word SIRET, the invoicing instructions ("Facturation", "Chorus Pro", "Budget"...), the
footer; the letterhead (the buyer's seat) ranks lower; the supplier's SIRET ("Titulaire",
"Fournisseur"...) is shown but never chosen.

>>> fold("N° d’Engagement")
"n° d'engagement"
>>> [c.value for c in siret_candidates([Line(1, 1, "SIRET 200 023 414 00069 - Code service", "body")], {})]
['20002341400069']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from stdnum.fr import siret as stdnum_siret

from .budgets import format_siret
from .order_ranking import Candidate, Evidence, reason

__all__ = [
    "ENGAGEMENT_MAX_LENGTH",
    "FIELD_LABELS",
    "Line",
    "Recipient",
    "budget_mentions",
    "fold",
    "labelled_candidates",
    "parse_amount",
    "siret_candidates",
]

#: numeroBonCommande (BT-13) on Chorus Pro: at most 50 characters.
ENGAGEMENT_MAX_LENGTH = 50
#: Lines above a value that may hold its context word ("Facturation", "Titulaire"...).
CONTEXT_LINES = 3

_SPACES = "\u00a0\u202f\u2007\u2009\u2002\u2003\t"
_APOSTROPHES = "\u2019\u2018\u02bc\u00b4`\u2032"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"


@dataclass(frozen=True)
class Line:
    """One line of an order's text: page and line number (1-based), text, place on the page."""

    page: int
    number: int
    text: str
    position: str = "body"  # "top" (letterhead), "bottom" (footer) or "body"


@dataclass(frozen=True)
class Recipient:
    """A Chorus Pro recipient the reader knows: its SIRET, its name, its active service codes (None: unknown)."""

    siret: str
    name: str
    services: frozenset[str] | None = None


def _fold_char(char: str) -> str:
    if char in _APOSTROPHES:
        return "'"
    if char in _SPACES:
        return " "
    if char in _DASHES:
        return "-"
    if char == "\u00ba":  # "Nº" written with the masculine ordinal
        return "\u00b0"
    base = unicodedata.normalize("NFKD", char)[:1] or char
    lower = base.lower()
    return lower if len(lower) == 1 else base


# Latin letters, punctuation and the typographic characters of French text, folded at C speed.
_FOLD_TABLE = {code: _fold_char(chr(code)) for code in range(0x250)}
_FOLD_TABLE.update({ord(char): _fold_char(char) for char in _APOSTROPHES + _SPACES + _DASHES})


def fold(text: str) -> str:
    """Lower case without accents, plain apostrophes, spaces and dashes; one character for one (same length)."""
    folded = text.translate(_FOLD_TABLE)
    if folded.isascii():
        return folded
    return "".join(char if ord(char) < 0x250 else _fold_char(char) for char in folded)


# --------------------------------------------------------------------------------------------
# Labels of the identifiers (engagement, service code, contract, order number) and of the date
# --------------------------------------------------------------------------------------------

_NUM = r"(?:n\s*°|\bno\b\.?|\bnum(?:ero)?\b\.?|\bref(?:erence)?\b\.?)"
_OF = r"(?:\s*(?:d\s*'\s*|de\s+l\s*'\s*|de\s+la\s+|de\s+|du\s+))?"


@dataclass(frozen=True)
class Label:
    field: str
    pattern: re.Pattern
    weight: int


def _label(field: str, pattern: str, weight: int) -> Label:
    return Label(field, re.compile(pattern), weight)


LABELS: tuple[Label, ...] = (
    # Engagement number (numéro d'engagement juridique, EJ): BT-13
    _label("engagement", rf"(?:{_NUM}{_OF}\s*)?engagements?\s+juridiques?(?:\s*\(\s*ej\s*\))?", 4),
    _label("engagement", rf"{_NUM}{_OF}\s*engagement\b", 4),
    _label("engagement", rf"\bengagement\s*{_NUM}", 4),
    _label("engagement", rf"{_NUM}{_OF}\s*e\.?\s?j\b\.?", 4),
    _label("engagement", r"(?<![a-z0-9])e\.?j\.?\s*(?:n\s*°|\bno\b\.?)?\s*[:=]", 4),
    _label("engagement", r"\bengagement\s*:", 3),
    # Service code (service exécutant): BT-10
    _label("service_code", r"\bcode\s+(?:du\s+)?service(?:\s+executant)?(?:\s+chorus(?:\s+pro)?)?", 4),
    _label("service_code", r"\bservices?\s+executants?(?:\s+chorus(?:\s+pro)?)?", 4),
    _label("service_code", r"\bcode\s+s\.?e\.?\b", 3),
    # Contract (numéro de marché, accord-cadre): BT-12
    _label("contract", rf"\bmarches?\s+a\s+bons?\s+de\s+commandes?\s*(?:{_NUM})?", 4),
    _label("contract", rf"{_NUM}{_OF}\s*marche(?:\s+public)?\b", 4),
    _label("contract", rf"\bmarche(?:\s+public)?\s*{_NUM}", 4),
    _label("contract", rf"(?:{_NUM}{_OF}\s*)?accords?[\s-]*cadres?(?:\s*{_NUM})?", 4),
    _label("contract", rf"{_NUM}{_OF}\s*contrat\b|\bcontrat\s*{_NUM}", 3),
    _label("contract", r"\bmarche\s*:", 3),
    # Order number (bon de commande)
    _label("order_number", rf"\bbons?\s+de\s+commande\s*(?:{_NUM}|:)", 4),
    _label("order_number", rf"{_NUM}{_OF}\s*(?:bon\s+de\s+)?commande\b", 4),
    _label("order_number", rf"\bcommande\s*{_NUM}", 4),
    _label("order_number", r"(?:n\s*°|\bno\b\.?)\s*b\.?c\.?\b|\bb\.?c\.?\s*n\s*°", 3),
    _label("order_number", r"\breference\s+(?:de\s+la\s+)?commande\b", 3),
    # Order date
    _label("order_date", r"\bdate\s+(?:de\s+(?:la\s+)?|du\s+(?:bon\s+de\s+)?)commande\b", 4),
    _label("order_date", r"\bdate\s+d\s*'\s*emission\b|\bemise?\s+le\b", 3),
    _label("order_date", r"\bdate\s*:", 2),
    _label("order_date", r"(?<=[a-z]),\s*le\b", 2),  # "Rouen, le 12 mars 2026": the letter's date
)

#: The wordings looked for, said when a value is not found.
FIELD_LABELS = {
    "siret": "a SIRET (14 digits with a valid check digit)",
    "engagement": "\u201cN\u00b0 d'engagement juridique\u201d, \u201cEngagement n\u00b0\u201d, \u201cEJ\u201d, "
    "\u201cNum\u00e9ro d'EJ\u201d",
    "service_code": "\u201cCode service\u201d, \u201cService ex\u00e9cutant\u201d",
    "contract": "\u201cN\u00b0 de march\u00e9\u201d, \u201cMarch\u00e9 n\u00b0\u201d, \u201cAccord-cadre\u201d, "
    "\u201cContrat n\u00b0\u201d",
    "order_number": "\u201cBon de commande n\u00b0\u201d, \u201cN\u00b0 de commande\u201d, "
    "\u201cCommande n\u00b0\u201d",
    "order_date": "\u201cDate de commande\u201d, \u201cCommande n\u00b0 ... du\u201d, \u201cDate :\u201d, "
    "\u201c(place), le (date)\u201d",
    "totals": "\u201cTotal HT\u201d, \u201cTVA\u201d, \u201cTotal TTC\u201d",
}

# After the label: separators, "(EJ)", "n°", before the value.
_AFTER_LABEL = re.compile(r"[\s:=.\-]*(?:\(\s*[a-z.]{1,4}\s*\)\s*)?(?:(?:n\s*°|no\b\.?|numero\b)\s*)?[\s:=\-]*")
_IDENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9/_.\-]*[A-Za-z0-9])?")
_CODE = re.compile(r"[A-Z0-9](?:[A-Z0-9_.\-/]*[A-Z0-9])?(?![A-Za-z0-9])")
_SUPERSEDED = re.compile(r"\b(ancien(?:ne)?|annule|annulee|remplace|precedent(?:e)?|initial(?:e)?|modifie)\b")
_HAS_DIGIT = re.compile(r"\d")

_MONTHS = {
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "aout": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
}
_DATE = re.compile(
    r"(?P<d>\d{1,2})\s*[/.\-]\s*(?P<m>\d{1,2})\s*[/.\-]\s*(?P<y>\d{4}|\d{2})(?!\d)"
    r"|(?P<d2>\d{1,2}|1er)\s+(?P<month>" + "|".join(_MONTHS) + r")\s+(?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})"
)
_OTHER_DATES = re.compile(r"\b(livraison|livrer|delai|validite|echeance|execution|devis|signature|notification)\b")


def _parse_date(match: re.Match) -> date | None:
    try:
        if match.group("d"):
            year = int(match.group("y"))
            year += 2000 if year < 100 else 0
            return date(year, int(match.group("m")), int(match.group("d")))
        if match.group("d2"):
            day = 1 if match.group("d2") == "1er" else int(match.group("d2"))
            return date(int(match.group("y2")), _MONTHS[match.group("month")], day)
        return date(int(match.group("y3")), int(match.group("m3")), int(match.group("d3")))
    except ValueError:  # 31/02/2026
        return None


def _label_matches(folded: str) -> list[tuple[Label, re.Match]]:
    """Every label on a line; where two overlap, the longer one (``marché à bons de commande n°``)."""
    found = [(label, match) for label in LABELS for match in label.pattern.finditer(folded)]
    found.sort(key=lambda item: (item[1].start(), -(item[1].end() - item[1].start())))
    kept: list[tuple[Label, re.Match]] = []
    for label, match in found:
        if kept and match.start() < kept[-1][1].end():
            previous = kept[-1][1]
            if match.end() - match.start() > previous.end() - previous.start():
                kept[-1] = (label, match)
            continue
        kept.append((label, match))
    return kept


def _value_after(line: Line, folded: str, end: int, field: str) -> tuple[str, int, int] | None:
    """The value right after a label: ``(text, start, end)`` in the line, or None."""
    start = _AFTER_LABEL.match(folded, end).end()
    pattern = _CODE if field == "service_code" else _IDENT
    match = pattern.match(line.text, start)
    if not match:
        return None
    value = match.group(0)
    if field != "service_code" and not _HAS_DIGIT.search(value):
        return None
    if field == "service_code" and len(value) < 2:
        return None
    return value, match.start(), match.end()


def _evidence(line: Line, end_line: Line | None = None) -> Evidence:
    if end_line is None:
        return Evidence(line.page, line.number, line.text)
    return Evidence(line.page, line.number, f"{line.text} / {end_line.text}", line_end=end_line.number)


def _date_candidate(line: Line, folded: str, start: int, weights: list, end_line: Line | None = None):
    match = _DATE.search(folded, start)
    if not match or match.start() - start > 12:
        return None
    value = _parse_date(match)
    if value is None:
        return None
    return Candidate("order_date", value.isoformat(), value.strftime("%d/%m/%Y"), _evidence(line, end_line),
                     list(weights))


def labelled_candidates(lines: list[Line]) -> list[Candidate]:
    """Candidates of the labelled values: engagement, service code, contract, order number and date."""
    result: list[Candidate] = []
    for index, line in enumerate(lines):
        folded = fold(line.text)
        for label, match in _label_matches(folded):
            shown = line.text[match.start():match.end()].strip(" :=-")
            if label.field == "order_date":
                _date_after_label(result, line, folded, label, match, shown)
                continue
            found = _value_after(line, folded, match.end(), label.field)
            next_line = None
            if found is None and _AFTER_LABEL.match(folded, match.end()).end() == len(folded):
                next_line = lines[index + 1] if index + 1 < len(lines) else None
                if next_line is not None and next_line.page == line.page:
                    found = _value_after(next_line, fold(next_line.text), 0, label.field)
            if found is None:
                continue
            value, _start, value_end = found
            reasons = [reason("label", label.weight, label=shown)]
            if next_line is not None:
                reasons.append(reason("value_on_next_line", -1))
            superseded = _SUPERSEDED.search(folded[max(0, match.start() - 40):match.end()])
            if superseded:
                reasons.append(reason("superseded", -4, word=superseded.group(1)))
            candidate = Candidate(label.field, value, value, _evidence(line, next_line), reasons)
            if label.field == "engagement" and len(value) > ENGAGEMENT_MAX_LENGTH:
                candidate.excluded = True
                candidate.add(reason("too_long", 0, length=len(value), max=ENGAGEMENT_MAX_LENGTH))
            result.append(candidate)
            if label.field == "order_number" and next_line is None:
                after = fold(line.text[value_end:value_end + 8])
                if re.match(r"\s+du\s", after):
                    dated = _date_candidate(line, folded, value_end, [reason("date_with_number", 4)])
                    if dated:
                        result.append(dated)
    return result


def _date_after_label(result: list[Candidate], line: Line, folded: str, label: Label, match: re.Match,
                      shown: str) -> None:
    before = folded[max(0, match.start() - 30):match.end()]
    other = _OTHER_DATES.search(before)
    code = "label"
    if shown.startswith(","):  # the letter's date: show the place before it
        place = re.search(r"[\w'-]+$", line.text[:match.start()])
        shown = f"{place.group(0) if place else ''}, le"
        code = "letter_date"
    candidate = _date_candidate(line, folded, match.end(), [reason(code, label.weight, label=shown)])
    if candidate is None:
        return
    if other:
        candidate.excluded = True
        candidate.reasons = [reason("excluded_date", 0, word=other.group(1))]
    result.append(candidate)


# --------------------------------------------------------------------------------------------
# SIRET
# --------------------------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\d+(?:[ .\-]\d+)*")
_DIGITS = re.compile(r"\d+")
_INVOICING_WORDS = re.compile(
    r"\b(factur\w*|chorus|destinataire|budgets?|a adresser|adressee?s?|service executant|engagement)\b"
)
_SUPPLIER_WORDS = re.compile(
    r"\b(fournisseur|titulaire|prestataire|attributaire|cocontractant|votre siret|vendeur|entreprise)\b"
)
_SIRET_WORD = re.compile(r"\bsiret\b")


def _siret_spans(groups: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Runs of consecutive digit groups holding exactly 14 digits with a valid check digit."""
    spans = []
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last][0]
            if len(digits) >= 14:
                break
        if len(digits) == 14 and stdnum_siret.is_valid(digits):
            spans.append((digits, first, last))
    # Overlapping runs (two SIRETs read out of one long run): keep the first of each overlap.
    kept = []
    for span in spans:
        if kept and span[1] <= kept[-1][2]:
            continue
        kept.append(span)
    return kept


def _groups(text: str) -> list[tuple[list[tuple[str, int, int]], int, int]]:
    """The digit runs of a line: ``(groups, start, end)``, each group ``(digits, start, end)``."""
    runs = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.group(0), run.start() + m.start(), run.start() + m.end()) for m in _DIGITS.finditer(run.group(0))]
        runs.append((groups, run.start(), run.end()))
    return runs


def invalid_sirets(lines: list[Line]) -> list[tuple[str, Line]]:
    """Labelled 14-digit numbers whose check digit is wrong (said when no SIRET is found)."""
    found = []
    for line in lines:
        folded = fold(line.text)
        if not _SIRET_WORD.search(folded):
            continue
        for groups, _start, _end in _groups(folded):
            digits = "".join(group[0] for group in groups)
            if len(digits) == 14 and not stdnum_siret.is_valid(digits):
                found.append((digits, line))
    return found


def _context(lines: list[Line], index: int, column: int) -> tuple[str, str] | None:
    """The nearest context word above a value: ``("supplier"|"invoicing", word)``, or None."""
    for offset in range(CONTEXT_LINES + 1):
        if index - offset < 0 or lines[index - offset].page != lines[index].page:
            break
        text = fold(lines[index - offset].text)
        if offset == 0:
            text = text[:column]
        hits = [("supplier", m) for m in _SUPPLIER_WORDS.finditer(text)]
        hits += [("invoicing", m) for m in _INVOICING_WORDS.finditer(text)]
        if hits:
            kind, match = max(hits, key=lambda item: item[1].start())
            return kind, match.group(1)
    return None


def siret_candidates(lines: list[Line], recipients: dict[str, Recipient],
                     own_sirets: frozenset[str] = frozenset()) -> list[Candidate]:
    """Every valid SIRET of the text, ranked by what surrounds it (see the module's docstring)."""
    result = []
    for index, line in enumerate(lines):
        folded = fold(line.text)  # no-break and thin spaces as plain ones
        runs = _groups(folded)
        for position, (groups, _start, run_end) in enumerate(runs):
            end_line = None
            all_groups = list(groups)
            last_run = position == len(runs) - 1
            digits = sum(len(group[0]) for group in groups)
            if last_run and digits < 14 and not folded[run_end:].strip() and index + 1 < len(lines):
                following = lines[index + 1]
                next_runs = _groups(fold(following.text))
                if following.page == line.page and next_runs and next_runs[0][1] == 0:
                    end_line = following
                    all_groups += [(d, -1, -1) for d, _s, _e in next_runs[0][0]]
            for siret, first, last in _siret_spans(all_groups):
                crosses = end_line is not None and all_groups[first][1] != -1 and all_groups[last][1] == -1
                if end_line is not None and not crosses:
                    continue
                column = all_groups[first][1]
                result.append(_siret_candidate(lines, index, column, siret, recipients, own_sirets,
                                               end_line if crosses else None))
    return result


def _siret_candidate(lines, index, column, siret, recipients, own_sirets, end_line) -> Candidate:
    line = lines[index]
    folded = fold(line.text)
    reasons = []
    candidate = Candidate("siret", siret, format_siret(siret), _evidence(line, end_line), reasons)
    recipient = recipients.get(siret)
    if recipient:
        reasons.append(reason("known_recipient", 4, name=recipient.name))
    else:
        reasons.append(reason("not_recipient", 0))
    above = fold(lines[index - 1].text) if index and lines[index - 1].page == line.page else ""
    if _SIRET_WORD.search(folded[:column]) or (not folded[:column].strip() and _SIRET_WORD.search(above)):
        reasons.append(reason("labelled_siret", 1))
    context = _context(lines, index, column)
    if siret in own_sirets:
        candidate.excluded = True
        candidate.reasons = [reason("own_siret")]
        return candidate
    if context and context[0] == "supplier" and not recipient:
        candidate.excluded = True
        candidate.reasons = [reason("supplier_siret", word=context[1])]
        return candidate
    if context and context[0] == "invoicing":
        reasons.append(reason("invoicing_context", 2, word=context[1]))
    if line.position == "bottom":
        reasons.append(reason("footer", 1))
    elif line.position == "top" and not (context and context[0] == "invoicing"):
        reasons.append(reason("letterhead", -1))
    if end_line is not None:
        reasons.append(reason("split_over_lines", 0))
    return candidate


# --------------------------------------------------------------------------------------------
# Budgets named in the text
# --------------------------------------------------------------------------------------------

_STOP_WORDS = frozenset({
    "budget", "budgets", "annexe", "des", "de", "du", "la", "le", "les", "et", "metropole", "rouen", "normandie",
})
_WORD = re.compile(r"[a-z]+")


def _distinctive_words(recipients: dict[str, Recipient]) -> dict[str, str]:
    """word -> SIRET, for the words of a recipient's name that no other recipient's name has."""
    owners: dict[str, set[str]] = {}
    for siret, recipient in recipients.items():
        for word in _WORD.findall(fold(recipient.name)):
            if len(word) >= 3 and word not in _STOP_WORDS:
                owners.setdefault(word, set()).add(siret)
    return {word: next(iter(sirets)) for word, sirets in owners.items() if len(sirets) == 1}


def budget_mentions(lines: list[Line], recipients: dict[str, Recipient]) -> list[Candidate]:
    """A recipient named on a line that speaks of a budget ("Budget : Transports"), as a SIRET candidate.

    Named without its SIRET nearby, it *vetoes*: if the order's SIRET is another budget's, the SIRET
    is ambiguous (nothing is chosen silently).
    """
    words = _distinctive_words(recipients)
    if not words:
        return []
    result = []
    for line in lines:
        folded = fold(line.text)
        if "budget" not in folded:
            continue
        for siret in sorted({words[word] for word in _WORD.findall(folded) if word in words}):
            name = recipients[siret].name
            result.append(Candidate("siret", siret, format_siret(siret), _evidence(line),
                                    [reason("named_budget_only", 2, name=name, siret=format_siret(siret))],
                                    veto=True))
    return result


# --------------------------------------------------------------------------------------------
# Totals
# --------------------------------------------------------------------------------------------

_TOTAL_LABELS = (
    ("untaxed", re.compile(r"\b(?:total|montant)(?:\s+total)?\s+(?:h\.?\s?t\.?|hors\s+tax(?:e|es))(?![a-z])")),
    ("tax", re.compile(r"(?:\b(?:total|montant)(?:\s+de\s+la)?\s+)?\bt\.?v\.?a\b\.?")),
    ("with_tax", re.compile(
        r"\b(?:total|montant)(?:\s+total)?\s+t\.?\s?t\.?\s?c\b\.?|\bnet\s+a\s+payer\b|\btoutes\s+taxes\s+comprises\b")),
)
#: Words allowed between a total's label and its amount ("TVA à 20 % : 1 560,00 €"); any other word means the
#: number is something else ("TVA non applicable, article 293 B du CGI").
_FILLER_WORDS = frozenset({"a", "au", "de", "du", "taux", "soit", "eur", "euro", "euros"})
_SUBTOTAL = re.compile(r"\b(sous[\s-]total|report|a\s+reporter|reporte)\b")
_AMOUNT = re.compile(r"(?<![\d,.])(\d{1,3}(?:[ .]\d{3})+|\d+)(?:[,.](\d{1,2}))?(?![\d%])(?!\s*%)")


def parse_amount(text: str) -> Decimal | None:
    """The last amount of a text, French or English notation ("12 500,00 €", "12500.00"), or None.

    >>> parse_amount("TVA 20 % : 1 560,00 €")
    Decimal('1560.00')
    """
    matches = list(_AMOUNT.finditer(fold(text)))
    if not matches:
        return None
    match = matches[-1]
    whole = re.sub(r"[ .]", "", match.group(1))
    cents = (match.group(2) or "").ljust(2, "0")
    try:
        return Decimal(f"{whole}.{cents}")
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        return None


def _amount_after(text: str) -> Decimal | None:
    """The first amount of ``text`` when only separators, a rate and filler words come before it."""
    folded = fold(text)
    match = _AMOUNT.search(folded)
    if not match or any(word not in _FILLER_WORDS for word in _WORD.findall(folded[:match.start()])):
        return None
    return parse_amount(folded[match.start():match.end()])


def total_candidates(lines: list[Line]) -> list[Candidate]:
    """Candidates of ``totals.untaxed``, ``totals.tax`` and ``totals.with_tax``: the amount after each label,
    before the next one ("Total HT : 2 400,00 € - TVA : 480,00 € - Total TTC : 2 880,00 €")."""
    result = []
    for line in lines:
        folded = fold(line.text)
        found = sorted(((match, part) for part, pattern in _TOTAL_LABELS for match in pattern.finditer(folded)),
                       key=lambda item: item[0].start())
        subtotal = _SUBTOTAL.search(folded)
        for position, (match, part) in enumerate(found):
            end = found[position + 1][0].start() if position + 1 < len(found) else len(line.text)
            amount = _amount_after(line.text[match.end():end])
            if amount is None:
                continue
            shown = line.text[match.start():match.end()].strip()
            candidate = Candidate(f"totals.{part}", str(amount), f"{amount:,.2f}".replace(",", " "),
                                  _evidence(line), [reason("label", 4, label=shown)])
            if subtotal:
                candidate.excluded = True
                candidate.reasons = [reason("subtotal")]
            result.append(candidate)
    return result
