"""``chorus-rouen odoo``: the parts that need no server (arguments, output, error messages).

The commands themselves are run against a real Odoo 18 in the lab (see the closing notes).
"""

import argparse
import json
import urllib.error

import pytest

from odoo_chorus_rouen import cli, odoo_ops
from odoo_chorus_rouen.core.budgets import BUDGETS


def ns(**kw):
    base = {"url": None, "db": None, "user": None, "password": None, "timeout": None}
    return argparse.Namespace(**{**base, **kw})


def test_settings_from_environment_and_url_parsing():
    settings = odoo_ops.connection_settings(
        ns(), environ={"ODOO_URL": "https://erp.example.fr", "ODOO_DB": "prod", "ODOO_PASSWORD": "pw"}
    )
    assert settings["protocol"] == "jsonrpc+ssl" and settings["port"] == 443
    assert settings["user"] == "admin" and settings["db"] == "prod"
    settings = odoo_ops.connection_settings(ns(url="127.0.0.1:8069", db="d", password="p"), environ={})
    assert (settings["host"], settings["port"], settings["protocol"]) == ("127.0.0.1", 8069, "jsonrpc")


@pytest.mark.parametrize("url", ["ftp://host", "http://", "http://host:notaport"])
def test_bad_url_is_one_clear_line(url):
    with pytest.raises(odoo_ops.OdooError, match="URL|port"):
        odoo_ops.connection_settings(ns(url=url, db="d", password="p"), environ={})


def test_missing_database_is_named():
    with pytest.raises(odoo_ops.OdooError, match="ODOO_DB"):
        odoo_ops.connection_settings(ns(password="p"), environ={})


def test_password_is_asked_without_echo_when_missing():
    prompts = []
    settings = odoo_ops.connection_settings(
        ns(db="d"), environ={}, ask_password=lambda prompt: prompts.append(prompt) or "typed"
    )
    assert settings["password"] == "typed"
    assert prompts == ["Odoo password for admin on d: "]


class FakeOdoo:
    """Answers execute_kw like an Odoo with the addon installed."""

    def __init__(self, databases=("lab",), login_error=None, module_state="installed", moves=()):
        self.databases = list(databases)
        self.login_error = login_error
        self.module_state = module_state
        self.moves = list(moves)
        self.calls = []
        self.db = self

    def list(self):
        return self.databases

    def login(self, db, user, password):
        if self.login_error:
            raise self.login_error

    def execute_kw(self, model, method, args, kwargs):
        self.calls.append((model, method, args))
        if model == "ir.module.module" and method == "search_read":
            return [{"id": 7, "state": self.module_state}] if self.module_state else []
        if model == MOVE and method == "read_group":
            counts = {}
            for move in self.moves:
                counts[move["chorus_pro_state"]] = counts.get(move["chorus_pro_state"], 0) + 1
            return [{"chorus_pro_state": k, "__count": v} for k, v in counts.items()]
        if model == MOVE and method == "search_read":
            domain = args[0]
            if domain[0][0] == "name":
                return [
                    {
                        "id": m["id"],
                        "name": m["name"],
                        "company_id": [m.get("company", 1), f"Company {m.get('company', 1)}"],
                        "chorus_pro_is_recipient": m.get("recipient", True),
                    }
                    for m in self.moves
                    if m["name"] in domain[0][2]
                ]
            return [m for m in self.moves if m["chorus_pro_state"] in domain[0][2]]
        if model == MOVE and method in ("action_chorus_pro_send", "action_chorus_pro_resend"):
            return True
        raise AssertionError(f"unexpected call {model}.{method}")


MOVE = odoo_ops.MOVE


def move(id_, name, state, status="", error=""):
    return {
        "id": id_,
        "name": name,
        "partner_id": [3, "Métropole Rouen Normandie, Budget Principal"],
        "chorus_pro_state": state,
        "chorus_pro_status": status,
        "chorus_pro_error": error,
        "chorus_pro_flow_number": "CPP0011117000000000300001",
        "chorus_pro_last_sync": "2026-11-26 10:00:00",
    }


SETTINGS = {"url": "http://127.0.0.1:8069", "host": "127.0.0.1", "port": 8069, "protocol": "jsonrpc",
            "db": "lab", "user": "admin", "password": "secret-pw", "timeout": 5}


def test_connect_errors_are_one_line_each():
    def refused(*a, **k):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    with pytest.raises(odoo_ops.OdooError, match="cannot reach Odoo at http://127.0.0.1:8069"):
        odoo_ops.connect(SETTINGS, factory=refused)
    with pytest.raises(odoo_ops.OdooError, match=r"database 'lab' does not exist .*databases: other"):
        odoo_ops.connect(SETTINGS, factory=lambda *a, **k: FakeOdoo(databases=["other"]))
    with pytest.raises(odoo_ops.OdooError, match="wrong login or password") as err:
        refused = FakeOdoo(login_error=Exception("Wrong login ID or password"))
        odoo_ops.connect(SETTINGS, factory=lambda *a, **k: refused)
    assert "secret-pw" not in str(err.value)


def test_missing_addon_says_how_to_fix():
    with pytest.raises(odoo_ops.OdooError, match="odoo setup"):
        odoo_ops.require_addon(FakeOdoo(module_state="uninstalled"), "lab")
    with pytest.raises(odoo_ops.OdooError, match="not on the server's addons path"):
        odoo_ops.require_addon(FakeOdoo(module_state=None), "lab")


def test_status_counts_and_lists_what_needs_a_person():
    fake = FakeOdoo(
        moves=[
            move(1, "INV/2026/00001", "paid", "MISE_EN_PAIEMENT"),
            move(2, "INV/2026/00002", "paid", "MISE_EN_PAIEMENT"),
            move(3, "INV/2026/00003", "action", "A_RECYCLER", "Routing data to correct\nsecond line"),
            move(4, "INV/2026/00004", "error", "", "The engagement number is missing"),
        ]
    )
    status = odoo_ops.collect_status(fake)
    text = odoo_ops.format_status(status, "lab")
    assert "4 invoice(s)" in text
    assert "Payment initiated       2" in text
    assert "INV/2026/00003" in text and "A_RECYCLER: Routing data to correct" in text
    assert "second line" not in text
    assert "INV/2026/00004" in text and "The engagement number is missing" in text
    assert "INV/2026/00001" not in text.split("Need a person")[1]
    data = json.loads(json.dumps(status))
    assert data["counts"] == {"paid": 2, "action": 1, "error": 1}


def test_status_says_when_invoices_are_still_queued():
    queued = FakeOdoo(moves=[move(1, "INV/2026/00001", "to_send"), move(2, "INV/2026/00002", "sending"),
                             move(3, "INV/2026/00003", "sent")])
    text = odoo_ops.format_status(odoo_ops.collect_status(queued), "lab")
    assert "2 invoice(s) still queued" in text
    done = FakeOdoo(moves=[move(3, "INV/2026/00003", "sent")])
    assert "still queued" not in odoo_ops.format_status(odoo_ops.collect_status(done), "lab")


def test_unknown_invoice_numbers_are_named():
    fake = FakeOdoo(moves=[move(1, "INV/2026/00001", "error")])
    assert odoo_ops.resolve_invoices(fake, ["INV/2026/00001", "42"]) == [42, 1]
    with pytest.raises(odoo_ops.OdooError, match="INV/2026/09999"):
        odoo_ops.resolve_invoices(fake, ["INV/2026/00001", "INV/2026/09999"])


def test_same_number_in_two_companies_prefers_the_chorus_invoice_or_asks_for_the_id():
    other_company = {**move(9, "INV/2026/00001", "error"), "company": 2, "recipient": False}
    fake = FakeOdoo(moves=[move(1, "INV/2026/00001", "error"), other_company])
    assert odoo_ops.resolve_invoices(fake, ["INV/2026/00001"]) == [1]
    both = FakeOdoo(moves=[move(1, "INV/2026/00001", "error"), {**other_company, "recipient": True}])
    with pytest.raises(odoo_ops.OdooError, match="several companies .*give the id"):
        odoo_ops.resolve_invoices(both, ["INV/2026/00001"])


def test_send_goes_through_the_addon_public_method_in_batches():
    fake = FakeOdoo()
    lines = []
    odoo_ops.queue_invoices(fake, list(range(1, 121)), lines.append, "action_chorus_pro_send")
    sends = [c for c in fake.calls if c[1] == "action_chorus_pro_send"]
    assert [len(c[2][0]) for c in sends] == [50, 50, 20]
    assert lines[-1] == "  queued 120/120"


def test_odoo_command_line_help_and_errors(capsys):
    assert cli.main(["odoo"]) == 2
    assert "give an action" in capsys.readouterr().err
    parser = cli.build_parser()
    args = parser.parse_args(["odoo", "send", "INV/1", "--now", "--db", "x"])
    assert args.invoices == ["INV/1"] and args.now


def test_check_reports_each_budget(monkeypatch):
    class CheckOdoo(FakeOdoo):
        def execute_kw(self, model, method, args, kwargs):
            if model == "ir.model.data":
                name = args[0][1][2]
                key = name.removeprefix("partner_budget_")
                index = [b.key for b in BUDGETS].index(key)
                return [{"res_id": 100 + index}]
            if model == "res.partner" and method == "read":
                rows = [{"id": 100 + i, "name": b.name, "siret": b.siret} for i, b in enumerate(BUDGETS)]
                rows[4]["siret"] = "20002341400070"  # mistyped
                return rows
            if model == "res.company" and method == "search":
                return [1, 2, 3]
            if model == "res.company" and method == "chorus_pro_settings_report":
                assert args == [[1, 2, 3]]
                return [
                    {"id": 1, "name": "Normandie Services Numériques", "environment": "qualification", "started": True,
                     "missing": ["chorus_pro_client_secret"], "missing_labels": ["Chorus Pro Client Secret"]},
                    {"id": 2, "name": "Unconfigured", "environment": "qualification", "started": False,
                     "missing": ["chorus_pro_client_id", "chorus_pro_client_secret", "chorus_pro_login",
                                 "chorus_pro_password"], "missing_labels": []},
                    {"id": 3, "name": "Lab sandbox", "environment": "sandbox", "started": True,
                     "missing": ["chorus_pro_base_url"], "missing_labels": ["Chorus Pro Sandbox URL"]},
                ]
            assert not (model == "res.company" and method in ("read", "search_read")), "secrets read over RPC"
            return super().execute_kw(model, method, args, kwargs)

    checks = odoo_ops.run_checks(CheckOdoo(), "lab")
    text = "\n".join(sentence for _ok, sentence in checks)
    assert "Budget de l'Eau has an invalid SIRET '20002341400070'" in text
    assert "Normandie Services Numériques: settings missing PISTE client secret" in text
    assert "Lab sandbox: settings missing sandbox URL" in text
    assert "Unconfigured" not in text
    assert [ok for ok, _ in checks] == [True, False, False, False]
