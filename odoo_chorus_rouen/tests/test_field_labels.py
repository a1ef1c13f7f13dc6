"""A French message names each field by its French label, the one the form shows (never an English label inside a
French sentence), and a message raised without a language, as over RPC without a context, is worded in one
language, the user's: no English header over French lines (issue 18, point 7)."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from .test_posting import ChorusInvoiceCase

#: Modules whose French the messages below use: the fields' labels (account, l10n_fr_facturx_chorus_pro) and ours.
FRENCH_MODULES = ("account", "l10n_fr_facturx_chorus_pro", "odoo_chorus_rouen")


def load_french(env, modules):
    """French installed as a user installs it: the language and the modules' translations, field labels included."""
    env["res.lang"]._activate_lang("fr_FR")
    env["ir.module.module"].search([("name", "in", list(modules))])._update_translations(["fr_FR"], overwrite=True)
    env.registry.clear_cache()


@tagged("post_install", "-at_install")
class TestFrenchFieldLabels(ChorusInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        load_french(cls.env, FRENCH_MODULES)

    def refusal(self, move):
        with self.assertRaises(UserError) as caught:
            move.action_post()
        return caught.exception.args[0]

    def assertAllFrench(self, message):  # noqa: N802 - unittest style
        for english in ("Purchase Order Reference", "Buyer Reference", "Recipient Bank", "Reversal of",
                        "cannot be sent", "Other Info", "fill in"):
            self.assertNotIn(english, message)

    def test_posting_refusal_names_the_fields_by_their_french_labels(self):
        invoice = self.make_invoice(purchase_order_reference=False)
        invoice.partner_bank_id = False
        message = self.refusal(invoice.with_context(lang="fr_FR"))
        self.assertIn("exige un numéro d'engagement juridique (BT-13) : renseignez « Engagement juridique » (onglet "
                      "Autres informations)", message)
        self.assertIn("comme « Compte bancaire destinataire » (onglet Autres informations)", message)
        self.assertAllFrench(message)
        invoice.partner_bank_id = self.company_bank.copy({"acc_number": "FR76 0000 NOT AN IBAN"})
        message = self.refusal(invoice.with_context(lang="fr_FR"))
        self.assertIn("« Compte bancaire destinataire »", message)
        self.assertAllFrench(message)
        credit_note = self.make_invoice(move_type="out_refund")
        message = self.refusal(credit_note.with_context(lang="fr_FR"))
        self.assertIn("son champ « Extourne de »", message)
        self.assertAllFrench(message)

    def test_refusal_without_a_language_is_in_the_users_language(self):
        self.env.user.lang = "fr_FR"
        invoice = self.make_invoice(purchase_order_reference=False)
        message = self.refusal(invoice.with_context(lang=False))  # as over RPC without a context
        self.assertTrue(message.startswith("Impossible d'envoyer "), message)
        self.assertIn("renseignez « Engagement juridique »", message)
        self.assertAllFrench(message)
        # The settings' labels too: the missing ones are named in French.
        self.company.sudo().chorus_pro_login = False
        with self.assertRaises(UserError) as caught:
            self.company.with_context(lang=False)._chorus_pro_get_client()
        message = caught.exception.args[0]
        self.assertTrue(message.startswith("Des paramètres Chorus Pro manquent pour "), message)
        french_label = self.company.with_context(lang="fr_FR")._fields["chorus_pro_login"]._description_string(
            self.env(context={"lang": "fr_FR"}))
        self.assertNotEqual(french_label, self.company._fields["chorus_pro_login"].string, "translated")
        self.assertIn(french_label, message)
