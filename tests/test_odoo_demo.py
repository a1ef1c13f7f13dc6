"""``chorus-rouen odoo demo``: arguments and every refusal, without Odoo.

The database manager is a tiny fake JSON-RPC server on 127.0.0.1 (the ``db`` service, as Odoo 18
answers it); what happens once logged in goes through a fake of the RPC layer (``execute_kw``).
The whole story runs against a real Odoo 18 in the lab (see the closing notes and README.rst).
"""

import argparse
import json
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from stdnum import iban
from stdnum.fr import siret, tva

from odoo_chorus_rouen import cli, odoo_demo, odoo_ops
from odoo_chorus_rouen.odoo_demo import OdooError


class FakeDatabaseManager(ThreadingHTTPServer):
    """Answers ``/jsonrpc`` for the ``db`` service like Odoo 18 (odoo/service/db.py)."""

    daemon_threads = True

    def __init__(self, version="18.0", list_db=True, databases=(), master="admin"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.version, self.list_db, self.master = version, list_db, master
        self.databases = list(databases)
        self.calls = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method, args):
        self.calls.append(method)
        if method == "server_version":
            return self.version
        if method == "list":
            if not self.list_db:
                raise PermissionError
            return self.databases
        if method == "db_exist":
            return args[0] in self.databases
        if args[0] != self.master or not self.list_db:  # check_super, then check_db_management_enabled
            raise PermissionError
        if method == "create_database":
            self.databases.append(args[1])
            return True
        if method == "drop":
            self.databases.remove(args[1])
            return True
        raise KeyError(method)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        params = request["params"]
        assert params["service"] == "db"
        try:
            result = self.server.answer(params["method"], params["args"])
            body = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        except PermissionError:
            body = {
                "jsonrpc": "2.0", "id": request["id"],
                "error": {"code": 200, "message": "Odoo Server Error",
                          "data": {"name": "odoo.exceptions.AccessDenied", "message": "Access Denied"}},
            }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def manager():
    servers = []

    def start(**options):
        server = FakeDatabaseManager(**options)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class FakeOdoo:
    """The RPC layer once logged in: ``execute_kw`` answered from a table, every call recorded."""

    def __init__(self, answers=None):
        self.answers = {
            ("ir.config_parameter", "search_read"): [],
            ("ir.config_parameter", "set_param"): True,
            ("res.company", "search_read"): [{"id": 1, "country_id": [75, "France"], "currency_id": [1, "EUR"]}],
            ("ir.module.module", "update_list"): [0, 0],
            ("ir.module.module", "search_read"): [],
            **(answers or {}),
        }
        self.calls = []
        self.args = []

    def execute_kw(self, model, method, args, kwargs):
        self.calls.append((model, method))
        self.args.append((model, method, args))
        answer = self.answers[(model, method)]
        if isinstance(answer, BaseException) or (isinstance(answer, type) and issubclass(answer, BaseException)):
            raise answer
        return answer


def demo_args(url, *extra):
    parser = cli.build_parser()
    return parser.parse_args(["odoo", "demo", "--url", url, "--master-password", "admin", "--sandbox-port", "0",
                              "--no-wait", *extra])


def run_demo(args, odoo=None):
    lines = []
    code = odoo_demo.run(args, out=lines.append, connector=lambda settings: odoo or FakeOdoo(), environ={})
    return code, "\n".join(lines)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def test_demo_is_an_odoo_action_with_safe_defaults():
    args = cli.build_parser().parse_args(["odoo", "demo"])
    assert args.func is odoo_demo.run
    assert (args.db, args.user, args.sandbox_port, args.reset, args.drop) == ("chorus_rouen_demo", "admin", 8090,
                                                                              False, False)


def test_odoo_db_of_the_environment_is_never_the_demo_database():
    args = cli.build_parser().parse_args(["odoo", "demo"])
    settings = odoo_demo.demo_settings(
        args, environ={"ODOO_DB": "production", "ODOO_URL": "http://127.0.0.1:8070", "ODOO_MASTER_PASSWORD": "m"}
    )
    assert settings["db"] == "chorus_rouen_demo"
    assert (settings["url"], settings["master"]) == ("http://127.0.0.1:8070", "m")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--db=-x"], "cannot be a database name"),
        (["--db", "demo db"], "cannot be a database name"),
        (["--reset", "--drop"], "not both"),
        (["--sandbox-port", "70000"], "not a port number"),
        (["--password", " "], "needs a password"),
    ],
)
def test_bad_options_are_refused_in_words(options, words):
    args = cli.build_parser().parse_args(["odoo", "demo", *options])
    with pytest.raises(OdooError, match=words):
        odoo_demo.demo_settings(args, environ={"ODOO_MASTER_PASSWORD": "m"})


def test_master_password_is_asked_without_echo_when_missing():
    prompts = []
    args = cli.build_parser().parse_args(["odoo", "demo", "--url", "http://127.0.0.1:8069"])
    settings = odoo_demo.demo_settings(args, environ={}, ask_password=lambda p: prompts.append(p) or "typed")
    assert settings["master"] == "typed"
    assert prompts == ["Master password of the database manager at http://127.0.0.1:8069: "]


def test_no_master_password_without_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    args = cli.build_parser().parse_args(["odoo", "demo"])
    with pytest.raises(OdooError, match="ODOO_MASTER_PASSWORD"):
        odoo_demo.demo_settings(args, environ={})


def test_the_demo_supplier_passes_the_checks_of_chorus_pro():
    assert siret.is_valid(odoo_demo.SUPPLIER["siret"])
    assert tva.is_valid(odoo_demo.SUPPLIER["vat"]) and odoo_demo.SUPPLIER["vat"].endswith(
        odoo_demo.SUPPLIER["siret"][:9]
    )
    assert iban.is_valid(odoo_demo.SUPPLIER_IBAN)


def test_the_story_covers_four_budgets_and_each_ending():
    cases = odoo_demo.demo_cases()
    assert len({case.budget_key for case in cases}) >= 4
    assert {case.expected_state for case in cases} == {None, "rejected", "paid", "delivered"}
    assert any(case.recycle_engagement for case in cases) and any(case.credit_note_of for case in cases)


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


def test_this_machine_or_not():
    assert odoo_demo.is_this_machine("127.0.0.1") and odoo_demo.is_this_machine("localhost")
    assert not odoo_demo.is_this_machine("192.0.2.10")  # TEST-NET-1: never an address of this machine


def test_odoo_on_another_machine_is_refused_before_anything():
    with pytest.raises(OdooError, match="another machine.*127.0.0.1"):
        run_demo(demo_args("http://192.0.2.10:8069"))


def test_odoo_unreachable():
    with pytest.raises(OdooError, match=r"cannot reach Odoo at http://127.0.0.1:\d+: .*Is the server running"):
        run_demo(demo_args(f"http://127.0.0.1:{free_port()}"))


def test_not_odoo_18(manager):
    server = manager(version="17.0")
    with pytest.raises(OdooError, match="runs Odoo 17.0: the addon is for Odoo 18"):
        run_demo(demo_args(server.url))
    assert server.calls == ["server_version"]


def test_database_manager_disabled(manager):
    server = manager(list_db=False)
    with pytest.raises(OdooError, match=r"database manager .* is disabled \(list_db = False"):
        run_demo(demo_args(server.url))
    assert "create_database" not in server.calls


def test_wrong_master_password(manager):
    server = manager(master="the-real-one")
    with pytest.raises(OdooError, match="refused the master password") as refusal:
        run_demo(demo_args(server.url))
    assert server.databases == []
    # Nothing was created: the message does not speak of a database that stays.
    assert "stays" not in str(refusal.value)


def test_existing_database_is_left_alone_without_reset(manager):
    server = manager(databases=["chorus_rouen_demo", "production"])
    with pytest.raises(OdooError, match="already exists .* left alone. Give --reset"):
        run_demo(demo_args(server.url))
    assert server.calls == ["server_version", "list"]
    assert server.databases == ["chorus_rouen_demo", "production"]


def test_reset_never_drops_a_database_this_command_did_not_create(manager):
    server = manager(databases=["production"])
    with pytest.raises(OdooError, match="not created by chorus-rouen odoo demo .* left alone"):
        run_demo(demo_args(server.url, "--db", "production", "--reset"), odoo=FakeOdoo())
    assert server.databases == ["production"] and "drop" not in server.calls


def test_drop_only_drops_the_demo_database(manager):
    server = manager(databases=["chorus_rouen_demo", "production"])
    marked = FakeOdoo({("ir.config_parameter", "search_read"): [{"id": 1, "value": "1"}]})
    code, output = run_demo(demo_args(server.url, "--drop"), odoo=marked)
    assert code == 0 and "chorus_rouen_demo is dropped" in output
    assert server.databases == ["production"]


def test_sandbox_port_busy(manager):
    server = manager()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OdooError, match=f"port {port} of 127.0.0.1 is busy .* --sandbox-port"):
            run_demo(demo_args(server.url, "--sandbox-port", str(port)))
    assert "create_database" not in server.calls and server.databases == []


def test_addon_not_on_the_addons_path(manager):
    server = manager()
    odoo = FakeOdoo()  # ir.module.module knows neither the addon nor the sale bridge
    with pytest.raises(OdooError, match="addon is not on the addons path of the Odoo server .* --addons-path"):
        run_demo(demo_args(server.url), odoo=odoo)
    # The empty database this run created is dropped again; no other one was touched.
    assert server.calls.count("create_database") == 1 and server.calls[-1] == "drop"
    assert server.databases == []
    assert ("ir.module.module", "button_immediate_install") not in odoo.calls


def test_an_error_after_creation_says_the_database_stays(manager):
    server = manager()
    odoo = FakeOdoo({
        ("ir.module.module", "search_read"): [{"id": 7, "name": "odoo_chorus_rouen"}],
        ("ir.module.module", "button_immediate_install"): RuntimeError("boom"),
    })
    with pytest.raises(OdooError) as failure:
        run_demo(demo_args(server.url), odoo=odoo)
    text = str(failure.value)
    assert "button_immediate_install failed: boom" in text
    assert "The demo database chorus_rouen_demo stays" in text and "--drop --db chorus_rouen_demo" in text
    assert server.databases == ["chorus_rouen_demo"]


def test_ctrl_c_stops_the_sandbox_and_says_the_database_stays(manager):
    server = manager()
    port = free_port()
    odoo = FakeOdoo({
        ("ir.module.module", "search_read"): [{"id": 7, "name": "odoo_chorus_rouen"}],
        ("ir.module.module", "button_immediate_install"): KeyboardInterrupt,
    })
    code, output = run_demo(demo_args(server.url, "--sandbox-port", str(port)), odoo=odoo)
    assert code == 130
    assert f"Chorus Pro sandbox running at http://127.0.0.1:{port}" in output
    assert "Interrupted: the Chorus Pro sandbox is stopped." in output
    assert "The demo database chorus_rouen_demo stays" in output
    assert f"chorus-rouen odoo demo --drop --db chorus_rouen_demo --url {server.url}" in output
    with socket.socket() as probe:  # the sandbox's port is free again
        probe.bind(("127.0.0.1", port))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_waiting_at_the_end(manager, monkeypatch, signum):
    """The last step waits for Ctrl-C (SIGINT) or a kill (SIGTERM): the sandbox stops, the database stays."""
    server = manager()
    waited = []
    before = signal.getsignal(signal.SIGTERM)

    def wait():
        waited.append(True)
        os.kill(os.getpid(), signum)
        time.sleep(5)  # interrupted by the signal
        waited.append("not interrupted")

    def straight_to_the_end(self, wait):
        self.start_sandbox()
        self.prepare_database([])
        wait()
        return 0

    monkeypatch.setattr(odoo_demo.OdooDemo, "run", straight_to_the_end)
    lines = []
    args = demo_args(server.url)
    args.no_wait = False
    code = odoo_demo.run(args, out=lines.append, connector=lambda s: FakeOdoo(), wait=wait, environ={})
    assert code == 130 and waited == [True]
    assert "The demo database chorus_rouen_demo stays" in "\n".join(lines)
    assert signal.getsignal(signal.SIGTERM) is before  # the command's handlers are gone


def test_refusals_reach_the_user_as_one_line_on_stderr(manager, monkeypatch, capsys):
    server = manager(version="16.0")
    monkeypatch.setenv("ODOO_MASTER_PASSWORD", "admin")
    code = cli.main(["odoo", "demo", "--url", server.url, "--sandbox-port", "0"])
    assert code == cli.EXIT_ERROR
    assert capsys.readouterr().err.startswith("chorus-rouen odoo: http://127.0.0.1:")


def test_odoo_action_list_mentions_demo():
    with pytest.raises(odoo_ops.OdooError, match="setup or demo"):
        odoo_ops.run(argparse.Namespace(odoo_command=None))


@pytest.mark.parametrize("with_bridge", [True, False])
def test_the_sale_bridge_is_installed_only_when_the_server_has_it(manager, with_bridge):
    server = manager()
    modules = [{"id": 7, "name": "odoo_chorus_rouen"}] + ([{"id": 9, "name": "odoo_chorus_rouen_sale"}] * with_bridge)
    odoo = FakeOdoo({
        ("ir.module.module", "search_read"): modules,
        ("ir.module.module", "button_immediate_install"): KeyboardInterrupt,  # stop right there
    })
    code, output = run_demo(demo_args(server.url), odoo=odoo)
    assert code == 130
    installed = next(args for model, method, args in odoo.args if method == "button_immediate_install")
    assert installed == ([[7, 9]] if with_bridge else [[7]])
    assert ("Installing odoo_chorus_rouen and odoo_chorus_rouen_sale" in output) == with_bridge


@pytest.mark.parametrize(
    "busy",
    [
        "Record cannot be modified right now: This cron task is currently being executed and may not be modified",
        "L'enregistrement ne peut pas être modifié à l'instant : Cette tâche 'cron' est actuellement en cours "
        "d'exécution et ne peut pas être modifiée.",
    ],
)
def test_a_job_running_in_a_cron_worker_is_waited_for_in_english_and_french(monkeypatch, busy):
    """The demo database is French: Odoo says that the send job is busy in French."""
    answers = [RuntimeError(busy), True]

    class Busy(FakeOdoo):
        def execute_kw(self, model, method, args, kwargs):
            if method == "method_direct_trigger":
                answer = answers.pop(0)
                if isinstance(answer, BaseException):
                    raise answer
                return answer
            return super().execute_kw(model, method, args, kwargs)

    monkeypatch.setattr(odoo_ops.time, "sleep", lambda seconds: None)
    odoo = Busy({("ir.model.data", "search_read"): [{"id": 1, "res_id": 12}]})
    lines = []
    odoo_ops.run_job(odoo, odoo_ops.SEND_CRON, lines.append)
    assert answers == [] and any("already running in a cron worker" in line for line in lines)


class StaleWorkers(FakeOdoo):
    """A multi-worker Odoo after ``--reset``: some calls land on a worker still holding the dropped database."""

    def __init__(self, stale_answers, answers=None):
        super().__init__(answers)
        self.stale_answers = stale_answers

    def execute_kw(self, model, method, args, kwargs):
        if self.stale_answers:
            self.stale_answers -= 1
            self.calls.append((model, method))
            raise RuntimeError('column res_users.notification_type does not exist\nLINE 1: SELECT "res_users"."id"')
        return super().execute_kw(model, method, args, kwargs)


def test_workers_still_holding_the_dropped_database_are_waited_past(manager, monkeypatch):
    monkeypatch.setattr(odoo_demo.time, "sleep", lambda seconds: None)
    server = manager()
    odoo = StaleWorkers(3, {
        ("ir.module.module", "search_read"): [{"id": 7, "name": "odoo_chorus_rouen"}],
        ("ir.module.module", "button_immediate_install"): KeyboardInterrupt,  # far enough
    })
    code, output = run_demo(demo_args(server.url), odoo=odoo)
    assert code == 130, output
    assert odoo.calls.count(("ir.config_parameter", "set_param")) == 4  # 3 answered by stale workers, then done
    assert ("ir.module.module", "button_immediate_install") in odoo.calls


def test_a_worker_stuck_on_the_dropped_database_is_explained(manager, monkeypatch):
    monkeypatch.setattr(odoo_demo.time, "sleep", lambda seconds: None)
    server = manager()
    with pytest.raises(OdooError, match="still holds the dropped database 'chorus_rouen_demo': restart the Odoo"):
        run_demo(demo_args(server.url), odoo=StaleWorkers(10**6))
    assert server.databases == ["chorus_rouen_demo"]
