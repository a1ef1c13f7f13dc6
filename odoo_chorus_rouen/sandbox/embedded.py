"""Files embedded in a deposited Factur-X: what the control API shows, and the limits the sandbox enforces.

Chorus Pro's limits for attached files (``core.attachments``) apply to the supporting documents a
Factur-X carries beside its ``factur-x.xml``. Assumption [U] (see README "Attached files"): Chorus
Pro checks them when it integrates the flow, not when it acknowledges the deposit, so a breaking
file makes the flow end ``IN_REJETE`` with one technical error per problem (the deposit itself is
acknowledged, as for every other content error).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..core.attachments import check_attachments
from ..core.pdfa import FACTURX_FILENAME, embedded_files
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
}


def _embedded(data: bytes):
    """Every file embedded in ``data`` (``[]`` when it is not a readable PDF)."""
    if not data.startswith(b"%PDF"):
        return []
    try:
        return embedded_files(data)
    except ValueError:
        return []


def _supporting(data: bytes):
    """The embedded files other than the invoice XML."""
    return [file for file in _embedded(data) if file.name != FACTURX_FILENAME]


def problems(data: bytes) -> list[tuple[str, str]]:
    """``(codeErreur, libelleErreur)`` of every limit the supporting documents of ``data`` break."""
    found = check_attachments((file.name, file.size) for file in _supporting(data))
    return [(REJECTION_CODE, _LABELS[problem.code].format(**problem.params)) for problem in found]


def describe(data: bytes) -> list[dict[str, Any]]:
    """Every file embedded in the PDF ``data``, for the control API (content as a SHA-256)."""
    return [
        {
            "name": file.name,
            "size": file.size,
            "mime_type": file.mime_type,
            "relationship": file.relationship,
            "description": file.description,
            "in_af": file.in_af,
            "sha256": hashlib.sha256(file.data).hexdigest(),
        }
        for file in _embedded(data)
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
