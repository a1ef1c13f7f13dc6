"""The outbox keeps following an invoice as long as Chorus Pro says its status may still change."""

from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.core.status import invoice_status
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii


def test_a_buyer_refusal_is_followed_until_a_final_status(tmp_path):
    assert not invoice_status("REFUSEE_1").final  # core/status.py: a refusal by a validator is not final
    with SandboxServer() as sandbox:
        box = Outbox(
            str(tmp_path / "journal.sqlite3"),
            lambda: ChorusClient(Credentials.coerce(sandbox.credentials), Endpoints.from_base_url(sandbox.url),
                                 timeout=5),
        )
        box.add(make_cii("RF-0001"))
        assert box.send_due() == {"sent": 1}
        box.sync()
        chorus_id = box.get("RF-0001").chorus_id
        sandbox.set_invoice_status(chorus_id, "REFUSEE_1", "Montant erroné")
        box.sync()
        refused = box.get("RF-0001")
        assert refused.state == "rejected" and refused.status == "REFUSEE_1"
        assert not refused.final
        # The validator changes his mind: the outbox still looks, and sees it.
        sandbox.set_invoice_status(chorus_id, "MISE_EN_PAIEMENT")
        assert box.sync() == {"updated": 1}
        paid = box.get("RF-0001")
        assert paid.state == "paid" and paid.final
        box.close()
