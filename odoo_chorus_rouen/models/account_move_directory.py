"""The send job's last look before a deposit: the recipient's directory entry, read again when old.

Posting checks the invoice against what the addon knows of its recipient; that may be the budget's
default guess (the directory never read) or an old reading. Right before the deposit, in the send
job (never in the posting transaction), a recipient never read or read more than
``directory_max_age_days`` days ago (parameter ``odoo_chorus_rouen.directory_max_age_days``, default 7;
0: before every deposit) is read again with the invoice's company account. When the fresh entry shows
Chorus Pro would reject the invoice (a service code now required, a service closed, the structure
inactive, the SIRET unknown), the invoice is held: not deposited, state *Error* with the reason and
the fix, a to-do for its responsible; "Resend to Chorus Pro" checks it again after the fix.
"""

import logging

from markupsafe import Markup

from odoo import _, models
from odoo.exceptions import UserError, ValidationError

from ..core import delivery  # noqa: TID252
from ..core.errors import ChorusError  # noqa: TID252
from .res_partner import CONCURRENT_READ_ERRORS

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    def _chorus_pro_check_directory_before_deposit(self, client):
        """Read the recipient again when its entry is stale; hold the invoice if Chorus Pro would reject it.

        :param client: the invoice company's ``ChorusClient`` (never another company's account).
        :return: None when the deposit may go on, else the send job's outcome ("error", "retry").
        """
        self.ensure_one()
        if self.chorus_pro_state != "to_send":  # "sending": a deposit may exist, it is settled first
            return None
        recipient = self._chorus_pro_recipient()
        if not recipient or not recipient._chorus_pro_directory_is_stale():
            return None
        try:
            with self.env.cr.savepoint():
                recipient._chorus_pro_update_directory(client)
        except CONCURRENT_READ_ERRORS:
            # Another job read this recipient meanwhile; its entry is fresh but not visible here yet.
            return self._chorus_pro_fail(
                _("The Chorus Pro directory entry of %(contact)s was being read by another job: the invoice is "
                  "checked again and deposited in a moment.", contact=recipient.display_name),
                retry=True, retry_after=30,
            )
        except ChorusError as err:
            text = self._chorus_pro_error_text(err)
            recipient._chorus_pro_directory_failed(text)
            if delivery.classify_failure(err).kind != "error":
                # The platform could not be asked now: the deposit would fail the same way; try later.
                return self._chorus_pro_fail(
                    _("The Chorus Pro directory could not be read before the deposit: %(error)s", error=text),
                    retry=True, retry_after=getattr(err, "retry_after", None),
                )
            _logger.warning("Chorus Pro: directory of partner %s unreadable before the deposit of invoice %s, "
                            "deposited with what is known: %s", recipient.id, self.id, err)
            return None
        except (UserError, ValidationError) as err:  # e.g. Chorus Pro does not know the SIRET
            recipient._chorus_pro_directory_failed(err.args[0])
            return self._chorus_pro_hold(recipient, [err.args[0]])
        issues = self._chorus_pro_check_issues()
        if not issues:
            return None
        return self._chorus_pro_hold(recipient, issues)

    def _chorus_pro_hold(self, recipient, issues):
        """Keep the invoice from the deposit: state error, the reason and the fix, a to-do."""
        self.ensure_one()
        message = "\n".join([
            _("Held before the deposit: the Chorus Pro directory entry of %(contact)s, read just now, shows that "
              "Chorus Pro would reject this invoice:", contact=recipient.display_name),
            *(f"- {issue}" for issue in issues),
            _("Correct the invoice (Other Info tab), then use 'Resend to Chorus Pro': it is checked again and "
              "deposited once."),
        ])
        user = self.invoice_user_id or self.create_uid
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Chorus Pro: held before the deposit"),
            note=Markup("<br/>").join(message.splitlines()),
            user_id=user.id if user and user.active and not user.share else self.env.uid,
        )
        return self._chorus_pro_fail(message)
