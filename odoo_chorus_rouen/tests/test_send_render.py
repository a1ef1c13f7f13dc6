"""The send job renders the invoice PDFs of a pass together (issue 21): one report call, an invoice whose
rendering fails kept apart, an invoice whose PDF exists not rendered again."""

import io
from contextlib import contextmanager
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.models import account_move_chorus_render as render_module

from .common import blank_pdf
from .test_send import QUIET, ChorusSandboxCase

QUIET_RENDER = (*QUIET, "odoo.addons.odoo_chorus_rouen.models.account_move_chorus_render")


@tagged("post_install", "-at_install")
class TestChorusProSendRender(ChorusSandboxCase):
    @contextmanager
    def report_calls(self, fail_for=()):
        """Record the invoice ids of every report call (``_pre_render_qweb_pdf``) of the invoice report; a
        call that includes an invoice of ``fail_for`` raises, as a broken template or a crashed wkhtmltopdf."""
        Report = type(self.env["ir.actions.report"])
        original = Report._pre_render_qweb_pdf
        calls = []
        failing = {move.id for move in fail_for}

        def pre_render(report, report_ref, res_ids=None, data=None):
            if report._get_report(report_ref).model == "account.move":
                calls.append(sorted(res_ids))
                if failing & set(res_ids):
                    raise ValueError("wkhtmltopdf stopped (test)")
            return original(report, report_ref, res_ids=res_ids, data=data)

        with patch.object(Report, "_pre_render_qweb_pdf", pre_render):
            yield calls

    def deposited_pdf_pages(self, invoice):
        from pypdf import PdfReader

        return PdfReader(io.BytesIO(invoice.chorus_pro_attachment_id.raw)).pages

    def test_a_pass_renders_its_invoices_in_one_report_call(self):
        invoices = [self.make_invoice(partner=self.budgets["transports"], post=True, price=100.0 + i)
                    for i in range(3)]
        with self.report_calls() as calls:
            self.assertEqual(self.send(), 3)
        self.assertEqual(calls, [sorted(i.id for i in invoices)], "one report call for the three invoices")
        for invoice in invoices:
            self.assertEqual(invoice.chorus_pro_state, "sent")
            self.assertEqual(self.deposits(invoice), 1)
            self.assertFalse(invoice.chorus_pro_render_alone)
            # Each Factur-X carries its own invoice's pages, not the whole batch.
            self.assertEqual(len(self.deposited_pdf_pages(invoice)), 1)
        files = {invoice.chorus_pro_attachment_id.raw for invoice in invoices}
        self.assertEqual(len(files), 3)

    @contextmanager
    def wkhtmltopdf_runs(self, stand_in=None):
        """Record the number of HTML documents of each wkhtmltopdf run (``stand_in``: instead of it)."""
        Report = type(self.env["ir.actions.report"])
        original = Report._run_wkhtmltopdf
        runs = []

        def run(report, bodies, *args, **kwargs):
            runs.append(len(bodies))
            return stand_in(bodies) if stand_in else original(report, bodies, *args, **kwargs)

        with patch.object(Report, "_run_wkhtmltopdf", run):
            yield runs

    def test_the_pdf_split_per_invoice_carries_that_invoice(self):
        if self.env["ir.actions.report"]._run_wkhtmltopdf.__name__ != "_run_wkhtmltopdf":
            self.skipTest("no wkhtmltopdf here: the invoice PDFs are blank pages")
        invoices = [self.make_invoice(post=True, price=100.0 + i) for i in range(3)]
        with self.report_calls() as calls, self.wkhtmltopdf_runs() as runs:
            self.assertEqual(self.send(), 3)
        self.assertEqual((len(calls), runs), (1, [3]), "one report call, one wkhtmltopdf run")
        for invoice in invoices:
            pages = self.deposited_pdf_pages(invoice)
            text = "".join(page.extract_text() for page in pages)
            self.assertIn(invoice.name, text)
            for other in invoices:
                if other != invoice:
                    self.assertNotIn(other.name, text)
            # No trace of how the batch was split (the page markers of a merged document).
            links = [str(annotation.get_object().get("/A", {}).get("/URI", "")) for page in pages
                     for annotation in (page.get("/Annots") or [])]
            self.assertFalse([link for link in links if render_module.MARKER in link])

    def test_a_wkhtmltopdf_that_takes_several_documents_gets_them_in_one_run(self):
        invoices = [self.make_invoice(post=True, price=100.0 + i) for i in range(3)]
        with patch.object(render_module, "wkhtmltopdf_takes_several_documents", lambda _binary: True), \
                self.wkhtmltopdf_runs(stand_in=blank_pdf) as runs:
            self.assertEqual(self.send(), 3)
        self.assertEqual(runs, [3], "one run, one document per invoice (split by Odoo, one page each)")
        for invoice in invoices:
            self.assertEqual(invoice.chorus_pro_state, "sent")
            self.assertEqual(self.deposits(invoice), 1)
            self.assertEqual(len(self.deposited_pdf_pages(invoice)), 1)

    def test_merged_documents_are_split_at_their_markers(self):
        """wkhtmltopdf on unpatched Qt takes one document: the invoices are merged, one after another, and the
        PDF split where each one's marker is (an invoice of two pages keeps both)."""
        bodies = [f"<!DOCTYPE html><html><head><title>t</title></head><body><p>invoice {i}</p></body></html>"
                  for i in range(3)]
        merged = render_module.merge_bodies(bodies)
        self.assertEqual(merged.count(render_module.MARKER), 3)
        self.assertEqual(merged.count("page-break-before"), 2)
        self.assertLess(merged.index("invoice 0"), merged.index("invoice 1"))
        pdf = self._pdf_with_markers([0, None, 1, 2])  # pages: 0 starts invoice 0, 2 and 3 the others
        stripped, starts = render_module.strip_markers(pdf, 3)
        self.assertEqual(starts, [0, 2, 3])
        from pypdf import PdfReader

        self.assertEqual([page.get("/Annots") for page in PdfReader(io.BytesIO(stripped)).pages], [None] * 4,
                         "the markers are gone")
        parts = render_module.split_pages(stripped, starts)
        self.assertEqual([len(PdfReader(io.BytesIO(part)).pages) for part in parts], [2, 1, 1])
        with self.assertRaises(ValueError):
            render_module.strip_markers(self._pdf_with_markers([0, 2, 1]), 3)  # out of order: not split
        with self.assertRaises(ValueError):
            render_module.strip_markers(self._pdf_with_markers([0, None, 1]), 3)  # one missing

    def _pdf_with_markers(self, markers):
        """A PDF of blank pages, page i carrying a link to ``MARKER<markers[i]>`` (None: none)."""
        from pypdf import PdfWriter
        from pypdf.annotations import Link
        from pypdf.generic import DictionaryObject, NameObject, TextStringObject

        writer = PdfWriter()
        for number, marker in enumerate(markers):
            writer.add_blank_page(width=595, height=842)
            if marker is not None:
                link = Link(rect=(0, 0, 1, 1), target_page_index=0)
                link[NameObject("/A")] = DictionaryObject({
                    NameObject("/S"): NameObject("/URI"),
                    NameObject("/URI"): TextStringObject(f"{render_module.MARKER}{marker}"),
                })
                del link["/Dest"]
                writer.add_annotation(number, link)
        stream = io.BytesIO()
        writer.write(stream)
        return stream.getvalue()

    def test_an_invoice_whose_rendering_fails_never_blocks_the_others(self):
        first, bad, last = (self.make_invoice(post=True, price=100.0 + i) for i in range(3))
        with self.report_calls(fail_for=bad) as calls, mute_logger(*QUIET_RENDER):
            self.assertEqual(self.send(), 3)
        self.assertEqual(calls[0], sorted([first.id, bad.id, last.id]), "tried together first")
        self.assertIn([bad.id], calls, "then alone, apart from the others")
        self.assertEqual([first.chorus_pro_state, last.chorus_pro_state], ["sent", "sent"])
        self.assertEqual([self.deposits(first), self.deposits(last)], [1, 1])
        # The failed one: said on the invoice, queued again with a back-off, nothing deposited.
        self.assertEqual(bad.chorus_pro_state, "to_send")
        self.assertIn("could not be rendered", bad.chorus_pro_error)
        self.assertIn("wkhtmltopdf stopped (test)", bad.chorus_pro_error)
        self.assertTrue(bad.chorus_pro_next_try)
        self.assertTrue(bad.chorus_pro_render_alone)
        self.assertEqual(self.deposits(bad), 0)
        self.assertFalse(bad.chorus_pro_attachment_id)

        # Its next attempt, with an invoice queued since: it is rendered alone, the newcomer apart.
        newcomer = self.make_invoice(post=True, price=200.0)
        self.due_now(bad)
        with self.report_calls() as calls:
            self.assertEqual(self.send(), 2)
        self.assertEqual(sorted(calls), sorted([[bad.id], [newcomer.id]]))
        self.assertEqual(bad.chorus_pro_state, "sent")
        self.assertFalse(bad.chorus_pro_error)
        self.assertFalse(bad.chorus_pro_render_alone)
        self.assertEqual([self.deposits(m) for m in (first, bad, last, newcomer)], [1, 1, 1, 1])

    def test_a_rendering_that_keeps_failing_ends_in_error(self):
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.max_attempts", "2")
        bad = self.make_invoice(post=True)
        with self.report_calls(fail_for=bad), mute_logger(*QUIET_RENDER):
            self.send()
            self.assertEqual(bad.chorus_pro_state, "to_send")
            self.due_now(bad)
            self.send()
        self.assertEqual(bad.chorus_pro_state, "error")
        self.assertIn("2 attempts", bad.chorus_pro_error)
        self.assertEqual(self.deposits(bad), 0)

    def test_an_invoice_whose_pdf_exists_is_not_rendered_again(self):
        printed = self.make_invoice(post=True, price=100.0)
        other = self.make_invoice(post=True, price=110.0)
        legal_pdf = blank_pdf(["", ""])  # two pages: told apart from a rendering
        self.env["ir.attachment"].create({
            "name": f"{printed.name}.pdf", "raw": legal_pdf, "mimetype": "application/pdf",
            "res_model": "account.move", "res_id": printed.id, "res_field": "invoice_pdf_report_file",
        })
        printed.invalidate_recordset(["invoice_pdf_report_id", "invoice_pdf_report_file"])
        self.assertTrue(printed.invoice_pdf_report_id)
        with self.report_calls() as calls:
            self.assertEqual(self.send(), 2)
        self.assertEqual(calls, [[other.id]], "only the invoice without a PDF is rendered")
        self.assertEqual([printed.chorus_pro_state, other.chorus_pro_state], ["sent", "sent"])
        self.assertEqual(len(self.deposited_pdf_pages(printed)), 2, "built on the invoice's own PDF")

    def test_one_report_call_per_invoice_when_batches_are_off(self):
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.send_render_batch", "1")
        invoices = [self.make_invoice(post=True, price=100.0 + i) for i in range(2)]
        with self.report_calls() as calls:
            self.assertEqual(self.send(), 2)
        self.assertEqual(calls, [[invoices[0].id], [invoices[1].id]])
        self.assertEqual([self.deposits(i) for i in invoices], [1, 1])

    def test_an_invoice_deposited_as_xml_is_not_rendered(self):
        self.budgets["eau"].chorus_pro_flow_format = "cii"  # a recipient that takes structured XML flows
        pdf_invoices = [self.make_invoice(partner=self.budgets["transports"], post=True, price=100.0 + i)
                        for i in range(2)]
        xml_invoice = self.make_invoice(partner=self.budgets["eau"], post=True, price=120.0)
        with self.report_calls() as calls:
            self.assertEqual(self.send(), 3)
        self.assertEqual(calls, [sorted(i.id for i in pdf_invoices)], "only the Factur-X invoices are rendered")
        self.assertEqual(xml_invoice.chorus_pro_flow_format_sent, "cii")
        self.assertEqual([self.deposits(i) for i in (*pdf_invoices, xml_invoice)], [1, 1, 1])
