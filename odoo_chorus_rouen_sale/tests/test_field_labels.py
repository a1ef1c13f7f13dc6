"""The sales order's refusals name the fields by their labels in the user's language, and a refusal raised
without a language (over RPC without a context) is in one language, not an English header over French lines
(issue 18, point 7)."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.odoo_chorus_rouen.tests.test_field_labels import load_french

from .test_sale_order import ChorusSaleCase

FRENCH_MODULES = ("account", "sale", "l10n_fr_facturx_chorus_pro", "odoo_chorus_rouen", "odoo_chorus_rouen_sale")


@tagged("post_install", "-at_install")
class TestSaleFrenchFieldLabels(ChorusSaleCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env, FRENCH_MODULES)

    def test_confirmation_refusal_without_a_language_is_all_in_the_users_language(self):
        self.env.user.lang = "fr_FR"
        order = self.make_order(partner=self.budget_principal, client_order_ref="EJ-2026-000999")
        with self.assertRaises(UserError) as caught:
            order.with_context(lang=False).action_confirm()  # as over RPC without a context
        message = caught.exception.args[0]
        lines = message.splitlines()
        self.assertIn("ne peut pas être confirmée", lines[0])
        self.assertIn("renseignez « Numéro d'engagement » (onglet Autres informations)", message)
        self.assertIn("« Référence client »", message)
        for english in ("cannot be confirmed", "Engagement Number", "Customer Reference", "fill in", "Other Info"):
            self.assertNotIn(english, message)

    def test_grouping_refusal_names_the_wizard_option_in_french(self):
        orders = self.env["sale.order"]
        for engagement in ("EJ-1", "EJ-2"):
            order = self.make_order(partner=self.budget_principal, chorus_pro_engagement=engagement)
            order.action_confirm()
            self.deliver(order)
            orders |= order
        with self.assertRaises(UserError) as caught:
            orders.with_context(lang="fr_FR")._create_invoices()
        message = caught.exception.args[0]
        self.assertIn("« Facturation consolidée »", message)
        self.assertNotIn("Consolidated Billing", message)
