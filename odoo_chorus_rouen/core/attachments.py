"""Chorus Pro's limits for the files attached to an invoice (supporting documents).

Pure Python, no Odoo. A file is described by its name and its size in bytes; the checks return
**every** problem at once (each file, then the total), as :class:`AttachmentProblem` records whose
``message`` is English %-style text filled from ``params`` (the Odoo side translates it by ``code``).

The limits and where they come from (confidence tags as in CHORUS_PRO_API.md and the sandbox
README: [C] confirmed by official material or two independent sources, [S] one credible source,
[U] unverified):

- :data:`ALLOWED_EXTENSIONS`: the 35 extensions Chorus Pro accepts for an attached file [S] OCA
  ``l10n_fr_chorus_account`` 17.0 ``models/account_move.py`` (``CHORUS_ALLOWED_FORMATS``, citing the
  Chorus Pro community article "Pièces jointes dans Chorus Pro : quelques règles à respecter",
  which is not in our sources); the FactPulse client documentation of ``ajouter/fichier`` agrees on
  "PDF, JPG, PNG, ZIP, XML, etc." An extension is required.
- :data:`MAX_NAME_LENGTH`: 50 characters, extension included (``pieceJointeNom`` of
  ``ajouterFichierDansSysteme``) [S] OCA ``CHORUS_FILENAME_MAX``, FE docstring.
- :data:`MAX_FILE_SIZE`: 10 MB per file [S] FE docstring of ``ajouterFichierDansSysteme``, OCA
  ``CHORUS_FILESIZE_MAX_MO``, FactPulse documentation ("10 Mo par fichier"). Counted as OCA does,
  in MiB (10 × 1024 × 1024 bytes).
- :data:`MAX_TOTAL_SIZE`: 118 MB for all the files of one invoice [S] OCA
  ``CHORUS_TOTAL_ATTACHMENTS_MAX_MO`` (a billing file is at most 120 MB, invoice included:
  ``telechargerGroupeFacture`` [C]; OCA keeps 2 MB for the invoice itself).

>>> check_attachment("bon-de-livraison.pdf", 200_000)
[]
>>> [p.code for p in check_attachment("setup.exe", 12 * 1024 * 1024)]
['extension_not_allowed', 'file_too_large']
>>> print(check_attachment("setup.exe", 1)[0])
setup.exe: Chorus Pro does not accept .exe files. Accepted: .bmp, .bz2, .csv, .doc, .docx, \
.fax, .gif, .gz, .gzip, .htm, .html, .jpeg, .jpg, .odp, .ods, .odt, .p7s, .pdf, .png, .pps, .ppt, \
.pptx, .rtf, .svg, .tgz, .tif, .tiff, .txt, .xhtml, .xlc, .xlm, .xls, .xlsx, .xml, .zip.
>>> mime_type("Relevé.PDF")
'application/pdf'
"""

from __future__ import annotations

import os.path
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "ALLOWED_EXTENSIONS",
    "MAX_FILE_SIZE",
    "MAX_NAME_LENGTH",
    "MAX_TOTAL_SIZE",
    "MIME_TYPES",
    "AttachmentProblem",
    "check_attachment",
    "check_attachments",
    "format_size",
    "mime_type",
]

MIB = 1024 * 1024

#: Maximum length of a file name, extension included [S] OCA, FE.
MAX_NAME_LENGTH = 50
#: Maximum size of one attached file, in bytes [S] FE, OCA, FactPulse.
MAX_FILE_SIZE = 10 * MIB
#: Maximum size of all the files attached to one invoice, in bytes [S] OCA.
MAX_TOTAL_SIZE = 118 * MIB

#: Extension (lower case, without the dot) -> MIME type sent with the file (BT-125-1 when the
#: file is described in the invoice XML; ``pieceJointeTypeMime`` of ajouterFichierDansSysteme).
#: The keys are Chorus Pro's accepted extensions [S] OCA ``CHORUS_ALLOWED_FORMATS``; the MIME
#: types are the IANA registrations (or the de-facto type where none is registered).
MIME_TYPES: dict[str, str] = {
    "bmp": "image/bmp",
    "bz2": "application/x-bzip2",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "fax": "image/g3fax",
    "gif": "image/gif",
    "gz": "application/gzip",
    "gzip": "application/gzip",
    "htm": "text/html",
    "html": "text/html",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "p7s": "application/pkcs7-signature",
    "pdf": "application/pdf",
    "png": "image/png",
    "pps": "application/vnd.ms-powerpoint",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "rtf": "application/rtf",
    "svg": "image/svg+xml",
    "tgz": "application/gzip",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "txt": "text/plain",
    "xhtml": "application/xhtml+xml",
    "xlc": "application/vnd.ms-excel",
    "xls": "application/vnd.ms-excel",
    "xlm": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xml": "application/xml",
    "zip": "application/zip",
}

#: The extensions Chorus Pro accepts for an attached file (lower case, without the dot) [S] OCA.
ALLOWED_EXTENSIONS: frozenset[str] = frozenset(MIME_TYPES)

_MESSAGES = {
    "name_missing": "A file without a name cannot be sent to Chorus Pro: give it a name with an extension.",
    "extension_missing": (
        "%(filename)s: the name has no extension; Chorus Pro needs one to know the file type "
        "(for example .pdf). Rename the file."
    ),
    "extension_not_allowed": "%(filename)s: Chorus Pro does not accept .%(extension)s files. Accepted: %(allowed)s.",
    "name_too_long": (
        "%(filename)s: the name has %(length)s characters; Chorus Pro accepts at most %(max)s, "
        "extension included. Rename the file."
    ),
    "file_too_large": "%(filename)s: the file weighs %(size)s; Chorus Pro accepts at most %(max)s per file.",
    "total_too_large": (
        "Together the %(count)s files weigh %(size)s; Chorus Pro accepts at most %(max)s of "
        "attached files per invoice. Send fewer or smaller files."
    ),
}


@dataclass(frozen=True)
class AttachmentProblem:
    """One reason why Chorus Pro would refuse an attached file (or the set of files).

    :ivar filename: the file concerned (``""`` for a problem with the total).
    :ivar code: stable id: ``name_missing``, ``extension_missing``, ``extension_not_allowed``,
        ``name_too_long``, ``file_too_large`` or ``total_too_large``.
    :ivar message: English %-style text (``message % params`` is the sentence to show).
    :ivar params: the values of the message's placeholders (strings and integers).
    """

    filename: str
    code: str
    message: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % self.params


def format_size(size: int) -> str:
    """A size in bytes in words, MiB-based like the limits.

    >>> format_size(512), format_size(2048), format_size(12 * 1024 * 1024)
    ('512 bytes', '2.0 KB', '12.0 MB')
    """
    if size < 1024:
        return f"{size} bytes"
    if size < MIB:
        return f"{size / 1024:.1f} KB"
    return f"{size / MIB:.1f} MB"


def _extension(name: str) -> str:
    """The extension of ``name``, lower case without the dot (``""`` when none).

    >>> _extension("a.PDF"), _extension("archive.tar.gz"), _extension("README"), _extension(".pdf")
    ('pdf', 'gz', '', '')
    """
    return os.path.splitext(name)[1][1:].lower()


def mime_type(name: str) -> str:
    """The MIME type to declare for a file, from its extension.

    ``application/octet-stream`` when the extension is not one Chorus Pro accepts.

    >>> mime_type("planning.xlsx")
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
    >>> mime_type("virus.exe")
    'application/octet-stream'
    """
    return MIME_TYPES.get(_extension(name), "application/octet-stream")


def _problem(file: str, code: str, **params) -> AttachmentProblem:
    return AttachmentProblem(filename=file, code=code, message=_MESSAGES[code], params=params)


def check_attachment(name: str, size: int) -> list[AttachmentProblem]:
    """Every reason why Chorus Pro would refuse one file (empty list when it is fine).

    >>> [str(p) for p in check_attachment("x" * 47 + ".pdf", 10)]  # doctest: +ELLIPSIS
    ['xxx...xxx.pdf: the name has 51 characters; Chorus Pro accepts at most 50, extension included. Rename the file.']
    >>> check_attachment("ok.pdf", 10 * 1024 * 1024)  # exactly the limit is accepted
    []
    """
    name = (name or "").strip()
    if not name:
        return [_problem("", "name_missing")]
    problems = []
    extension = _extension(name)
    if not extension:
        problems.append(_problem(name, "extension_missing", filename=name))
    elif extension not in ALLOWED_EXTENSIONS:
        allowed = ", ".join(f".{ext}" for ext in sorted(ALLOWED_EXTENSIONS))
        problems.append(_problem(name, "extension_not_allowed", filename=name, extension=extension, allowed=allowed))
    if len(name) > MAX_NAME_LENGTH:
        problems.append(_problem(name, "name_too_long", filename=name, length=len(name), max=MAX_NAME_LENGTH))
    if size > MAX_FILE_SIZE:
        problems.append(
            _problem(name, "file_too_large", filename=name, size=format_size(size), max=format_size(MAX_FILE_SIZE))
        )
    return problems


def check_attachments(files: Iterable[tuple[str, int]]) -> list[AttachmentProblem]:
    """Every problem of a set of files: each file in order, then the total size.

    >>> files = [("pv-reception.pdf", 9 * 1024 * 1024)] * 14
    >>> [p.code for p in check_attachments(files)]
    ['total_too_large']
    >>> [p.code for p in check_attachments([("a.pdf", 1), ("b.exe", 1), ("c", 1)])]
    ['extension_not_allowed', 'extension_missing']
    """
    files = list(files)
    problems = []
    for name, size in files:
        problems.extend(check_attachment(name, size))
    total = sum(size for _name, size in files)
    if total > MAX_TOTAL_SIZE:
        problems.append(
            _problem(
                "",
                "total_too_large",
                count=len(files),
                size=format_size(total),
                max=format_size(MAX_TOTAL_SIZE),
            )
        )
    return problems
