"""The body of ``deposerFluxFacture`` (``POST /cpro/factures/v1/deposer/flux``), CHORUS_PRO_API.md §3.1.

>>> deposit_filename("FAC/2026/0001", Format.FACTURX_PDF)
'facturx_chorus_facture_FAC-2026-0001.pdf'
>>> body = build_deposit(b"%PDF-1.7 ...", "facture.pdf")
>>> body["syntaxeFlux"], body["nomFichier"], body["avecSignature"]
('IN_DP_E2_CII_FACTURX', 'facture.pdf', False)
>>> body["fichierFlux"]
'JVBERi0xLjcgLi4u'
"""

from __future__ import annotations

import base64
import re
from typing import Any

from .errors import InputError
from .validation_input import DEFAULT_MAX_SIZE, detect_format
from .validation_report import Format

__all__ = [
    "EXTENSION_BY_FORMAT",
    "MAX_FILENAME_LENGTH",
    "SYNTAX_BY_FORMAT",
    "build_deposit",
    "deposit_filename",
]

#: ``syntaxeFlux`` per file format (§3.2): Factur-X is the E2 "mixed" flow, CII and UBL the E1 one.
SYNTAX_BY_FORMAT: dict[Format, str] = {
    Format.FACTURX_PDF: "IN_DP_E2_CII_FACTURX",
    Format.CII: "IN_DP_E1_CII_16B",
    Format.UBL: "IN_DP_E1_UBL_INVOICE",
}
EXTENSION_BY_FORMAT: dict[Format, str] = {Format.FACTURX_PDF: ".pdf", Format.CII: ".xml", Format.UBL: ".xml"}
_PREFIX_BY_FORMAT = {Format.FACTURX_PDF: "facturx", Format.CII: "cii", Format.UBL: "ubl"}
MAX_FILENAME_LENGTH = 200  # nomFichier varchar(200), 2017 external specification


def _format(fmt: Format | str) -> Format:
    try:
        return Format(fmt)
    except ValueError as err:
        raise InputError(f"Unknown file format {fmt!r}: expected one of {[f.value for f in Format]}",
                         code="unknown_format", params={"reason": str(fmt)}) from err


def deposit_filename(invoice_number: str, fmt: Format | str) -> str:
    """The ``nomFichier`` of an invoice, in OCA's naming (``<format>_chorus_facture_<number>.<ext>``).

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``-`` (``/`` included);
    the name never exceeds 200 characters and always keeps its extension.

    :raises InputError: empty invoice number, unknown format.
    """
    fmt = _format(fmt)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", (invoice_number or "").strip()).strip("-.")
    if not safe:
        raise InputError("The invoice has no number: a deposit file name needs one.", code="missing_invoice_number",
                         params={"reason": "empty invoice number"})
    extension = EXTENSION_BY_FORMAT[fmt]
    stem = f"{_PREFIX_BY_FORMAT[fmt]}_chorus_facture_{safe}"
    return stem[: MAX_FILENAME_LENGTH - len(extension)] + extension


def _check_filename(filename: str, fmt: Format) -> str:
    name = (filename or "").strip()
    if not name:
        raise InputError("The deposit needs a file name (nomFichier).", code="invalid_filename",
                         params={"reason": "empty"})
    if "/" in name or "\\" in name:
        raise InputError(f"The file name {name!r} must not contain a folder.", code="invalid_filename",
                         params={"reason": name})
    if len(name) > MAX_FILENAME_LENGTH:
        raise InputError(f"The file name has {len(name)} characters; Chorus Pro accepts at most "
                         f"{MAX_FILENAME_LENGTH}.", code="invalid_filename", params={"reason": name})
    extension = EXTENSION_BY_FORMAT[fmt]
    if not name.lower().endswith(extension):
        raise InputError(f"The file name {name!r} must end with {extension} for a {fmt.value} file "
                         "(Chorus Pro requires the extension).", code="invalid_filename", params={"reason": name})
    return name


def build_deposit(data: bytes, filename: str, fmt: Format | str | None = None) -> dict[str, Any]:
    """The JSON body of ``deposerFluxFacture`` for one invoice file.

    :param data: the file's bytes (Factur-X PDF, CII XML or UBL XML), already validated.
    :param filename: ``nomFichier``, with the extension matching the format (see :func:`deposit_filename`).
    :param fmt: the format; detected from ``data`` when not given.
    :return: ``{"fichierFlux": base64, "nomFichier": ..., "syntaxeFlux": ..., "avecSignature": False}``.
    :raises InputError: empty or oversized file, unknown format, format and bytes disagree, bad file name.
    """
    if not data:
        raise InputError("The file to deposit is empty.", code="empty_file", params={"reason": "empty"})
    if len(data) > DEFAULT_MAX_SIZE:
        raise InputError(f"The file is {len(data)} bytes; Chorus Pro accepts at most {DEFAULT_MAX_SIZE}.",
                         code="file_too_large", params={"size": len(data), "max_size": DEFAULT_MAX_SIZE})
    is_pdf = bytes(data[:1024]).find(b"%PDF-") != -1
    if fmt is None:
        fmt = detect_format(data)
    else:
        fmt = _format(fmt)
        if is_pdf != (fmt is Format.FACTURX_PDF):
            raise InputError(f"The file is {'a PDF' if is_pdf else 'not a PDF'} but the format says {fmt.value}.",
                             code="format_mismatch", params={"reason": fmt.value})
    return {
        "fichierFlux": base64.b64encode(bytes(data)).decode("ascii"),
        "nomFichier": _check_filename(filename, fmt),
        "syntaxeFlux": SYNTAX_BY_FORMAT[fmt],
        "avecSignature": False,
    }
