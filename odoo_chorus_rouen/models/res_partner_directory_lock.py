"""One reader of a recipient's directory entry at a time.

The directory entry of a recipient can be read by several jobs at once: the refresh queued when the
settings are saved, the weekly update, the send job before a deposit, and the "Update from the Chorus
Pro directory" button. Two of them reading the same recipient at the same moment would both create
its services, and the second would fail on the one-code-per-recipient rule ("A Chorus Pro recipient
cannot have two services with the same code").

So a read first locks the recipient's row. The second reader waits for the first to commit; PostgreSQL
(repeatable read, Odoo's isolation) then refuses its now outdated view with a serialization failure:

* a request (the button, an RPC call) is replayed by Odoo with a fresh view, and reads the services the
  first reader stored;
* the jobs catch it (``res_partner.CONCURRENT_READ_ERRORS``) and move on: the other reader has just read the entry.
"""

from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"  # pylint: disable=consider-merging-classes-inherited

    def _chorus_pro_update_directory(self, client):
        self.ensure_one()
        self.env.cr.execute("SELECT id FROM res_partner WHERE id = %s FOR UPDATE", [self.id])
        return super()._chorus_pro_update_directory(client)
