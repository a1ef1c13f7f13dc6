"""XML-only deposits: an invoice sent to Chorus Pro as a structured (E1) CII or UBL flow, without PDF.

The send job's ``_chorus_pro_build_file`` (``account_move_chorus_send.py``) hands over to
:meth:`AccountMove._chorus_pro_build_xml_file` when the invoice's format (``chorus_pro_flow_format.py``:
the recipient's, else the company's) is CII or UBL. The XML is Odoo's own exporter with the Chorus Pro
corrections (``account_edi_xml_cii*.py``, ``account_edi_xml_ubl_chorus.py``) and goes through the same
checks as a Factur-X (XSD, EN 16931 and French Schematrons, Chorus routing rules) before it leaves.

Supporting documents travel inside the XML (BG-24, BT-125 base64: ``core.xml_attachments``). What
cannot travel that way is refused in words, when the file is marked and again before the deposit:
a type outside EN 16931's six (PDF, PNG, JPEG, CSV, XLSX, ODS), and files that, once base64-encoded
(a third bigger), would take the XML over the 10 MB of one deposit.

Everything after the deposit (status sync, rejection, recycling, completion, resend) is the same for
every format; the Chorus Pro tab says which format and flow syntax went (``chorus_pro_flow_format_sent``).
"""

from __future__ import annotations

import logging

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..core import payload  # noqa: TID252
from ..core.limits import MAX_DEPOSIT_SIZE  # noqa: TID252
from ..core.validation_report import Format  # noqa: TID252
from ..core.xml_attachments import XML_FLOW_EXTENSIONS, base64_size  # noqa: TID252
from .chorus_pro_flow_format import DEFAULT_FLOW_FORMAT, FLOW_FORMATS
from .ir_attachment import size_text

_logger = logging.getLogger(__name__)

XML_FORMATS = {"cii": Format.CII, "ubl": Format.UBL}
FORMAT_BY_SYNTAX = {payload.SYNTAX_BY_FORMAT[Format.FACTURX_PDF]: "facturx",
                    payload.SYNTAX_BY_FORMAT[Format.CII]: "cii", payload.SYNTAX_BY_FORMAT[Format.UBL]: "ubl"}
# What the XML around the documents takes at most in our estimate before it is built (lines, parties...).
XML_ALLOWANCE = 512 * 1024


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_flow_format_sent = fields.Selection(
        FLOW_FORMATS, string="Chorus Pro Format Sent", copy=False, readonly=True,
        help="The format of the file deposited on Chorus Pro: Factur-X (PDF), or the structured invoice alone "
        "(CII or UBL XML).",
    )
    chorus_pro_flow_syntax = fields.Char(
        string="Chorus Pro Flow Syntax", copy=False, readonly=True,
        help="syntaxeFlux of the deposit: IN_DP_E2_CII_FACTURX, IN_DP_E1_CII_16B or IN_DP_E1_UBL_INVOICE.",
    )

    def _chorus_pro_flow_format(self):
        """``facturx``, ``cii`` or ``ubl``: what this invoice is deposited as (recipient's choice, else company's)."""
        self.ensure_one()
        partner = self.partner_id
        fmt = partner._chorus_pro_flow_format_of(self.company_id) if partner else (
            self.company_id.chorus_pro_flow_format or DEFAULT_FLOW_FORMAT)
        if fmt == "ubl" and "chorus_pro_late_invoice_id" in self._fields and self.chorus_pro_late_invoice_id:
            # A late-payment claim's lines are outside the scope of VAT (category O): only the CII exporter
            # is corrected for it (account_edi_xml_cii_late_payment.py); it goes as a CII XML flow.
            return "cii"
        return fmt

    def _chorus_pro_deposits_pdf(self):
        # EXTENDS odoo_chorus_rouen (account_move_chorus_render.py): an XML flow carries no PDF, so the send
        # job does not render one for it.
        return super()._chorus_pro_deposits_pdf() and self._chorus_pro_flow_format() not in XML_FORMATS

    # -------------------------------------------------------------------------
    # Supporting documents in an XML flow
    # -------------------------------------------------------------------------

    def _chorus_pro_documents_travel_in_pdf(self):
        # EXTENDS odoo_chorus_rouen (account_move_documents.py)
        return not self.partner_id or self._chorus_pro_flow_format() not in XML_FORMATS

    def _chorus_pro_document_problems(self):
        # EXTENDS odoo_chorus_rouen (account_move_documents.py): what cannot travel inside an XML flow.
        problems = super()._chorus_pro_document_problems()
        fmt = self._chorus_pro_flow_format() if self.partner_id else DEFAULT_FLOW_FORMAT
        if fmt not in XML_FORMATS:
            return problems
        label = dict(FLOW_FORMATS)[fmt]
        documents = self._chorus_pro_documents()
        for attachment in documents:
            extension = (attachment.name or "").rpartition(".")[2].lower() if "." in (attachment.name or "") else ""
            if extension and extension not in XML_FLOW_EXTENSIONS:
                problems.append(_(
                    "%(file)s cannot travel inside a %(format)s invoice: a structured invoice may only carry PDF, "
                    "PNG, JPEG, CSV, XLSX or ODS files (EN 16931). Convert it (for example to PDF), or send this "
                    "recipient's invoices as Factur-X.", file=attachment.name, format=label,
                ))
        encoded = sum(base64_size(a.file_size or 0) for a in documents)
        if documents and encoded + XML_ALLOWANCE > MAX_DEPOSIT_SIZE:
            problems.append(_(
                "Inside a %(format)s invoice the files are base64-encoded and weigh %(size)s together: the invoice "
                "would go over the %(max)s Chorus Pro accepts for one deposit. Send fewer or smaller files.",
                format=label, size=size_text(self.env, encoded), max=size_text(self.env, MAX_DEPOSIT_SIZE),
            ))
        return problems

    # -------------------------------------------------------------------------
    # Building the XML (called from _chorus_pro_build_file)
    # -------------------------------------------------------------------------

    def _chorus_pro_build_xml_file(self, fmt):
        """Build the CII or UBL XML of a structured (E1) deposit and validate it.

        :return: ``(xml_bytes, filename, syntax)``
        :raises UserError: data problems (every one listed), a file over the deposit limit.
        """
        self.ensure_one()
        self._chorus_pro_raise_if_issues()
        builder_name = "account.edi.xml.cii" if fmt == "cii" else "account.edi.xml.ubl_bis3"
        builder = self.env[builder_name].with_context(chorus_pro_xml_flow=True, chorus_pro_embed_documents=True)
        xml, odoo_constraints = builder._export_invoice(self)
        if odoo_constraints:
            _logger.debug("Odoo's %s constraints on invoice %s (not blocking): %s", fmt, self.id, odoo_constraints)
        label = dict(FLOW_FORMATS)[fmt]
        if len(xml) > MAX_DEPOSIT_SIZE:
            raise UserError(_(
                "With its supporting documents, the %(format)s file of %(invoice)s weighs %(size)s: Chorus Pro accepts "
                "at most %(max)s for one deposit. Send fewer or smaller supporting documents.",
                format=label, invoice=self.name, size=size_text(self.env, len(xml)),
                max=size_text(self.env, MAX_DEPOSIT_SIZE),
            ))
        broken = self._chorus_pro_broken_rules(xml)  # account_move_chorus_send.py
        if broken:
            raise UserError("\n".join([
                _("The %(format)s file of %(invoice)s breaks %(count)s rule(s); nothing was sent:",
                  format=label, invoice=self.name, count=len(broken)),
                *broken,
            ]))
        xml_format = XML_FORMATS[fmt]
        return xml, payload.deposit_filename(self.name, xml_format), payload.SYNTAX_BY_FORMAT[xml_format]

    def _chorus_pro_store_file(self, data, filename, syntax=None):
        # EXTENDS odoo_chorus_rouen: the format that went, and an XML kept as XML.
        attachment = super()._chorus_pro_store_file(data, filename, syntax)
        fmt = FORMAT_BY_SYNTAX.get(syntax or "", "facturx")
        if fmt in XML_FORMATS:
            attachment.write({
                "mimetype": "application/xml",
                "description": _("%(format)s file deposited on Chorus Pro", format=dict(FLOW_FORMATS)[fmt]),
            })
        self.write({
            "chorus_pro_flow_format_sent": fmt,
            "chorus_pro_flow_syntax": syntax or payload.SYNTAX_BY_FORMAT[Format.FACTURX_PDF],
        })
        return attachment
