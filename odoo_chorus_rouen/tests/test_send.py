"""The send job against the project's sandbox: exactly one deposit per invoice, whatever happens."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from odoo.addons.odoo_chorus_rouen.core.auth import TOKEN_CACHE
from odoo.addons.odoo_chorus_rouen.models import account_move_chorus_send as send_module
from odoo.addons.odoo_chorus_rouen.models.account_move_chorus_send import ADVISORY_NAMESPACE

from .test_posting import ChorusInvoiceCase

QUIET = (
    "odoo.addons.odoo_chorus_rouen.core.client",
    "odoo.addons.odoo_chorus_rouen.models.account_move",
    "odoo.addons.odoo_chorus_rouen.models.account_move_chorus_send",
    "odoo.addons.odoo_chorus_rouen.models.account_move_chorus_sync",
)


class _NotJsonHandler(BaseHTTPRequestHandler):
    """A gateway that gives a token but answers every API call with an HTML page."""

    status = 200

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.endswith("/oauth/token"):
            body = json.dumps({"access_token": "html-gateway-token", "token_type": "Bearer", "expires_in": 3600})
            content_type = "application/json"
            status = 200
        else:
            body = "<html><body><h1>Maintenance</h1></body></html>"
            content_type = "text/html"
            status = self.server.answer_status
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class ChorusSandboxCase(ChorusInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = cls.start_chorus_sandbox()
        cls.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.settle_delay_minutes", "0")

    def setUp(self):
        super().setUp()
        # Odoo rolls each test back (invoice numbers are reused): the platform forgets too.
        self.sandbox.reset()
        TOKEN_CACHE.clear()  # the reset platform forgot its tokens

    def send(self):
        return self.env["account.move"]._cron_chorus_pro_send()

    def sync(self):
        return self.env["account.move"]._cron_chorus_pro_sync()

    def due_now(self, *moves):
        for move in moves:
            move.chorus_pro_next_try = fields.Datetime.now() - timedelta(seconds=1)

    def deposits(self, move):
        return self.sandbox.deposits_of(move.name)

    def assertSettledOnceAs(self, invoice, state, message=None):  # noqa: N802 - unittest style
        """After a deposit whose outcome is unknown: the invoice waits in ``sending``; once due, the next run
        settles it (found on Chorus Pro, or deposited again when it is not there) into ``state``, with
        exactly one deposit on the platform."""
        self.assertEqual(invoice.chorus_pro_state, "sending", "outcome unknown: never error, never resent blindly")
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, state, message)
        self.assertEqual(self.deposits(invoice), 1)


@tagged("post_install", "-at_install")
class TestChorusProSend(ChorusSandboxCase):
    def test_send_deposits_once_and_keeps_the_file(self):
        invoice = self.make_invoice(partner=self.budgets["transports"], post=True)
        self.assertEqual(self.send(), 1)
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertTrue(invoice.chorus_pro_flow_number.startswith("CPP"))
        self.assertTrue(invoice.chorus_pro_deposit_date)
        self.assertFalse(invoice.chorus_pro_error)
        attachment = invoice.chorus_pro_attachment_id
        self.assertEqual((attachment.res_model, attachment.res_id), ("account.move", invoice.id))
        self.assertEqual(attachment.mimetype, "application/pdf")
        self.assertTrue(attachment.raw.startswith(b"%PDF"))
        self.assertEqual(self.deposits(invoice), 1)
        self.assertIn(invoice.chorus_pro_flow_number, invoice.message_ids[0].body)
        # Nothing more to do: a second run deposits nothing.
        self.assertEqual(self.send(), 0)
        self.assertEqual(self.deposits(invoice), 1)

    def test_credit_note_is_sent(self):
        invoice = self.make_invoice(post=True)
        credit_note = self.make_credit_note(invoice, post=True)
        self.send()
        self.assertEqual((invoice.chorus_pro_state, credit_note.chorus_pro_state), ("sent", "sent"))
        self.assertEqual(self.deposits(credit_note), 1)

    def test_missing_settings_then_resend(self):
        self.company.sudo().chorus_pro_client_secret = False
        invoice = self.make_invoice(post=True)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("Chorus Pro settings are missing", invoice.chorus_pro_error)
        self.assertIn("Not sent to Chorus Pro", invoice.message_ids[0].body)
        self.assertEqual(self.deposits(invoice), 0)
        self.set_chorus_sandbox_settings(self.company)
        invoice.action_chorus_pro_send()
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)

    @mute_logger(*QUIET)
    def test_validation_errors_block_the_deposit(self):
        invoice = self.make_invoice(post=True)
        real_export = type(self.env["account.edi.xml.cii"])._export_invoice

        def export_without_payment_means(builder, move):
            # A file that breaks Chorus Pro's rules (as if the exporter regressed): no BT-81, no IBAN.
            xml, errors = real_export(builder, move)
            return xml.replace(b"<ram:TypeCode>30</ram:TypeCode>", b""), errors

        with patch.object(type(self.env["account.edi.xml.cii"]), "_export_invoice", export_without_payment_means):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("nothing was sent", invoice.chorus_pro_error)
        self.assertIn("- ", invoice.chorus_pro_error)
        self.assertGreaterEqual(invoice.chorus_pro_error.count("\n- "), 1, "every finding is listed")
        self.assertFalse(invoice.chorus_pro_attachment_id)
        self.assertEqual(self.deposits(invoice), 0)

    @mute_logger(*QUIET)
    def test_nothing_is_sent_half_built(self):
        invoice = self.make_invoice(post=True)
        with patch("facturx.generate_from_binary", side_effect=Exception("broken PDF")):
            self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("broken PDF", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 0)

    # --- faults: exactly one deposit -------------------------------------------------------------

    @mute_logger(*QUIET)
    def test_connection_cut_after_the_deposit(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("cut", operation="deposerFluxFacture")
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending", "outcome unknown: never error, never resent blindly")
        self.assertFalse(invoice.chorus_pro_flow_number)
        self.assertIn("may have been recorded", invoice.chorus_pro_error)
        self.assertFalse(invoice.chorus_pro_can_send)
        self.assertEqual(self.deposits(invoice), 1)
        self.due_now(invoice)
        self.send()
        # Adopted from Chorus Pro's search, with the status it has there (the sandbox integrates at once).
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        self.assertTrue(invoice.chorus_pro_invoice_id)
        self.assertTrue(invoice.chorus_pro_flow_number)
        self.assertIn("not sent again", invoice.message_ids.mapped("body")[1])
        self.assertEqual(self.deposits(invoice), 1)

    @mute_logger(*QUIET)
    def test_timeout_after_the_deposit(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("slow", operation="deposerFluxFacture", delay=1.5)
        real_factory = type(self.env["res.company"])._chorus_pro_get_client

        def short_timeout(company):
            client = real_factory(company)
            client.timeout = 0.5
            return client

        with patch.object(type(self.env["res.company"]), "_chorus_pro_get_client", short_timeout):
            self.send()
        self.assertSettledOnceAs(invoice, "delivered", "found on Chorus Pro: adopted, not resent")

    @mute_logger(*QUIET)
    def test_500_after_recording(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("http_500_after", operation="deposerFluxFacture")
        self.send()
        self.assertSettledOnceAs(invoice, "delivered", "found on Chorus Pro: adopted, not resent")

    @mute_logger(*QUIET)
    def test_500_before_recording(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("http_500", operation="deposerFluxFacture")
        self.send()  # a 500 on a write is an unknown outcome
        self.assertSettledOnceAs(invoice, "sent", "not found on Chorus Pro, settle delay over: deposited again")

    @mute_logger(*QUIET)
    def test_429_backs_off(self):
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("http_429", operation="deposerFluxFacture", retry_after=120)
        before = fields.Datetime.now()
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "to_send")
        self.assertEqual(invoice.chorus_pro_attempts, 1)
        self.assertGreaterEqual(invoice.chorus_pro_next_try, before + timedelta(seconds=119))
        self.assertEqual(self.send(), 0, "not due yet")
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)

    @mute_logger(*QUIET)
    def test_503_retries_then_gives_up(self):
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.max_attempts", "2")
        invoice = self.make_invoice(post=True)
        self.sandbox.inject_fault("http_503", operation="deposerFluxFacture", count=2)
        self.send()
        self.assertEqual((invoice.chorus_pro_state, invoice.chorus_pro_attempts), ("to_send", 1))
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "error")
        self.assertIn("after 2 attempts", invoice.chorus_pro_error)
        self.assertEqual(self.deposits(invoice), 0)
        invoice.action_chorus_pro_send()
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)

    @mute_logger(*QUIET)
    def test_expired_token(self):
        invoice = self.make_invoice(post=True)
        self.send()  # a token is cached
        second = self.make_invoice(post=True)
        self.sandbox.inject_fault("expire_token", operation="deposerFluxFacture")
        self.send()
        self.assertEqual((invoice.chorus_pro_state, second.chorus_pro_state), ("sent", "sent"))
        self.assertEqual(self.deposits(second), 1)

    @mute_logger(*QUIET)
    def test_answer_that_is_not_json(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _NotJsonHandler)
        server.answer_status = 200
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        gateway = f"http://127.0.0.1:{server.server_address[1]}"

        # 200 with an HTML page on a deposit: it may have been taken -> settle, never an error.
        invoice = self.make_invoice(post=True)
        self.company.sudo().chorus_pro_base_url = gateway
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending")
        self.assertIn("not JSON", invoice.chorus_pro_error)
        # 400 with an HTML page: refused, a person must look.
        server.answer_status = 400
        other = self.make_invoice(post=True)
        self.send()
        self.assertEqual(other.chorus_pro_state, "error")
        self.assertIn("could not be understood", other.chorus_pro_error)
        # Back on the real platform: the first one is settled and sent once, the second is resent by hand.
        self.company.sudo().chorus_pro_base_url = self.sandbox.url
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent", "not on Chorus Pro: deposited (once)")
        other.action_chorus_pro_send()
        self.send()
        self.assertEqual(other.chorus_pro_state, "sent")
        self.assertEqual((self.deposits(invoice), self.deposits(other)), (1, 1))

    # --- a worker dies; two workers at once ----------------------------------------------------

    def test_worker_died_after_depositing(self):
        """State ``sending`` without a flow number: the dead worker's deposit reached Chorus Pro."""
        invoice = self.make_invoice(post=True)
        data, filename, syntax = invoice._chorus_pro_build_file()
        invoice._chorus_pro_store_file(data, filename)
        invoice.write({"chorus_pro_state": "sending", "chorus_pro_send_started": fields.Datetime.now()})
        self.company._chorus_pro_get_client().deposit_flow(data, filename, syntax)  # what the dead worker did
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "delivered")
        self.assertTrue(invoice.chorus_pro_invoice_id)
        self.assertEqual(self.deposits(invoice), 1)

    def test_worker_died_before_depositing(self):
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.settle_delay_minutes", "10")
        invoice = self.make_invoice(post=True)
        data, filename, _syntax = invoice._chorus_pro_build_file()
        invoice._chorus_pro_store_file(data, filename)
        started = fields.Datetime.now()
        invoice.write({"chorus_pro_state": "sending", "chorus_pro_send_started": started})
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sending", "not found yet: wait for the settle delay")
        # Looked up again soon (a first deposit integrated late is adopted), within the settle delay.
        self.assertLessEqual(invoice.chorus_pro_next_try, started + timedelta(minutes=10))
        self.assertGreaterEqual(invoice.chorus_pro_next_try, started + timedelta(seconds=30))
        self.assertEqual(self.deposits(invoice), 0)
        invoice.chorus_pro_send_started = started - timedelta(minutes=11)
        self.due_now(invoice)
        self.send()
        self.assertEqual(invoice.chorus_pro_state, "sent")
        self.assertEqual(self.deposits(invoice), 1)
        self.assertEqual(invoice.chorus_pro_attachment_id.name, filename, "the very file built before")

    def test_two_send_jobs_never_take_the_same_invoice(self):
        invoice = self.make_invoice(post=True)
        with self.env.registry.cursor() as other_worker:
            other_worker.execute("SELECT pg_advisory_lock(%s, %s)", (ADVISORY_NAMESPACE, invoice.id))
            self.assertEqual(self.send(), 0)
            self.assertEqual(invoice.chorus_pro_state, "to_send")
            self.assertEqual(self.deposits(invoice), 0)
            other_worker.execute("SELECT pg_advisory_unlock(%s, %s)", (ADVISORY_NAMESPACE, invoice.id))
        self.assertEqual(self.send(), 1)
        self.assertEqual(self.deposits(invoice), 1)

    def test_the_job_takes_a_batch_and_calls_itself_again(self):
        invoices = [self.make_invoice(post=True) for _i in range(3)]
        triggers = self.trigger_count(self.send_cron)
        self.assertEqual(self.env["account.move"]._cron_chorus_pro_send(batch_size=2), 2)
        self.assertEqual(self.trigger_count(self.send_cron), triggers + 1)
        self.assertEqual(self.env["account.move"]._cron_chorus_pro_send(batch_size=2), 1)
        self.assertEqual([i.chorus_pro_state for i in invoices], ["sent"] * 3)

    def _fake_clock(self, seconds_per_invoice):
        """Patch the send job's clock: every invoice it processes takes ``seconds_per_invoice``."""
        clock = {"now": 1000.0}
        fake_time = SimpleNamespace(monotonic=lambda: clock["now"])
        original = type(self.env["account.move"])._chorus_pro_send_one

        def send_one(move, clients):
            clock["now"] += seconds_per_invoice
            return original(move, clients)

        return [
            patch.object(send_module, "time", fake_time),
            patch.object(type(self.env["account.move"]), "_chorus_pro_send_one", send_one),
        ]

    def test_the_job_stops_at_its_time_budget_and_calls_itself_again(self):
        invoices = [self.make_invoice(post=True) for _i in range(3)]
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.send_time_budget_seconds", "60")
        triggers = self.trigger_count(self.send_cron)
        patches = self._fake_clock(40)
        with patches[0], patches[1], patch.dict(config.options, {"limit_time_real_cron": 0}):
            # 0 s: first invoice, 40 s: second, 80 s: past the budget, the third waits for the next pass.
            self.assertEqual(self.env["account.move"]._cron_chorus_pro_send(batch_size=50), 2)
            self.assertEqual([i.chorus_pro_state for i in invoices], ["sent", "sent", "to_send"])
            self.assertEqual(self.trigger_count(self.send_cron), triggers + 1, "the next pass is triggered")
            self.assertEqual(self.env["account.move"]._cron_chorus_pro_send(batch_size=50), 1)
        self.assertEqual([self.deposits(i) for i in invoices], [1, 1, 1])

    def test_calls_chained_by_the_cron_runner_share_one_time_budget(self):
        invoices = [self.make_invoice(post=True) for _i in range(4)]
        self.env["ir.config_parameter"].sudo().set_param("odoo_chorus_rouen.send_time_budget_seconds", "60")
        progress = self.env["ir.cron.progress"].sudo().create({"cron_id": self.send_cron.id})
        in_cron = self.env["account.move"].with_context(cron_id=self.send_cron.id, ir_cron_progress_id=progress.id)
        patches = self._fake_clock(40)
        self.addCleanup(lambda: self.env.cr.__dict__.pop(send_module.PASS_CLOCK_ATTRIBUTE, None))
        with patches[0], patches[1], patch.dict(config.options, {"limit_time_real_cron": 0}):
            self.assertEqual(in_cron._cron_chorus_pro_send(batch_size=1), 1)
            self.assertEqual(progress.remaining, 3, "more to do: Odoo's runner calls the job again at once")
            # The chained call starts 40 s into the pass: one more invoice, then the budget is spent.
            self.assertEqual(in_cron._cron_chorus_pro_send(batch_size=5), 1)
            self.assertEqual(progress.remaining, 0, "out of time: not chained again in this pass")
            self.assertEqual([i.chorus_pro_state for i in invoices], ["sent", "sent", "to_send", "to_send"])
            # The runner's next pass comes with a new cursor, hence a fresh budget (same cursor here: forget).
            delattr(self.env.cr, send_module.PASS_CLOCK_ATTRIBUTE)
            self.assertEqual(in_cron._cron_chorus_pro_send(batch_size=5), 2)
        self.assertEqual([i.chorus_pro_state for i in invoices], ["sent"] * 4)

    def test_the_time_budget_stays_under_the_cron_time_limit(self):
        Move = self.env["account.move"]
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("odoo_chorus_rouen.send_time_budget_seconds", "30")
        with patch.dict(config.options, {"limit_time_real_cron": 600}):
            self.assertEqual(Move._chorus_pro_send_time_budget(), 30, "the parameter, well under a long limit")
        # Odoo's default: the cron limit is the HTTP one, 120 s, of which a cron worker may sleep 70 s.
        with patch.dict(config.options, {"limit_time_real_cron": -1, "limit_time_real": 120}):
            self.assertEqual(Move._chorus_pro_send_time_budget(), 25)
        with patch.dict(config.options, {"limit_time_real_cron": 60}):
            self.assertEqual(Move._chorus_pro_send_time_budget(), 10, "never below a few invoices")
        ICP.set_param("odoo_chorus_rouen.send_time_budget_seconds", "0")
        with patch.dict(config.options, {"limit_time_real_cron": 0, "limit_time_real": 0}):
            self.assertEqual(Move._chorus_pro_send_time_budget(), 0, "no limit anywhere: none")
        with patch.dict(config.options, {"limit_time_real_cron": 300}):
            self.assertEqual(Move._chorus_pro_send_time_budget(), 115, "never past the server's limit")

    def test_one_failure_does_not_stop_the_others(self):
        bad = self.make_invoice(post=True)
        good = self.make_invoice(post=True)
        original = type(bad)._chorus_pro_build_file

        def build(move):
            if move == bad:
                raise RuntimeError("unexpected")
            return original(move)

        with patch.object(type(bad), "_chorus_pro_build_file", build), mute_logger(*QUIET):
            self.send()
        self.assertEqual(good.chorus_pro_state, "sent")
        self.assertEqual(bad.chorus_pro_state, "error")
        self.assertIn("unexpected", bad.chorus_pro_error)
