"""The text layer of a purchase order PDF, read through pypdf within fixed bounds (no OCR).

A purchase order is a few pages of text; a hostile or broken file must not cost more than a few
seconds and a few tens of MB. Before pypdf extracts a page's text, the streams it would decode (the
page's content, its form XObjects, the fonts' ToUnicode maps) are unpacked with the capped reader of
:mod:`.pdf_files` and counted: a page over :data:`MAX_PAGE_CONTENT`, a document over
:data:`MAX_TOTAL_CONTENT` or :data:`MAX_PAGES`, or more than :data:`MAX_TEXT_CHARS` of text is
refused in one sentence. A PDF with no text at all (a scan) is refused too: nothing is guessed.

Lines are numbered per page from 1, empty lines left out (the numbers a person counts in the text,
not in the drawing); a line longer than :data:`MAX_LINE_CHARS` is cut in pieces.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from .errors import InputError
from .limits import MAX_DEPOSIT_SIZE
from .order_fields import Line
from .pdf_files import TooLarge, embedded_files, stream_bytes

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_PAGES",
    "MAX_PAGE_CONTENT",
    "MAX_TEXT_CHARS",
    "MAX_TOTAL_CONTENT",
    "PdfText",
    "pdf_text",
]

MIB = 1024 * 1024
#: Pages read at most: an order of more pages is refused (the footer repeats; 100 is plenty).
MAX_PAGES = 100
KIB = 1024
#: Decoded drawing instructions of one page (content, forms, ToUnicode maps). A printed order's page needs
#: 5 to 100 KB; pypdf extracts text from dense instructions at about 0.1 to 0.2 MB a second
#: (bench/bench_read_order.py), so the worst page takes a few seconds and the worst file about ten.
MAX_PAGE_CONTENT = 256 * KIB
#: The same for the whole document.
MAX_TOTAL_CONTENT = 1 * MIB
#: Characters of text in all (a hundred pages of 3,000 characters).
MAX_TEXT_CHARS = 300_000
#: A longer line is cut in pieces of this size (each its own line).
MAX_LINE_CHARS = 2_000
#: Lines at the top (letterhead) and the bottom (footer) of a page.
EDGE_LINES = 6
#: Fewer letters and digits than this in the whole text: the PDF has no text layer (a scan).
MIN_TEXT_CHARS = 20
#: Content parts, resource dictionaries, fonts and XObjects looked at per page at most (a page of an order
#: uses a few dozen; a looping or absurd resource tree is refused).
MAX_RESOURCES = 2_000


@dataclass
class PdfText:
    """What the text layer holds: numbered lines, the page count, the XML files embedded in the PDF."""

    lines: list[Line]
    pages: int
    embedded: dict[str, bytes] = field(default_factory=dict)


def _refuse(code: str, message: str, **params) -> InputError:
    return InputError(message, code=code, params=params)


def _damaged(err: Exception) -> InputError:
    reason = str(err) or type(err).__name__
    return _refuse("order_damaged", f"this PDF is damaged and cannot be read ({reason[:200]}): ask the buyer for "
                   "the order again", reason=reason[:200])


def _streams_of(page) -> list[tuple[str, object]]:
    """The streams pypdf decodes to extract a page's text, each once: content, forms (nested), ToUnicode maps.

    At most :data:`MAX_RESOURCES` entries (content parts, resource dictionaries, fonts, XObjects) are
    looked at: a page drawing more is refused, not walked for minutes.
    """
    found: list[tuple[str, object]] = []
    seen: set[int] = set()
    visited = 0

    def count(entries: int = 1) -> None:
        nonlocal visited
        visited += entries
        if visited > MAX_RESOURCES:
            raise _refuse("order_too_complex", "this PDF's pages nest too many drawings to be a purchase order: "
                          "not read", reason="resources")

    contents = page.get("/Contents")
    if contents is not None:
        contents = contents.get_object()
        parts = contents if isinstance(contents, list) else [contents]
        count(len(parts))
        found += [("content", part.get_object()) for part in parts]
    todo = [page.get("/Resources")]
    while todo:
        resources = todo.pop()
        resources = resources.get_object() if resources is not None else None
        if not hasattr(resources, "get"):
            continue
        count()
        fonts = resources.get("/Font")
        fonts = fonts.get_object() if fonts is not None else None
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else None
        count(len(fonts) if hasattr(fonts, "values") else 0)
        count(len(xobjects) if hasattr(xobjects, "values") else 0)
        for font in (fonts.values() if hasattr(fonts, "values") else []):
            font = font.get_object()
            unicode_map = font.get("/ToUnicode") if hasattr(font, "get") else None
            if unicode_map is not None and id(unicode_map.get_object()) not in seen:
                seen.add(id(unicode_map.get_object()))
                found.append(("font map", unicode_map.get_object()))
        for xobject in (xobjects.values() if hasattr(xobjects, "values") else []):
            xobject = xobject.get_object()
            if not hasattr(xobject, "get") or xobject.get("/Subtype") != "/Form" or id(xobject) in seen:
                continue
            seen.add(id(xobject))
            found.append(("form", xobject))
            todo.append(xobject.get("/Resources"))
    return found


def _check_content(page, number: int, budget: int) -> int:
    """Decode (capped) what text extraction of this page decodes; return the bytes counted."""
    counted = 0
    for kind, stream in _streams_of(page):
        if not hasattr(stream, "get_data"):
            continue
        page_left, document_left = MAX_PAGE_CONTENT - counted, budget - counted
        try:
            counted += len(stream_bytes(stream, kind, max(min(page_left, document_left), 0)))
        except TooLarge:
            if document_left < page_left:
                raise _refuse("order_content_too_heavy", f"this PDF holds more than {MAX_TOTAL_CONTENT // MIB} MB of "
                              "page content: it is not a purchase order this reader takes",
                              max=MAX_TOTAL_CONTENT // MIB) from None
            raise _refuse("order_page_too_heavy", f"page {number} of this PDF holds more than "
                          f"{MAX_PAGE_CONTENT // KIB} KB of drawing instructions: it is not a purchase order this "
                          "reader takes", page=number, max=MAX_PAGE_CONTENT // KIB) from None
    return counted


def _lines_of(text: str, page: int) -> list[Line]:
    pieces = []
    for raw in text.splitlines():
        raw = raw.strip()
        while raw:
            pieces.append(raw[:MAX_LINE_CHARS])
            raw = raw[MAX_LINE_CHARS:].strip()
    count = len(pieces)
    lines = []
    for index, piece in enumerate(pieces):
        position = "top" if index < EDGE_LINES else "bottom" if index >= count - EDGE_LINES else "body"
        lines.append(Line(page, index + 1, piece, position))
    return lines


def _open(data: bytes):
    """A pypdf reader of the file, decrypted when it only protects against changes."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    reader = PdfReader(io.BytesIO(bytes(data)), strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # protected against changes only: readable without a password
        except DependencyError:
            raise _refuse("order_encrypted_unsupported", "this PDF is encrypted and this installation cannot "
                          "decrypt it (install the Python package cryptography), or ask the buyer for an "
                          "unprotected copy") from None
        except (FileNotDecryptedError, PdfReadError, NotImplementedError):
            opened = None
        if not opened:
            raise _refuse("order_encrypted", "this PDF is protected by a password: ask the buyer for an "
                          "unprotected copy of the order")
    return reader


def _guarded(action, *args):
    """Run a pypdf call; a damaged file becomes one sentence (``order_damaged``)."""
    try:
        return action(*args)
    except InputError:
        raise
    except RecursionError:
        raise _damaged(RecursionError("looping structure")) from None
    except Exception as err:  # noqa: BLE001 - pypdf raises many types on a damaged file
        raise _damaged(err) from err


def _page_text(reader, number: int, budget: int) -> tuple[str, int]:
    page = reader.pages[number - 1]
    counted = _check_content(page, number, budget)
    return page.extract_text() or "", counted


def _embedded_xml(data: bytes) -> dict[str, bytes]:
    try:
        embedded, _xmp = embedded_files(data, MAX_DEPOSIT_SIZE)
    except TooLarge as err:
        raise _refuse("order_embedded_too_large", f"the file {err.name} embedded in this PDF unpacks to more "
                      f"than {MAX_DEPOSIT_SIZE // MIB} MB: not read", name=err.name,
                      max=MAX_DEPOSIT_SIZE // MIB) from None
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - a damaged list of embedded files: the text is still read
        return {}
    return {name: content for name, content in embedded.items() if name.lower().endswith(".xml")}


def pdf_text(data: bytes) -> PdfText:
    """The numbered lines of a PDF's text layer and its embedded XML files.

    :raises InputError: ``order_damaged``, ``order_encrypted``, ``order_encrypted_unsupported``,
        ``order_too_many_pages``, ``order_page_too_heavy``, ``order_content_too_heavy``, ``order_too_much_text``,
        ``order_embedded_too_large``, ``order_too_complex``, ``order_no_text`` (a scan): one sentence each, with
        what to do.
    """
    reader = _guarded(_open, data)
    count = _guarded(len, reader.pages)
    if count == 0:
        raise _refuse("order_damaged", "this PDF has no page: ask the buyer for the order again", reason="no page")
    if count > MAX_PAGES:
        raise _refuse("order_too_many_pages", f"this PDF has {count} pages; a purchase order is read up to "
                      f"{MAX_PAGES}: give the pages of the order only", pages=count, max=MAX_PAGES)
    lines: list[Line] = []
    budget = MAX_TOTAL_CONTENT
    total_chars = 0
    for number in range(1, count + 1):
        text, counted = _guarded(_page_text, reader, number, budget)
        budget -= counted
        total_chars += len(text)
        if total_chars > MAX_TEXT_CHARS:
            raise _refuse("order_too_much_text", f"this PDF holds more than {MAX_TEXT_CHARS:,} characters of "
                          "text: it is not a purchase order this reader takes", max=MAX_TEXT_CHARS)
        lines += _lines_of(text, number)
    if sum(char.isalnum() for line in lines for char in line.text) < MIN_TEXT_CHARS:
        raise _refuse("order_no_text", "this order has no text to read (a scan): type the values")
    return PdfText(lines, count, _embedded_xml(data))
