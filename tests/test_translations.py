"""The French translations of the addons (each addon's ``i18n/fr.po``) are complete and safe to load (no Odoo needed).

``i18n/odoo_chorus_rouen.pot`` is exported by Odoo (``odoo-bin --i18n-export``; STYLE.md, "Translations")
and merged into ``fr.po`` with ``msgmerge``. These checks catch what breaks a French user's screen:

* an untranslated, empty or fuzzy entry (Odoo ignores fuzzy entries: the user sees English);
* a placeholder lost or renamed in a translation (``%(invoice)s`` missing makes the message lie,
  an extra ``%(name)s`` raises ``KeyError`` when Odoo formats it);
* an HTML tag or attribute changed in a view term (Odoo rejects or mangles the translated view);
* a ``_()`` / ``_lt()`` / ``env._()`` string added to the Python code after the last export: it has no
  msgid in ``fr.po`` yet, so it would show in English. Re-export the .pot and merge it.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every addon of the repository, with the folders holding its Python code: each ships a complete fr.po.
ADDONS = {
    "odoo_chorus_rouen": ("models", "wizard"),
    "odoo_chorus_rouen_sale": ("models", "wizard"),
}


class Addon:
    """An addon's folder, its i18n files and its Python folders."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = ROOT / name
        self.pot_path = self.dir / "i18n" / f"{name}.pot"
        self.fr_path = self.dir / "i18n" / "fr.po"
        self.python_dirs = ADDONS[name]

    def __repr__(self) -> str:
        return self.name


# printf-style placeholders as Python's ``%`` operator reads them: ``%(name)s``, ``%s``, ``%5.2f``...
# ``%%`` (a literal percent sign) is matched first so that it is never taken for a placeholder.
PRINTF_RE = re.compile(r"%%|%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<conv>[diouxXeEfFgGcrsa])")
BRACE_RE = re.compile(r"\{[^{}]*\}")
TAG_RE = re.compile(r"<[^<>]+>")


def printf_placeholders(text: str) -> tuple[set[str], list[str]]:
    """The named placeholders (``%(name)s``, as a set) and the positional ones (``%s``, in order)."""
    named, positional = set(), []
    for match in PRINTF_RE.finditer(text):
        if match.group(0) == "%%":
            continue
        if match.group("name") is not None:
            named.add(match.group(0))
        else:
            positional.append(match.group(0))
    return named, positional


def tags(text: str) -> Counter:
    """Every HTML/XML tag with its attributes, whitespace-normalised (a view term's markup)."""
    return Counter(" ".join(tag.split()) for tag in TAG_RE.findall(text))


def translatable_literals(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """``(line, text)`` of every ``_("...")``, ``_lt("...")`` and ``<expr>._("...")`` with a literal first argument."""
    tree = ast.parse(source, filename=filename)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_translation = (isinstance(func, ast.Name) and func.id in ("_", "_lt")) or (
            isinstance(func, ast.Attribute) and func.attr == "_"
        )
        first = node.args[0]
        if is_translation and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((node.lineno, first.value))
    return sorted(found)


def literals_of(path: Path) -> list[tuple[int, str]]:
    return translatable_literals(path.read_text(encoding="utf-8"), str(path))


def python_sources(addon: Addon) -> list[Path]:
    return sorted(path for folder in addon.python_dirs for path in (addon.dir / folder).glob("*.py"))


@pytest.fixture(scope="module", params=sorted(ADDONS))
def addon(request) -> Addon:
    return Addon(request.param)


@pytest.fixture(scope="module")
def pot(addon) -> polib.POFile:
    return polib.pofile(str(addon.pot_path))


@pytest.fixture(scope="module")
def fr(addon) -> polib.POFile:
    return polib.pofile(str(addon.fr_path))


def test_fr_po_parses_with_a_french_header(fr):
    assert len(fr) > 0
    assert fr.metadata.get("Language") == "fr"
    assert "charset=UTF-8" in fr.metadata.get("Content-Type", "")
    assert fr.metadata.get("Plural-Forms", "").replace(" ", "") == "nplurals=2;plural=(n>1);"
    assert fr.encoding.lower().replace("-", "") == "utf8"


def test_pot_is_an_odoo_export_of_this_module(addon, pot):
    assert len(pot) > 0
    assert all(entry.msgstr == "" for entry in pot), "the .pot holds translations"
    modules = {line for entry in pot for line in entry.comment.splitlines() if line.startswith("module:")}
    assert modules == {f"module: {addon.name}"}


def test_every_msgid_of_the_pot_is_translated(pot, fr):
    translations = {entry.msgid: entry for entry in fr}
    missing = [entry.msgid for entry in pot if entry.msgid not in translations]
    untranslated = [
        entry.msgid for entry in pot if entry.msgid in translations and not translations[entry.msgid].msgstr.strip()
    ]
    fuzzy = [entry.msgid for entry in fr if entry.fuzzy]
    assert not missing, f"msgids of the .pot missing from fr.po (run msgmerge): {missing}"
    assert not untranslated, f"empty translations in fr.po: {untranslated}"
    assert not fuzzy, f"fuzzy entries in fr.po (Odoo ignores them): {fuzzy}"
    assert fr.percent_translated() == 100


def test_fr_po_has_no_obsolete_or_stale_entry(pot, fr):
    obsolete = [entry.msgid for entry in fr.obsolete_entries()]
    assert not obsolete, f"obsolete (#~) entries in fr.po: {obsolete}"
    pot_msgids = {entry.msgid for entry in pot}
    stale = [entry.msgid for entry in fr if not entry.obsolete and entry.msgid not in pot_msgids]
    assert not stale, f"fr.po entries that the .pot no longer has (run msgmerge): {stale}"
    duplicates = [msgid for msgid, count in Counter(entry.msgid for entry in fr).items() if count > 1]
    assert not duplicates, f"duplicate msgids in fr.po: {duplicates}"


def test_translations_keep_every_placeholder(fr):
    problems = []
    for entry in fr.translated_entries():
        named_id, positional_id = printf_placeholders(entry.msgid)
        named_str, positional_str = printf_placeholders(entry.msgstr)
        if named_id != named_str:
            problems.append(f"{entry.msgid!r}: named placeholders {sorted(named_id)} != {sorted(named_str)}")
        if positional_id != positional_str:
            problems.append(f"{entry.msgid!r}: positional placeholders {positional_id} != {positional_str}")
        if Counter(BRACE_RE.findall(entry.msgid)) != Counter(BRACE_RE.findall(entry.msgstr)):
            problems.append(f"{entry.msgid!r}: {{...}} placeholders differ")
        if tags(entry.msgid) != tags(entry.msgstr):
            problems.append(f"{entry.msgid!r}: HTML tags/attributes differ")
    assert not problems, "\n".join(problems)


def test_translations_format_like_odoo_formats_them(fr):
    """Odoo fills ``_("...", name=value)`` with ``%``: the msgstr must format with the msgid's own names."""
    problems = []
    for entry in fr.translated_entries():
        named, positional = printf_placeholders(entry.msgid)
        if not named or positional:
            continue
        values = {PRINTF_RE.match(placeholder).group("name"): "x" for placeholder in named}
        try:
            entry.msgstr % values  # noqa: B018 - formatting is the check
        except (KeyError, ValueError, TypeError) as err:
            problems.append(f"{entry.msgid!r}: {err!r}")
    assert not problems, "\n".join(problems)


def test_python_sources_are_found(addon):
    sources = python_sources(addon)
    for folder in addon.python_dirs:
        assert any(path.parent.name == folder for path in sources), folder
    assert sum(len(literals_of(path)) for path in sources) > 0


def test_every_python_string_marked_for_translation_is_in_fr_po(addon, fr):
    """Catches strings added to the code after the last .pot export."""
    msgids = {entry.msgid for entry in fr if not entry.obsolete}
    missing = [
        f"{path.relative_to(addon.dir)}:{line}: {text!r}"
        for path in python_sources(addon)
        for line, text in literals_of(path)
        if text not in msgids
    ]
    assert not missing, "strings marked for translation but not in fr.po (re-export the .pot, msgmerge):\n" + "\n".join(
        missing
    )


def test_placeholder_helpers():
    assert printf_placeholders("%(a)s and %s, 100%% sure, %d") == ({"%(a)s"}, ["%s", "%d"])
    assert printf_placeholders("no placeholder") == (set(), [])
    assert tags('<strong>x</strong> <span  class="a">y</span>') == Counter(
        {"<strong>": 1, "</strong>": 1, '<span class="a">': 1, "</span>": 1}
    )
    source = (
        'from odoo import _\nx = _("Hello %(a)s", a=1)\ny = self.env._("Bye")\n'
        'z = _lt("Lazy " "joined")\nw = f(_x("no"))\n'
    )
    assert [text for _line, text in translatable_literals(source)] == ["Hello %(a)s", "Bye", "Lazy joined"]
