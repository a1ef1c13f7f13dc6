"""Hostile PDFs through the real entry points (issue 18, points 1 and 2), and a sandbox that stops when told.

* a Factur-X whose ``/EmbeddedFiles`` name tree lists itself in its ``/Kids`` is refused in one sentence
  by ``validate``, by the sandbox's deposit and by the PDF/A check of the addon (it made the sandbox
  spin at 100 % CPP and grow past 3.5 GB);
* a 2.5 MB Factur-X holding a valid ``factur-x.xml`` and 250 attachments that each unpack to just
  under 10 MB is refused by ``validate``, ``send`` and the sandbox: what a file unpacks to is capped
  in all, not only per stream (it was reported valid at 2.5 GB of memory);
* ``chorus-rouen sandbox`` stops at once on SIGTERM, even in the middle of a long request.

The files are made here (``sandbox.hostile_files``); the peak memory is measured by
``bench/bench_hostile_pdfs.py``. Each process runs under an address-space limit, so that a regression
fails the test instead of eating the machine's memory.
"""

from __future__ import annotations

import base64
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from odoo_chorus_rouen.sandbox import DEFAULT_CREDENTIALS
from odoo_chorus_rouen.sandbox.hostile_files import looping_name_tree_pdf, looping_pages_pdf, many_attachments_pdf
from odoo_chorus_rouen.sandbox.pdf import pdf_file

ROOT = Path(__file__).resolve().parent.parent
#: A process that walks a looping tree or keeps 250 x 10 MB grows far past this; a bounded one stays far below.
MEMORY_LIMIT = 1536 << 20
LOOP_SENTENCE = "The PDF's list of embedded files refers back to itself (object 6)"
TOTAL_SENTENCE = "The files embedded in the PDF unpack to more than 10.0 MB in all"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def chorus_rouen(*argv: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``chorus-rouen ARGV`` in a child process limited to ``MEMORY_LIMIT`` of address space."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "odoo_chorus_rouen.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env=environ, preexec_fn=_limited)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {"loop": looping_name_tree_pdf(), "many": many_attachments_pdf()}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.pdf"
        paths[name].write_bytes(data)
    assert paths["loop"].stat().st_size < 10_000 and paths["many"].stat().st_size < 3_000_000
    return paths


# --------------------------------------------------------------------------------------------
# validate and send
# --------------------------------------------------------------------------------------------


def test_validate_refuses_a_looping_name_tree_in_one_sentence(hostile):
    result = chorus_rouen("validate", str(hostile["loop"]))
    assert result.returncode == 1, result.stderr
    assert LOOP_SENTENCE in result.stdout and "Generate the PDF again" in result.stdout


def test_validate_and_send_refuse_a_file_whose_attachments_unpack_to_gigabytes(hostile, tmp_path):
    result = chorus_rouen("validate", str(hostile["many"]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INVALID" in result.stdout and TOTAL_SENTENCE in result.stdout
    env = {"CHORUS_PRO_BASE_URL": "http://127.0.0.1:9", "CHORUS_PRO_CLIENT_ID": "id", "CHORUS_PRO_CLIENT_SECRET": "s",
           "CHORUS_PRO_LOGIN": "l", "CHORUS_PRO_PASSWORD": "p", "CHORUS_PRO_JOURNAL": str(tmp_path / "j.sqlite3")}
    result = chorus_rouen("send", str(hostile["many"]), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert TOTAL_SENTENCE in result.stdout and "not sent" in result.stdout


def test_the_pdfa_check_of_the_addon_refuses_loops_in_one_problem(tmp_path):
    cases = {"names": (looping_name_tree_pdf(), LOOP_SENTENCE),
             "pages": (looping_pages_pdf(), "The PDF's page tree refers back to itself"),
             "many": (many_attachments_pdf(count=3), TOTAL_SENTENCE),
             "fonts": (_font_loop_pdf(), "The PDF's fonts and forms of its pages refers back to itself")}
    for name, (data, words) in cases.items():
        (tmp_path / f"{name}.pdf").write_bytes(data)
        # What the addon runs on every Factur-X before its deposit, in a memory-limited process.
        check = subprocess.run(
            [sys.executable, "-c", "import sys; from odoo_chorus_rouen.core.pdfa import check_pdfa3; "
             "print(*check_pdfa3(open(sys.argv[1], 'rb').read()), sep='\\n')", str(tmp_path / f"{name}.pdf")],
            capture_output=True, text=True, timeout=120, preexec_fn=_limited,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert check.returncode == 0, f"{name}: {check.stderr[-500:]}"
        assert check.stdout.splitlines() == [f"unreadable: {check.stdout.split(': ', 1)[1].strip()}"], check.stdout
        assert words in check.stdout, (name, check.stdout)


def _font_loop_pdf() -> bytes:
    """A page whose Type0 font lists itself among its descendant fonts."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /Loop /DescendantFonts [4 0 R] >>",
    ]
    return pdf_file(objects)


# --------------------------------------------------------------------------------------------
# the sandbox, over HTTP, in its own process
# --------------------------------------------------------------------------------------------


def start_sandbox(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``chorus-rouen sandbox --port 0`` in a memory-limited child process; its URL once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "odoo_chorus_rouen.cli", "sandbox", "--port", "0", "--delay", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_limited,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    for line in process.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
    process.wait(timeout=10)
    raise AssertionError(f"the sandbox did not start (exit {process.returncode})")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def _api(url: str) -> dict[str, str]:
    creds = DEFAULT_CREDENTIALS
    token = requests.post(f"{url}/api/oauth/token", data={"grant_type": "client_credentials",
                                                          "client_id": creds.client_id,
                                                          "client_secret": creds.client_secret}, timeout=10)
    return {"Authorization": f"Bearer {token.json()['access_token']}", "cpro-account": creds.cpro_account}


def test_the_sandbox_rejects_hostile_deposits_in_one_sentence_and_keeps_serving(hostile, tmp_path):
    process, url = start_sandbox(tmp_path)
    try:
        headers = _api(url)
        for name, words in (("loop", LOOP_SENTENCE), ("many", TOTAL_SENTENCE)):
            body = {"fichierFlux": base64.b64encode(hostile[name].read_bytes()).decode("ascii"),
                    "nomFichier": f"{name}.pdf", "syntaxeFlux": "IN_DP_E2_CII_FACTURX"}
            answer = requests.post(f"{url}/cpro/factures/v1/deposer/flux", json=body, headers=headers, timeout=60)
            assert answer.status_code == 200 and answer.json()["codeRetour"] == 0, answer.text
            flow = answer.json()["numeroFluxDepot"]
            report = requests.post(f"{url}/cpro/transverses/v1/consulterCRDetaille", json={"numeroFluxDepot": flow},
                                   headers=headers, timeout=60).json()
            assert report["etatCourantDepotFlux"] == "IN_REJETE", report
            labels = " | ".join(error["libelleErreur"] for error in report["listeErreurTechnique"])
            assert words in labels, labels
            embedded = requests.get(f"{url}/sandbox/flows/{flow}/embedded", timeout=60)
            assert embedded.status_code == 200, embedded.text
        assert requests.get(f"{url}/sandbox/state", timeout=10).status_code == 200
    finally:
        stop(process)


def test_the_sandbox_stops_at_once_on_sigterm_in_the_middle_of_a_request(tmp_path):
    state = tmp_path / "sandbox.sqlite3"
    process, url = start_sandbox(tmp_path, "--state", str(state))
    busy = threading.Event()
    busy.set()

    def seed_until_stopped():  # one seed of 100,000 invoices after the other: a request is always under way
        while busy.is_set():
            try:
                requests.post(f"{url}/sandbox/invoices/seed", json={"count": 100000}, timeout=120)
            except requests.RequestException:
                return

    try:
        seeding = threading.Thread(target=seed_until_stopped, daemon=True)
        seeding.start()
        time.sleep(1.0)
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        took = time.monotonic() - asked
        busy.clear()
        seeding.join(timeout=120)
    finally:
        stop(process)
    assert process.returncode == 0 and "Stopping the sandbox." in output
    # At once: the request under way gets the sandbox's one-second grace (STOP_WAIT), then is abandoned,
    # however long it would still have taken; what it wrote is never half committed.
    assert took < 4.0, f"the sandbox took {took:.1f} s to stop in the middle of a request"
    with sqlite3.connect(state) as db:
        seeded = db.execute("SELECT COUNT(*) FROM invoices").fetchone()[0]
    assert seeded % 100000 == 0, f"{seeded} invoices: a seed was half committed"


def _quietly(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except requests.RequestException:
        pass  # the stopping sandbox cut the connection
