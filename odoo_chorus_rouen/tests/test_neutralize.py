from odoo.exceptions import UserError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import tagged

from .common import ChorusProCommon


@tagged("post_install", "-at_install")
class TestNeutralize(ChorusProCommon):
    def test_neutralize_goes_back_to_qualification_without_secrets(self):
        other_company = self.setup_other_company()["company"]
        production = {
            "chorus_pro_environment": "production",
            "chorus_pro_client_id": "prod-app",
            "chorus_pro_client_secret": "prod-secret",
            "chorus_pro_login": "TECH_1_prod@cpro.fr",
            "chorus_pro_password": "prod-password",
        }
        self.company.sudo().write(production)
        other_company.sudo().write(
            {**production, "chorus_pro_environment": "sandbox", "chorus_pro_base_url": "https://api.piste.gouv.fr"}
        )
        self.env.flush_all()

        queries = list(get_neutralization_queries(["odoo_chorus_rouen"]))
        self.assertEqual(len(queries), 1, "data/neutralize.sql is found by Odoo")
        for query in queries:
            self.env.cr.execute(query)
        self.env.invalidate_all()

        for company in (self.company.sudo(), other_company.sudo()):
            with self.subTest(company=company.name):
                self.assertEqual(company.chorus_pro_environment, "qualification")
                self.assertFalse(company.chorus_pro_client_secret)
                self.assertFalse(company.chorus_pro_password)
                # What is not secret stays, so that the copy can be pointed at qualification quickly.
                self.assertEqual(company.chorus_pro_client_id, "prod-app")
                self.assertEqual(company.chorus_pro_login, "TECH_1_prod@cpro.fr")
                self.assertFalse(company._chorus_pro_is_configured())

    def test_neutralized_copy_never_reaches_production(self):
        self.company.sudo().write(
            {
                "chorus_pro_environment": "production",
                "chorus_pro_client_id": "prod-app",
                "chorus_pro_client_secret": "prod-secret",
                "chorus_pro_login": "TECH_1_prod@cpro.fr",
                "chorus_pro_password": "prod-password",
            }
        )
        self.assertTrue(self.company._chorus_pro_get_client().endpoints.is_production)
        self.env["ir.config_parameter"].sudo().set_param("database.is_neutralized", True)
        with self.assertRaises(UserError) as catcher:
            self.company._chorus_pro_get_client()
        self.assertIn("neutralized copy", catcher.exception.args[0])
        # Qualification still works in the copy.
        self.company.sudo().chorus_pro_environment = "qualification"
        self.assertFalse(self.company._chorus_pro_get_client().endpoints.is_production)
