"""Files embedded in a deposited Factur-X: what the control API shows, and the limits the sandbox enforces.

Chorus Pro's limits for attached files (``core.attachments``) apply to the supporting documents a
Factur-X carries beside its ``factur-x.xml``. Assumption [U] (see README "Attached files"): Chorus
Pro checks them when it integrates the flow, not when it acknowledges the deposit, so a breaking
file makes the flow end ``IN_REJETE`` with one technical error per problem (the deposit itself is
acknowledged, as for every other content error).

A structured (E1) CII or UBL flow has no PDF: its supporting documents travel inside the XML,
base64-encoded (``core.xml_attachments``). The same limits apply to them, plus EN 16931's list of
file types an invoice XML may embed (BT-125-1, code list BR-CL-24): a file of another type, or whose
content is not base64, makes the flow end ``IN_REJETE`` the same way.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..core.attachments import check_attachments, format_size
from ..core.errors import InputError
from ..core.pdf_graph import TooLarge
from ..core.pdfa import FACTURX_FILENAME, embedded_files
from ..core.xml_attachments import XML_FLOW_MIME_TYPES, xml_attachments
from .archive import split_archive

__all__ = ["CONTROL_ROUTES", "REJECTION_CODE", "describe", "flow_embedded", "problems"]

#: ``codeErreur`` of the technical error of a supporting document that breaks a limit (sandbox choice).
REJECTION_CODE = "REJ_PIECE_JOINTE"

# French labels of the rejection, as the platform writes its errors (sandbox wording).
_LABELS = {
    "name_missing": "Piece jointe sans nom.",
    "extension_missing": "Piece jointe {filename} : extension absente.",
    "extension_not_allowed": "Piece jointe {filename} : l'extension .{extension} n'est pas autorisee.",
    "name_too_long": "Piece jointe {filename} : le nom depasse {max} caracteres ({length}).",
    "file_too_large": "Piece jointe {filename} : taille {size} superieure au maximum autorise ({max}).",
    "total_too_large": "Les {count} pieces jointes pesent {size} : maximum autorise {max}.",
    "unpacked_too_large": "Les fichiers du PDF depassent {max} une fois decompresses : il n'est pas lu au-dela.",
    "xml_mime_type": "Piece jointe {filename} : le type {mime} n'est pas autorise dans un flux structure (BT-125-1).",
    "xml_not_base64": "Piece jointe {filename} : le contenu (BT-125) n'est pas encode en base 64.",
}


def _xml_documents(data: bytes):
    """The supporting documents inside a CII or UBL XML (``[]`` for a PDF or an unreadable file)."""
    try:
        return xml_attachments(data)
    except InputError:  # not well formed: the validator says why
        return []


def _xml_problems(data: bytes) -> list[tuple[str, str]]:
    documents = _xml_documents(data)
    found = [(REJECTION_CODE, _LABELS[p.code].format(**p.params))
             for p in check_attachments((d.name, d.size) for d in documents)]
    for document in documents:
        if not document.readable:
            found.append((REJECTION_CODE, _LABELS["xml_not_base64"].format(filename=document.name)))
        elif document.mime_type not in XML_FLOW_MIME_TYPES:
            found.append((REJECTION_CODE, _LABELS["xml_mime_type"].format(
                filename=document.name, mime=document.mime_type or "absent")))
    return found


def _embedded(data: bytes, keep_data: bool = True):
    """Every file embedded in ``data`` (``[]`` when it is not a readable PDF).

    :raises TooLarge: a document unpacks to more than 10 MB, or all of them together.
    """
    if not data.startswith(b"%PDF"):
        return []
    try:
        return embedded_files(data, keep_data=keep_data)
    except TooLarge:
        raise
    except ValueError:  # not a readable PDF, a looping or absurd structure: the validator says why
        return []


def _supporting(data: bytes):
    """The embedded files other than the invoice XML, with their sizes (their contents are not kept)."""
    return [file for file in _embedded(data, keep_data=False) if file.name != FACTURX_FILENAME]


def problems(data: bytes) -> list[tuple[str, str]]:
    """``(codeErreur, libelleErreur)`` of every limit the supporting documents of ``data`` break.

    A document that unpacks to more than 10 MB, or documents that unpack to more than 10 MB in all
    (``core.limits.MAX_INFLATED_SIZE``), are not unpacked further: that problem is said, beside the
    problems of names that every document has (read without unpacking anything). For a CII or UBL
    XML, the documents embedded in it (:func:`_xml_problems`).
    """
    if not data.startswith(b"%PDF"):
        return _xml_problems(data)
    too_large = None
    try:
        files = [(file.name, file.size) for file in _supporting(data)]
    except TooLarge as err:
        too_large = err
        files = [(file.name, 0) for file in _names_only(data) if file.name != FACTURX_FILENAME]
    except ValueError:
        return []
    found = [(REJECTION_CODE, _LABELS[p.code].format(**p.params)) for p in check_attachments(files)]
    if too_large is not None and too_large.whole:
        found.append((REJECTION_CODE, _LABELS["unpacked_too_large"].format(max=format_size(too_large.limit))))
    elif too_large is not None:
        found.append((REJECTION_CODE, _LABELS["file_too_large"].format(
            filename=too_large.name, size=f"plus de {format_size(too_large.limit)}", max=format_size(too_large.limit))))
    return found


def _names_only(data: bytes):
    """The embedded files' names and attributes, nothing unpacked (``[]`` when unreadable)."""
    try:
        return embedded_files(data, unpack=False)
    except ValueError:
        return []


def describe(data: bytes) -> list[dict[str, Any]]:
    """Every file embedded in the PDF ``data``, for the control API (content as a SHA-256).

    When they unpack to more than the limits, ``size`` and ``sha256`` are ``None`` (not unpacked).
    For a CII or UBL XML: the documents it embeds (``relationship`` "BG-24", ``in_af`` False).
    """
    if not data.startswith(b"%PDF"):
        return [
            {
                "name": document.name,
                "size": document.size,
                "mime_type": document.mime_type,
                "relationship": "BG-24",
                "description": document.description,
                "in_af": False,
                "sha256": hashlib.sha256(document.data).hexdigest(),
            }
            for document in _xml_documents(data)
        ]
    try:
        files, unpacked = _embedded(data), True
    except TooLarge:
        files, unpacked = _names_only(data), False
    return [
        {
            "name": file.name,
            "size": file.size if unpacked else None,
            "mime_type": file.mime_type,
            "relationship": file.relationship,
            "description": file.description,
            "in_af": file.in_af,
            "sha256": hashlib.sha256(file.data).hexdigest() if unpacked else None,
        }
        for file in files
    ]


def flow_embedded(sandbox: Any, number: str) -> dict[str, Any]:
    """The embedded files of each invoice file of the deposited flow ``number``.

    :raises KeyError: no file kept for that flow (unknown flow, or ``keep_files=False``).
    """

    data = sandbox.flow_file(number)
    if data is None:
        raise KeyError(f"no file kept for flow {number}")
    row = sandbox.engine.store.one("SELECT file_name FROM flows WHERE number = ?", (number,))
    members, _problem = split_archive(row["file_name"] if row else "", data)
    return {
        "flow": number,
        "documents": [{"file": name, "embedded": describe(member)} for name, member in members],
    }


def _c_flow_embedded(sandbox: Any, payload: dict, query: dict, number: str) -> tuple[int, Any]:
    return 200, flow_embedded(sandbox, number)


#: Control API routes of this module (appended to the server's).
CONTROL_ROUTES = [("GET", re.compile(r"/sandbox/flows/([A-Za-z0-9]+)/embedded"), _c_flow_embedded)]
