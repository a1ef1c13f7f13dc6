"""The Métropole's purchase order on the sales order: engagement number, service code, contract.

The supplier types once, on the quotation, what the buyer's purchase order gives: the engagement
number (numéro d'engagement juridique, BT-13), the service code (service exécutant, BT-10) and the
contract (numéro de marché, BT-12). Confirmation runs the posting checks of the main addon
(``chorus.pro.routing.check_recipient``: same rules, same messages, every problem at once); every
invoice made from the order carries the three values into the invoice fields the addon sends.
"""

from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.odoo_chorus_rouen.models.chorus_pro_messages import field_label, message_env
from odoo.addons.odoo_chorus_rouen.models.chorus_pro_routing import ENGAGEMENT_MAX_LENGTH


class SaleOrder(models.Model):
    _inherit = "sale.order"

    chorus_pro_recipient_id = fields.Many2one(
        comodel_name="res.partner",
        string="Chorus Pro Recipient",
        compute="_compute_chorus_pro_recipient_id",
        help="The Chorus Pro recipient the invoices of this order go to: its invoice address, or the closest "
        "parent flagged as Chorus Pro recipient (e.g. a budget of the Métropole).",
    )
    chorus_pro_engagement = fields.Char(
        string="Engagement Number",
        copy=False,
        help="Numéro d'engagement juridique (EJ, BT-13) printed on the buyer's purchase order. Every invoice "
        "of the order carries it to Chorus Pro.",
    )
    chorus_pro_service_id = fields.Many2one(
        comodel_name="chorus.pro.service",
        string="Service",
        domain="[('partner_id', '=', chorus_pro_recipient_id), ('company_id', 'in', [False, company_id])]",
        help="Active service of the recipient in the Chorus Pro directory (service exécutant, BT-10).",
    )
    chorus_pro_service_code = fields.Char(
        string="Service Code",
        compute="_compute_chorus_pro_service_code",
        store=True,
        readonly=False,
        precompute=True,
        help="Code of the service (service exécutant, BT-10) given on the buyer's purchase order. Chosen among "
        "the recipient's services once the Chorus Pro directory has been read; typed until then.",
    )
    chorus_pro_contract = fields.Char(
        string="Contract Reference",
        help="Numéro de marché (BT-12), when the purchase order refers to a public contract.",
    )
    chorus_pro_services_known = fields.Boolean(compute="_compute_chorus_pro_recipient_id")
    chorus_pro_requirements = fields.Char(
        string="Chorus Pro Requires",
        compute="_compute_chorus_pro_requirements",
        help="What Chorus Pro demands on invoices to this recipient (from its directory entry, or the budget's "
        "defaults until the directory has been read).",
    )
    chorus_pro_engagement_proposal = fields.Char(
        string="Proposed Engagement Number",
        compute="_compute_chorus_pro_engagement_proposal",
        help="The Customer Reference, which often holds the engagement number: proposed, never copied silently.",
    )

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    @api.depends("partner_invoice_id", "partner_invoice_id.chorus_pro_recipient",
                 "partner_invoice_id.parent_id.chorus_pro_recipient")
    def _compute_chorus_pro_recipient_id(self):
        for order in self:
            recipient = order.partner_invoice_id._chorus_pro_get_recipient() if order.partner_invoice_id else False
            order.chorus_pro_recipient_id = recipient
            order.chorus_pro_services_known = bool(recipient and recipient.chorus_pro_service_ids)

    @api.depends("chorus_pro_service_id")
    def _compute_chorus_pro_service_code(self):
        for order in self:
            order.chorus_pro_service_code = order.chorus_pro_service_id.code or order.chorus_pro_service_code

    @api.depends("chorus_pro_recipient_id", "chorus_pro_service_code")
    @api.depends_context("lang")
    def _compute_chorus_pro_requirements(self):
        for order in self:
            recipient = order.chorus_pro_recipient_id
            if not recipient:
                order.chorus_pro_requirements = False
                continue
            requirements = recipient._chorus_pro_requirements(service_code=order.chorus_pro_service_code or None)
            parts = []
            if requirements.engagement:
                parts.append(self.env._("an engagement number (BT-13)"))
            if requirements.service_code:
                parts.append(self.env._("a service code (BT-10)"))
            if requirements.service_or_engagement:
                parts.append(self.env._("a service code or an engagement number"))
            if parts:
                text = self.env._("%(recipient)s requires %(what)s.", recipient=recipient.display_name,
                                  what=self.env._(" and ").join(parts))
            else:
                text = self.env._("%(recipient)s requires no engagement number and no service code.",
                                  recipient=recipient.display_name)
            if recipient.chorus_pro_structure_inactive:
                text += " " + self.env._("It is inactive in the Chorus Pro directory.")
            if not recipient.chorus_pro_directory_date:
                text += " " + self.env._("(Defaults: the Chorus Pro directory has not been read for it yet.)")
            order.chorus_pro_requirements = text

    @api.depends("client_order_ref", "chorus_pro_engagement", "chorus_pro_recipient_id")
    def _compute_chorus_pro_engagement_proposal(self):
        for order in self:
            reference = (order.client_order_ref or "").strip()
            proposable = (
                order.chorus_pro_recipient_id
                and reference
                and len(reference) <= ENGAGEMENT_MAX_LENGTH
                and not (order.chorus_pro_engagement or "").strip()
            )
            order.chorus_pro_engagement_proposal = reference if proposable else False

    @api.onchange("partner_invoice_id")
    def _onchange_chorus_pro_recipient(self):
        for order in self:
            if order.chorus_pro_service_id and order.chorus_pro_service_id.partner_id != order.chorus_pro_recipient_id:
                order.chorus_pro_service_id = False
                order.chorus_pro_service_code = False

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_chorus_pro_use_customer_reference(self):
        """Button: take the Customer Reference as the engagement number (the user decides, nothing is guessed)."""
        for order in self:
            if order.chorus_pro_engagement_proposal:
                order.chorus_pro_engagement = order.chorus_pro_engagement_proposal
        return True

    def _chorus_pro_labels(self):
        """The order's fields of the routing, for ``chorus.pro.routing.check_recipient``."""
        return {
            "service": ("sale.order", "chorus_pro_service_code"),
            "engagement": ("sale.order", "chorus_pro_engagement"),
        }

    def _chorus_pro_issues(self):
        """Every problem that would make Chorus Pro reject this order's invoices (translated texts, in one
        language: the context's, else the user's)."""
        self.ensure_one()
        recipient = self.chorus_pro_recipient_id
        if not recipient:
            return []
        env = message_env(self.env)
        order = self.with_env(env).with_company(self.company_id)  # this company's view of the recipient only
        issues = order.env["chorus.pro.routing"].check_recipient(
            recipient.with_company(self.company_id),
            engagement=self.chorus_pro_engagement,
            service_code=self.chorus_pro_service_code,
            contract=self.chorus_pro_contract,
            labels=self._chorus_pro_labels(),
        )
        if issues and self.chorus_pro_engagement_proposal:
            issues.append(env._(
                "The %(field)s %(reference)s may be the engagement number: if it is, use the 'Use as engagement "
                "number' button (Other Info tab).",
                field=field_label(env, "sale.order", "client_order_ref"), reference=self.chorus_pro_engagement_proposal,
            ))
        return issues

    def action_confirm(self):
        # EXTENDS sale: the posting checks of the recipient run at confirmation, for every order at once.
        env = message_env(self.env)  # one language for the whole refusal, also over RPC without a context
        blocks = []
        for order in self:
            issues = order._chorus_pro_issues()
            if issues:
                header = env._(
                    "%(order)s (%(customer)s) cannot be confirmed: Chorus Pro would reject its invoices.",
                    order=order.name, customer=order.partner_invoice_id.with_env(env).display_name,
                )
                blocks.append("\n".join([header, *(f"- {issue}" for issue in issues)]))
        if blocks:
            raise UserError("\n\n".join(blocks))
        return super().action_confirm()

    # ------------------------------------------------------------------
    # Invoices
    # ------------------------------------------------------------------

    def _chorus_pro_invoice_values(self):
        """The invoice fields of ``l10n_fr_facturx_chorus_pro`` that the main addon sends."""
        self.ensure_one()
        values = {
            "buyer_reference": (self.chorus_pro_service_code or "").strip(),  # BT-10
            "purchase_order_reference": (self.chorus_pro_engagement or "").strip(),  # BT-13
            "contract_reference": (self.chorus_pro_contract or "").strip(),  # BT-12
        }
        return {name: value for name, value in values.items() if value}

    def _prepare_invoice(self):
        # EXTENDS sale: regular, down payment and final invoices all start from these values.
        values = super()._prepare_invoice()
        values.update(self._chorus_pro_invoice_values())
        return values

    def _chorus_pro_routing_key(self):
        self.ensure_one()
        return (
            self.chorus_pro_recipient_id.id,
            (self.chorus_pro_engagement or "").strip(),
            (self.chorus_pro_service_code or "").strip(),
            (self.chorus_pro_contract or "").strip(),
        )

    def _chorus_pro_check_grouping(self, final=False):
        """Refuse to merge into one invoice orders whose Chorus Pro routing differs (one EJ per invoice)."""
        env = message_env(self.env)
        keys = self._get_invoice_grouping_keys()
        groups = defaultdict(lambda: self.browse())
        for order in self:
            if not order.chorus_pro_recipient_id or not order._get_invoiceable_lines(final):
                continue
            values = order.with_company(order.company_id)._prepare_invoice()
            groups[tuple(str(values.get(key)) for key in keys)] |= order
        blocks = []
        for orders in groups.values():
            if len({order._chorus_pro_routing_key() for order in orders}) < 2:
                continue
            lines = [
                env._(
                    "%(order)s: recipient %(recipient)s, engagement number %(engagement)s, service code %(service)s, "
                    "contract %(contract)s", order=order.name,
                    recipient=order.chorus_pro_recipient_id.with_env(env).display_name,
                    engagement=order.chorus_pro_engagement or "-", service=order.chorus_pro_service_code or "-",
                    contract=order.chorus_pro_contract or "-",
                )
                for order in orders
            ]
            blocks.append("\n".join(f"- {line}" for line in lines))
        if blocks:
            raise UserError("\n".join([
                env._(
                    "These orders cannot be grouped into one invoice: Chorus Pro takes one engagement number, one "
                    "service code and one contract per invoice, for one recipient, and these orders differ:"
                ),
                *blocks,
                env._("Invoice them separately (untick '%(field)s' when creating the invoices).",
                      field=field_label(env, "sale.advance.payment.inv", "consolidated_billing")),
            ]))

    def _create_invoices(self, grouped=False, final=False, date=None):
        # EXTENDS sale: grouping merges orders into one invoice; refused when their routing differs.
        if not grouped and len(self) > 1:
            self._chorus_pro_check_grouping(final=final)
        return super()._create_invoices(grouped=grouped, final=final, date=date)
