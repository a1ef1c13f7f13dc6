from unittest.mock import patch

from lxml import etree
from psycopg2 import IntegrityError

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import file_open, mute_logger

from odoo.addons.odoo_chorus_rouen.core.budgets import (
    BUDGETS,
    METROPOLE_ADDRESS,
    METROPOLE_NAME,
    Requirements,
    is_valid_siret,
)
from odoo.addons.odoo_chorus_rouen.core.errors import ApiError

from .common import ChorusProCommon

UNKNOWN_SIRET = "73282932000074"  # valid, but in no Chorus Pro directory of the sandbox
COMMUNE_SIRET = "44306184100047"  # added to the sandbox: "service code or engagement"
INACTIVE_SIRET = "35600000000048"  # added to the sandbox: an inactive structure


@tagged("post_install", "-at_install")
class TestBudgets(ChorusProCommon):
    def test_metropole_partner(self):
        metropole = self.metropole
        self.assertEqual(metropole.name, METROPOLE_NAME)
        self.assertTrue(metropole.is_company)
        self.assertEqual(metropole.country_id.code, "FR")
        self.assertEqual(
            (metropole.street, metropole.street2, metropole.zip, metropole.city),
            tuple(METROPOLE_ADDRESS[key] for key in ("street", "street2", "zip", "city")),
        )
        for budget in self.budgets.values():
            self.assertEqual((budget.street, budget.zip, budget.city), (metropole.street, "76006", "Rouen Cedex"))
        self.assertFalse(metropole.chorus_pro_recipient)
        self.assertIn(self.env.ref("odoo_chorus_rouen.partner_category_public_buyer"), metropole.category_id)
        self.assertEqual(
            metropole.child_ids.filtered("chorus_pro_recipient"), self.env["res.partner"].concat(*self.budgets.values())
        )

    def test_former_address_moves_to_the_current_seat_on_update(self):
        """A database installed before the move gets the current seat; an address someone changed stays."""
        budgets = list(self.budgets.values())
        former = {"street": "14 bis avenue Pasteur", "street2": False, "zip": "76000", "city": "Rouen"}
        (self.metropole | budgets[0]).write(former)
        budgets[1].write({**former, "street": "Hôtel de ville, place du Général de Gaulle"})
        moved = self.env["res.partner"]._chorus_pro_move_metropole_address()
        self.assertEqual(moved, self.metropole | budgets[0])
        for partner in (self.metropole, budgets[0]):
            self.assertEqual(
                (partner.street, partner.street2, partner.zip, partner.city),
                tuple(METROPOLE_ADDRESS[key] for key in ("street", "street2", "zip", "city")),
            )
        self.assertEqual(budgets[1].street, "Hôtel de ville, place du Général de Gaulle")
        self.assertFalse(self.env["res.partner"]._chorus_pro_move_metropole_address())

    def test_budgets_loaded_with_their_own_valid_siret(self):
        sirets = set()
        for budget in BUDGETS:
            partner = self.budgets[budget.key]
            with self.subTest(budget=budget.key):
                self.assertEqual(partner.name, budget.name)
                self.assertEqual(partner.siret, budget.siret)
                self.assertTrue(is_valid_siret(partner.siret))
                self.assertEqual(partner.parent_id, self.metropole)
                self.assertEqual(partner.commercial_partner_id, self.metropole)
                self.assertEqual(partner.type, "invoice")
                self.assertTrue(partner.chorus_pro_recipient)
                self.assertEqual(partner._chorus_pro_requirements(), budget.requirements)
                self.assertEqual(partner.display_name, f"{METROPOLE_NAME}, {budget.name}")
                sirets.add(partner.siret)
        self.assertEqual(len(sirets), 8, "each budget has its own SIRET")
        self.assertNotIn(self.metropole.siret, sirets)

    def test_data_file_agrees_with_core_budgets(self):
        with file_open("odoo_chorus_rouen/data/res_partner_data.xml", "rb") as file:
            tree = etree.parse(file)
        records = {
            record.get("id"): {field.get("name"): (field.text, field.get("eval")) for field in record.iter("field")}
            for record in tree.iter("record")
            if record.get("model") == "res.partner"
        }
        self.assertEqual(tree.getroot().get("noupdate"), "1")
        self.assertEqual(records["partner_metropole_rouen"]["name"][0], METROPOLE_NAME)
        expected_ids = {"partner_metropole_rouen"} | {f"partner_budget_{budget.key}" for budget in BUDGETS}
        self.assertEqual(set(records), expected_ids)
        for budget in BUDGETS:
            fields = records[f"partner_budget_{budget.key}"]
            with self.subTest(budget=budget.key):
                self.assertEqual(fields["name"][0], budget.name)
                self.assertEqual(fields["siret"][0], budget.siret)
                self.assertEqual(fields["chorus_pro_recipient"][1], "True")
                for key, fname in (
                    ("service_code", "chorus_pro_requires_service_code"),
                    ("engagement", "chorus_pro_requires_engagement"),
                    ("service_or_engagement", "chorus_pro_requires_service_or_engagement"),
                ):
                    self.assertEqual(fields[fname][1], str(getattr(budget.requirements, key)))

    def test_each_budget_keeps_its_own_siret(self):
        """The trap of DESIGN.md: the commercial partner's SIRET must never reach the budgets."""
        self.assertNotIn("siret", self.env["res.partner"]._commercial_fields())
        self.metropole.siret = "20002341400010"
        for budget in BUDGETS:
            self.assertEqual(self.budgets[budget.key].siret, budget.siret)
        # A budget created under the Métropole, or moved under it, keeps its SIRET too.
        extra = self.env["res.partner"].create(
            {"name": "Budget test", "siret": UNKNOWN_SIRET, "chorus_pro_recipient": True, "type": "invoice"}
        )
        extra.parent_id = self.metropole
        self.assertEqual(extra.siret, UNKNOWN_SIRET)
        child = self.env["res.partner"].create(
            {
                "name": "Budget test 2",
                "parent_id": self.metropole.id,
                "type": "invoice",
                "siret": "44306184100047",
                "chorus_pro_recipient": True,
            }
        )
        self.assertEqual(child.siret, "44306184100047")
        self.assertEqual(self.metropole.siret, "20002341400010")

    def test_mistyped_siret_blocks_saving(self):
        budget = self.budget_principal
        with self.assertRaises(ValidationError) as catcher:
            budget.siret = "20002341400102"  # last digit mistyped
        message = catcher.exception.args[0]
        self.assertIn(budget.display_name, message)
        self.assertIn("200 023 414 00102", message)
        self.assertIn("mistyped", message)

        with self.assertRaises(ValidationError) as catcher:
            budget.siret = "2000234140010"  # a digit missing
        self.assertIn("2000234140010", catcher.exception.args[0])
        self.assertIn("14 digits", catcher.exception.args[0])

        with self.assertRaises(ValidationError) as catcher:
            budget.siret = False
        self.assertIn(budget.display_name, catcher.exception.args[0])

        with self.assertRaises(ValidationError):
            self.env["res.partner"].create({"name": "Recipient without SIRET", "chorus_pro_recipient": True})

    def test_siret_rule_only_for_recipients(self):
        partner = self.env["res.partner"].create({"name": "Private customer", "siret": "12345678901234"})
        self.assertEqual(partner.siret, "12345678901234")
        with self.assertRaises(ValidationError):
            partner.chorus_pro_recipient = True

    def test_siret_typed_with_spaces_is_stored_compact(self):
        partner = self.env["res.partner"].create(
            {"name": "Budget typed by hand", "siret": "200 023 414 00101", "chorus_pro_recipient": True}
        )
        self.assertEqual(partner.siret, "20002341400101")
        partner.siret = "200.023.414-00036"
        self.assertEqual(partner.siret, "20002341400036")

    def test_siret_pasted_as_printed_fits_the_form(self):
        # The web client stops typing at the field's size: a SIRET with its spaces must fit, on the
        # contact and on the company, and be stored compact.
        printed = "200 023 414 00101"
        for model in ("res.partner", "res.company"):
            self.assertGreaterEqual(self.env[model].fields_get(["siret"])["siret"].get("size"), len(printed), model)
        with Form(self.env["res.partner"]) as form:
            form.company_type = "company"
            form.name = "Budget pasted in the form"
            form.siret = printed
            form.chorus_pro_recipient = True
        self.assertEqual(form.record.siret, "20002341400101")
        self.env.company.siret = "884 123 456 00011"
        self.assertEqual(self.env.company.siret, "88412345600011")

    def test_new_budget_contact_gets_budget_defaults(self):
        partner = self.env["res.partner"].create(
            {"name": "Eau (created by hand)", "siret": "20002341400069", "chorus_pro_recipient": True}
        )
        self.assertEqual(partner._chorus_pro_requirements(), Requirements(engagement=True))
        other = self.env["res.partner"].create(
            {"name": "Another public buyer", "siret": UNKNOWN_SIRET, "chorus_pro_recipient": True}
        )
        self.assertEqual(other._chorus_pro_requirements(), Requirements())

    def test_form_shows_siret_on_budget_contact(self):
        with Form(self.budget_principal) as form:
            self.assertEqual(form.siret, "20002341400101")
            form.siret = "20002341400036"
        self.assertEqual(self.budget_principal.siret, "20002341400036")
        with self.assertRaises(ValidationError), Form(self.budget_principal) as form:
            form.siret = "20002341400037"

    def test_form_fills_budget_defaults(self):
        with Form(self.env["res.partner"]) as form:
            form.name = "Budget de l'Eau (typed by hand)"
            form.chorus_pro_recipient = True
            form.siret = "20002341400069"
            self.assertTrue(form.chorus_pro_requires_engagement)
            self.assertFalse(form.chorus_pro_requires_service_code)
        partner = form.record
        self.assertEqual(partner.siret, "20002341400069")
        self.assertEqual(partner._chorus_pro_requirements(), Requirements(engagement=True))

    def test_recipient_of_a_person_under_a_budget(self):
        person = self.env["res.partner"].create(
            {"name": "Jeanne Martin", "parent_id": self.budget_principal.id, "type": "contact"}
        )
        self.assertEqual(person._chorus_pro_get_recipient(), self.budget_principal)
        self.assertEqual(self.budget_principal._chorus_pro_get_recipient(), self.budget_principal)
        self.assertFalse(self.metropole._chorus_pro_get_recipient())

    def test_service_engagement_required_adds_to_requirements(self):
        partner = self.env["res.partner"].create(
            {"name": "Commune", "siret": COMMUNE_SIRET, "chorus_pro_recipient": True}
        )
        self.env["chorus.pro.service"].create(
            [
                {"partner_id": partner.id, "code": "SERV-TECHNIQUE", "engagement_required": True},
                {"partner_id": partner.id, "code": "SERV-CULTURE"},
            ]
        )
        self.assertEqual(partner._chorus_pro_requirements("SERV-TECHNIQUE"), Requirements(engagement=True))
        self.assertEqual(partner._chorus_pro_requirements("SERV-CULTURE"), Requirements())
        self.assertEqual(partner._chorus_pro_requirements("UNKNOWN"), Requirements())

    def test_services(self):
        Service = self.env["chorus.pro.service"]
        service = Service.create({"partner_id": self.budget_principal.id, "code": " DIR-FINANCES ", "name": "Finances"})
        self.assertEqual(service.code, "DIR-FINANCES")
        self.assertEqual(service.display_name, "[DIR-FINANCES] Finances")
        self.assertEqual(Service.name_search("DIR-FIN")[0][0], service.id)
        self.assertEqual(self.budget_principal._chorus_pro_find_service("DIR-FINANCES"), service)
        with self.assertRaises(ValidationError) as catcher:
            Service.create({"partner_id": self.budget_principal.id, "code": "FACTURES_PUBLIQUES"})
        self.assertIn("FACTURES_PUBLIQUES", catcher.exception.args[0])
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            Service.create({"partner_id": self.budget_principal.id, "code": "DIR-FINANCES"})

    def test_directory_cron_exists_and_is_active(self):
        cron = self.env.ref("odoo_chorus_rouen.ir_cron_chorus_pro_update_directory")
        self.assertTrue(cron.active)
        self.assertEqual(cron.model_id.model, "res.partner")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "weeks"))
        self.assertIn("_cron_chorus_pro_update_directory", cron.code)

    def test_directory_without_settings(self):
        with self.assertRaises(UserError) as catcher:
            self.budget_principal.action_chorus_pro_update_directory()
        self.assertIn(self.company.name, catcher.exception.args[0])
        # The cron leaves everything alone when no company is configured.
        self.assertEqual(self.env["res.partner"]._cron_chorus_pro_update_directory(), 0)
        self.assertFalse(self.budget_principal.chorus_pro_directory_attempt)


@tagged("post_install", "-at_install")
class TestDirectory(ChorusProCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox = cls.start_chorus_sandbox()
        # Structures of our own, so that the tests do not depend on the sandbox's shipped directory.
        sandbox.add_structure(
            siret=COMMUNE_SIRET,
            name="Commune de Test-sur-Seine",
            type="PUBLIQUE",
            parametres={"gestionNumeroEJOuCodeService": True},
            services=[
                {"code": "FACTURES_PUBLIQUES", "name": "Service des factures publiques"},
                {"code": "SERV-TECHNIQUE", "name": "Services techniques", "engagement_required": True},
                {"code": "SERV-CULTURE", "name": "Culture"},
                {"code": "SERV-FERME", "name": "Service fermé", "active": False},
            ],
        )
        sandbox.add_structure(siret=INACTIVE_SIRET, name="Syndicat dissous", type="PUBLIQUE", statut="INACTIVE")
        sandbox.add_structure(
            siret="20002341400069",
            name="Métropole Rouen Normandie - Budget de l'Eau",
            type="PUBLIQUE",
            parametres={"codeServiceDoitEtreRenseigne": True, "numeroEJDoitEtreRenseigne": True},
            services=[{"code": "EAU-EXPLOITATION", "name": "Exploitation"}, {"code": "EAU-TRAVAUX", "name": "Travaux"}],
        )
        # Only this test class's recipients: other data must not be looked up.
        cls.env["res.partner"].search(
            [("chorus_pro_recipient", "=", True), ("id", "not in", [p.id for p in cls.budgets.values()])]
        ).chorus_pro_recipient = False

    def test_update_from_directory_button(self):
        budget = self.budget_principal
        expected = self.chorus_sandbox.structures(budget.siret)[0]
        old = self.env["chorus.pro.service"].create({"partner_id": budget.id, "code": "OLD-SERVICE"})
        action = budget.with_user(self.user_invoicing).action_chorus_pro_update_directory()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(budget.chorus_pro_structure_id, str(expected["idStructureCPP"]))
        self.assertTrue(budget.chorus_pro_directory_date)
        self.assertFalse(budget.chorus_pro_directory_error)
        flags = expected["parametres"]
        self.assertEqual(
            budget._chorus_pro_requirements(),
            Requirements(
                service_code=flags["codeServiceDoitEtreRenseigne"],
                engagement=flags["numeroEJDoitEtreRenseigne"],
                service_or_engagement=flags["gestionNumeroEJOuCodeService"],
            ),
        )
        services = budget.with_context(active_test=False).chorus_pro_service_ids
        expected_services = {
            (item["codeService"], item["estActif"])
            for item in expected["services"]
            if item["codeService"] != "FACTURES_PUBLIQUES"
        }
        self.assertTrue(expected_services)
        self.assertEqual({(s.code, s.active) for s in services}, expected_services | {("OLD-SERVICE", False)})
        self.assertFalse(old.active, "a service the directory no longer lists is archived")
        self.assertNotIn("FACTURES_PUBLIQUES", services.mapped("code"))
        first = next(item for item in expected["services"] if item["codeService"] != "FACTURES_PUBLIQUES")
        service = services.filtered(lambda s: s.code == first["codeService"])
        self.assertEqual(service.name, first["libelleService"])
        self.assertEqual(service.chorus_service_id, str(first["idService"]))

        # A second update changes nothing and creates no duplicate.
        budget.action_chorus_pro_update_directory()
        self.assertEqual(len(budget.with_context(active_test=False).chorus_pro_service_ids), len(services))

    def test_directory_overrides_defaults(self):
        eau = self.budgets["eau"]  # our sandbox's Budget de l'Eau also demands a service code
        self.assertEqual(eau._chorus_pro_requirements(), Requirements(engagement=True))
        eau.action_chorus_pro_update_directory()
        self.assertEqual(eau._chorus_pro_requirements(), Requirements(service_code=True, engagement=True))
        self.assertLessEqual({"EAU-EXPLOITATION", "EAU-TRAVAUX"}, set(eau.chorus_pro_service_ids.mapped("code")))

    def test_service_level_engagement(self):
        commune = self.env["res.partner"].create(
            {"name": "Commune de Test-sur-Seine", "siret": COMMUNE_SIRET, "chorus_pro_recipient": True}
        )
        commune.action_chorus_pro_update_directory()
        self.assertEqual(commune._chorus_pro_requirements(), Requirements(service_or_engagement=True))
        self.assertEqual(
            commune._chorus_pro_requirements("SERV-TECHNIQUE"),
            Requirements(engagement=True, service_or_engagement=True),
        )
        self.assertFalse(commune._chorus_pro_find_service("SERV-CULTURE").engagement_required)
        self.assertFalse(commune._chorus_pro_find_service("SERV-FERME").active)
        self.assertEqual(len(commune.chorus_pro_service_ids), 2)

    def test_unknown_and_inactive_structures(self):
        unknown = self.env["res.partner"].create(
            {"name": "Unknown buyer", "siret": UNKNOWN_SIRET, "chorus_pro_recipient": True}
        )
        with self.assertRaises(UserError) as catcher:
            unknown.action_chorus_pro_update_directory()
        self.assertIn("732 829 320 00074", catcher.exception.args[0])
        inactive = self.env["res.partner"].create(
            {"name": "Dissolved syndicate", "siret": INACTIVE_SIRET, "chorus_pro_recipient": True}
        )
        action = inactive.action_chorus_pro_update_directory()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("inactive", inactive.chorus_pro_directory_error)

    def test_cron_isolates_failures_and_reports_progress(self):
        unknown = self.env["res.partner"].create(
            {"name": "Unknown buyer", "siret": UNKNOWN_SIRET, "chorus_pro_recipient": True}
        )
        transports = self.budgets["transports"]
        Partner = type(self.env["res.partner"])
        original = Partner._chorus_pro_update_directory

        def flaky(partner, client):
            if partner == transports:
                raise ApiError("Chorus Pro is unavailable", http_status=503, chorus_label="Service Unavailable")
            if partner.name == "Budget Principal":
                raise RuntimeError("unexpected")
            return original(partner, client)

        progress = []
        with (
            patch.object(Partner, "_chorus_pro_update_directory", flaky),
            patch.object(type(self.env["ir.cron"]), "_notify_progress", lambda _self, **kw: progress.append(kw)),
            mute_logger("odoo.addons.odoo_chorus_rouen.models.res_partner"),
        ):
            self.assertEqual(self.env["res.partner"]._cron_chorus_pro_update_directory(batch_size=4), 4)
            self.assertEqual(progress[-1], {"done": 4, "remaining": 5})
            self.assertEqual(self.env["res.partner"]._cron_chorus_pro_update_directory(batch_size=4), 4)
            self.assertEqual(self.env["res.partner"]._cron_chorus_pro_update_directory(batch_size=4), 1)
            self.assertEqual(progress[-1], {"done": 1, "remaining": 0})
            # Everything was attempted once in this run: nothing left.
            self.assertEqual(self.env["res.partner"]._cron_chorus_pro_update_directory(batch_size=4), 0)

        self.assertIn("732 829 320 00074", unknown.chorus_pro_directory_error)
        self.assertFalse(unknown.chorus_pro_directory_date)
        self.assertIn("503", transports.chorus_pro_directory_error)
        self.assertIn("see the server log", self.budget_principal.chorus_pro_directory_error)
        for key in ("dechets", "zones_activites", "eau", "assainissement", "rouen_normandie_creation"):
            budget = self.budgets[key]
            with self.subTest(budget=key):
                self.assertTrue(budget.chorus_pro_structure_id)
                self.assertTrue(budget.chorus_pro_directory_date)
                self.assertFalse(budget.chorus_pro_directory_error)
                self.assertTrue(budget.chorus_pro_service_ids)

    def test_cron_with_wrong_credentials_records_the_reason(self):
        self.company.sudo().chorus_pro_client_secret = "not-the-secret"
        with mute_logger("odoo.addons.odoo_chorus_rouen"):
            self.env["res.partner"]._cron_chorus_pro_update_directory()
        for budget in self.budgets.values():
            self.assertIn("refused the credentials", budget.chorus_pro_directory_error)
            self.assertFalse(budget.chorus_pro_directory_date)
            self.assertNotIn("not-the-secret", budget.chorus_pro_directory_error)
