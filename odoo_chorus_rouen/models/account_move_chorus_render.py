"""The invoice PDFs of the send job, rendered by batch (issue 21).

A pass of the send job (``account_move_chorus_send.py``) hands each group of invoices it is about to deposit
to ``_chorus_pro_prerender_pdfs`` first: ONE report call per PDF report (``_pre_render_qweb_pdf`` with all
their ids: one wkhtmltopdf run, one ``report.print_delay``), split per invoice by ``_get_splitted_report``.
The PDFs wait on the job's cursor until ``_chorus_pro_render_pdf`` takes each while building its Factur-X;
the rest of the send (lock, checks, commits, deposit) stays one invoice at a time.

An invoice never blocks the others: a report call that fails (or whose PDF cannot be split per invoice) is
done again by halves, down to the invoice alone; an invoice that fails alone is kept out of the pass,
its error said on the invoice (``chorus_pro_error``), and it is queued again with the usual back-off; its
next attempts render it alone. An invoice whose legal PDF exists (``invoice_pdf_report_id``) is not
rendered again, nor one another worker holds.

Odoo hands wkhtmltopdf one HTML document per invoice in one run, which only a wkhtmltopdf built on its
patched Qt accepts (0.12.x "with patched qt", the build Odoo recommends). Debian's and Ubuntu's packages
("unpatched Qt") refuse more than one document: for them the bodies of the call are merged into ONE
document, one invoice after another with a page break between them, a link marker at the top of each
(``MARKER``) telling on which page each invoice starts; the markers are removed from the PDF before it is
split at those pages (``ir.actions.report._run_wkhtmltopdf`` below).

The parameter ``odoo_chorus_rouen.send_render_batch`` bounds the invoices of one report call; 1 renders
each invoice alone while it is built, as before.
"""

from __future__ import annotations

import ctypes
import gc
import io
import logging
import subprocess
import threading
from collections import defaultdict

import lxml.html

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

# Attribute of the send job's cursor holding, during a pass, {invoice id: PDF bytes or RenderFailure}.
RENDERED_ATTRIBUTE = "_chorus_pro_rendered_pdfs"
# Link target put at the top of each invoice of a merged document (never a real address: .invalid).
MARKER = "https://chorus-pro-split.invalid/"
# The report call of this thread that merges its bodies when wkhtmltopdf takes one document only:
# ``merge`` (bool) and ``starts`` (first page of each body, set by _run_wkhtmltopdf).
_MERGE = threading.local()
_SEVERAL_DOCUMENTS = {}  # wkhtmltopdf binary -> whether it takes several documents in one run
_LIBC = {}  # "libc": the C library when it has malloc_trim (glibc), else None


def release_free_heap():
    """After a group: collect the reference cycles that hold a batch's large buffers (the PDF readers and
    writers of the split), which Python's generational collector leaves for long, then hand the memory glibc
    keeps back to the system (``malloc_trim``; skipped where the C library has no such call). Without it the
    worker's RSS creeps up over hundreds of invoices (+50 MiB over 200) while no object is left behind."""
    gc.collect()
    libc = _LIBC.get("libc")
    if libc is None and "libc" not in _LIBC:
        try:
            libc = ctypes.CDLL("libc.so.6")
            getattr(libc, "malloc_trim")  # noqa: B009 - glibc only: AttributeError elsewhere
        except (OSError, AttributeError):
            libc = None
        _LIBC["libc"] = libc
    if libc is not None:
        libc.malloc_trim(0)


def wkhtmltopdf_takes_several_documents(binary):
    """Whether this wkhtmltopdf accepts several HTML documents in one run (built on the patched Qt)."""
    if binary not in _SEVERAL_DOCUMENTS:
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, timeout=30, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = b"patched qt"  # Odoo reports the missing binary itself
        _SEVERAL_DOCUMENTS[binary] = b"patched qt" in out.lower()
    return _SEVERAL_DOCUMENTS[binary]


def merge_bodies(bodies):
    """ONE HTML document of ``bodies`` (whole documents from Odoo's ``_prepare_html``): the head of the first,
    then each body's content, a page break before each but the first, a link ``MARKER<i>`` at its top."""
    document = lxml.html.document_fromstring(bodies[0])
    target = document.find("body")
    first = list(target)
    for child in first:
        target.remove(child)
    for index, body in enumerate(bodies):
        children = first if index == 0 else list(lxml.html.document_fromstring(body).find("body"))
        part = lxml.html.Element("div", {"class": "o_chorus_pro_merged_part"})
        if index:
            part.set("style", "page-break-before: always;")
        marker = lxml.html.Element("a", {
            "href": f"{MARKER}{index}",
            "style": "display: block; width: 1px; height: 1px; font-size: 1px; line-height: 1px; color: "
                     "transparent; text-decoration: none; overflow: hidden;",
        })
        marker.text = "\u200b"
        part.append(marker)
        part.extend(children)
        target.append(part)
    return lxml.html.tostring(document, encoding="unicode", doctype="<!DOCTYPE html>")


def strip_markers(pdf, count):
    """``(pdf without the markers, first page of each of the ``count`` parts)``. Raises when a marker is
    missing, repeated or out of order (the parts cannot be told apart)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    starts = {}
    for number, page in enumerate(writer.pages):
        annotations = page.get("/Annots")
        if not annotations:
            continue
        kept = ArrayObject()
        for annotation in annotations.get_object():
            action = annotation.get_object().get("/A")
            uri = str(action.get_object().get("/URI", "")) if action is not None else ""
            if uri.startswith(MARKER):
                index = int(uri[len(MARKER):])
                if index in starts:
                    raise ValueError(f"the merged report shows part {index} twice")
                starts[index] = number
            else:
                kept.append(annotation)
        if len(kept) != len(annotations.get_object()):
            if kept:
                page[NameObject("/Annots")] = kept
            else:
                del page["/Annots"]
    pages = [starts.get(index) for index in range(count)]
    if None in pages or pages[0] != 0 or any(b <= a for a, b in zip(pages, pages[1:], strict=False)):
        raise ValueError(f"the merged report cannot be split per invoice (first pages {pages})")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), pages


def split_pages(pdf, starts):
    """The parts of ``pdf`` starting at the pages ``starts``, each a PDF of its own."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(pdf))
    parts = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(reader.pages)
        writer = PdfWriter()
        for number in range(start, end):
            writer.add_page(reader.pages[number])
        out = io.BytesIO()
        writer.write(out)
        parts.append(out.getvalue())
    return parts


class PdfRenderError(UserError):
    """The invoice PDF could not be rendered: the send job queues the invoice again, to be rendered alone."""


class RenderFailure:
    """Why the invoice failed alone in a batch rendering (kept until its Factur-X is built)."""

    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


class AccountMove(models.Model):
    # One concern per model file (STYLE.md): the send job stays in account_move_chorus_send.py.
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_render_alone = fields.Boolean(
        string="Chorus Pro PDF Rendered Alone", copy=False, readonly=True,
        help="The rendering of this invoice's PDF failed in the send job: its next attempts render it alone, "
             "apart from the other invoices.",
    )

    # --- a pass of the send job ---------------------------------------------------

    @api.model
    def _chorus_pro_render_batch_size(self):
        """Invoices rendered in one report call (parameter ``send_render_batch``; at least 1)."""
        return max(1, self._chorus_pro_param("send_render_batch"))

    def _chorus_pro_deposits_pdf(self):
        """Whether the file deposited for this invoice is built on its PDF (Factur-X). Hook: a deposit
        without PDF (XML-only flows) returns False, and the send job does not render it."""
        self.ensure_one()
        return True

    def _chorus_pro_render_in_batch(self):
        """Whether the send job renders this invoice's PDF with others, ahead of its deposit."""
        self.ensure_one()
        return (self.state == "posted" and self.chorus_pro_state == "to_send" and not self.invoice_pdf_report_id
                and not self.chorus_pro_render_alone and self._chorus_pro_deposits_pdf())

    @api.model
    def _chorus_pro_held_elsewhere(self, moves, namespace):
        """The ids of ``moves`` whose send lock another worker holds (their PDF is not ours to render)."""
        self.env.cr.execute(
            "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
            "AND classid = %s AND objid::int = ANY(%s) AND pid <> pg_backend_pid()",
            (namespace, list(moves.ids)),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _chorus_pro_prerender_pdfs(self, moves, namespace=None):
        """Render the PDFs of those of ``moves`` that need one, one report call per (report, language), and
        keep them for ``_chorus_pro_render_pdf``. Never raises: an invoice left out is rendered alone."""
        rendered = getattr(self.env.cr, RENDERED_ATTRIBUTE, None)
        if rendered is None:
            return
        try:
            held = self._chorus_pro_held_elsewhere(moves, namespace) if namespace is not None else set()
            groups = defaultdict(list)
            for move in moves:
                if move.id in held or move.id in rendered or not move._chorus_pro_render_in_batch():
                    continue
                report = self.env["account.move.send"]._get_default_pdf_report_id(move)
                groups[(report.report_name, move._chorus_pro_lang())].append(move.id)
            for (report_name, lang), ids in groups.items():
                self.with_context(lang=lang)._chorus_pro_render_group(report_name, ids, rendered)
        except Exception:  # noqa: BLE001 - the invoices are then rendered one by one
            _logger.exception("Chorus Pro: the batch rendering of invoices %s failed; each is rendered alone",
                              moves.ids)

    @api.model
    def _chorus_pro_render_group(self, report_name, ids, rendered):
        """Render ``ids`` in one report call; on failure, by halves down to the invoice alone."""
        try:
            with self.env.cr.savepoint():
                rendered.update(self._chorus_pro_render_report(report_name, ids))
            return
        except Exception as err:  # noqa: BLE001 - isolate the invoice that fails
            if len(ids) == 1:
                _logger.warning("Chorus Pro: the PDF of invoice %s could not be rendered: %s", ids[0], err)
                rendered[ids[0]] = RenderFailure(str(err) or repr(err))
                return
            _logger.info("Chorus Pro: rendering %s invoices in one report call failed (%s): by halves",
                         len(ids), err)
        half = len(ids) // 2
        self._chorus_pro_render_group(report_name, ids[:half], rendered)
        self._chorus_pro_render_group(report_name, ids[half:], rendered)

    @api.model
    def _chorus_pro_render_report(self, report_name, ids):
        """ONE report call for ``ids``: ``{id: PDF bytes}``. Raises when any of them gets no PDF of its own."""
        Report = self.env["ir.actions.report"].with_context(force_report_rendering=True)
        _MERGE.merge, _MERGE.starts = len(ids) > 1, None
        try:
            content, report_type = Report._pre_render_qweb_pdf(report_name, res_ids=list(ids))
            starts = _MERGE.starts
        finally:
            _MERGE.merge, _MERGE.starts = False, None
        if report_type != "pdf":
            raise UserError(_("The invoice PDF could not be rendered."))
        unsplit = [res_id for res_id in ids if not (content.get(res_id) or {}).get("stream")]
        if unsplit and starts and (content.get(False) or {}).get("stream") and len(unsplit) == len(ids):
            # One merged document (wkhtmltopdf on unpatched Qt): split at the pages of its markers, in the
            # order of the bodies, which is the order of ``ids`` (as Odoo's own split assumes).
            whole = content.pop(False)["stream"]
            for res_id, part in zip(ids, split_pages(whole.getvalue(), starts), strict=True):
                content[res_id] = {"stream": io.BytesIO(part), "attachment": None}
            whole.close()
            unsplit = []
        if unsplit:
            for stream in content.values():
                if stream.get("stream"):
                    stream["stream"].close()
            # Only with several invoices (one alone gets the whole PDF): the caller tries by halves.
            raise ValueError(f"the report's PDF could not be split per invoice ({len(unsplit)} without a PDF)")
        content.pop(False, None)
        pdfs = Report._get_splitted_report(report_name, content, report_type)
        return {res_id: pdfs[res_id] for res_id in ids}

    # --- one invoice ----------------------------------------------------------------

    def _chorus_pro_render_pdf(self):
        """The invoice PDF the Factur-X is built on: the legal PDF when it exists, else the one the pass
        rendered with others, else a fresh rendering of this invoice alone.

        :raises PdfRenderError: it could not be rendered (the send job queues the invoice again)."""
        self.ensure_one()
        if self.invoice_pdf_report_id:
            return self.invoice_pdf_report_id.raw
        found = (getattr(self.env.cr, RENDERED_ATTRIBUTE, None) or {}).pop(self.id, None)
        if isinstance(found, bytes):
            return found
        if isinstance(found, RenderFailure):
            raise PdfRenderError(self._chorus_pro_render_error_text(found.error))
        report = self.env["account.move.send"]._get_default_pdf_report_id(self)
        try:
            with self.env.cr.savepoint():
                pdf = self._chorus_pro_render_report(report.report_name, self.ids)[self.id]
        except Exception as err:  # noqa: BLE001 - said on the invoice, tried again later
            _logger.warning("Chorus Pro: the PDF of invoice %s could not be rendered: %s", self.id, err)
            raise PdfRenderError(self._chorus_pro_render_error_text(str(err) or repr(err))) from err
        if self.chorus_pro_render_alone:
            self.chorus_pro_render_alone = False
        return pdf

    def _chorus_pro_render_error_text(self, error):
        return _("The invoice PDF could not be rendered: %(error)s. The invoice is tried again later, rendered "
                 "alone.", error=error)

    def _chorus_pro_render_failed(self, message):
        """The send job could not render this invoice's PDF: queued again with the back-off (an attempt
        counted, so that it ends in error after ``max_attempts``), rendered alone next time."""
        self.ensure_one()
        self.write({"chorus_pro_render_alone": True, "chorus_pro_attempts": self.chorus_pro_attempts + 1})
        return self._chorus_pro_fail(message, retry=True)


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _run_wkhtmltopdf(self, bodies, report_ref=False, header=None, footer=None, landscape=False,
                         specific_paperformat_args=None, set_viewport_size=False):
        # EXTENDS base: the send job's batch rendering on a wkhtmltopdf that takes one document only
        # (unpatched Qt): the bodies merged into one, the page where each starts kept for the split.
        if not (getattr(_MERGE, "merge", False) and len(bodies) > 1) or wkhtmltopdf_takes_several_documents(
                _get_wkhtmltopdf_bin()):
            return super()._run_wkhtmltopdf(
                bodies, report_ref=report_ref, header=header, footer=footer, landscape=landscape,
                specific_paperformat_args=specific_paperformat_args, set_viewport_size=set_viewport_size)
        pdf = super()._run_wkhtmltopdf(
            [merge_bodies(bodies)], report_ref=report_ref, header=header, footer=footer, landscape=landscape,
            specific_paperformat_args=specific_paperformat_args, set_viewport_size=set_viewport_size)
        pdf, _MERGE.starts = strip_markers(pdf, len(bodies))
        return pdf
