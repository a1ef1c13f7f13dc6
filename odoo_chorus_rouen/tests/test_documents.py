"""Supporting documents sent with the invoice, and the structure of the deposited Factur-X (PDF/A-3).

Issue #11, "Done when" bullets 1 and 3: an invoice with two marked documents is deposited once and
the sandbox shows both files embedded; a 12 MB file or a .exe is refused when marked, in words; the
deposited file passes the structural PDF/A-3 test with and without supporting documents.
"""

import hashlib

from lxml import etree

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from odoo.addons.odoo_chorus_rouen.core.pdfa import FACTURX_FILENAME, check_pdfa3, embedded_files
from odoo.addons.odoo_chorus_rouen.sandbox.embedded import flow_embedded
from odoo.addons.odoo_chorus_rouen.sandbox.pdf import simple_pdf

from .test_send import ChorusSandboxCase

MB = 1024 * 1024
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


@tagged("post_install", "-at_install")
class TestChorusProDocuments(ChorusSandboxCase):
    def attach(self, move, name, data, description=None):
        return self.env["ir.attachment"].create({
            "name": name,
            "raw": data,
            "res_model": "account.move",
            "res_id": move.id,
            "description": description,
        })

    def deposited(self, invoice):
        """The deposited file as the sandbox keeps it, after checking it is the one Odoo kept."""
        data = self.sandbox.flow_file(invoice.chorus_pro_flow_number)
        self.assertEqual(data, invoice.chorus_pro_attachment_id.raw)
        return data

    def assertPdfa3(self, data):  # noqa: N802 - unittest style
        problems = check_pdfa3(data)
        self.assertEqual([str(p) for p in problems], [], "the deposited Factur-X must be a PDF/A-3 in structure")

    def test_two_documents_are_deposited_once_embedded_in_the_facturx(self):
        invoice = self.make_invoice()  # a draft: documents are chosen before posting
        delivery_note = simple_pdf(["Bon de livraison BL-2026-117", "12 switches, 3 routeurs"])
        timesheet = b"date;technicien;heures\n2026-11-03;Martin;7\n2026-11-04;Martin;8\n"
        existing = self.attach(invoice, "bon-livraison-BL-2026-117.pdf", delivery_note, "Bon de livraison")
        existing.chorus_pro_document_type = "BON_LIVRAISON"
        self.attach(invoice, "photo-chantier.png", b"\x89PNG\r\n\x1a\n" + bytes(64))  # not marked: stays home
        invoice.chorus_pro_document_ids = [Command.link(existing.id)]  # an attachment the invoice already had
        upload = self.env["ir.attachment"].create({"name": "releve-heures-novembre.csv", "raw": timesheet})
        invoice.chorus_pro_document_upload_ids = [Command.link(upload.id)]  # a new upload
        self.assertEqual((upload.res_model, upload.res_id, upload.chorus_pro_send), ("account.move", invoice.id, True))
        self.assertEqual(invoice.chorus_pro_document_ids, existing | upload)

        invoice.action_post()
        self.assertEqual(self.send(), 1)
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 1)
        self.assertEqual(self.send(), 0)  # nothing more to do
        self.assertEqual(self.deposits(invoice), 1)

        # The sandbox shows both files embedded, the flow is integrated (no limit broken).
        flow = invoice.chorus_pro_flow_number
        self.assertEqual(self.sandbox.flow(flow)["etatCourantDepotFlux"], "IN_INTEGRE")
        # (this branch's sandbox view, also when Odoo's Python runs an installed copy of the sandbox server)
        (document,) = flow_embedded(self.sandbox, flow)["documents"]
        files = {f["name"]: f for f in document["embedded"]}
        self.assertEqual(set(files), {FACTURX_FILENAME, existing.name, upload.name})
        self.assertEqual(files[existing.name]["sha256"], hashlib.sha256(delivery_note).hexdigest())
        self.assertEqual(files[upload.name]["sha256"], hashlib.sha256(timesheet).hexdigest())
        self.assertEqual(files[existing.name]["relationship"], "Supplement")
        self.assertEqual(files[existing.name]["description"], "Bon de livraison")
        self.assertEqual(files[upload.name]["mime_type"], "text/csv")
        self.assertTrue(all(f["in_af"] for f in files.values()))

        # BG-24 in the CII: one AdditionalReferencedDocument (916) per file, named as the embedded file.
        data = self.deposited(invoice)
        xml = next(f.data for f in embedded_files(data) if f.name == FACTURX_FILENAME)
        documents = etree.fromstring(xml).findall(
            "./rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:AdditionalReferencedDocument",
            NS,
        )
        described = {
            d.findtext("ram:IssuerAssignedID", namespaces=NS): (
                d.findtext("ram:TypeCode", namespaces=NS), d.findtext("ram:Name", namespaces=NS)
            )
            for d in documents
        }
        self.assertEqual(described, {
            existing.name: ("916", "BON_LIVRAISON"),  # BT-123: a BR-FR-17 code
            upload.name: ("916", "PJA"),
        })

        # Odoo's own Factur-X export (Send & Print) does not embed them, so it does not describe them.
        odoo_xml, _errors = self.env["account.edi.xml.cii"]._export_invoice(invoice)
        self.assertNotIn(b"AdditionalReferencedDocument", odoo_xml)

        # PDF/A-3 in structure, with the documents.
        self.assertPdfa3(data)

        # The Chorus Pro tab lists what was sent; it stays what Chorus Pro received.
        self.assertFalse(invoice.chorus_pro_documents_editable)
        self.assertEqual(invoice.chorus_pro_document_ids, existing | upload)
        self.assertEqual(set(invoice.chorus_pro_document_ids.mapped("chorus_pro_sent_on")),
                         {invoice.chorus_pro_deposit_date})
        late = self.attach(invoice, "attestation.pdf", simple_pdf(["Attestation"]))
        with self.assertRaisesMessage(ValidationError, invoice.name, "already deposited"):
            late.chorus_pro_send = True
        with self.assertRaisesMessage(ValidationError, existing.name, "kept as sent"):
            existing.unlink()
        with self.assertRaisesMessage(ValidationError, upload.name, "kept as sent"):
            upload.name = "autre-nom.csv"
        late.unlink()  # a file that did not travel stays free

    def test_without_documents_the_deposited_file_is_pdfa3_too(self):
        invoice = self.make_invoice(partner=self.budgets["transports"], post=True)
        self.assertEqual(self.send(), 1)
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        data = self.deposited(invoice)
        self.assertEqual([f.name for f in embedded_files(data)], [FACTURX_FILENAME])
        self.assertPdfa3(data)
        self.assertFalse(invoice.chorus_pro_document_ids)

    def test_a_12_mb_file_and_an_exe_are_refused_when_marked(self):
        invoice = self.make_invoice()
        big = self.attach(invoice, "plan-des-travaux.pdf", b"%PDF-1.4\n" + bytes(12 * MB))
        exe = self.attach(invoice, "outil.exe", b"MZ" + bytes(200))
        with self.assertRaisesMessage(
            ValidationError,
            "plan-des-travaux.pdf: the file weighs 12.0 MB; Chorus Pro accepts at most 10.0 MB per file.",
            "outil.exe: Chorus Pro does not accept .exe files.",
        ) as caught:
            invoice.chorus_pro_document_ids = [Command.link(big.id), Command.link(exe.id)]  # every problem at once
        self.assertNotIn("Together", str(caught.exception.args[0]))  # the big file is said once
        self.assertFalse((big | exe).filtered("chorus_pro_send"))
        upload = self.env["ir.attachment"].create({"name": "installeur.exe", "raw": b"MZ"})
        with self.assertRaisesMessage(ValidationError, "installeur.exe: Chorus Pro does not accept .exe files."):
            invoice.chorus_pro_document_upload_ids = [Command.link(upload.id)]

    def test_files_that_would_not_fit_in_one_deposit_are_refused(self):
        invoice = self.make_invoice()
        first = self.attach(invoice, "plan-1.pdf", b"%PDF-1.4\n" + bytes(6 * MB))
        second = self.attach(invoice, "plan-2.pdf", b"%PDF-1.4\n" + bytes(6 * MB))
        first.chorus_pro_send = True  # 6 MB: fine alone
        with self.assertRaisesMessage(ValidationError, "Together the files weigh 12.0 MB", "10.0 MB"):
            second.chorus_pro_send = True

    def test_only_invoices_to_a_chorus_pro_recipient(self):
        invoice = self.make_invoice(partner=self.customer)
        attachment = self.attach(invoice, "bon.pdf", simple_pdf(["BL"]))
        with self.assertRaisesMessage(ValidationError, "not addressed to a Chorus Pro recipient"):
            attachment.chorus_pro_send = True

    def test_the_limits_are_checked_again_before_the_deposit(self):
        invoice = self.make_invoice()
        attachment = self.attach(invoice, "bon.pdf", simple_pdf(["BL"]))
        attachment.chorus_pro_send = True
        invoice.action_post()
        # Renamed behind Odoo's back (SQL): the send job still refuses it, in words, and deposits nothing.
        self.env.cr.execute("UPDATE ir_attachment SET name = 'bon.exe' WHERE id = %s", [attachment.id])
        attachment.invalidate_recordset()
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("bon.exe: Chorus Pro does not accept .exe files.", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 0)
