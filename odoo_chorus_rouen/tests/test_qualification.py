"""Qualification against the sandbox's qualification personality: the data set, the hold, production never maps.

The sandbox runs as ``chorus-rouen sandbox --platform qualification``: it holds only a test data set (test
supplier 990 000 010 00019 attached to the technical account, test recipients 130 000 011 00010 with an
engagement number required, 130 000 029 00012 with a service code required, 130 000 037 00015 without
requirement; no Métropole SIRET). The company is set on "Qualification sandbox".
"""

import json
import logging
import urllib.request
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.odoo_chorus_rouen.core.client import ChorusClient
from odoo.addons.odoo_chorus_rouen.core.validation_facts import read_facts
from odoo.addons.odoo_chorus_rouen.core.validation_input import extract_xml

from .test_send import QUIET, ChorusSandboxCase

TEST_SUPPLIER = "99000001000019"
NOT_ATTACHED = "99000002800011"
TEST_RECIPIENT_EJ = "13000001100010"
TEST_RECIPIENT_SERVICE = "13000002900012"
TEST_RECIPIENT_FREE = "13000003700015"
PRINCIPAL = "20002341400101"
QUIET_QUALIFICATION = (*QUIET, "odoo.addons.odoo_chorus_rouen.models.res_company_qualification")


@tagged("post_install", "-at_install")
class TestChorusProQualification(ChorusSandboxCase):
    @classmethod
    def start_chorus_sandbox(cls, company=None, **options):
        server = super().start_chorus_sandbox(company, platform="qualification", **options)
        (company or cls.company).sudo().chorus_pro_environment = "sandbox_qualification"
        return server

    def setUp(self):
        super().setUp()
        self.company.sudo().write({"chorus_pro_environment": "sandbox_qualification",
                                   "chorus_pro_base_url": self.sandbox.url})

    def map_principal(self, test_siret=TEST_RECIPIENT_EJ, **values):
        return self.env["chorus.pro.test.recipient"].create({
            "company_id": self.company.id, "recipient_id": self.budget_principal.id, "test_siret": test_siret,
            "test_name": "Destinataire de qualification EJ", "engagement_required": True, **values,
        })

    def set_data_set(self):
        self.company.sudo().chorus_pro_test_supplier_siret = TEST_SUPPLIER
        return self.map_principal()

    def deposited_facts(self, invoice):
        data = self.sandbox.flow_file(invoice.chorus_pro_flow_number)
        fmt, xml = extract_xml(data)
        return read_facts(xml, fmt)

    # --- hold before any deposit ----------------------------------------------------------------------------

    @mute_logger(*QUIET_QUALIFICATION)
    def test_without_the_data_set_the_invoice_is_held_before_any_deposit(self):
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertTrue(invoice.chorus_pro_qualification_held)
        message = invoice.chorus_pro_error
        self.assertIn("Held before any deposit (qualification)", message)
        self.assertIn("has no test supplier", message)
        self.assertIn("is not on the qualification platform, which holds only your test data set", message)
        self.assertIn("map it to a test recipient of your data set", message)
        self.assertIn("200 023 414 00101", message)
        self.assertEqual(self.sandbox.deposits(), [], "nothing reached the platform")
        self.assertEqual(self.sandbox.calls().get("deposerFluxFacture"), None)

    @mute_logger(*QUIET_QUALIFICATION)
    def test_setting_the_data_set_queues_the_held_invoice_which_then_goes_to_the_test_recipient(self):
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.set_data_set()
        self.assertEqual(invoice.chorus_pro_state, "to_send", "queued again by itself")
        self.assertFalse(invoice.chorus_pro_qualification_held)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposited_facts(invoice).buyer_siret, TEST_RECIPIENT_EJ)

    # --- deposited to the test recipient, integrated, status read back ---------------------------------------

    def test_mapped_invoice_is_deposited_to_the_test_recipient_integrated_and_read_back(self):
        self.set_data_set()
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        facts = self.deposited_facts(invoice)
        self.assertEqual((facts.buyer_siret, facts.seller_siret), (TEST_RECIPIENT_EJ, TEST_SUPPLIER))
        self.assertEqual(facts.buyer_name, "Destinataire de qualification EJ")
        self.assertEqual(facts.engagement, invoice.purchase_order_reference, "the invoice's engagement number kept")
        self.assertIsNone(facts.service_code)
        sentence = "qualification: sent to test recipient 130 000 011 00010 (Destinataire de qualification EJ) " \
                   "instead of"
        self.assertIn(sentence, invoice.chorus_pro_qualification_note)
        self.assertIn("Budget Principal", invoice.chorus_pro_qualification_note)
        self.assertIn("Qualification: sent to test recipient 130 000 011 00010", invoice.message_ids[0].body)
        self.assertIn("from test supplier 990 000 010 00019", invoice.message_ids[0].body)
        # The real invoice keeps its real recipient; only the deposited file carries the test one.
        self.assertEqual(invoice.partner_id, self.budget_principal)
        self.assertEqual(self.env["account.edi.xml.cii"]._export_invoice_vals(invoice)["chorus_pro"]["buyer_siret"],
                         PRINCIPAL, "Odoo's own Factur-X (Send & Print) keeps the real recipient")

        self.sync()
        self.assertEqual(invoice.chorus_pro_flow_state, "IN_INTEGRE")
        self.assertTrue(invoice.chorus_pro_invoice_id)
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        platform = self.sandbox.invoice(int(invoice.chorus_pro_invoice_id))
        self.assertEqual(platform["codeDestinataire"], TEST_RECIPIENT_EJ)
        company = self.company.sudo()
        self.assertEqual(company.chorus_pro_qualification_move_id, invoice)
        self.assertIn("✓ Qualification tried", company.chorus_pro_golive_checklist)
        self.assertIn("✗ Production credentials: still the ones used on qualification",
                      company.chorus_pro_golive_checklist)
        self.assertIn("✗ Platform: still", company.chorus_pro_golive_checklist)

        # The later endings work with the test recipient: recycle to another mapped budget.
        self.env["chorus.pro.test.recipient"].create({
            "company_id": self.company.id, "recipient_id": self.budgets["transports"].id,
            "test_siret": TEST_RECIPIENT_FREE, "test_name": "Destinataire de qualification libre",
        })
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "A_RECYCLER", "Mauvais budget")
        self.sync()
        self.assertEqual(invoice.chorus_pro_state, "action")
        invoice._chorus_pro_recycle(self.budgets["transports"], "DIR-MOBILITES", invoice.purchase_order_reference)
        platform = self.sandbox.invoice(int(invoice.chorus_pro_invoice_id))
        statuses = [entry["status"] for entry in platform["history"]]
        self.assertEqual(statuses[statuses.index("A_RECYCLER") + 1], "DEPOSEE", "recycled on the platform")
        self.assertEqual(platform["codeDestinataire"], TEST_RECIPIENT_FREE)
        self.assertEqual(invoice.chorus_pro_test_recipient_siret, TEST_RECIPIENT_FREE)
        self.assertEqual(invoice.partner_id, self.budgets["transports"])

        # Settling after an uncertain deposit finds the invoice by its test parties.
        original, is_ours = invoice._chorus_pro_find_original(self.company._chorus_pro_get_client())
        self.assertTrue(is_ours)
        self.assertEqual(str(original.chorus_id), invoice.chorus_pro_invoice_id)

    @mute_logger(*QUIET_QUALIFICATION)
    def test_an_xml_deposit_carries_the_test_parties_too(self):
        self.set_data_set()
        for fmt in ("cii", "ubl"):
            self.company.sudo().chorus_pro_flow_format = fmt
            invoice = self.make_invoice(post=True)
            self.send()
            self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
            self.assertEqual(invoice.chorus_pro_flow_format_sent, fmt)
            facts = self.deposited_facts(invoice)
            self.assertEqual((facts.buyer_siret, facts.seller_siret, facts.buyer_name),
                             (TEST_RECIPIENT_EJ, TEST_SUPPLIER, "Destinataire de qualification EJ"), fmt)
            self.sync()
            self.assertEqual(invoice.chorus_pro_state, "delivered", fmt)
            self.assertEqual(self.sandbox.invoice(int(invoice.chorus_pro_invoice_id))["codeDestinataire"],
                             TEST_RECIPIENT_EJ)

    def test_intermediate_flow_states_keep_the_invoice_sent(self):
        self.set_data_set()
        self.sandbox.configure(processing_delay=60, routing_delay=0)
        self.addCleanup(self.sandbox.configure, processing_delay=0, routing_delay=0)
        invoice = self.make_invoice(post=True)
        self.send()
        seen = []
        for _step in range(6):
            self.sync()
            seen.append(invoice.chorus_pro_flow_state)
            self.assertEqual(invoice.chorus_pro_state, "sent", f"{invoice.chorus_pro_flow_state} is not final")
            self.assertFalse(invoice.chorus_pro_invoice_id)
            self.sandbox.advance(30)
        self.assertEqual(seen, ["IN_DEPOT_PORTAIL_EN_ATTENTE_TRAITEMENT_SE_CPP", "IN_RECU", "IN_TRAITE_SE_CPP",
                                "QP_RECEVABLE", "IN_EN_ATTENTE_TRAITEMENT_CPP", "IN_EN_COURS_TRAITEMENT_CPP"])
        self.sync()
        self.assertEqual((invoice.chorus_pro_flow_state, invoice.chorus_pro_state), ("IN_INTEGRE", "delivered"))

    def test_recycling_to_an_unmapped_budget_is_refused_in_words(self):
        self.set_data_set()
        invoice = self.make_invoice(post=True)
        self.send()
        self.sync()
        self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "A_RECYCLER", "Mauvais budget")
        self.sync()
        with self.assertRaisesMessage(UserError, "must be mapped to a test recipient"):
            invoice._chorus_pro_recycle(self.budgets["eau"], "", invoice.purchase_order_reference)

    def test_a_file_refused_by_the_checks_never_says_where_it_went(self):
        self.set_data_set()
        self.company.sudo().vat = False  # BR-S-02: the Factur-X is refused before any deposit
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("BR-S-02", invoice.chorus_pro_error)
        self.assertFalse(invoice.chorus_pro_test_recipient_siret)
        self.assertFalse(invoice.chorus_pro_qualification_note)
        self.assertEqual(self.sandbox.deposits(), [])

    def test_test_recipient_rules_are_checked_before_the_deposit(self):
        self.set_data_set()
        invoice = self.make_invoice(post=False)
        invoice.purchase_order_reference = False
        self.budget_principal.chorus_pro_requires_engagement = False  # the real budget lets it post
        invoice.action_post()
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("requires an engagement number", invoice.chorus_pro_error)
        self.assertEqual(self.sandbox.deposits(), [])

    # --- production never maps; a neutralized copy never reaches production ------------------------------------

    def test_production_company_with_a_map_still_deposits_to_the_real_siret(self):
        self.set_data_set()
        self.company.sudo().chorus_pro_environment = "production"
        invoice = self.make_invoice(post=True)
        self.assertEqual(invoice._chorus_pro_qualification_issues(), [])
        sandbox = self.sandbox

        def client(company):
            return ChorusClient(sandbox.credentials, sandbox.url)  # where "production" is, for this test

        with patch.object(type(self.env["res.company"]), "_chorus_pro_get_client", client):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        facts = self.deposited_facts(invoice)
        self.assertEqual((facts.buyer_siret, facts.seller_siret), (PRINCIPAL, "88412345600011"))
        self.assertFalse(invoice.chorus_pro_test_recipient_siret)
        self.assertFalse(invoice.chorus_pro_qualification_note)

    def test_neutralized_copy_cannot_switch_anything_to_production(self):
        self.set_data_set()
        self.env["ir.config_parameter"].sudo().set_param("database.is_neutralized", True)
        company = self.company.sudo()
        company.write({"chorus_pro_environment": "sandbox_qualification",
                       "chorus_pro_base_url": "https://api.piste.gouv.fr"})
        with self.assertRaisesMessage(UserError, "points at the production Chorus Pro platform"):
            company._chorus_pro_get_client()
        company.write({"chorus_pro_environment": "production"})
        with self.assertRaisesMessage(UserError, "neutralized copy"):
            company._chorus_pro_get_client()
        self.assertIn("✗ This database is a neutralized copy", company.chorus_pro_golive_checklist)
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertEqual(self.sandbox.deposits(), [])

    # --- Test connection and the data set ---------------------------------------------------------------------

    @mute_logger(*QUIET_QUALIFICATION)
    def test_connection_reports_a_missing_or_unattached_test_supplier_in_words(self):
        ok, lines = self.company._chorus_pro_test_connection()
        text = "\n".join(lines)
        self.assertFalse(ok)
        self.assertIn("no test supplier", text)
        self.assertIn("990 000 010 00019", text, "the attached structures are listed")

        self.company.sudo().chorus_pro_test_supplier_siret = NOT_ATTACHED
        ok, lines = self.company._chorus_pro_test_connection()
        text = "\n".join(lines)
        self.assertFalse(ok)
        self.assertIn("990 000 028 00011 is NOT attached to the technical account TECH_1_sandbox@cpro.fr", text)
        self.assertIn("Attach the structure to this account on the Chorus Pro portal", text)

    @mute_logger(*QUIET)
    def test_connection_checks_the_test_recipients_and_logs_the_raw_answers(self):
        self.set_data_set()
        with self.assertLogs("odoo.addons.odoo_chorus_rouen.models.res_company_qualification", logging.INFO) as logs:
            ok, lines = self.company._chorus_pro_test_connection()
        text = "\n".join(lines)
        self.assertTrue(ok, text)
        self.assertIn("990 000 010 00019 is attached to the technical account", text)
        self.assertIn("Test recipient 130 000 011 00010 for", text)
        self.assertIn("engagement number required", text)
        self.assertIn("Technical account password: expires on", text)
        evidence = "\n".join(logs.output)
        self.assertIn("recupererStructuresActivesPourFournisseur answered HTTP 200", evidence)
        self.assertNotIn("sandbox-password", evidence)
        self.assertNotIn("sandbox-client-secret", evidence)

    def test_read_the_data_set_fills_the_test_supplier_and_the_recipients_rules(self):
        line = self.map_principal(TEST_RECIPIENT_SERVICE, test_name=False, engagement_required=False)
        self.company.action_chorus_pro_read_data_set()
        company = self.company.sudo()
        self.assertEqual(company.chorus_pro_test_supplier_siret, TEST_SUPPLIER, "the one attached structure")
        self.assertEqual(line.test_name, "Destinataire de qualification service")
        self.assertTrue(line.service_code_required)
        self.assertEqual(line.test_service_code, "SERVICE_QUALIF", "its only usable service")
        self.assertIn("Structures attached to the technical account", company.chorus_pro_data_set_message)

    def test_a_bad_test_siret_is_refused(self):
        with self.assertRaisesMessage(Exception, "is not valid"):
            self.map_principal("12345678900000")

    def test_golive_checklist_says_what_is_missing(self):
        checklist = self.company.sudo().chorus_pro_golive_checklist
        self.assertIn("✗ Qualification not tried yet", checklist)
        self.assertIn("424 days", checklist)
        company = self.company.sudo()
        company.write({"chorus_pro_qualification_done": fields.Datetime.now(),
                       "chorus_pro_qualification_account": company._chorus_pro_account_hash()})
        company.write({"chorus_pro_client_id": "production-app", "chorus_pro_environment": "production"})
        checklist = company.chorus_pro_golive_checklist
        self.assertIn("✓ Production credentials entered", checklist)
        self.assertIn("✓ Platform switched to Production", checklist)


@tagged("post_install", "-at_install")
class TestChorusProPlainSandbox(ChorusSandboxCase):
    """The default personality: nothing is mapped, nothing held (today's behaviour)."""

    def test_plain_sandbox_never_maps_nor_holds(self):
        self.env["chorus.pro.test.recipient"].create({
            "company_id": self.company.id, "recipient_id": self.budget_principal.id, "test_siret": TEST_RECIPIENT_EJ,
        })
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        data = self.sandbox.flow_file(invoice.chorus_pro_flow_number)
        fmt, xml = extract_xml(data)
        self.assertEqual(read_facts(xml, fmt).buyer_siret, PRINCIPAL)

    def test_connection_reports_an_unattached_company_in_words(self):
        request = urllib.request.Request(
            f"{self.sandbox.url}/sandbox/directory/88412345600011", data=json.dumps({"attached": False}).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            self.assertFalse(json.loads(answer.read())["attached"])
        ok, lines = self.company._chorus_pro_test_connection()
        text = "\n".join(lines)
        self.assertFalse(ok)
        self.assertIn("your SIRET 884 123 456 00011 is the Chorus Pro structure", text)
        self.assertIn("884 123 456 00011 is NOT attached to the technical account TECH_1_sandbox@cpro.fr", text)
        self.assertIn("Recipient 200 023 414 00101 (Métropole Rouen Normandie - Budget Principal): known", text)
