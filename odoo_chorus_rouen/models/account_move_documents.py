"""Supporting documents sent with the invoice to Chorus Pro, and the PDF/A-3 Factur-X that carries them.

* The user marks files "send to Chorus Pro" on the invoice's Chorus Pro tab (the invoice's existing
  attachments, or a new upload), on a draft or posted invoice not deposited yet. Chorus Pro's
  limits are checked when a file is marked (``ir_attachment.py``) and again before the deposit
  (``_chorus_pro_check_issues`` runs first in the send job's build).
* The send job embeds them in the Factur-X PDF as additional files (factur-x library,
  ``/AFRelationship /Supplement``, description and MIME type) and describes each in the CII as
  BG-24 (``account_edi_xml_cii_documents.py``).
* The Factur-X is then made a PDF/A-3 **in structure** with Odoo's own ``OdooPdfFileWriter.convert_to_pdfa``
  (sRGB OutputIntent with its ICC profile, file ID, PDF 1.7 header, glyph widths): Odoo skips that
  conversion for PDFs it believes are PDF/A already (Debian's wkhtmltopdf output), the Chorus path
  always runs it, then checks the result with ``core.pdfa.check_pdfa3``: nothing is deposited that
  fails it.
* Once the invoice is deposited, the tab lists what was sent (name, type, size, date); those files
  can no longer be unmarked, renamed, replaced or deleted (``ir_attachment.py``): the list stays
  what Chorus Pro received.
"""

from __future__ import annotations

import io
from datetime import timezone

from lxml import etree

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..core.attachments import MAX_FILE_SIZE, MIB, check_attachments  # noqa: TID252
from ..core.pdfa import FACTURX_FILENAME, check_pdfa3, xmp_info  # noqa: TID252
from .account_move import DEPOSITED_STATES  # a deposit exists or may exist: the files have travelled
from .ir_attachment import attachment_problem_text, size_text

# Largest file deposerFluxFacture takes: "10 MB a file" [U] (CHORUS_PRO_API.md §4; the sandbox refuses
# bigger deposits with HTTP 413). The supporting documents travel inside that one file.
DEPOSIT_MAX_SIZE = 10 * MIB


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_document_ids = fields.Many2many(
        "ir.attachment",
        relation="account_move_chorus_pro_document_rel",
        string="Supporting Documents",
        compute="_compute_chorus_pro_document_ids",
        inverse="_inverse_chorus_pro_document_ids",
        help="Files embedded in the Factur-X deposited on Chorus Pro, beside the invoice (delivery note, "
        "certificate of service done, timesheet, works statement...).",
    )
    chorus_pro_document_upload_ids = fields.Many2many(
        "ir.attachment",
        relation="account_move_chorus_pro_upload_rel",
        string="Upload Supporting Documents",
        compute="_compute_chorus_pro_document_upload_ids",
        inverse="_inverse_chorus_pro_document_upload_ids",
        help="New files to attach to the invoice and send to Chorus Pro with it.",
    )
    chorus_pro_documents_editable = fields.Boolean(compute="_compute_chorus_pro_documents_editable")

    # -------------------------------------------------------------------------
    # The marked files
    # -------------------------------------------------------------------------

    def _chorus_pro_documents(self):
        """The attachments of this invoice marked "send to Chorus Pro", oldest first."""
        self.ensure_one()
        if not self.id:
            return self.env["ir.attachment"]
        return self.env["ir.attachment"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", self.id), ("chorus_pro_send", "=", True)],
            order="id",
        )

    def _chorus_pro_documents_editable(self):
        self.ensure_one()
        return self.chorus_pro_state not in DEPOSITED_STATES

    def _chorus_pro_document_problems(self):
        """Every reason why the marked files cannot go to Chorus Pro (translated sentences)."""
        self.ensure_one()
        documents = self._chorus_pro_documents()
        problems = []
        seen = set()
        for attachment in documents:
            if attachment.type != "binary":
                problems.append(_("%(file)s is a link, not a file: only files can be sent to Chorus Pro.",
                                  file=attachment.name))
            name = (attachment.name or "").strip()
            if name.lower() == FACTURX_FILENAME:
                problems.append(_("%(file)s is the name of the invoice's own data file: rename this file.", file=name))
            elif name.lower() in seen:
                problems.append(_("Two files are named %(file)s: rename one of them.", file=name))
            seen.add(name.lower())
        found = check_attachments((a.name, a.file_size or 0) for a in documents)
        problems += [attachment_problem_text(self.env, problem) for problem in found]
        # Files already too big on their own are said above: the deposit's total counts the others.
        total = sum(a.file_size or 0 for a in documents if (a.file_size or 0) <= MAX_FILE_SIZE)
        if (total > DEPOSIT_MAX_SIZE and not any(problem.code == "total_too_large" for problem in found)
                and self._chorus_pro_documents_travel_in_pdf()):
            problems.append(_(
                "Together the files weigh %(size)s: embedded in the invoice's Factur-X, they go over the %(max)s "
                "Chorus Pro accepts for one deposit. Send fewer or smaller files.",
                size=size_text(self.env, total), max=size_text(self.env, DEPOSIT_MAX_SIZE),
            ))
        return problems

    def _chorus_pro_documents_travel_in_pdf(self):
        """Whether the files travel embedded in a Factur-X PDF (an XML flow has its own limits:
        ``account_move_chorus_xml.py``)."""
        return True

    def _chorus_pro_check_issues(self):
        # EXTENDS odoo_chorus_rouen: checked at posting, in Send & Print and again before the deposit.
        issues = super()._chorus_pro_check_issues()
        return issues + self._chorus_pro_document_problems()

    @api.depends("attachment_ids.chorus_pro_send")
    def _compute_chorus_pro_document_ids(self):
        for move in self:
            move.chorus_pro_document_ids = move._chorus_pro_documents() if move.id else False

    def _chorus_pro_mark(self, attachments, mark=True):
        self.ensure_one()
        if not attachments:
            return
        orphans = attachments.filtered(lambda a: not a.res_model or not a.res_id)
        if orphans:  # created from the list's dialog: they belong to this invoice
            orphans.write({"res_model": "account.move", "res_id": self.id})
        foreign = attachments.filtered(lambda a: a.res_model != "account.move" or a.res_id != self.id)
        if foreign:
            raise UserError(_(
                "%(files)s belong(s) to another document: only the files attached to this invoice can be sent "
                "with it.", files=", ".join(foreign.mapped("name")),
            ))
        attachments.write({"chorus_pro_send": mark})

    def _inverse_chorus_pro_document_ids(self):
        for move in self:
            current = move._chorus_pro_documents()
            wanted = move.chorus_pro_document_ids
            move._chorus_pro_mark(current - wanted, mark=False)
            move._chorus_pro_mark(wanted - current)

    def _compute_chorus_pro_document_upload_ids(self):
        self.chorus_pro_document_upload_ids = False

    def _inverse_chorus_pro_document_upload_ids(self):
        for move in self:
            move._chorus_pro_mark(move.chorus_pro_document_upload_ids)

    @api.depends("chorus_pro_state")
    def _compute_chorus_pro_documents_editable(self):
        for move in self:
            move.chorus_pro_documents_editable = move._chorus_pro_documents_editable()

    # -------------------------------------------------------------------------
    # Building the deposited file (called from _chorus_pro_build_file)
    # -------------------------------------------------------------------------

    def _chorus_pro_build_file(self):
        # EXTENDS odoo_chorus_rouen: the CII describes the supporting documents (BG-24) only in the file
        # that embeds them, not in the Factur-X Odoo's own Send & Print builds.
        data, filename, syntax = super(
            AccountMove, self.with_context(chorus_pro_embed_documents=True)
        )._chorus_pro_build_file()
        if len(data) > DEPOSIT_MAX_SIZE:
            raise UserError(_(
                "With its supporting documents, the Factur-X file of %(invoice)s weighs %(size)s: Chorus Pro accepts "
                "at most %(max)s for one deposit. Send fewer or smaller supporting documents.",
                invoice=self.name, size=size_text(self.env, len(data)), max=size_text(self.env, DEPOSIT_MAX_SIZE),
            ))
        return data, filename, syntax

    def _chorus_pro_facturx_attachments(self):
        """The ``attachments`` argument of ``facturx.generate_from_binary``: each marked file as a supplement."""
        self.ensure_one()
        result = {}
        for attachment in self._chorus_pro_documents():
            modified = attachment.write_date or attachment.create_date
            result[attachment.name] = {
                "filedata": attachment.raw,
                "description": (attachment.description or attachment.name or "").strip(),
                "afrelationship": "supplement",
                "modification_datetime": modified.replace(tzinfo=timezone.utc) if modified else None,
            }
        return result

    @api.model
    def _chorus_pro_xmp(self, writer):
        """The ``x:xmpmeta`` element of the PDF being written (an empty one when it has no XMP)."""
        metadata = writer._root_object.get("/Metadata")
        data = metadata.get_object().get_data() if metadata is not None else b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        return root if root.tag == "{adobe:ns:meta/}xmpmeta" else root.find(".//{adobe:ns:meta/}xmpmeta")

    def _chorus_pro_pdfa(self, data):
        """Make the Factur-X ``data`` a PDF/A-3 in structure with Odoo's own PDF tools, then check it.

        :raises UserError: the result still breaks a structural PDF/A-3 rule (every one listed).
        """
        from odoo.tools.pdf import DictionaryObject, NameObject, NumberObject, OdooPdfFileReader, OdooPdfFileWriter

        reader = OdooPdfFileReader(io.BytesIO(data), strict=False)
        info = dict(reader.metadata or {})
        writer = OdooPdfFileWriter()
        writer.cloneReaderDocumentRoot(reader)
        if "/Outlines" not in writer._root_object:  # convert_to_pdfa() expects one (wkhtmltopdf always writes it)
            writer._root_object[NameObject("/Outlines")] = writer._addObject(DictionaryObject({
                NameObject("/Type"): NameObject("/Outlines"), NameObject("/Count"): NumberObject(0),
            }))
        try:
            writer.convert_to_pdfa()
        except Exception as err:  # noqa: BLE001 - pypdf/fontTools raise many types on unusual PDFs
            raise UserError(_(
                "The invoice PDF could not be made a PDF/A-3: %(error)s", error=str(err) or repr(err)
            )) from err
        # pypdf writes its own end of line after the header: Odoo's "%PDF-1.7\n" would put a blank line
        # between the header and the binary comment (PDF/A-3 6.1.2).
        writer._header = writer._header.rstrip(b"\r\n")
        # The document information must say what the XMP says (6.6.2.3.1). Odoo's writer brands every file
        # (Info Creator/Producer "Odoo"): the XMP says so too (add_file_metadata); factur-x writes Info
        # Keywords the XMP lacks: dropped. Title/Author/Subject/dates are factur-x's, in both.
        xmp = self._chorus_pro_xmp(writer)
        for namespace, tag in (("http://ns.adobe.com/pdf/1.3/", "Producer"), ("http://ns.adobe.com/xap/1.0/",
                                                                              "CreatorTool")):
            for element in xmp.iter(f"{{{namespace}}}{tag}"):
                element.text = "Odoo"
        writer.add_file_metadata(etree.tostring(xmp, encoding="UTF-8"))
        dates = {key: info[key] for key in ("/CreationDate", "/ModDate") if key in info}
        writer.metadata = {**xmp_info(xmp), **dates}
        buffer = io.BytesIO()
        writer.write(buffer)
        result = buffer.getvalue()
        problems = check_pdfa3(result)
        if problems:
            raise UserError("\n".join([
                _("The Factur-X file of %(invoice)s is not a PDF/A-3; nothing was sent:", invoice=self.name),
                *(f"- {problem}" for problem in problems),
            ]))
        return result
