"""What the command line prints of text it does not write: file names, invoice and flow numbers, the platform's words.

Such text may hold control characters: a file named ``"a.xml\\nchorus-rouen send: invoice X deposited"``
would otherwise print a second, forged line; an escape sequence would drive the terminal; an
undecodable file name would crash the output. :func:`printable` writes each such character as its
Python escape, so one value stays on one line and reads the same in any terminal or log.

>>> printable("FAC-1\\nchorus-rouen: deposited")
'FAC-1\\\\nchorus-rouen: deposited'
>>> printable("bad\\x1b[31mred\\u202e")
'bad\\\\x1b[31mred\\\\u202e'
>>> printable("Facture n° 12 (déjà payée)")
'Facture n° 12 (déjà payée)'
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable", "terminal_safe"]

#: Format characters that reorder what a terminal shows (bidirectional overrides and isolates).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI


def _escape(char: str) -> str:
    if unicodedata.category(char) == "Cs":  # an undecodable byte of a file name (surrogateescape)
        return char.encode("utf-8", "surrogateescape").decode("latin-1").encode("unicode_escape").decode("ascii")
    return char.encode("unicode_escape").decode("ascii")


def printable(value: object) -> str:
    """``value`` as text on one line: every control, line-separating or bidi character escaped."""
    text = str(value)
    if not any(_unsafe(char) for char in text):
        return text
    return "".join(_escape(char) if _unsafe(char) else char for char in text)


def terminal_safe(text: str) -> str:
    """A line (or lines) written by the command: control characters escaped except the line breaks it wrote."""
    return "\n".join(printable(line) for line in text.split("\n"))
