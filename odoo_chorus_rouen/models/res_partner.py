import logging
from datetime import timedelta

from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models, modules
from odoo.exceptions import UserError, ValidationError

from ..core.budgets import (  # noqa: TID252
    METROPOLE_ADDRESS,
    Requirements,
    compact_siret,
    find_budget,
    format_siret,
    is_valid_siret,
)
from ..core.errors import ChorusError  # noqa: TID252
from .chorus_pro_messages import error_message
from .chorus_pro_service import FORBIDDEN_SERVICE_CODES

_logger = logging.getLogger(__name__)

#: What a reader of a recipient's directory entry gets when another one read it meanwhile
#: (res_partner_directory_lock.py): the jobs skip that recipient.
CONCURRENT_READ_ERRORS = (pg_errors.SerializationFailure, pg_errors.LockNotAvailable)

# The weekly cron handles this many partners per call, then reports its progress (Odoo calls it
# again at once while some remain, up to ten times, then at the next trigger).
#: The address of the Métropole's contacts in versions before the move to its current seat.
FORMER_METROPOLE_ADDRESS = {"street": "14 bis avenue Pasteur", "street2": False, "zip": "76000", "city": "Rouen"}
DIRECTORY_BATCH_SIZE = 20
# A partner whose directory was looked up (successfully or not) less than this many hours ago is
# left alone by the cron: it is how one run walks over every partner exactly once.
DIRECTORY_REFRESH_HOURS = 20
# Room for a SIRET typed or pasted with separators ("200 023 414 00101", "200.023.414-00101").
SIRET_INPUT_SIZE = 20

REQUIREMENT_FIELDS = {
    "service_code": "chorus_pro_requires_service_code",
    "engagement": "chorus_pro_requires_engagement",
    "service_or_engagement": "chorus_pro_requires_service_or_engagement",
}


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited  # one concern per file

    # l10n_fr limits the SIRET to 14 characters, which the web client enforces while typing: a SIRET
    # pasted as printed ("200 023 414 00101") would be cut. Room for the spaces; create/write store it compact.
    siret = fields.Char(size=SIRET_INPUT_SIZE)

    # Send & Print (account_move_send.py): the sending method lives on the partner in Odoo 18
    # (a company-dependent selection).
    invoice_sending_method = fields.Selection(
        selection_add=[("chorus_pro", "by Chorus Pro")],
        ondelete={"chorus_pro": "set null"},
    )
    chorus_pro_recipient = fields.Boolean(
        string="Chorus Pro Recipient",
        tracking=True,
        help="Invoices addressed to this contact go to Chorus Pro, routed to its own SIRET. "
        "For a public buyer with several budgets (e.g. the Métropole Rouen Normandie), flag each "
        "budget's invoice address, each with the budget's SIRET.",
    )
    chorus_pro_structure_id = fields.Char(
        string="Chorus Pro Structure ID",
        readonly=True,
        copy=False,
        help="idStructureCPP of this SIRET in the Chorus Pro directory (filled by the directory update).",
    )
    chorus_pro_requires_service_code = fields.Boolean(
        string="Service Code Required",
        tracking=True,
        help="Chorus Pro rejects invoices to this structure without a service code (BT-10, 'Service Exécutant').",
    )
    chorus_pro_requires_engagement = fields.Boolean(
        string="Engagement Number Required",
        tracking=True,
        help="Chorus Pro rejects invoices to this structure without an engagement number "
        "(BT-13, 'Engagement Juridique', printed on the buyer's purchase order).",
    )
    chorus_pro_requires_service_or_engagement = fields.Boolean(
        string="Service Code or Engagement Number Required",
        tracking=True,
        help="Chorus Pro rejects invoices to this structure that carry neither a service code "
        "nor an engagement number.",
    )
    chorus_pro_directory_date = fields.Datetime(
        string="Chorus Pro Directory Date",
        readonly=True,
        copy=False,
        help="When the structure, its requirements and its services were last read from the Chorus Pro directory. "
        "Until then the requirements are defaults.",
    )
    chorus_pro_directory_attempt = fields.Datetime(
        string="Chorus Pro Directory Last Attempt",
        readonly=True,
        copy=False,
    )
    chorus_pro_directory_error = fields.Text(
        string="Chorus Pro Directory Problem",
        readonly=True,
        copy=False,
        help="What went wrong the last time the Chorus Pro directory was read for this contact.",
    )
    chorus_pro_service_ids = fields.One2many(
        comodel_name="chorus.pro.service",
        inverse_name="partner_id",
        string="Chorus Pro Services",
    )

    # ------------------------------------------------------------------
    # CRUD: a SIRET typed with spaces is stored compact; budget defaults
    # ------------------------------------------------------------------

    @api.model
    def _commercial_fields(self):
        # The SIRET identifies an establishment: each budget contact keeps its own, the routing
        # identifier, and must never receive the commercial partner's. Odoo 18 does not sync it;
        # this keeps it so whatever another module adds.
        return [name for name in super()._commercial_fields() if name != "siret"]

    @api.model
    def _chorus_pro_clean_vals(self, vals):
        siret = vals.get("siret")
        if siret and isinstance(siret, str):
            compact = compact_siret(siret)
            if compact != siret and len(compact) == 14 and compact.isdigit():
                vals["siret"] = compact
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._chorus_pro_clean_vals(vals)
            if vals.get("chorus_pro_recipient") and not any(name in vals for name in REQUIREMENT_FIELDS.values()):
                budget = find_budget(vals.get("siret") or "")
                if budget:
                    vals.update(self._chorus_pro_requirement_vals(budget.requirements))
        return super().create(vals_list)

    def write(self, vals):
        return super().write(self._chorus_pro_clean_vals(dict(vals)))

    @api.onchange("siret", "chorus_pro_recipient")
    def _onchange_chorus_pro_budget_defaults(self):
        """A Métropole budget typed by hand gets the budgets' default requirements."""
        for partner in self:
            if partner.chorus_pro_recipient and not partner.chorus_pro_directory_date:
                budget = find_budget(partner.siret or "")
                if budget:
                    partner.update(self._chorus_pro_requirement_vals(budget.requirements))

    @api.constrains("chorus_pro_recipient", "siret")
    def _check_chorus_pro_siret(self):
        for partner in self.filtered("chorus_pro_recipient"):
            siret = compact_siret(partner.siret or "")
            if not siret:
                raise ValidationError(
                    _(
                        "%(partner)s is a Chorus Pro recipient but has no SIRET. Chorus Pro routes each invoice "
                        "to the SIRET of its recipient: fill in the 14 digits.",
                        partner=partner.display_name,
                    )
                )
            if len(siret) != 14 or not siret.isdigit():
                raise ValidationError(
                    _(
                        "The SIRET %(siret)s of %(partner)s is not valid: a SIRET has exactly 14 digits.",
                        siret=partner.siret,
                        partner=partner.display_name,
                    )
                )
            if not is_valid_siret(siret):
                raise ValidationError(
                    _(
                        "The SIRET %(siret)s of %(partner)s is not valid: its check digit does not match, "
                        "a digit is probably mistyped.",
                        siret=format_siret(siret),
                        partner=partner.display_name,
                    )
                )

    # ------------------------------------------------------------------
    # What the invoice side uses
    # ------------------------------------------------------------------

    def _chorus_pro_get_recipient(self):
        """The Chorus Pro recipient an invoice to this partner is routed to.

        The partner itself when it is flagged, else its closest flagged parent (e.g. a person
        under a budget contact); an empty recordset when none is flagged. Never the commercial
        partner by default: the routing SIRET is the budget contact's.
        """
        self.ensure_one()
        partner = self
        while partner:
            if partner.chorus_pro_recipient:
                return partner
            partner = partner.parent_id
        return self.browse()

    def _chorus_pro_requirements(self, service_code=None):
        """What Chorus Pro demands on invoices to this recipient.

        The directory's answer once fetched; until then the values on the contact (for the
        eight Métropole budgets: the defaults of ``core.budgets``). A service that demands an
        engagement number makes it required too.

        :param service_code: the invoice's service code (BT-10), if any.
        :return: ``odoo_chorus_rouen.core.budgets.Requirements``
        """
        self.ensure_one()
        engagement = self.chorus_pro_requires_engagement
        if service_code and not engagement:
            service = self._chorus_pro_find_service(service_code)
            engagement = bool(service.engagement_required)
        return Requirements(
            service_code=self.chorus_pro_requires_service_code,
            engagement=engagement,
            service_or_engagement=self.chorus_pro_requires_service_or_engagement,
        )

    def _chorus_pro_find_service(self, code):
        """The service of this recipient with this code (active or not), or an empty recordset."""
        self.ensure_one()
        code = (code or "").strip()
        if not code:
            return self.env["chorus.pro.service"]
        return (
            self.env["chorus.pro.service"]
            .with_context(active_test=False)
            .search([("partner_id", "=", self.id), ("code", "=", code)], limit=1)
        )

    @api.model
    def _chorus_pro_requirement_vals(self, requirements):
        return {fname: bool(getattr(requirements, key)) for key, fname in REQUIREMENT_FIELDS.items()}

    # ------------------------------------------------------------------
    # Directory: structure id, requirements and services from Chorus Pro
    # ------------------------------------------------------------------

    def _chorus_pro_directory_company(self):
        """The company whose Chorus Pro account reads the directory for this partner.

        The partner's company; for a partner shared by all companies, the current company if it
        is configured, else the first configured company. Empty when none is configured.
        """
        self.ensure_one()
        if self.company_id:
            return self.company_id
        if self.env.company._chorus_pro_is_configured():
            return self.env.company
        companies = self.env["res.company"].sudo().search([("chorus_pro_client_id", "!=", False)], order="id")
        for company in companies:
            if company._chorus_pro_is_configured():
                return company.sudo(False)
        return self.env["res.company"]

    def _chorus_pro_update_directory(self, client):
        """Read this recipient's structure, requirements and services from Chorus Pro and store them.

        :param client: a ``ChorusClient`` (see ``res.company._chorus_pro_get_client``).
        :raises ChorusError: the platform could not be asked (the caller decides what to do).
        :raises UserError: Chorus Pro does not know this SIRET.
        """
        self.ensure_one()
        siret = compact_siret(self.siret or "")
        structures = client.search_structures(siret)
        if not structures:
            raise UserError(
                _(
                    "Chorus Pro does not know the SIRET %(siret)s of %(partner)s: check the SIRET on the buyer's "
                    "purchase order, or ask the buyer for its Chorus Pro identifier.",
                    siret=format_siret(siret),
                    partner=self.display_name,
                )
            )
        structure = self._chorus_pro_pick_structure(structures, siret)
        details = client.get_structure(structure.structure_id)
        services = list(client.search_services(structure.structure_id))

        now = fields.Datetime.now()
        problem = False
        if structure.active is False:
            problem = _(
                "The structure %(structure)s of the SIRET %(siret)s is inactive on Chorus Pro: "
                "invoices to it will be rejected.",
                structure=structure.structure_id,
                siret=format_siret(siret),
            )
        first_read = not self.chorus_pro_directory_date
        old = self._chorus_pro_requirements()
        vals = {
            "chorus_pro_structure_id": str(structure.structure_id),
            "chorus_pro_directory_date": now,
            "chorus_pro_directory_attempt": now,
            "chorus_pro_directory_error": problem,
            "chorus_pro_structure_inactive": structure.active is False,
            **self._chorus_pro_requirement_vals(details.requirements),
        }
        self.write(vals)
        created, updated, archived = self._chorus_pro_sync_services(
            services, client=client, structure_id=structure.structure_id, details=details
        )
        if first_read or old != details.requirements or created or archived:
            self._message_log(body=self._chorus_pro_directory_summary(created, archived))
        return True

    @staticmethod
    def _chorus_pro_pick_structure(structures, siret):
        def rank(structure):
            return (compact_siret(structure.identifier or "") != siret, structure.active is False)

        return sorted(structures, key=rank)[0]

    def _chorus_pro_sync_services(self, services, client=None, structure_id=None, details=None):
        """Make the contact's services match the directory's list (matched by code).

        Services no longer listed are archived, never deleted (invoices may refer to them).
        ``FACTURES_PUBLIQUES`` is reserved to invoices between public bodies: never kept.
        Whether a service demands an engagement number is only given service by service
        (``consulterServiceStructure``): it is asked only when it matters, i.e. for the active
        services of a structure that does not already demand an engagement number everywhere.

        :return: (created, updated, archived) counts.
        """
        self.ensure_one()
        Service = self.env["chorus.pro.service"].with_context(active_test=False)
        existing = {service.code: service for service in Service.search([("partner_id", "=", self.id)])}
        seen = set()
        created = updated = 0
        for item in services:
            code = (item.code or "").strip()
            if not code or code.upper() in FORBIDDEN_SERVICE_CODES or code in seen:
                continue
            seen.add(code)
            vals = {
                "name": item.name or code,
                "active": item.active is not False,
                "chorus_service_id": str(item.service_id) if item.service_id is not None else False,
            }
            engagement_required = getattr(item, "engagement_required", None)
            if (
                engagement_required is None
                and client is not None
                and vals["active"]
                and details is not None
                and not details.requirements.engagement
            ):
                engagement_required = client.get_service(structure_id, item.service_id).engagement_required
            if engagement_required is not None:
                vals["engagement_required"] = bool(engagement_required)
            service = existing.get(code)
            if service:
                changed = {k: v for k, v in vals.items() if service[k] != v}
                if changed:
                    service.write(changed)
                    updated += 1
            else:
                Service.create({"partner_id": self.id, "code": code, **vals})
                created += 1
        gone = Service.browse([s.id for code, s in existing.items() if code not in seen and s.active])
        gone.write({"active": False})
        return created, updated, len(gone)

    def _chorus_pro_directory_summary(self, created, archived):
        """Chatter note of a directory read (requirement changes show as tracking values)."""
        self.ensure_one()
        return _(
            "Chorus Pro directory read: structure %(structure)s, %(active)s active service(s) "
            "(%(created)s new, %(archived)s archived).",
            structure=self.chorus_pro_structure_id,
            active=len(self.chorus_pro_service_ids),
            created=created,
            archived=archived,
        )

    def action_chorus_pro_update_directory(self):
        """Button: read the Chorus Pro directory now for these recipients (errors are shown, not stored)."""
        partners = self.filtered("chorus_pro_recipient")
        if not partners:
            raise UserError(_("Only contacts flagged as Chorus Pro recipients can be looked up in the directory."))
        clients = {}
        for partner in partners:
            company = partner._chorus_pro_directory_company() or self.env.company
            if company not in clients:
                clients[company] = company._chorus_pro_get_client()
            try:
                partner._chorus_pro_update_directory(clients[company])
            except ChorusError as err:
                raise UserError(error_message(self.env, err, company=company.name)) from err
        problems = partners.filtered("chorus_pro_directory_error")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Chorus Pro directory"),
                "message": " ".join(problems.mapped("chorus_pro_directory_error"))
                or _("Structure, requirements and services updated for %(count)s contact(s).", count=len(partners)),
                "type": "warning" if problems else "success",
                "sticky": bool(problems),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.model
    def _cron_chorus_pro_update_directory(self, batch_size=DIRECTORY_BATCH_SIZE):
        """Weekly: refresh every Chorus Pro recipient from the directory, one record at a time.

        One recipient's failure (unknown SIRET, platform error) is written on it and the others go
        on; each one is committed on its own (outside tests), and progress is reported to the cron.
        """
        now = fields.Datetime.now()
        cutoff = now - timedelta(hours=DIRECTORY_REFRESH_HOURS)
        domain = [
            ("chorus_pro_recipient", "=", True),
            "|",
            ("chorus_pro_directory_attempt", "=", False),
            ("chorus_pro_directory_attempt", "<", cutoff),
        ]
        partners = self.search(domain, order="chorus_pro_directory_attempt asc nulls first, id", limit=batch_size)
        clients = {}
        done = 0
        for partner in partners:
            company = partner._chorus_pro_directory_company()
            if not company:
                _logger.info("Chorus Pro is configured for no company: the directory is not updated.")
                break
            if company not in clients:
                try:
                    clients[company] = company._chorus_pro_get_client()
                except UserError as err:
                    clients[company] = err
            client = clients[company]
            if isinstance(client, UserError):  # the company's settings are incomplete
                _logger.info("Chorus Pro directory read failed for partner %s: %s", partner.id, client.args[0])
                partner._chorus_pro_directory_failed(client.args[0])
            else:
                partner._chorus_pro_refresh_one(client, company)
            done += 1
            if self._chorus_pro_can_commit():
                # One partner per transaction: what is done stays done if the cron dies half-way.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = self.search_count(domain) if done else 0
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    def _chorus_pro_refresh_one(self, client, company):
        """Read this recipient from the directory; a failure is written on it (never raised)."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                self._chorus_pro_update_directory(client)
        except CONCURRENT_READ_ERRORS:
            _logger.info("Chorus Pro directory of partner %s read by another job meanwhile: skipped", self.id)
        except ChorusError as err:
            _logger.warning("Chorus Pro directory read failed for partner %s: %s", self.id, err)
            self._chorus_pro_directory_failed(error_message(self.env, err, company=company.name))
        except (UserError, ValidationError) as err:
            _logger.info("Chorus Pro directory read failed for partner %s: %s", self.id, err.args[0])
            self._chorus_pro_directory_failed(err.args[0])
        except Exception:  # noqa: BLE001 - one unexpected failure must not stop the others
            _logger.exception("Unexpected error in the Chorus Pro directory read of partner %s", self.id)
            self._chorus_pro_directory_failed(
                _("Unexpected error while reading the Chorus Pro directory; see the server log.")
            )

    def _chorus_pro_directory_failed(self, message):
        self.ensure_one()
        self.write({"chorus_pro_directory_error": message, "chorus_pro_directory_attempt": fields.Datetime.now()})

    @api.model
    def _chorus_pro_can_commit(self):
        """Whether the cron may commit (never during tests), as ``account.move.send._can_commit``."""
        return not modules.module.current_test

    @api.model
    def _chorus_pro_move_metropole_address(self):
        """Give the Métropole and its budgets their current seat where they still have the former one.

        Their records are ``noupdate``: an update of the addon does not rewrite them. Called by
        ``data/res_partner_address_data.xml`` at every install and update; a contact whose address
        someone changed is left alone. Returns the contacts moved.
        """
        ids = self.env["ir.model.data"].sudo().search(
            [("module", "=", "odoo_chorus_rouen"), ("model", "=", "res.partner")]
        ).mapped("res_id")
        partners = self.sudo().browse(ids).exists()
        former = partners.filtered(
            lambda partner: all((partner[field] or False) == value for field, value in FORMER_METROPOLE_ADDRESS.items())
        )
        former.write({field: METROPOLE_ADDRESS[field] for field in ("street", "street2", "zip", "city")})
        return former
