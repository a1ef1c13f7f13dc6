"""The sandbox's supporting documents: ``ajouterFichierDansSysteme`` and ``completerFacture``.

* ``ajouterFichierDansSysteme`` (``POST /cpro/transverses/v1/ajouter/fichier``) keeps the file and
  answers its ``pieceJointeId``. Refusals (every limit of ``core.attachments``, checked on the
  decoded file): a file over 10 MB gets **HTTP 413** with ``codeRetour`` 20001 (the platform's
  answer to an oversized upload is 413 [C] C-submit-pdf-invoice; the code and label in the body
  are [U]); a missing or refused extension, a name over 50 characters, a file that is not base64
  or is empty get ``codeRetour`` 20003 with the reason in words [U] (the AIFE error appendix is
  not in our sources).
* ``completerFacture`` (``POST /cpro/factures/v1/completer``): an unknown invoice is ``20000
  GDP_MSG_11.008``, an invoice that is not ``SUSPENDUE`` is ``20002 GDP_MSG_11.033`` [S] CPP17; a
  ``pieceJointeComplementaireId`` that was never uploaded, or already attached to another invoice,
  is ``20003`` [U]; a comment over 2000 characters is ``20003`` [U]. Accepted: the invoice goes to
  ``COMPLETEE`` with a history entry carrying the comment (CHORUS_PRO_API.md §3.8: ``COMPLETEE`` =
  "supplier completed a suspended invoice" [C]; that the platform then leaves it at ``COMPLETEE``
  until the recipient acts is [U]), and the files are attached to it. The answer carries
  ``identifiantFactureCPP``, ``numeroFacture``, ``dateTraitement`` (``YYYY-MM-DD HH:MI``) [S] CPP17.

The control API lists the kept files: ``GET /sandbox/attachments`` (all, ``?invoice=<id>``),
``GET /sandbox/invoices/<id>/attachments`` and ``GET /sandbox/attachments/<id>/file`` (the bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from ..core import attachments as limits
from . import replies as _replies
from .clock import format_datetime, format_minutes
from .invoices import invoice, invoice_row

__all__ = ["CONTROL_ROUTES", "attachments", "op_ajouter_fichier", "op_completer"]

FIRST_ATTACHMENT_ID = 7100001
COMMENT_MAX_LENGTH = 2000
TOO_LARGE = (20001, "GDP_MSG_11.022")  # [U] label of deposerFluxFacture's "file too large" (§1.5)
REFUSED = 20003  # [U]


def op_ajouter_fichier(engine: Any, body: dict[str, Any]) -> Any:
    """``ajouterFichierDansSysteme``: keep one file, answer its ``pieceJointeId``."""
    name = (_replies.text(body, "pieceJointeNom") or "").strip()
    raw = body.get("pieceJointeFichier")
    try:
        data = base64.b64decode(str(raw or ""), validate=True)
    except (binascii.Error, ValueError):
        return _replies.error(REFUSED, "Le fichier (pieceJointeFichier) n'est pas encode en base 64.")
    if not data:
        return _replies.error(REFUSED, "Le fichier (pieceJointeFichier) est vide.")
    problems = limits.check_attachment(name, len(data))
    if len(data) > min(engine.max_file_size, limits.MAX_FILE_SIZE):
        code, label = TOO_LARGE
        return _replies.Reply({"codeRetour": code, "libelle": label}, status=413)
    extension = (_replies.text(body, "pieceJointeExtension") or "").strip().lstrip(".").lower()
    if problems:
        return _replies.error(REFUSED, " ".join(_french(problem) for problem in problems))
    if extension and extension != name.rpartition(".")[2].lower():
        return _replies.error(
            REFUSED, f"L'extension {extension.upper()} (pieceJointeExtension) ne correspond pas au nom {name}."
        )
    mime = _replies.text(body, "pieceJointeTypeMime") or limits.mime_type(name)
    attachment_id = engine.store.next_sequence("attachment", FIRST_ATTACHMENT_ID)
    with engine.store.transaction() as conn:
        conn.execute(
            "INSERT INTO attachments (id, name, mime, size, sha256, at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (attachment_id, name, mime, len(data), hashlib.sha256(data).hexdigest(), engine.now(), data),
        )
    return _replies.Reply({"codeRetour": 0, "libelle": _replies.OK_GCU, "pieceJointeId": attachment_id})


def op_completer(engine: Any, body: dict[str, Any]) -> Any:
    """``completerFacture``: attach the uploaded files and the comment to a ``SUSPENDUE`` invoice."""
    with engine.store.transaction() as conn:
        row, problem = invoice_row(engine, body, "identifiantFactureCPP", "idFacture")
        if problem:
            return problem
        if row["status"] != "SUSPENDUE":
            return _replies.error(20002, "GDP_MSG_11.033")
        comment = _replies.text(body, "commentaire")
        if comment and len(comment) > COMMENT_MAX_LENGTH:
            return _replies.error(REFUSED, f"Le commentaire depasse {COMMENT_MAX_LENGTH} caracteres.")
        ids = []
        for item in body.get("pieceJointeComplementaire") or []:
            raw_id = item.get("pieceJointeComplementaireId") if isinstance(item, dict) else None
            attachment_id = _replies.integer(raw_id)
            kept = (
                conn.execute("SELECT invoice_id FROM attachments WHERE id = ?", (attachment_id,)).fetchone()
                if attachment_id is not None
                else None
            )
            if kept is None:
                return _replies.error(
                    REFUSED, f"La piece jointe {attachment_id} n'existe pas (ajouterFichierDansSysteme)."
                )
            if kept["invoice_id"] not in (None, row["id"]):
                return _replies.error(
                    REFUSED, f"La piece jointe {attachment_id} est deja rattachee a une autre facture."
                )
            ids.append(attachment_id)
        now = engine.now()
        cursor = conn.execute(
            "INSERT INTO history (invoice_id, status, at, comment, actor) VALUES (?, 'COMPLETEE', ?, ?, 'supplier')",
            (row["id"], now, comment),
        )
        conn.execute(
            "UPDATE invoices SET status = 'COMPLETEE', status_at = ?, comment = ?, next_at = NULL WHERE id = ?",
            (now, comment, row["id"]),
        )
        for attachment_id in ids:
            conn.execute(
                "UPDATE attachments SET invoice_id = ?, history_id = ? WHERE id = ?",
                (row["id"], cursor.lastrowid, attachment_id),
            )
    return _replies.Reply(
        {
            "codeRetour": 0,
            "libelle": _replies.OK_GCU,
            "identifiantFactureCPP": row["id"],
            "numeroFacture": row["number"],
            "dateTraitement": format_minutes(now),
        }
    )


def attachments(engine: Any, invoice_id: int | None = None) -> list[dict[str, Any]]:
    """The kept files (without their bytes), oldest first; only those of one invoice when asked."""
    where, params = ("WHERE invoice_id = ?", (int(invoice_id),)) if invoice_id is not None else ("", ())
    rows = engine.store.all(
        f"SELECT id, name, mime, size, sha256, at, invoice_id, history_id FROM attachments {where} ORDER BY id",  # noqa: S608
        params,
    )
    return [
        {
            "pieceJointeId": row["id"],
            "name": row["name"],
            "mime": row["mime"],
            "size": row["size"],
            "sha256": row["sha256"],
            "uploaded_at": format_datetime(row["at"]),
            "invoice_id": row["invoice_id"],
            "history_id": row["history_id"],
        }
        for row in rows
    ]


def attachment_file(engine: Any, attachment_id: int) -> bytes:
    """The bytes of one kept file. :raises KeyError: no such file."""
    row = engine.store.one("SELECT data FROM attachments WHERE id = ?", (int(attachment_id),))
    if row is None:
        raise KeyError(f"no attachment with pieceJointeId {attachment_id}")
    return bytes(row["data"])


def _french(problem: limits.AttachmentProblem) -> str:
    """The platform speaks French: the reasons of a refused file, in French."""
    params = problem.params
    return {
        "name_missing": "Le nom du fichier (pieceJointeNom) est obligatoire.",
        "extension_missing": f"{problem.filename} : le nom du fichier doit avoir une extension.",
        "extension_not_allowed": f"{problem.filename} : l'extension .{params.get('extension')} n'est pas autorisee.",
        "name_too_long": f"{problem.filename} : le nom depasse {limits.MAX_NAME_LENGTH} caracteres.",
        "file_too_large": f"{problem.filename} : le fichier depasse 10 Mo.",
    }.get(problem.code, str(problem))


# -- control API: (method, path regex, function(sandbox, payload, query, *groups) -> (status, body)) --------------
def _c_attachments(sb: Any, payload: dict, query: dict) -> tuple[int, Any]:
    invoice = query.get("invoice")
    return 200, attachments(sb.engine, int(invoice) if invoice else None)


def _c_invoice_attachments(sb: Any, payload: dict, query: dict, invoice_id: str) -> tuple[int, Any]:
    invoice(sb.engine, int(invoice_id))  # KeyError (404) for an unknown invoice
    return 200, attachments(sb.engine, int(invoice_id))


def _c_attachment_file(sb: Any, payload: dict, query: dict, attachment_id: str) -> tuple[int, Any]:
    return 200, attachment_file(sb.engine, int(attachment_id))


CONTROL_ROUTES = [
    ("GET", re.compile(r"/sandbox/attachments"), _c_attachments),
    ("GET", re.compile(r"/sandbox/attachments/(\d+)/file"), _c_attachment_file),
    ("GET", re.compile(r"/sandbox/invoices/(\d+)/attachments"), _c_invoice_attachments),
]
