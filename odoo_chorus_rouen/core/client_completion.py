"""Completing a suspended invoice and reading the technical account's expiry, through the client.

Three operations of CHORUS_PRO_API.md, on a :class:`~.client.ChorusClient` and through its single
request path (``_call``: the same headers, token refresh, error and no-retry-on-write rules):

* :func:`upload_attachment`: ``ajouterFichierDansSysteme`` (``/cpro/transverses/v1/ajouter/fichier``,
  §3.4) uploads one file and returns its ``pieceJointeId``. A write: never retried by the client. An
  unknown outcome leaves at worst an orphan file on the platform (it is attached to nothing), so
  the caller may simply upload it again.
* :func:`complete_invoice`: ``completerFacture`` (``/cpro/factures/v1/completer``, §3.10) attaches
  the uploaded files and a comment to a ``SUSPENDUE`` invoice. A write that must happen once: see
  :mod:`.completion` for the rules (an unknown outcome is settled from the invoice's history).
* :func:`technical_account_expiry`: ``consulterStructure``'s
  ``informationGenerales.dateExpirationMotPasseCompteTech`` (§3.9) for the supplier's own structure,
  found by its SIRET.

Every failure is one of the typed errors of :mod:`.errors`; a refusal of ``completerFacture`` comes
back as :class:`CompletionRefusedError` with the platform's code and label.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .client_answers import parse_datetime
from .errors import ApiError, InputError

__all__ = [
    "COMMENT_MAX_LENGTH",
    "COMPLETE_REFUSALS",
    "CompletionRefusedError",
    "CompletionResult",
    "UploadedFile",
    "complete_invoice",
    "technical_account_expiry",
    "upload_attachment",
]

#: ``commentaire`` is ``text(2000)`` (CHORUS_PRO_API.md §4, [S] CPP17 ``CompleterFacture.cs``).
COMMENT_MAX_LENGTH = 2000

#: ``codeRetour`` of completerFacture -> stable error code (CHORUS_PRO_API.md §1.5, [S] CPP17).
COMPLETE_REFUSALS = {
    20000: "completion_unknown_invoice",  # GDP_MSG_11.008: the payment request does not exist
    20001: "completion_not_allowed",  # GDP_MSG_11.005: the user may not submit it
    20002: "completion_wrong_status",  # GDP_MSG_11.033: the invoice is not SUSPENDUE
}


class CompletionRefusedError(ApiError):
    """Chorus Pro refused ``completerFacture`` or ``ajouterFichierDansSysteme``: nothing was recorded.

    ``code`` is one of :data:`COMPLETE_REFUSALS`' values, ``completion_refused`` for another
    ``codeRetour``, or ``attachment_refused`` for a refused upload; ``params`` carry ``chorus_id`` /
    ``file_name``, ``chorus_code`` and ``chorus_label``.
    """

    code = "completion_refused"


@dataclass(frozen=True)
class UploadedFile:
    """A file uploaded with ``ajouterFichierDansSysteme``, ready for ``pieceJointeComplementaire``."""

    attachment_id: int  # pieceJointeId
    name: str  # pieceJointeNom
    mime_type: str  # pieceJointeTypeMime
    extension: str  # pieceJointeExtension, upper case without the dot


@dataclass(frozen=True)
class CompletionResult:
    """Answer of ``completerFacture``: the platform took the documents."""

    chorus_id: int  # identifiantFactureCPP
    number: str | None  # numeroFacture
    processed_at: datetime | None  # dateTraitement ("YYYY-MM-DD HH:MI")
    label: str = ""


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.upper() if dot and stem else ""


def _refused(err: ApiError, code: str, **params: Any) -> CompletionRefusedError:
    """The same refusal, with a stable code the Odoo layer translates."""
    return CompletionRefusedError(
        err.message,
        code=code,
        http_status=err.http_status,
        chorus_code=err.chorus_code,
        chorus_label=err.chorus_label,
        operation=err.operation,
        retryable=False,
        params={**err.params, **params},
    )


def upload_attachment(client: Any, name: str, data: bytes, mime_type: str) -> UploadedFile:
    """Upload one supporting document (``ajouterFichierDansSysteme``). Never retried by the client.

    :param client: a :class:`~.client.ChorusClient`.
    :param name: ``pieceJointeNom`` with its extension (the platform's limits: see
        ``core.attachments``; the caller checks them first).
    :param mime_type: ``pieceJointeTypeMime``.
    :raises InputError: no extension, or an empty file (nothing is sent).
    :raises CompletionRefusedError: refused by Chorus Pro (``attachment_refused``).
    :raises OutcomeUnknownError: no usable answer; uploading again only leaves an orphan file.
    """
    extension = _extension(name)
    if not extension:
        raise InputError(f"{name}: a file name needs an extension", params={"reason": f"{name}: no extension"})
    if not data:
        raise InputError(f"{name}: the file is empty", params={"reason": f"{name}: empty file"})
    body = {
        "pieceJointeFichier": base64.b64encode(data).decode("ascii"),
        "pieceJointeNom": name,
        "pieceJointeTypeMime": mime_type,
        "pieceJointeExtension": extension,
    }
    context = {"file_name": name}
    try:
        answer = client._call("ajouterFichierDansSysteme", body, context=context)
    except ApiError as err:
        if err.retryable or (err.chorus_code in (None, 0) and err.http_status not in (400, 413)):
            raise
        raise _refused(err, "attachment_refused", file_name=name) from err
    attachment_id = _int(answer.get("pieceJointeId"))
    if attachment_id is None:
        raise client._outcome_unknown(
            "ajouterFichierDansSysteme", context, "the answer carries no pieceJointeId", answer.get("_http_status")
        )
    return UploadedFile(attachment_id=attachment_id, name=name, mime_type=mime_type, extension=extension)


def complete_invoice(
    client: Any, chorus_id: int, files: Sequence[UploadedFile] = (), comment: str | None = None
) -> CompletionResult:
    """Attach uploaded files and a comment to a ``SUSPENDUE`` invoice (``completerFacture``).

    A write: never retried by the client. Follow :mod:`.completion`: record that the invoice is
    being completed before the call, and settle an :class:`~.errors.OutcomeUnknownError` by
    reading the invoice's history before any new call.

    :raises InputError: a comment over :data:`COMMENT_MAX_LENGTH` characters (nothing is sent).
    :raises CompletionRefusedError: refused (wrong status, unknown invoice, not allowed...).
    :raises OutcomeUnknownError: the completion may have been recorded.
    """
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise InputError(
            f"The comment has {len(comment)} characters, Chorus Pro takes at most {COMMENT_MAX_LENGTH}",
            params={"reason": f"comment longer than {COMMENT_MAX_LENGTH} characters ({len(comment)})"},
        )
    body: dict[str, Any] = {
        "identifiantFactureCPP": int(chorus_id),
        "pieceJointeComplementaire": [
            {
                "pieceJointeComplementaireDesignation": item.name,
                "pieceJointeComplementaireId": item.attachment_id,
                "pieceJointeComplementaireType": item.extension,
            }
            for item in files
        ],
    }
    if comment:
        body["commentaire"] = comment
    context = {"chorus_id": int(chorus_id)}
    try:
        answer = client._call("completerFacture", body, context=context)
    except ApiError as err:
        if err.retryable or err.chorus_code in (None, 0):
            raise
        raise _refused(err, COMPLETE_REFUSALS.get(err.chorus_code, "completion_refused")) from err
    return CompletionResult(
        chorus_id=_int(answer.get("identifiantFactureCPP")) or int(chorus_id),
        number=_str(answer.get("numeroFacture")),
        processed_at=parse_datetime(answer.get("dateTraitement")),
        label=_str(answer.get("libelle")) or "",
    )


def technical_account_expiry(client: Any, siret: str) -> datetime | None:
    """When the technical account's password expires, as Chorus Pro says for the supplier's structure.

    ``rechercherStructure`` finds the structure of ``siret`` (the supplier's, to which the technical
    account is attached), ``consulterStructure`` gives ``dateExpirationMotPasseCompteTech``.

    :return: an aware datetime, or None when Chorus Pro gives no date (or does not know the SIRET).
    :raises ChorusError: the platform could not be read (refused credentials, network...).
    """
    structures = [s for s in client.search_structures(siret) if s.structure_id]
    for structure in _active_first(structures):
        details = client.get_structure(structure.structure_id)
        if details.technical_password_expiry is not None:
            return details.technical_password_expiry
    return None


def _active_first(structures: Iterable[Any]) -> list[Any]:
    return sorted(structures, key=lambda s: not s.active)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None
