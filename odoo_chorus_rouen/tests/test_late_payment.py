"""Late public payment in Odoo, against the sandbox: the delay from Chorus Pro's dated history, the figures on
the invoice, the report, and the claim invoice sent to Chorus Pro once, without VAT, to the late invoice's budget."""

from datetime import date

import requests
from lxml import etree

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.odoo_chorus_rouen.core.validation import extract_xml

from .test_send import ChorusSandboxCase

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
PAID_LATE = [
    {"status": "DEPOSEE", "at": "2026-02-27 16:00"},
    {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
    {"status": "MANDATEE", "at": "2026-04-15"},
    {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"},
]
SUSPENDED_10_DAYS = [
    {"status": "DEPOSEE", "at": "2026-02-27 16:00"},
    {"status": "MISE_A_DISPOSITION", "at": "2026-03-02 09:00"},
    {"status": "SUSPENDUE", "at": "2026-03-02 15:00", "comment": "Bon de livraison manquant"},
    {"status": "COMPLETEE", "at": "2026-03-12"},
    {"status": "MISE_EN_PAIEMENT", "at": "2026-04-20"},
]
PAID_ON_TIME = [
    {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
    {"status": "MISE_EN_PAIEMENT", "at": "2026-03-25"},
]


@tagged("post_install", "-at_install")
class TestChorusProLatePayment(ChorusSandboxCase):
    def delivered_invoice(self, partner=None):
        """A 12,000.00 EUR invoice (10,000.00 + 20 % VAT) deposited, integrated and made available."""
        invoice = self.make_invoice(post=True, partner=partner, price=10000.0, quantity=1)
        self.assertEqual(invoice.amount_total, 12000.0)
        self.send()
        self.sync()
        self.assertEqual(invoice.chorus_pro_status, "MISE_A_DISPOSITION")
        return invoice

    def script_history(self, invoice, entries):
        """The recipient's dated history, through the sandbox's control API; then read by Odoo."""
        answer = requests.post(
            f"{self.sandbox.url}/sandbox/invoices/{invoice.chorus_pro_invoice_id}/history",
            json={"entries": entries, "replace": True},
            timeout=10,
        )
        self.assertEqual(answer.status_code, 200, answer.text)
        invoice.action_chorus_pro_read_history()

    def test_paid_19_days_late_then_9_with_a_suspension(self):
        invoice = self.delivered_invoice()
        self.assertEqual(invoice.chorus_pro_late_state, "running", "made available today: the delay runs")
        self.script_history(invoice, PAID_LATE)
        # Hand computation (tests/test_late_payment.py): due 2026-04-01, 19 days, 12,000.00 x (2.15 + 8) % x 19 / 365.
        self.assertEqual(invoice.chorus_pro_late_state, "paid_late")
        self.assertEqual(invoice.chorus_pro_payment_delay, 30)
        self.assertEqual(invoice.chorus_pro_available_date, date(2026, 3, 2))
        self.assertEqual(invoice.chorus_pro_due_date, date(2026, 4, 1))
        self.assertEqual(invoice.chorus_pro_paid_date, date(2026, 4, 20))
        self.assertEqual(invoice.chorus_pro_days_late, 19)
        self.assertAlmostEqual(invoice.chorus_pro_late_rate, 10.15)
        self.assertAlmostEqual(invoice.chorus_pro_late_interest, 63.40)
        self.assertAlmostEqual(invoice.chorus_pro_late_indemnity, 40.0)
        self.assertAlmostEqual(invoice.chorus_pro_late_total, 103.40)
        summary = invoice.chorus_pro_delay_summary
        self.assertIn("Paid 19 days late", summary)
        self.assertIn("first half of 2026", summary)
        self.assertIn("63.40", summary)
        self.assertIn(invoice, self.env["account.move"].search([("chorus_pro_late_state", "=", "paid_late")]))

        # The same invoice suspended for 10 days from the start: a new 30-day delay from 2026-03-12, 9 days late.
        self.script_history(invoice, SUSPENDED_10_DAYS)
        self.assertEqual(invoice.chorus_pro_days_suspended, 10)
        self.assertEqual(invoice.chorus_pro_due_date, date(2026, 4, 11))
        self.assertEqual(invoice.chorus_pro_days_late, 9)
        self.assertAlmostEqual(invoice.chorus_pro_late_interest, 30.03)  # 1,218.00 x 9 / 365 = 30.0328...
        self.assertIn("Suspended on", invoice.chorus_pro_delay_summary)

    def test_paid_on_time_nothing_to_claim(self):
        invoice = self.delivered_invoice()
        self.script_history(invoice, PAID_ON_TIME)
        self.assertEqual(invoice.chorus_pro_late_state, "paid_on_time")
        self.assertEqual(invoice.chorus_pro_days_late, 0)
        self.assertEqual(invoice.chorus_pro_late_total, 0.0)
        self.assertIn("Paid on time", invoice.chorus_pro_delay_summary)
        self.assertIn("Nothing to claim", invoice.chorus_pro_delay_summary)
        self.assertNotIn(invoice, self.env["account.move"].search([("chorus_pro_late_state", "=", "paid_late")]))
        with self.assertRaisesRegex(UserError, "nothing to claim"):
            invoice.action_chorus_pro_claim_late_payment()

    def test_claim_posts_and_deposits_once_without_vat_to_the_budget(self):
        budget = self.budgets["eau"]
        invoice = self.delivered_invoice(partner=budget)
        self.script_history(invoice, PAID_LATE)
        action = invoice.action_chorus_pro_claim_late_payment()
        wizard = Form(self.env[action["res_model"]].with_context(**action["context"]))
        self.assertAlmostEqual(wizard.interest, 63.40)
        self.assertAlmostEqual(wizard.indemnity, 40.0)
        self.assertTrue(wizard.interest_account_id.code.startswith("763"))
        claim = self.env["account.move"].browse(wizard.save().action_create_claim()["res_id"])

        self.assertEqual(claim.state, "draft")
        self.assertEqual(claim.partner_id, budget, "the same budget contact, so the same SIRET")
        self.assertEqual(claim.purchase_order_reference, invoice.purchase_order_reference)
        self.assertEqual(claim.chorus_pro_late_invoice_id, invoice)
        self.assertFalse(claim.invoice_line_ids.tax_ids, "outside the scope of VAT")
        self.assertEqual(claim.amount_tax, 0.0)
        self.assertAlmostEqual(claim.amount_total, 103.40)
        self.assertTrue(all(invoice.name in line.name for line in claim.invoice_line_ids))
        with self.assertRaisesRegex(UserError, "already claimed"):
            invoice.action_chorus_pro_claim_late_payment()

        claim.action_post()
        self.assertEqual(claim.chorus_pro_state, "to_send", "the posting checks pass without VAT")
        self.send()
        self.assertEqual(claim.chorus_pro_state, "sent", claim.chorus_pro_error)
        self.sync()
        self.assertEqual(claim.chorus_pro_flow_state, "IN_INTEGRE", claim.chorus_pro_error)
        self.send()
        self.assertEqual(self.deposits(claim), 1, "deposited once")
        on_platform = self.sandbox.invoice(int(claim.chorus_pro_invoice_id))
        self.assertEqual(on_platform["codeDestinataire"], budget.siret.replace(" ", ""))
        self.assertEqual(on_platform["numeroBonCommande"], invoice.purchase_order_reference)
        self.assertEqual(on_platform["numeroFactureOrigine"], invoice.name)
        self.assertAlmostEqual(on_platform["montantTTC"], 103.40)
        self.assertAlmostEqual(on_platform["montantHT"], 103.40)

        tree = etree.fromstring(extract_xml(claim.chorus_pro_attachment_id.raw)[1])
        categories = {node.text for node in tree.iterfind(".//ram:ApplicableTradeTax/ram:CategoryCode", NS)}
        self.assertEqual(categories, {"O"}, "VAT category O: not subject to VAT, on the lines and the breakdown")
        self.assertFalse(tree.findall(".//ram:ApplicableTradeTax/ram:RateApplicablePercent", NS))
        self.assertEqual(tree.findtext(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
                                       "/ram:ExemptionReasonCode", namespaces=NS), "VATEX-EU-O")
        self.assertFalse(tree.findall(".//ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", NS))
        self.assertEqual(tree.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=NS),
                         invoice.name)

    def calls_during(self, function):
        before = dict(self.sandbox.calls())
        function()
        after = self.sandbox.calls()
        return {key: after.get(key, 0) - before.get(key, 0) for key in after if after.get(key, 0) != before.get(key, 0)}

    def tracked_invoices(self, count):
        """``count`` invoices delivered to the Budget Principal, as the sync leaves them: seeded on the sandbox
        (made available), then one sync run keeps their status and its date (the delay's start)."""
        seeded = self.sandbox.seed_invoices(count, recipient_siret=self.budget_principal.siret,
                                            status="MISE_A_DISPOSITION")
        invoices = self.env["account.move"]
        for offset in range(count):
            invoice = self.make_invoice(post=True)
            invoice.write({
                "chorus_pro_state": "delivered",
                "chorus_pro_invoice_id": str(seeded["first_id"] + offset),
                "chorus_pro_flow_number": seeded["numeroFluxDepot"],
                "chorus_pro_flow_state": "IN_INTEGRE",
                "chorus_pro_deposit_date": fields.Datetime.now(),
            })
            invoices |= invoice
        self.sync()
        self.assertEqual({move._chorus_pro_history_list()[-1][0] for move in invoices}, {"MISE_A_DISPOSITION"})
        return invoices

    def pay(self, *invoices):
        for invoice in invoices:
            self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "MISE_EN_PAIEMENT")

    def test_sync_keeps_the_dates_and_reads_no_history_for_a_payment_on_time(self):
        invoice = self.delivered_invoice()
        self.assertEqual(invoice._chorus_pro_history_list()[-1][0], "MISE_A_DISPOSITION")
        self.pay(invoice)
        calls = self.calls_during(self.sync)
        self.assertNotIn("consulterHistoriqueFacture", calls,
                         "made available and paid within the delay from the deposit: the kept dates settle it")
        self.assertEqual([code for code, _day in invoice._chorus_pro_history_list()][-2:],
                         ["MISE_A_DISPOSITION", "MISE_EN_PAIEMENT"])
        self.assertEqual(invoice.chorus_pro_late_state, "paid_on_time")
        self.assertFalse(invoice.chorus_pro_history_to_read)
        self.assertNotIn("next sync", invoice.chorus_pro_delay_summary)

    def test_one_sync_run_over_paid_invoices_stays_batched(self):
        """DESIGN.md, sync job: statuses in batches, history only when needed, never one call per invoice."""
        invoices = self.tracked_invoices(12)
        paid, mandated, suspended = invoices[:6], invoices[6:9], invoices[9:11]
        upgraded = paid[0]  # tracked before the addon kept the dates: its delay has no start without the history
        upgraded.chorus_pro_history = False
        self.pay(*paid)
        for invoice in mandated:
            self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "MANDATEE")
        for invoice in suspended:
            self.sandbox.set_invoice_status(int(invoice.chorus_pro_invoice_id), "SUSPENDUE", "Certificate missing")
        calls = self.calls_during(self.sync)
        self.assertEqual(calls.get("rechercherFactureParFournisseur"), 1)
        self.assertEqual(calls.get("consulterHistoriqueFacture"), 1, "only the invoice whose kept dates lack the start")
        self.assertLessEqual(sum(calls.values()), 3, calls)  # + a token at most
        self.assertEqual(set(paid.mapped("chorus_pro_status")), {"MISE_EN_PAIEMENT"})
        self.assertEqual(set(paid.mapped("chorus_pro_late_state")), {"paid_on_time"})
        self.assertFalse(any(paid.mapped("chorus_pro_history_to_read")))
        self.assertIn("MISE_A_DISPOSITION", [code for code, _day in upgraded._chorus_pro_history_list()],
                      "read from Chorus Pro")
        self.assertEqual(set(mandated.mapped("chorus_pro_status")), {"MANDATEE"})
        self.assertEqual(set(suspended.mapped("chorus_pro_status")), {"SUSPENDUE"})
        self.assertEqual(self.calls_during(self.sync), {"rechercherFactureParFournisseur": 1},
                         "the next run: the same search, no history left to read")

    def test_a_payment_late_from_the_kept_dates_is_counted_from_the_full_history(self):
        invoice = self.delivered_invoice()
        chorus_id = int(invoice.chorus_pro_invoice_id)
        # The sync kept only "made available on 2026-03-02": the buyer's suspension (10 to 20 March) happened
        # between two runs (written on the platform without telling Odoo).
        invoice.write({"chorus_pro_history": '[["MISE_A_DISPOSITION", "2026-03-02"]]',
                       "chorus_pro_deposit_date": fields.Datetime.to_datetime("2026-02-27 16:00:00")})
        answer = requests.post(f"{self.sandbox.url}/sandbox/invoices/{chorus_id}/history", timeout=10, json={
            "replace": True, "entries": [
                {"status": "DEPOSEE", "at": "2026-02-27 16:00"},
                {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
                {"status": "SUSPENDUE", "at": "2026-03-10", "comment": "Bon de livraison manquant"},
                {"status": "COMPLETEE", "at": "2026-03-20"},
            ],
        })
        self.assertEqual(answer.status_code, 200, answer.text)
        self.pay(invoice)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("odoo_chorus_rouen.history_reads_per_run", "0")  # the sync reads no history this time
        self.assertNotIn("consulterHistoriqueFacture", self.calls_during(self.sync))
        self.assertTrue(invoice.chorus_pro_history_to_read)
        self.assertEqual((invoice.chorus_pro_late_state, invoice.chorus_pro_due_date), ("paid_late", date(2026, 4, 1)))
        self.assertIn("Counted from the statuses seen by the status sync only: the next sync reads the full Chorus "
                      "Pro history to check it.", invoice.chorus_pro_delay_summary, "not a final figure")

        params.set_param("odoo_chorus_rouen.history_reads_per_run", "50")
        calls = self.calls_during(self.sync)
        self.assertEqual(calls, {"consulterHistoriqueFacture": 1}, "late from the kept dates: the claim needs all")
        self.assertFalse(invoice.chorus_pro_history_to_read)
        self.assertEqual(invoice.chorus_pro_late_state, "paid_late")
        self.assertEqual(invoice.chorus_pro_days_suspended, 10)
        self.assertEqual(invoice.chorus_pro_due_date, date(2026, 4, 19), "a new 30-day delay from the completion")
        self.assertNotIn("next sync", invoice.chorus_pro_delay_summary)

    def test_history_reads_are_bounded_per_run_and_the_rest_waits(self):
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.history_reads_per_run", "1")
        invoices = self.tracked_invoices(3)
        invoices.chorus_pro_history = False  # tracked before the addon kept the dates
        self.pay(*invoices)
        calls = self.calls_during(self.sync)
        self.assertEqual(calls.get("consulterHistoriqueFacture"), 1)
        self.assertEqual(set(invoices.mapped("chorus_pro_state")), {"paid"}, "every status is read anyway")
        waiting = invoices.filtered("chorus_pro_history_to_read")
        self.assertEqual(len(waiting), 2)
        # Meanwhile their start is unknown: nothing is counted (never "not yet made available" for a paid invoice).
        self.assertEqual(set(waiting.mapped("chorus_pro_late_state")), {"none"})
        self.assertFalse(any(waiting.mapped("chorus_pro_delay_summary")))
        # Nothing is tracked any more: the next run still comes for the history left to read, one per run.
        self.assertEqual(self.calls_during(self.sync), {"consulterHistoriqueFacture": 1})
        self.assertEqual(len(invoices.filtered("chorus_pro_history_to_read")), 1)
        # A claim never counts from statuses the sync may have missed: it reads the history first.
        last = invoices.filtered("chorus_pro_history_to_read")
        calls = self.calls_during(lambda: self.assertRaisesRegex(
            UserError, "not paid late", last.action_chorus_pro_claim_late_payment))
        self.assertEqual(calls.get("consulterHistoriqueFacture"), 1)
        self.assertFalse(any(invoices.mapped("chorus_pro_history_to_read")))
        self.assertEqual(set(invoices.mapped("chorus_pro_late_state")), {"paid_on_time"})
        self.assertEqual(self.calls_during(self.sync), {}, "nothing left to do")

    def test_missing_rate_then_added_by_the_accountant(self):
        invoice = self.delivered_invoice()
        rates = self.env["chorus.pro.ecb.rate"]
        rates.search([("year", "=", 2026), ("half", "=", "2")]).unlink()
        self.script_history(invoice, [
            {"status": "MISE_A_DISPOSITION", "at": "2026-06-10"},
            {"status": "MISE_EN_PAIEMENT", "at": "2026-07-20"},
        ])
        self.assertEqual(invoice.chorus_pro_late_state, "rate_missing")
        self.assertIn("second half of 2026", invoice.chorus_pro_delay_summary)
        self.assertIn("ECB Rates", invoice.chorus_pro_delay_summary)
        # The rate only holds the interest back: the days late and the indemnity are said (issue 18, point 3).
        self.assertIn("Paid 10 days late", invoice.chorus_pro_delay_summary)
        self.assertIn("recovery indemnity, and interest that waits for the ECB rate", invoice.chorus_pro_delay_summary)
        self.assertIn("40.00", invoice.chorus_pro_delay_summary)
        self.assertEqual((invoice.chorus_pro_due_date, invoice.chorus_pro_paid_date), (date(2026, 7, 10),
                                                                                      date(2026, 7, 20)))
        with self.assertRaisesRegex(UserError, "second half of 2026"):
            invoice.action_chorus_pro_claim_late_payment()
        for absurd in (-0.5, 25.5, 215.0):  # a negative rate, a rate in per mille, the interest rate itself...
            with self.assertRaises(ValidationError) as caught:
                rates.create({"year": 2026, "half": "2", "rate": absurd, "source": "test"})
            self.assertIn("must be between 0 and 25 %", caught.exception.args[0])
        rates.with_user(self.user_accountant).create({"year": 2026, "half": "2", "rate": 2.0, "source": "test"})
        self.assertEqual(invoice.chorus_pro_late_state, "paid_late")
        # 2026-07-11 to 2026-07-20: 10 days at 10 %: 12,000.00 x 10 % x 10 / 365 = 32.876... -> 32.88
        self.assertEqual(invoice.chorus_pro_days_late, 10)
        self.assertAlmostEqual(invoice.chorus_pro_late_interest, 32.88)

    def test_recipient_delay_is_editable(self):
        invoice = self.delivered_invoice()
        self.script_history(invoice, PAID_LATE)
        invoice.partner_id.chorus_pro_payment_delay = 50  # e.g. a public hospital
        self.assertEqual(invoice.chorus_pro_due_date, date(2026, 4, 21))
        self.assertEqual(invoice.chorus_pro_late_state, "paid_on_time")
        self.assertEqual(self.budgets["transports"].chorus_pro_payment_delay, 30, "30 days by default for the budgets")

    def test_odoo_payment_date_when_chorus_shows_no_payment(self):
        invoice = self.delivered_invoice()
        self.script_history(invoice, [{"status": "MISE_A_DISPOSITION", "at": "2026-03-02"}])
        self.assertEqual(invoice.chorus_pro_late_state, "overdue", "unpaid past 2026-04-01")
        self.assertIn("days late today", invoice.chorus_pro_delay_summary)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"payment_date": date(2026, 4, 20)})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.chorus_pro_paid_date, date(2026, 4, 20))
        self.assertEqual(invoice.chorus_pro_days_late, 19)

    def paid_late_domains(self):
        """The domains a user filters "paid late" invoices with: the search filters and the report's action."""
        view = self.env.ref("odoo_chorus_rouen.view_account_invoice_filter_inherit_chorus_pro_late_payment")
        arch = etree.fromstring(view.arch_db)
        domains = [safe_eval(arch.xpath(f"//filter[@name='{name}']")[0].get("domain"))
                   for name in ("chorus_pro_paid_late", "chorus_pro_paid_late_unclaimed")]
        report = self.env.ref("odoo_chorus_rouen.action_chorus_pro_late_payment_report")
        return [*domains, safe_eval(report.domain)]

    def test_credit_note_followed_to_its_final_status_has_no_payment_delay(self):
        invoice = self.delivered_invoice()
        self.script_history(invoice, PAID_LATE)
        self.assertEqual(invoice.chorus_pro_late_state, "paid_late")
        credit_note = self.make_credit_note(invoice, post=True)
        self.send()
        self.sync()
        self.assertEqual(credit_note.chorus_pro_status, "MISE_A_DISPOSITION")
        # Made available long ago and "paid" (its final status) long after: an invoice would be very late.
        self.script_history(credit_note, PAID_LATE)
        self.sandbox.set_invoice_status(int(credit_note.chorus_pro_invoice_id), "MISE_EN_PAIEMENT")
        self.sync()
        self.assertEqual(credit_note.chorus_pro_state, "paid")
        self.assertEqual(credit_note.chorus_pro_late_state, "none", "no payment delay: the tab's group is hidden")
        self.assertFalse(credit_note.chorus_pro_delay_summary)
        self.assertEqual((credit_note.chorus_pro_payment_delay, credit_note.chorus_pro_days_late), (0, 0))
        self.assertFalse(credit_note.chorus_pro_due_date)
        self.assertEqual(credit_note.chorus_pro_late_total, 0.0)
        for domain in self.paid_late_domains():
            found = self.env["account.move"].search(domain)
            self.assertIn(invoice, found)
            self.assertNotIn(credit_note, found)
        with self.assertRaisesRegex(UserError, "not paid late"):
            credit_note.action_chorus_pro_claim_late_payment()
        wizard = self.env["chorus.pro.late.payment.claim"].with_context(default_move_id=credit_note.id).create({
            "interest": 10.0, "indemnity": 40.0,
        })
        with self.assertRaisesRegex(UserError, "not paid late"):
            wizard.action_create_claim()
        self.assertFalse(credit_note.chorus_pro_claim_ids)

    def test_payment_initiated_before_it_was_made_available_is_on_time(self):
        invoice = self.delivered_invoice()
        self.script_history(invoice, [
            {"status": "MISE_EN_PAIEMENT", "at": "2026-03-01"},
            {"status": "MISE_A_DISPOSITION", "at": "2026-03-02"},
        ])
        self.assertEqual(invoice.chorus_pro_late_state, "paid_on_time")
        self.assertEqual(invoice.chorus_pro_days_late, 0)
        self.assertIn("before Chorus Pro made the invoice available", invoice.chorus_pro_delay_summary)
        for domain in self.paid_late_domains():
            self.assertNotIn(invoice, self.env["account.move"].search(domain))
