"""BG-24 (additional supporting documents) in the CII of an invoice sent to Chorus Pro.

Each file marked "send to Chorus Pro" travels embedded in the Factur-X PDF (``/AFRelationship
/Supplement``, with its name, MIME type and description on the PDF file specification) and is
described in the XML as one ``ram:AdditionalReferencedDocument`` (only in the file the send job
builds, which embeds them: context key ``chorus_pro_embed_documents``):

* BT-122 ``IssuerAssignedID``: the file name, which is also the name of the file embedded in the
  PDF, so a reader finds the file from the XML (BR-52: mandatory);
* ``TypeCode`` 916 ("related document": BG-24, as opposed to 50 / BT-17 and 130 / BT-18);
* BT-123 ``Name``: the document type code (``chorus_pro_document_type``, default ``PJA``): the
  French rule BR-FR-17 (fatal) allows only a list of codes there, so the free-text description
  travels on the PDF file specification (``/Desc``) instead.

BT-125 (``AttachmentBinaryObject``, with BT-125-1 ``@mimeCode`` and BT-125-2 ``@filename``) is
**not** written. Its content would be the file again, base64-encoded (+33 %), in the same deposit
as the PDF copy: twice the size against a deposit limit of 10 MB a file [U] (CHORUS_PRO_API.md §4);
EN 16931 restricts BT-125-1 to six MIME types (FX-SCH-A-000287 is an error) while Chorus Pro
accepts 35 extensions (a .docx or .zip could not be declared); the Factur-X EN 16931 Schematron
warns from the second 916 binary object (CII-SR-476); and an element without content would make
a receiver extract an empty file (Odoo's XML clean-up drops empty leaves anyway). The file name
and MIME type are on the PDF file specification (``/UF``, ``/Subtype``), where Factur-X keeps its
additional files.

A **structured (E1) CII flow** has no PDF around the XML: there (context key ``chorus_pro_xml_flow``,
``account_move_chorus_xml.py``) each file does travel as BT-125 ``AttachmentBinaryObject``, base64,
with ``@mimeCode`` (one of EN 16931's six types: other files are refused before) and ``@filename``.
"""

import base64

from lxml import etree

from odoo import models

from ..core.attachments import mime_type  # noqa: TID252
from .account_edi_xml_cii import NS, RAM, _find, _insert_after, _sub
from .ir_attachment import DEFAULT_DOCUMENT_TYPE

TYPE_CODE_SUPPORTING_DOCUMENT = "916"  # UNTDID 1001 "related document" (BG-24)
# The CII sequence of ApplicableHeaderTradeAgreement before AdditionalReferencedDocument.
BEFORE_ADDITIONAL_DOCUMENT = (
    "BuyerReference", "SellerTradeParty", "BuyerTradeParty", "SalesAgentTradeParty",
    "BuyerTaxRepresentativeTradeParty", "SellerTaxRepresentativeTradeParty", "ProductEndUserTradeParty",
    "ApplicableTradeDeliveryTerms", "SellerOrderReferencedDocument", "BuyerOrderReferencedDocument",
    "QuotationReferencedDocument", "ContractReferencedDocument", "AdditionalReferencedDocument",
)


class AccountEdiXmlCII(models.AbstractModel):
    _inherit = "account.edi.xml.cii"  # pylint: disable=consider-merging-classes-inherited

    def _chorus_pro_fix_tree(self, invoice, tree):
        # EXTENDS odoo_chorus_rouen: BG-24 for every supporting document marked "send to Chorus Pro".
        result = super()._chorus_pro_fix_tree(invoice, tree)
        if not self.env.context.get("chorus_pro_embed_documents"):
            return result  # only the send job's Factur-X embeds the files (account_move_documents.py)
        agreement = _find(tree, "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement")
        for old in agreement.findall("./ram:AdditionalReferencedDocument", NS):
            if (old.findtext("./ram:TypeCode", namespaces=NS) or "").strip() == TYPE_CODE_SUPPORTING_DOCUMENT:
                agreement.remove(old)
        for attachment in invoice._chorus_pro_documents():
            document = etree.Element(RAM + "AdditionalReferencedDocument")
            _sub(document, "IssuerAssignedID", attachment.name)  # BT-122
            _sub(document, "TypeCode", TYPE_CODE_SUPPORTING_DOCUMENT)
            _sub(document, "Name", attachment.chorus_pro_document_type or DEFAULT_DOCUMENT_TYPE)  # BT-123
            if self.env.context.get("chorus_pro_xml_flow"):  # no PDF around: the file itself, in the XML
                _sub(document, "AttachmentBinaryObject", base64.b64encode(attachment.raw).decode(),
                     mimeCode=mime_type(attachment.name), filename=attachment.name)  # BT-125
            _insert_after(agreement, document, *BEFORE_ADDITIONAL_DOCUMENT)
        return result
