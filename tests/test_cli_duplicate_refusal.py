"""The command line's half of the slow-platform rule (issue 18, point 4), through ``chorus-rouen send`` and ``track``.

A deposit is cut after Chorus Pro recorded it; the platform takes two hours to integrate a flow; ``send``
run again after the settle delay deposits the invoice a second time, and Chorus Pro refuses that second
flow as a duplicate once it has integrated the first. The journal then follows the first flow, ``send``
says so in words, and ``track`` of the refused flow says that Chorus Pro holds the invoice from the
earlier flow: never "issue an invoice with a new number", which would bill the Métropole twice.
"""

from __future__ import annotations

import time

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

HOUR = 3600.0


@pytest.fixture
def sandbox(monkeypatch):
    with SandboxServer(processing_delay=2 * HOUR / 3, routing_delay=60) as server:
        creds = server.credentials
        for key, value in {"CHORUS_PRO_BASE_URL": server.url, "CHORUS_PRO_CLIENT_ID": creds.client_id,
                           "CHORUS_PRO_CLIENT_SECRET": creds.client_secret, "CHORUS_PRO_LOGIN": creds.login,
                           "CHORUS_PRO_PASSWORD": creds.password, "CHORUS_PRO_TIMEOUT": "5"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("CHORUS_PRO_ENV", raising=False)
        yield server


def run(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_duplicate_refusal_after_a_cut_deposit_is_followed_through_the_first_flow(sandbox, tmp_path, capsys):
    invoice = tmp_path / "SLOW-CLI-1.xml"
    invoice.write_bytes(make_cii("SLOW-CLI-1"))
    journal = str(tmp_path / "journal.sqlite3")
    send = ("send", str(invoice), "--journal", journal, "--settle-delay", "1")

    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    status, out = run(capsys, *send)
    assert status == 2 and "no answer from Chorus Pro" in out
    time.sleep(1.2)  # the settle delay is over; the first flow is still in processing: deposited again
    status, out = run(capsys, *send)
    assert status == 0 and "deposited as flow" in out
    first, second = [d["numeroFluxDepot"] for d in sandbox.deposits("SLOW-CLI-1")]
    assert second in out

    sandbox.advance(2 * HOUR + 600)  # the first flow is integrated, the second refused as a duplicate
    assert sandbox.duplicate_report(["SLOW-CLI-1"])["refused_duplicate_flows"] == 1
    status, out = run(capsys, *send)
    assert status == 0, out
    assert (f"Chorus Pro already had it from an earlier deposit (flow {first}, Chorus Pro ID "
            f"{sandbox.invoice_id('SLOW-CLI-1')}); the new deposit (flow {second}) was refused as a duplicate, "
            "as expected") in out
    assert len(out.strip().splitlines()) == 1
    status, again = run(capsys, *send)
    assert status == 0 and again == out, "said the same way on every later run"
    assert sandbox.deposits_of("SLOW-CLI-1") == 2, "never deposited a third time"

    status, out = run(capsys, "track", second, "--journal", journal)
    assert status == 0, out
    assert f"Chorus Pro already holds this invoice from the earlier flow {first}" in out
    assert "Nothing needs to be done" in out
    assert "new number" not in out and "nouveau numero" not in out
    status, out = run(capsys, "track", first, "--journal", journal)
    assert status == 0 and "Invoice SLOW-CLI-1" in out


def test_track_without_the_journal_says_what_chorus_pro_holds_without_asking_a_new_number(sandbox, tmp_path,
                                                                                             capsys, monkeypatch):
    invoice = tmp_path / "SLOW-CLI-2.xml"
    invoice.write_bytes(make_cii("SLOW-CLI-2", amount="250.00"))
    send = ("send", str(invoice), "--journal", str(tmp_path / "j.sqlite3"), "--settle-delay", "1")
    sandbox.inject_fault("cut", operation="deposerFluxFacture")
    run(capsys, *send)
    time.sleep(1.2)
    run(capsys, *send)
    first, second = [d["numeroFluxDepot"] for d in sandbox.deposits("SLOW-CLI-2")]
    sandbox.advance(2 * HOUR + 600)

    monkeypatch.setenv("CHORUS_PRO_JOURNAL", str(tmp_path / "elsewhere.sqlite3"))  # no journal: the platform only
    status, out = run(capsys, "track", second)
    assert status == 0, out
    assert f"from the earlier flow {first}" in out and "300.00 EUR including tax" in out
    assert "If it is this invoice" in out and "new number" not in out and "nouveau numero" not in out
