"""Qualification on the invoice: deposited to the test recipient of the data set, or held before any deposit.

On a qualification platform (``res.company._chorus_pro_on_qualification``: Qualification, or a sandbox
playing it) the platform holds only the company's test data set. The send job, before any deposit:

* holds the invoice (state *Error*, a sentence that says what to set, no deposit) when the company has
  no test supplier, or when its recipient is neither mapped to a test recipient nor a test recipient
  itself; saving the data set queues such invoices again by themselves;
* otherwise builds the Factur-X with Odoo's exporter **from the mapped recipient** (buyer SIRET, name and
  service code of the test recipient, seller SIRET of the test supplier; the invoice's engagement number
  kept) and validates it as usual, with the test recipient's rules; the chatter and the Chorus Pro tab
  say "qualification: sent to test recipient X instead of Budget Principal".

What was deposited is kept on the invoice (``chorus_pro_test_*``): the settling of an uncertain deposit,
the status sync (by Chorus Pro id and flow), recycling, completion and late-payment claims work with the
test recipient. **Production never maps**: nothing here applies outside the qualification platforms, and
an invoice built for production carries its real recipient whatever the data set says.
"""

from collections import namedtuple

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..core.budgets import compact_siret  # noqa: TID252
from ..core.recipient_map import shown_siret  # noqa: TID252

#: The parties an invoice file carries on Chorus Pro.
Routing = namedtuple("Routing", "buyer_siret buyer_name seller_siret service_code test")

_CONTEXT_KEY = "chorus_pro_deposit_routing"  # set while the deposited file is built


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    chorus_pro_test_recipient_siret = fields.Char(
        string="Test Recipient SIRET (qualification)", copy=False, readonly=True,
        help="On qualification, the invoice was deposited to this test recipient of the data set instead of its "
        "real recipient.",
    )
    chorus_pro_test_recipient_name = fields.Char(string="Test Recipient (qualification)", copy=False, readonly=True)
    chorus_pro_test_supplier_siret = fields.Char(string="Test Supplier SIRET (qualification)", copy=False,
                                                 readonly=True)
    chorus_pro_test_service_code = fields.Char(string="Test Service Code (qualification)", copy=False, readonly=True)
    chorus_pro_qualification_held = fields.Boolean(copy=False, readonly=True)
    chorus_pro_qualification_note = fields.Char(
        string="Qualification", compute="_compute_chorus_pro_qualification_note"
    )

    @api.depends("chorus_pro_test_recipient_siret", "chorus_pro_test_recipient_name", "partner_id",
                 "chorus_pro_flow_number", "chorus_pro_invoice_id")
    @api.depends_context("lang")
    def _compute_chorus_pro_qualification_note(self):
        for move in self:
            move.chorus_pro_qualification_note = move._chorus_pro_qualification_sentence() or False

    def _chorus_pro_qualification_sentence(self):
        """"qualification: sent to test recipient X instead of Budget Principal", or ''."""
        self.ensure_one()
        if not self.chorus_pro_test_recipient_siret or not (self.chorus_pro_flow_number or self.chorus_pro_invoice_id):
            return ""  # built, not (known to be) deposited yet
        test = shown_siret(self.chorus_pro_test_recipient_siret)
        if self.chorus_pro_test_recipient_name:
            test = f"{test} ({self.chorus_pro_test_recipient_name})"
        real = self._chorus_pro_recipient()
        return _("qualification: sent to test recipient %(test)s instead of %(real)s (SIRET %(siret)s)",
                 test=test, real=real.display_name, siret=shown_siret(real.siret))

    # -------------------------------------------------------------------------
    # The parties of the deposited file
    # -------------------------------------------------------------------------

    def _chorus_pro_routing(self):
        """The buyer and seller the Factur-X carries: the real ones, or, while the file for a qualification
        deposit is built (and for everything that follows it), the test ones recorded on the invoice."""
        self.ensure_one()
        recipient = self._chorus_pro_recipient()
        real = Routing(
            compact_siret(recipient.siret or ""), recipient.display_name, compact_siret(self.company_id.siret or ""),
            (self.buyer_reference or "").strip(), False,
        )
        if not self.env.context.get(_CONTEXT_KEY) or not self._chorus_pro_deposited_on_qualification():
            return real
        if not self.chorus_pro_test_recipient_siret:  # the recipient is itself a test recipient: only the seller
            return real._replace(seller_siret=compact_siret(self.chorus_pro_test_supplier_siret), test=True)
        return Routing(
            compact_siret(self.chorus_pro_test_recipient_siret), self.chorus_pro_test_recipient_name or real.buyer_name,
            compact_siret(self.chorus_pro_test_supplier_siret or "") or real.seller_siret,
            self.chorus_pro_test_service_code or "", True,
        )

    def _chorus_pro_deposited_on_qualification(self):
        """Whether the invoice's file was built for a qualification deposit (test parties recorded)."""
        self.ensure_one()
        return bool(self.chorus_pro_test_recipient_siret or self.chorus_pro_test_supplier_siret)

    def _chorus_pro_deposited_sirets(self):
        """(buyer SIRET, supplier SIRET) of the invoice as Chorus Pro holds it (test ones after a qualification
        deposit): what the look-ups of an uncertain deposit and of a duplicate match on."""
        self.ensure_one()
        routing = self.with_context(**{_CONTEXT_KEY: True})._chorus_pro_routing()
        return routing.buyer_siret, routing.seller_siret

    def _chorus_pro_file_requirements(self):
        """What the buyer of the deposited file demands, keyed by its SIRET (the validation's routing rules)."""
        self.ensure_one()
        routing = self._chorus_pro_routing()
        line = self._chorus_pro_data_set_line() if routing.test else None
        if line:
            return {routing.buyer_siret: line._requirements()}
        recipient = self._chorus_pro_recipient()
        return {compact_siret(recipient.siret or ""): self._chorus_pro_requirements(recipient, self.buyer_reference)}

    def _chorus_pro_data_set_line(self):
        return self.company_id._chorus_pro_test_recipient_for(self._chorus_pro_recipient())

    # -------------------------------------------------------------------------
    # Before the deposit: hold, or record the test parties
    # -------------------------------------------------------------------------

    def _chorus_pro_qualification_issues(self):
        """Why this invoice cannot be deposited on the company's qualification platform (sentences), or []."""
        self.ensure_one()
        company = self.company_id
        if not company._chorus_pro_on_qualification():
            return []
        recipient = self._chorus_pro_recipient()
        issues = []
        if not company.chorus_pro_test_supplier_siret:
            issues.append(_(
                "the company has no test supplier: set the SIRET of your data set's test supplier (Invoicing > "
                "Configuration > Settings > Chorus Pro, Qualification data set, or 'Read the data set')."
            ))
        line = company._chorus_pro_test_recipient_for(recipient)
        if not line and not company._chorus_pro_is_test_recipient(recipient):
            issues.append(_(
                "%(recipient)s (SIRET %(siret)s) is not on the qualification platform, which holds only your test "
                "data set: map it to a test recipient of your data set (Invoicing > Configuration > Settings > "
                "Chorus Pro > Qualification test recipients), or switch to Production to send real invoices.",
                recipient=recipient.display_name, siret=shown_siret(recipient.siret),
            ))
        elif line and line.engagement_required and not (self.purchase_order_reference or "").strip():
            issues.append(_("the test recipient %(test)s requires an engagement number (BT-13): fill it on the "
                            "invoice.", test=line._describe()))
        return issues

    def _chorus_pro_check_directory_before_deposit(self, client):
        # EXTENDS odoo_chorus_rouen: on qualification, hold what the data set cannot take; a mapped recipient's
        # real directory entry is not read there (the qualification directory does not hold it).
        self.ensure_one()
        if self.chorus_pro_state == "to_send" and self.company_id._chorus_pro_on_qualification():
            issues = self._chorus_pro_qualification_issues()
            if issues:
                return self._chorus_pro_qualification_hold(issues)
            if self._chorus_pro_data_set_line():
                return None
        return super()._chorus_pro_check_directory_before_deposit(client)

    def _chorus_pro_qualification_hold(self, issues):
        message = "\n".join([
            _("Held before any deposit (qualification):"),
            *(f"- {issue}" for issue in issues),
            _("Once it is set, the invoice is queued again by itself (or use 'Resend to Chorus Pro')."),
        ])
        self.write({"chorus_pro_qualification_held": True})
        return self._chorus_pro_fail(message)

    def _chorus_pro_build_file(self):
        # EXTENDS odoo_chorus_rouen: on qualification the file is built from the mapped recipient and the test
        # supplier (recorded first, so that everything after the deposit works with them).
        self.ensure_one()
        vals = {"chorus_pro_test_recipient_siret": False, "chorus_pro_test_recipient_name": False,
                "chorus_pro_test_supplier_siret": False, "chorus_pro_test_service_code": False,
                "chorus_pro_qualification_held": False}
        company = self.company_id
        issues = company._chorus_pro_on_qualification() and self._chorus_pro_qualification_issues()
        if issues and self.env.context.get("chorus_pro_depositing"):
            # Checked before the deposit already; should the data set have changed since: never deposit to a
            # real recipient on qualification.
            raise UserError("\n".join([_("Held before any deposit (qualification):"),
                                       *(f"- {issue}" for issue in issues)]))
        if company._chorus_pro_on_qualification() and not issues:
            line = self._chorus_pro_data_set_line()
            vals["chorus_pro_test_supplier_siret"] = compact_siret(company.chorus_pro_test_supplier_siret)
            if line:  # else the recipient is itself a test recipient of the data set: it stays
                vals.update({
                    "chorus_pro_test_recipient_siret": compact_siret(line.test_siret),
                    "chorus_pro_test_recipient_name": line.test_name or False,
                    "chorus_pro_test_service_code": line.test_service_code or False,
                })
        self._chorus_pro_write(vals)
        try:
            return super(AccountMove, self.with_context(**{_CONTEXT_KEY: True}))._chorus_pro_build_file()
        except Exception:
            # Nothing is deposited: the invoice must not say where it went.
            self._chorus_pro_write({key: False for key in vals})
            raise

    def _chorus_pro_deposit(self, client):
        # EXTENDS odoo_chorus_rouen: the chatter says where a qualification deposit went.
        outcome = super(AccountMove, self.with_context(chorus_pro_depositing=True))._chorus_pro_deposit(client)
        if outcome == "sent" and self._chorus_pro_deposited_on_qualification():
            sentence = self._chorus_pro_qualification_sentence() or _("qualification: sent to %(recipient)s, a "
                                                                         "test recipient of the data set",
                                                                         recipient=self.partner_id.display_name)
            supplier = self.chorus_pro_test_supplier_siret
            if supplier and supplier != compact_siret(self.company_id.siret or ""):
                sentence = _("%(sentence)s, from test supplier %(supplier)s", sentence=sentence,
                             supplier=shown_siret(supplier))
            self._message_log(body=Markup("%s.") % (sentence[:1].upper() + sentence[1:]))
            self._chorus_pro_commit()
        return outcome

    # -------------------------------------------------------------------------
    # After the deposit
    # -------------------------------------------------------------------------

    def _chorus_pro_apply_status(self, code, status_date=None, comment=None):
        # EXTENDS odoo_chorus_rouen: the first status read back on qualification completes "qualification tried".
        changed = super()._chorus_pro_apply_status(code, status_date, comment)
        if code and self._chorus_pro_deposited_on_qualification() and self.company_id._chorus_pro_on_qualification():
            self.company_id._chorus_pro_qualification_tried(self)
        return changed

    def _chorus_pro_recycle_routing(self, partner, service_code):
        # EXTENDS odoo_chorus_rouen: an invoice deposited on qualification is recycled to a test recipient.
        if not self._chorus_pro_deposited_on_qualification():
            return super()._chorus_pro_recycle_routing(partner, service_code)
        company = self.company_id
        line = company._chorus_pro_test_recipient_for(partner)
        if line:
            return compact_siret(line.test_siret), line.test_service_code or ""
        if company._chorus_pro_is_test_recipient(partner):
            return super()._chorus_pro_recycle_routing(partner, service_code)
        raise UserError(_(
            "This invoice was deposited on qualification: %(recipient)s must be mapped to a test recipient of your "
            "data set before it can be recycled to it (Settings > Chorus Pro > Qualification test recipients).",
            recipient=partner.display_name,
        ))

    def _chorus_pro_recycle(self, partner, service_code, engagement, comment=None):
        # EXTENDS odoo_chorus_rouen: the test recipient recorded follows the recycling.
        result = super()._chorus_pro_recycle(partner, service_code, engagement, comment)
        if self._chorus_pro_deposited_on_qualification():
            line = self.company_id._chorus_pro_test_recipient_for(partner)
            if line:
                self._chorus_pro_write({
                    "chorus_pro_test_recipient_siret": compact_siret(line.test_siret),
                    "chorus_pro_test_recipient_name": line.test_name or False,
                    "chorus_pro_test_service_code": line.test_service_code or False,
                })
        return result
