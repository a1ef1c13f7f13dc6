"""From the Métropole's purchase order to the deposited invoice: the quotation carries the engagement
number, the service code and the contract; confirmation runs the posting checks; every invoice of the
order carries them; grouping orders of different routing is refused; each company its own directory."""

from lxml import etree

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from odoo.addons.odoo_chorus_rouen.core.validation import extract_xml
from odoo.addons.odoo_chorus_rouen.tests.test_send import ChorusSandboxCase

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
ENGAGEMENT = "EJ-2026-004217"
CONTRACT = "MARCHE-2026-017"


class ChorusSaleCase(ChorusSandboxCase):
    @classmethod
    def get_default_groups(cls):
        return (super().get_default_groups() | cls.env.ref("sales_team.group_sale_manager")
                | cls.env.ref("account.group_delivery_invoice_address"))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.service_product = cls.env["product.product"].create({
            "name": "Network maintenance (days)",
            "type": "service",
            "invoice_policy": "delivery",
            "service_type": "manual",
            "list_price": 500.0,
            "taxes_id": [Command.set(cls.tax_sale_a.ids)],
        })
        cls.transports = cls.budgets["transports"]

    def make_order(self, partner=None, quantity=3, **values):
        return self.env["sale.order"].create({
            "partner_id": self.metropole.id,
            "partner_invoice_id": (partner or self.transports).id,
            "order_line": [Command.create({"product_id": self.service_product.id, "product_uom_qty": quantity})],
            **values,
        })

    def read_transports(self):
        """The transports budget read from the sandbox's directory: it requires a service code and an EJ."""
        self.transports._chorus_pro_update_directory(self.company._chorus_pro_get_client())
        self.assertTrue(self.transports.chorus_pro_requires_service_code)

    def deliver(self, order):
        for line in order.order_line.filtered(lambda line: not line.is_downpayment and not line.display_type):
            line.qty_delivered = line.product_uom_qty


@tagged("post_install", "-at_install")
class TestSaleToDeposit(ChorusSaleCase):
    def test_quotation_to_deposited_facturx(self):
        self.read_transports()
        service = self.transports.chorus_pro_service_ids.filtered(lambda s: s.code == "DIR-MOBILITES")
        with Form(self.env["sale.order"]) as form:
            form.partner_id = self.metropole
            form.partner_invoice_id = self.transports
            with form.order_line.new() as line:
                line.product_id = self.service_product
                line.product_uom_qty = 3
            self.assertEqual(form.chorus_pro_recipient_id, self.transports)
            self.assertTrue(form.chorus_pro_services_known)
            self.assertIn("a service code (BT-10)", form.chorus_pro_requirements)
            form.chorus_pro_engagement = ENGAGEMENT
            form.chorus_pro_service_id = service
            self.assertEqual(form.chorus_pro_service_code, "DIR-MOBILITES")
            form.chorus_pro_contract = CONTRACT
        order = form.record
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.deliver(order)
        invoice = order._create_invoices()
        self.assertEqual(
            (invoice.purchase_order_reference, invoice.buyer_reference, invoice.contract_reference),
            (ENGAGEMENT, "DIR-MOBILITES", CONTRACT),
        )
        self.assertEqual(invoice.partner_id, self.transports)
        invoice.action_post()
        self.assertEqual(invoice.chorus_pro_state, "to_send")
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 1)
        data = self.sandbox.flow_file(invoice.chorus_pro_flow_number)
        root = etree.fromstring(extract_xml(data)[1])
        agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
        self.assertEqual(root.findtext(f"{agreement}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID", None, NS),
                         ENGAGEMENT)  # BT-13
        self.assertEqual(root.findtext(f"{agreement}/ram:BuyerReference", None, NS), "DIR-MOBILITES")  # BT-10
        self.assertEqual(root.findtext(f"{agreement}/ram:ContractReferencedDocument/ram:IssuerAssignedID", None, NS),
                         CONTRACT)  # BT-12
        buyer_ids = root.xpath(f"{agreement}/ram:BuyerTradeParty//ram:ID/text()", namespaces=NS)
        self.assertIn(self.transports.siret, buyer_ids)  # the budget's SIRET, not the Métropole's
        # The platform took it, addressed to the budget's service with the order's EJ.
        self.sync()
        platform = self.sandbox.invoices(number=invoice.name)
        self.assertEqual(len(platform), 1)
        self.assertEqual(
            (platform[0]["codeDestinataire"], platform[0]["codeServiceExecutant"], platform[0]["numeroBonCommande"]),
            (self.transports.siret, "DIR-MOBILITES", ENGAGEMENT),
        )

    def test_down_payment_and_final_invoice_carry_the_routing(self):
        order = self.make_order(chorus_pro_engagement=ENGAGEMENT, chorus_pro_service_code="DIR-MOBILITES",
                                chorus_pro_contract=CONTRACT)
        order.action_confirm()
        wizard = self.env["sale.advance.payment.inv"].with_context(
            active_model="sale.order", active_ids=order.ids, active_id=order.id,
        ).create({"advance_payment_method": "percentage", "amount": 30})
        wizard.create_invoices()
        down_payment = order.invoice_ids
        self.assertEqual(len(down_payment), 1)
        self.deliver(order)
        final = order._create_invoices(final=True)
        self.assertNotEqual(final, down_payment)
        for invoice in down_payment | final:
            with self.subTest(invoice=invoice.display_name):
                self.assertEqual(
                    (invoice.purchase_order_reference, invoice.buyer_reference, invoice.contract_reference),
                    (ENGAGEMENT, "DIR-MOBILITES", CONTRACT),
                )
                invoice.action_post()
                self.assertEqual(invoice.chorus_pro_state, "to_send")
        self.assertTrue(any(line.is_downpayment for line in final.invoice_line_ids.sale_line_ids))


@tagged("post_install", "-at_install")
class TestSaleConfirmation(ChorusSaleCase):
    def test_confirmation_refuses_listing_every_problem(self):
        self.read_transports()
        order = self.make_order(chorus_pro_service_code="NO-SUCH-SERVICE")
        with self.assertRaises(UserError) as caught:
            order.action_confirm()
        message = caught.exception.args[0]
        self.assertIn(f"{order.name} (", message)
        self.assertIn("cannot be confirmed", message)
        self.assertIn("requires an engagement number (BT-13): fill in 'Engagement Number' (Other Info tab)", message)
        self.assertIn("The service code NO-SUCH-SERVICE is not an active service", message)
        self.assertEqual(order.state, "draft")
        # Missing service code too: every problem at once, in the words of the posting checks.
        order.chorus_pro_service_code = False
        with self.assertRaises(UserError) as caught:
            order.action_confirm()
        self.assertIn("requires a service code (BT-10): fill in 'Service Code'", caught.exception.args[0])
        self.assertIn("requires an engagement number", caught.exception.args[0])

    def test_same_rules_and_messages_as_posting(self):
        order = self.make_order(partner=self.budget_principal)
        invoice = self.make_invoice(purchase_order_reference=False)
        order_issues = order._chorus_pro_issues()
        invoice_issues = invoice._chorus_pro_check_issues()
        self.assertEqual(len(order_issues), 1)
        self.assertIn(order_issues[0].replace("'Engagement Number'", "'Purchase Order Reference'"), invoice_issues)

    def test_refusal_is_in_french_for_a_french_user(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["res.lang"].with_context(active_test=False).search([("code", "=", "fr_FR")]).active = True
        self.env["ir.module.module"].search([("name", "in", ("odoo_chorus_rouen", "odoo_chorus_rouen_sale"))]) \
            ._update_translations(["fr_FR"], overwrite=True)
        order = self.make_order(partner=self.budget_principal).with_context(lang="fr_FR")
        with self.assertRaises(UserError) as caught:
            order.action_confirm()
        self.assertIn("ne peut pas être confirmée", caught.exception.args[0])
        self.assertIn("exige un numéro d'engagement juridique", caught.exception.args[0])

    def test_customer_reference_is_proposed_not_copied(self):
        order = self.make_order(partner=self.budget_principal, client_order_ref=ENGAGEMENT)
        self.assertFalse(order.chorus_pro_engagement, "never copied silently")
        self.assertEqual(order.chorus_pro_engagement_proposal, ENGAGEMENT)
        with self.assertRaises(UserError) as caught:
            order.action_confirm()
        self.assertIn(f"The Customer Reference {ENGAGEMENT} may be the engagement number", caught.exception.args[0])
        order.action_chorus_pro_use_customer_reference()
        self.assertEqual(order.chorus_pro_engagement, ENGAGEMENT)
        self.assertFalse(order.chorus_pro_engagement_proposal)
        order.action_confirm()
        self.assertEqual(order.state, "sale")

    def test_ordinary_customer_is_untouched(self):
        order = self.make_order(partner=self.partner_a)
        self.assertFalse(order.chorus_pro_recipient_id)
        self.assertFalse(order.chorus_pro_requirements)
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.deliver(order)
        invoice = order._create_invoices()
        self.assertFalse(invoice.purchase_order_reference)


@tagged("post_install", "-at_install")
class TestSaleGrouping(ChorusSaleCase):
    def confirmed(self, engagement, partner=None):
        order = self.make_order(partner=partner or self.budget_principal, chorus_pro_engagement=engagement)
        order.action_confirm()
        self.deliver(order)
        return order

    def test_orders_with_different_engagements_are_not_grouped(self):
        first, second = self.confirmed("EJ-1"), self.confirmed("EJ-2")
        with self.assertRaises(UserError) as caught:
            (first | second)._create_invoices()
        message = caught.exception.args[0]
        self.assertIn("cannot be grouped into one invoice", message)
        self.assertIn(f"{first.name}: recipient", message)
        self.assertIn("engagement number EJ-1", message)
        self.assertIn("engagement number EJ-2", message)
        self.assertFalse((first | second).invoice_ids)
        # One invoice per order: each keeps its own EJ.
        invoices = (first | second)._create_invoices(grouped=True)
        self.assertEqual(sorted(invoices.mapped("purchase_order_reference")), ["EJ-1", "EJ-2"])

    def test_orders_with_the_same_routing_are_grouped(self):
        first, second = self.confirmed("EJ-1"), self.confirmed("EJ-1")
        invoice = (first | second)._create_invoices()
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.purchase_order_reference, "EJ-1")

    def test_different_recipients_are_never_one_invoice(self):
        first, second = self.confirmed("EJ-1"), self.confirmed("EJ-1", partner=self.budgets["eau"])
        invoices = (first | second)._create_invoices()
        self.assertEqual(len(invoices), 2)
        self.assertEqual(invoices.partner_id, self.budget_principal | self.budgets["eau"])


@tagged("post_install", "-at_install")
class TestSaleMultiCompany(ChorusSaleCase):
    def test_company_b_uses_its_own_recipient_and_services(self):
        self.read_transports()  # company A's directory data: the transports budget and its services
        company_b = self.setup_other_company(name="Company B")["company"]
        self.env.user.company_ids |= company_b
        budget_b = self.env["res.partner"].create({
            "name": "Budget B",
            "parent_id": self.metropole.id,
            "type": "invoice",
            "company_id": company_b.id,
            "siret": self.transports.siret,
            "chorus_pro_recipient": True,
            "chorus_pro_requires_service_code": True,
            "chorus_pro_requires_engagement": False,
            "chorus_pro_directory_date": fields.Datetime.now(),
        })
        self.env["chorus.pro.service"].create({"partner_id": budget_b.id, "code": "B-ACHATS", "name": "Achats B"})
        order = self.make_order(partner=budget_b, company_id=company_b.id, chorus_pro_service_code="DIR-MOBILITES")
        self.assertEqual(order.chorus_pro_recipient_id, budget_b)
        issues = order._chorus_pro_issues()
        self.assertEqual(len(issues), 1, issues)
        self.assertIn("(active services: B-ACHATS)", issues[0], "company A's services are not B's")
        offered = self.env["chorus.pro.service"].search([
            ("partner_id", "=", order.chorus_pro_recipient_id.id), ("company_id", "in", [False, company_b.id]),
        ])
        self.assertEqual(offered.mapped("code"), ["B-ACHATS"])
        order.chorus_pro_service_code = "B-ACHATS"
        order.action_confirm()  # no engagement needed for company B's recipient
        self.assertEqual(order.state, "sale")
        # Company A's order to its own transports budget still needs what A's directory says.
        order_a = self.make_order(chorus_pro_service_code="B-ACHATS", chorus_pro_engagement=ENGAGEMENT)
        with self.assertRaises(UserError) as caught:
            order_a.action_confirm()
        self.assertIn("The service code B-ACHATS is not an active service", caught.exception.args[0])
