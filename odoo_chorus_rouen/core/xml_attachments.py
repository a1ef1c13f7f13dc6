"""Supporting documents inside a structured (E1) invoice flow: a CII or UBL XML with no PDF around it.

A structured flow has no PDF to carry files, so a supporting document travels inside the XML itself,
base64-encoded, as EN 16931 BG-24 ("additional supporting documents"):

* CII: ``ram:AdditionalReferencedDocument`` (in ``ApplicableHeaderTradeAgreement``) with BT-122
  ``IssuerAssignedID``, ``TypeCode`` 916, BT-123 ``Name`` and BT-125 ``AttachmentBinaryObject``
  (``@mimeCode`` BT-125-1, ``@filename`` BT-125-2);
* UBL: ``cac:AdditionalDocumentReference`` with BT-122 ``cbc:ID``, BT-123 ``cbc:DocumentDescription``
  and ``cac:Attachment/cbc:EmbeddedDocumentBinaryObject`` (``@mimeCode``, ``@filename``).

Limits (sources as tagged in CHORUS_PRO_API.md): the whole XML is one deposited file, at most
:data:`~.limits.MAX_DEPOSIT_SIZE` (10 MB [U]); base64 makes every document a third bigger
(:func:`base64_size`). EN 16931 allows only six MIME types for BT-125-1 (code list BR-CL-24 of the
CEN Schematron, an error there): :data:`XML_FLOW_MIME_TYPES`. A file of another type (a .docx, a
.zip...) cannot travel in a structured flow; in a Factur-X it can. Chorus Pro's own limits on
attached files (name of 50 characters at most, 10 MB per file: :mod:`.attachments`) apply as well.

>>> base64_size(3), base64_size(4), base64_size(0)
(4, 8, 0)
>>> sorted(XML_FLOW_EXTENSIONS)
['csv', 'jpeg', 'jpg', 'ods', 'pdf', 'png', 'xlsx']
>>> [f.name for f in xml_attachments(b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")]
[]
"""

from __future__ import annotations

import base64
import binascii
import os.path
from dataclasses import dataclass

from lxml import etree

from .validation_input import CII_ROOT, NAMESPACES, UBL_ROOTS, looks_like_pdf, parse_xml

__all__ = ["XML_FLOW_EXTENSIONS", "XML_FLOW_MIME_TYPES", "XmlAttachment", "base64_size", "xml_attachments"]

#: BT-125-1 code list of EN 16931 (BR-CL-24): the only file types a CII or UBL invoice may embed.
XML_FLOW_MIME_TYPES: frozenset[str] = frozenset({
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
})
#: The extensions (lower case, no dot) of those types among the ones Chorus Pro accepts.
XML_FLOW_EXTENSIONS: frozenset[str] = frozenset({"pdf", "png", "jpg", "jpeg", "csv", "xlsx", "ods"})

_CII_DOCUMENTS = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
                  "ram:AdditionalReferencedDocument[ram:AttachmentBinaryObject]")
_UBL_DOCUMENTS = "cac:AdditionalDocumentReference[cac:Attachment/cbc:EmbeddedDocumentBinaryObject]"


def base64_size(size: int) -> int:
    """Bytes a file of ``size`` bytes takes once base64-encoded (without line breaks)."""
    return 4 * ((max(0, size) + 2) // 3)


@dataclass(frozen=True)
class XmlAttachment:
    """One supporting document embedded in an invoice XML.

    :ivar name: BT-125-2 ``@filename``, else BT-122 (the document's identifier).
    :ivar mime_type: BT-125-1 ``@mimeCode`` (``""`` when absent).
    :ivar description: BT-123.
    :ivar data: the decoded bytes (``b""`` when the content is not valid base64: ``readable`` is False).
    """

    name: str
    mime_type: str
    description: str
    data: bytes
    readable: bool = True

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def extension(self) -> str:
        return os.path.splitext(self.name)[1].lstrip(".").lower()


def _decode(text: str | None) -> tuple[bytes, bool]:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True), True
    except (binascii.Error, ValueError):
        return b"", False


def _text(node: etree._Element, path: str) -> str:
    return (node.findtext(path, namespaces=NAMESPACES) or "").strip()


def xml_attachments(data: bytes) -> list[XmlAttachment]:
    """The supporting documents embedded in a CII or UBL invoice XML (``[]`` for a PDF or another XML).

    :raises InputError: the XML is not well formed (or declares a DOCTYPE).
    """
    if looks_like_pdf(data):
        return []
    root = parse_xml(data)
    if root.tag == CII_ROOT:
        nodes = root.xpath(_CII_DOCUMENTS, namespaces=NAMESPACES)
        binary, ident, description = "ram:AttachmentBinaryObject", "ram:IssuerAssignedID", "ram:Name"
    elif root.tag in UBL_ROOTS:
        nodes = root.xpath(_UBL_DOCUMENTS, namespaces=NAMESPACES)
        binary, ident, description = "cac:Attachment/cbc:EmbeddedDocumentBinaryObject", "cbc:ID", \
            "cbc:DocumentDescription"
    else:
        return []
    found = []
    for node in nodes:
        element = node.find(binary, NAMESPACES)
        content, readable = _decode(element.text)
        found.append(XmlAttachment(
            name=(element.get("filename") or "").strip() or _text(node, ident),
            mime_type=(element.get("mimeCode") or "").strip(),
            description=_text(node, description),
            data=content,
            readable=readable,
        ))
    return found
