"""One clear line and the documented exit status for each bad input of issue 18, point 5, through ``chorus-rouen``.

Exit statuses (README): 1 an invalid invoice, a rejection, or nothing found by ``track``; 2 anything a
person must fix before running the command again.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.sandbox import SandboxServer
from odoo_chorus_rouen.sandbox.hostile_files import many_attachments_pdf
from odoo_chorus_rouen.sandbox.sample_invoices import make_cii

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = {"CHORUS_PRO_BASE_URL": "http://127.0.0.1:9", "CHORUS_PRO_CLIENT_ID": "id",
               "CHORUS_PRO_CLIENT_SECRET": "secret", "CHORUS_PRO_LOGIN": "TECH_1_x@cpro.fr",
               "CHORUS_PRO_PASSWORD": "password", "CHORUS_PRO_TIMEOUT": "2"}


@pytest.fixture
def invoice(tmp_path) -> Path:
    path = tmp_path / "F-1.xml"
    path.write_bytes(make_cii("F-1"))
    return path


@pytest.fixture
def unreachable(monkeypatch, tmp_path):
    for key, value in UNREACHABLE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CHORUS_PRO_JOURNAL", str(tmp_path / "journal.sqlite3"))


def run(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.splitlines()


def chorus_rouen(*argv: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


# --------------------------------------------------------------------------------------------
# the journal
# --------------------------------------------------------------------------------------------


def test_a_damaged_journal_is_one_line_and_exit_2(unreachable, invoice, tmp_path, capsys):
    journal = tmp_path / "journal.sqlite3"
    assert run(capsys, "send", str(invoice))[0] == 2  # unreachable platform: the invoice waits in the journal
    with closing(sqlite3.connect(journal)) as db:  # a text that is no longer UTF-8 (a disk or copy fault)
        db.execute("UPDATE items SET error = CAST(x'ff41' AS TEXT)")
        db.commit()
    status, out, err = run(capsys, "send", str(invoice))
    assert status == 2 and out == [], err
    assert len(err) == 1 and f"journal {journal}: is damaged" in err[0] and "give another --journal" in err[0]

    data = bytearray(journal.read_bytes())  # its first page (the schema) overwritten
    data[100:4096] = bytes(4096 - 100)
    journal.write_bytes(bytes(data))
    status, out, err = run(capsys, "send", str(invoice))
    assert status == 2 and len(err) == 1 and "is damaged (database disk image is malformed)" in err[0], err


def test_journal_in_a_folder_that_does_not_exist_is_refused_not_created(unreachable, invoice, tmp_path, capsys):
    missing = tmp_path / "typo" / "journal.sqlite3"
    status, out, err = run(capsys, "send", "--journal", str(missing), str(invoice))
    assert status == 2 and out == []
    assert err == [f"chorus-rouen send: journal {missing}: the folder {missing.parent} does not exist; create it "
                   "first, or give another --journal"]
    assert not missing.parent.exists()


def test_a_second_send_names_the_process_that_holds_the_invoice_and_until_when(invoice, tmp_path):
    with SandboxServer() as sandbox:
        creds = sandbox.credentials
        env = {"CHORUS_PRO_BASE_URL": sandbox.url, "CHORUS_PRO_CLIENT_ID": creds.client_id,
               "CHORUS_PRO_CLIENT_SECRET": creds.client_secret, "CHORUS_PRO_LOGIN": creds.login,
               "CHORUS_PRO_PASSWORD": creds.password, "CHORUS_PRO_TIMEOUT": "60",
               "CHORUS_PRO_JOURNAL": str(tmp_path / "journal.sqlite3")}
        sandbox.inject_fault("slow", operation="deposerFluxFacture", delay=15)  # the first send waits for its answer
        first = subprocess.Popen([sys.executable, "-m", "odoo_chorus_rouen.cli", "send", str(invoice)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT), **env})
        try:
            deadline = time.monotonic() + 30
            while sandbox.deposits_of("F-1") == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            second = chorus_rouen("send", str(invoice), env=env)
        finally:
            out, _ = first.communicate(timeout=60)
        assert first.returncode == 0 and "deposited as flow" in out
        assert sandbox.deposits_of("F-1") == 1
    lines = second.stdout.splitlines() + second.stderr.splitlines()
    assert second.returncode == 2 and len(lines) == 1, lines
    assert f"another chorus-rouen process (pid {first.pid}) is sending it" in lines[0]
    assert "holds it until " in lines[0] and "None" not in lines[0]


# --------------------------------------------------------------------------------------------
# files that are not invoice files
# --------------------------------------------------------------------------------------------


def test_validate_reports_a_folder_among_files_and_goes_on(invoice, tmp_path, capsys):
    other = tmp_path / "F-2.xml"
    other.write_bytes(make_cii("F-2"))
    status, out, err = run(capsys, "validate", str(invoice), str(tmp_path), str(other))
    assert status == 2
    assert err == [f"chorus-rouen validate: {tmp_path}: is a folder, not an invoice file"]
    assert f"{invoice}: valid" in out[0] and any(line.startswith(f"{other}: valid") for line in out)


def test_a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "invoice.xml"
    os.mkfifo(fifo)
    try:
        result = chorus_rouen("validate", str(fifo), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("validate waits forever on a FIFO")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"chorus-rouen validate: {fifo}: is a FIFO (named pipe), not an invoice "
                                          "file; save the invoice to a file first"]


def test_a_symlink_loop_and_dev_zero_are_said_for_what_they_are(tmp_path, capsys):
    loop = tmp_path / "loop.xml"
    loop.symlink_to(loop)
    status, out, err = run(capsys, "validate", str(loop))
    assert status == 2 and err == [f"chorus-rouen validate: {loop}: is a symbolic link that leads back to itself "
                                   "(a loop); give the invoice file itself"]
    status, out, err = run(capsys, "validate", "/dev/zero")
    assert status == 2 and err == ["chorus-rouen validate: /dev/zero: is a character device, not an invoice file; "
                                   "save the invoice to a file first"]


def test_control_characters_in_a_file_name_or_an_invoice_number_cannot_forge_a_line(tmp_path, capsys):
    forged = tmp_path / "a.xml\nchorus-rouen validate: FORGED.xml: valid \x1b[32m"
    forged.write_bytes(make_cii("F-4\nFORGED"))
    status, out, err = run(capsys, "validate", str(forged))
    assert status == 1  # BT-1 with a line break breaks the number rules
    assert out[0] == (f"{tmp_path}/a.xml\\nchorus-rouen validate: FORGED.xml: valid \\x1b[32m: INVALID (cii, invoice "
                      "F-4\\nFORGED)")
    assert not any(line.startswith(("chorus-rouen", "FORGED")) for line in out + err)
    assert all("\x1b" not in line for line in out + err)


def test_control_characters_in_a_flow_number_cannot_forge_a_line(unreachable, capsys):
    with SandboxServer() as sandbox:
        creds = sandbox.credentials
        status, out, err = run(capsys, "track", "CPP1\nchorus-rouen track: invoice paid", "--base-url", sandbox.url,
                               "--client-id", creds.client_id, "--client-secret", creds.client_secret, "--login",
                               creds.login, "--password", creds.password)
    assert status == 1 and err == []
    assert out == ["Flow CPP1\\nchorus-rouen track: invoice paid: not found on Chorus Pro (not deposited on this "
                   "platform and account, or mistyped)"]


def test_an_unknown_flow_is_said_like_an_unknown_invoice(capsys):
    with SandboxServer() as sandbox:
        creds = sandbox.credentials
        platform = ("--base-url", sandbox.url, "--client-id", creds.client_id, "--client-secret", creds.client_secret,
                    "--login", creds.login, "--password", creds.password)
        flow_status, flow_out, flow_err = run(capsys, "track", "CPP0011106000000000099999", *platform)
        invoice_status, invoice_out, _ = run(capsys, "track", "--invoice", "NOPE-1", *platform)
    assert flow_status == invoice_status == 1 and flow_err == []
    assert flow_out == ["Flow CPP0011106000000000099999: not found on Chorus Pro (not deposited on this platform and "
                        "account, or mistyped)"]
    assert invoice_out[0].startswith("Invoice NOPE-1: not found on Chorus Pro (")


def test_a_siret_whose_siren_key_fails_names_the_siren_key(tmp_path, capsys):
    # 12345678010005 passes the Luhn check over its 14 digits, but its SIREN 123456780 does not.
    path = tmp_path / "siren.xml"
    path.write_bytes(make_cii("F-3", buyer_siret="12345678010005"))
    status, out, err = run(capsys, "validate", str(path))
    assert status == 1
    line = next(line for line in out if "CHORUS-BUYER-SIRET" in line)
    assert "has a SIREN (123456780) whose key fails: its 9th digit is the check digit (Luhn) of the first 8" in line
    assert "SIRET check digit" not in line


def test_an_oversized_attachment_is_called_an_attachment(tmp_path, capsys):
    path = tmp_path / "attachment.pdf"
    path.write_bytes(many_attachments_pdf(count=1, size=11 << 20))
    status, out, err = run(capsys, "validate", str(path))
    assert status == 1
    line = next(line for line in out if "unpacks to more than" in line)
    assert "The attachment 'annexe-0001.txt' embedded in the PDF unpacks to more than 10.0 MB" in line
    assert "Chorus Pro accepts at most 10.0 MB per attached file" in line
    assert "invoice XML" not in line
