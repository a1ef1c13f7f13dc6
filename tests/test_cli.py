"""The chorus-rouen command as a person uses it: output, exit status, one-line errors."""

import json
import subprocess
import sys

import pytest

from odoo_chorus_rouen import cli
from odoo_chorus_rouen.core.budgets import BUDGETS

CREDS = {
    "CHORUS_PRO_CLIENT_ID": "id",
    "CHORUS_PRO_CLIENT_SECRET": "s3cret-value",
    "CHORUS_PRO_LOGIN": "TECH_1_x@cpro.fr",
    "CHORUS_PRO_PASSWORD": "pa55word-value",
}


def run(*argv):
    return subprocess.run(
        [sys.executable, "-m", "odoo_chorus_rouen.cli", *argv], capture_output=True, text=True, timeout=120
    )


def test_budgets_lists_the_eight_sirets():
    result = run("budgets")
    assert result.returncode == 0
    for budget in BUDGETS:
        assert budget.name in result.stdout
        assert budget.siret_display in result.stdout


def test_budgets_json_is_machine_readable():
    data = json.loads(run("budgets", "--json").stdout)
    assert [row["siret"] for row in data] == [b.siret for b in BUDGETS]


def test_help_documents_the_environment_variables():
    result = run("send", "--help")
    for variable in CREDS:
        assert variable in result.stdout


def test_no_command_prints_help_and_fails():
    result = run()
    assert result.returncode == 2
    assert "validate" in result.stdout


def parse(*argv):
    return cli.build_parser().parse_args(list(argv))


def test_missing_credentials_names_every_missing_one():
    args = parse("track", "CPP0000")
    with pytest.raises(cli.CliError) as err:
        cli.platform_settings(args, environ={"CHORUS_PRO_CLIENT_ID": "x"})
    message = str(err.value)
    assert "client secret" in message and "login" in message and "password" in message
    assert "client id" not in message


def test_options_win_over_environment_and_base_url_implies_sandbox():
    args = parse("track", "F", "--client-id", "from-option", "--base-url", "http://127.0.0.1:9")
    settings = cli.platform_settings(args, environ={**CREDS, "CHORUS_PRO_CLIENT_ID": "from-env"})
    assert settings["client_id"] == "from-option"
    assert settings["env"] == "sandbox"
    assert settings["timeout"] == 30.0


def test_sandbox_without_url_is_refused():
    with pytest.raises(cli.CliError, match="base URL"):
        cli.platform_settings(parse("track", "F", "--env", "sandbox"), environ=CREDS)


def test_bad_timeout_is_a_clear_error():
    with pytest.raises(cli.CliError, match="number of seconds"):
        cli.platform_settings(parse("track", "F"), environ={**CREDS, "CHORUS_PRO_TIMEOUT": "soon"})


def test_unreadable_file_is_one_line_and_exit_2(tmp_path):
    result = run("validate", str(tmp_path / "nope.pdf"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"chorus-rouen validate: {tmp_path / 'nope.pdf'}: no such file"
    result = run("validate", str(tmp_path))
    assert result.returncode == 2 and "is a folder" in result.stderr


def test_unreachable_platform_is_one_line_without_secrets(tmp_path):
    invoice = tmp_path / "x.xml"
    invoice.write_bytes(b"<x/>")
    env = {**CREDS, "CHORUS_PRO_BASE_URL": "http://127.0.0.1:9", "CHORUS_PRO_TIMEOUT": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "odoo_chorus_rouen.cli", "track", "CPP0011117000000000300163"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot be reached" in result.stderr
    assert "s3cret-value" not in result.stderr + result.stdout
    assert "pa55word-value" not in result.stderr + result.stdout


def test_send_is_exactly_once_across_runs_and_track_tells_the_status(tmp_path, invoices_dir):
    from odoo_chorus_rouen.sandbox import SandboxServer

    with SandboxServer() as sandbox:
        creds = sandbox.credentials
        env = {
            "PATH": "/usr/bin:/bin",
            "CHORUS_PRO_BASE_URL": sandbox.url,
            "CHORUS_PRO_CLIENT_ID": creds.client_id,
            "CHORUS_PRO_CLIENT_SECRET": creds.client_secret,
            "CHORUS_PRO_LOGIN": creds.login,
            "CHORUS_PRO_PASSWORD": creds.password,
            "CHORUS_PRO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        }

        def chorus(*argv):
            return subprocess.run(
                [sys.executable, "-m", "odoo_chorus_rouen.cli", *argv], capture_output=True, text=True, timeout=120,
                env=env,
            )

        good = str(invoices_dir / "facturx_principal_invoice.pdf")
        broken = str(invoices_dir / "broken_missing_engagement.pdf")
        first = chorus("send", good, broken)
        assert first.returncode == 1  # the broken one is not sent
        assert "deposited as flow CPP" in first.stdout
        assert "CHORUS-ENGAGEMENT" in first.stdout and "not sent" in first.stdout
        again = chorus("send", good)
        assert again.returncode == 0
        assert sandbox.deposits_of("FAC-2026-0001") == 1
        assert sandbox.deposits_of("FAC-2026-0006") == 0
        tracked = chorus("track", "--invoice", "FAC-2026-0001")
        assert tracked.returncode == 0, tracked.stderr
        assert "FAC-2026-0001 (Chorus id" in tracked.stdout


def test_send_deposits_cii_and_ubl_files_as_structured_flows(tmp_path, invoices_dir):
    """No format option: the file given says its syntax (a CII or UBL XML goes as an E1 flow, without PDF)."""
    from odoo_chorus_rouen.sandbox import SandboxServer

    with SandboxServer() as sandbox:
        creds = sandbox.credentials
        env = {
            "PATH": "/usr/bin:/bin",
            "CHORUS_PRO_BASE_URL": sandbox.url,
            "CHORUS_PRO_CLIENT_ID": creds.client_id,
            "CHORUS_PRO_CLIENT_SECRET": creds.client_secret,
            "CHORUS_PRO_LOGIN": creds.login,
            "CHORUS_PRO_PASSWORD": creds.password,
            "CHORUS_PRO_JOURNAL": str(tmp_path / "journal.sqlite3"),
        }
        files = [str(invoices_dir / "cii_eau_invoice.xml"), str(invoices_dir / "ubl_assainissement_invoice.xml")]
        sent = subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.cli", "send", *files], capture_output=True,
                              text=True, timeout=120, env=env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        syntaxes = {d["numbers"][0]: (d["syntaxeFlux"], d["nomFichier"]) for d in sandbox.deposits()}
        assert syntaxes == {
            "FAC-2026-0003": ("IN_DP_E1_CII_16B", "cii_chorus_facture_FAC-2026-0003.xml"),
            "FAC-2026-0005": ("IN_DP_E1_UBL_INVOICE", "ubl_chorus_facture_FAC-2026-0005.xml"),
        }
