#!/usr/bin/env python3
"""Peak memory of ``validate`` and of a sandbox deposit for hostile PDFs (issue 18, points 1 and 2).

Each figure is the peak resident set size of a **child process** (``ru_maxrss`` from ``wait4``), so the
bench's own memory does not count:

* ``chorus-rouen validate FILE``, from start to exit;
* ``chorus-rouen sandbox``, started, given one ``deposerFluxFacture`` of FILE over HTTP (the flow read
  to its final state), then stopped.

Files, made here (``odoo_chorus_rouen.sandbox.hostile_files``, nothing committed):

* ``normal``: a Factur-X sample of the sandbox (a reference point);
* ``many-attachments``: a valid ``factur-x.xml`` and 250 attachments that each unpack to just under
  10 MB (2.5 MB on disk, 2.5 GB unpacked);
* ``looping-name-tree``: its ``/EmbeddedFiles`` node lists itself three times in its ``/Kids``.

A child growing past ``--kill-above`` MB (default 4096) is killed and reported as such: run with
``--pythonpath OTHER_CHECKOUT`` to measure an older version without exhausting the machine.

    python3 bench/bench_hostile_pdfs.py
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from odoo_chorus_rouen.sandbox import DEFAULT_CREDENTIALS
from odoo_chorus_rouen.sandbox.hostile_files import looping_name_tree_pdf, many_attachments_pdf
from odoo_chorus_rouen.sandbox.sample_invoices import make_facturx

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


class Watch:
    """Samples a child's RSS; kills it past ``kill_above`` bytes; ``wait()`` gives its ``ru_maxrss``."""

    def __init__(self, process: subprocess.Popen, kill_above: int) -> None:
        self.process, self.kill_above, self.killed = process, kill_above, False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        child = psutil.Process(self.process.pid)
        while not self._done.is_set():
            try:
                if child.memory_info().rss > self.kill_above:
                    self.killed = True
                    child.kill()
                    return
            except psutil.Error:
                return
            time.sleep(0.02)

    def wait(self, timeout: float) -> tuple[int, float]:
        """``(exit status, peak RSS in MiB)``; the child is killed after ``timeout`` seconds.

        Reaped with ``wait4`` only (``Popen.poll`` would reap it first and lose its resource usage).
        """
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.process.pid, 0 if time.monotonic() > deadline else os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.process.kill()
            time.sleep(0.05)
        self._done.set()
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return self.process.returncode, usage.ru_maxrss / 1024


def _env(pythonpath: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": pythonpath}


def validate_peak(path: Path, pythonpath: str, kill_above: int, timeout: float) -> str:
    process = subprocess.Popen([sys.executable, "-m", "odoo_chorus_rouen.cli", "validate", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(pythonpath), cwd=pythonpath)
    watch = Watch(process, kill_above)
    started = time.perf_counter()
    output = threading.Thread(target=process.stdout.read, daemon=True)
    output.start()
    status, peak = watch.wait(timeout)
    seconds = time.perf_counter() - started
    if watch.killed:
        return f"killed past {kill_above // MIB} MiB after {seconds:.1f} s"
    return f"peak RSS {peak:6.0f} MiB, {seconds:5.1f} s, exit {status}"


def sandbox_peak(path: Path, pythonpath: str, kill_above: int, timeout: float) -> str:
    process = subprocess.Popen([sys.executable, "-m", "odoo_chorus_rouen.cli", "sandbox", "--port", "0", "--delay",
                                "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=_env(pythonpath), cwd=pythonpath)
    url = None
    for line in process.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    threading.Thread(target=process.stdout.read, daemon=True).start()
    watch = Watch(process, kill_above)
    creds = DEFAULT_CREDENTIALS
    started = time.perf_counter()
    outcome = "?"
    try:
        token = requests.post(f"{url}/api/oauth/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret,
        }).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "cpro-account": creds.cpro_account}
        body = {"fichierFlux": base64.b64encode(path.read_bytes()).decode("ascii"), "nomFichier": path.name,
                "syntaxeFlux": "IN_DP_E2_CII_FACTURX"}
        answer = requests.post(f"{url}/cpro/factures/v1/deposer/flux", json=body, headers=headers, timeout=timeout)
        flow = answer.json().get("numeroFluxDepot")
        report = requests.post(f"{url}/cpro/transverses/v1/consulterCRDetaille", json={"numeroFluxDepot": flow},
                               headers=headers, timeout=timeout).json()
        outcome = report.get("etatCourantDepotFlux", "?")
    except (requests.RequestException, ValueError) as err:
        outcome = f"no answer ({type(err).__name__})"
    seconds = time.perf_counter() - started
    try:
        os.kill(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    _status, peak = watch.wait(30)
    if watch.killed:
        return f"killed past {kill_above // MIB} MiB after {seconds:.1f} s"
    return f"peak RSS {peak:6.0f} MiB, {seconds:5.1f} s, flow {outcome}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pythonpath", default=str(ROOT), help="checkout whose odoo_chorus_rouen is measured")
    parser.add_argument("--kill-above", type=int, default=4096, metavar="MB", help="kill a child past this RSS")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per measure")
    args = parser.parse_args(argv)
    kill_above = args.kill_above * MIB
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "normal": make_facturx("BENCH-0001"),
            "many-attachments": many_attachments_pdf(),
            "looping-name-tree": looping_name_tree_pdf(),
        }
        print(f"measuring {args.pythonpath}")
        for name, data in files.items():
            path = Path(tmp) / f"{name}.pdf"
            path.write_bytes(data)
            print(f"{name:<18} ({len(data) / 1024:7.1f} KB)")
            print(f"  validate          {validate_peak(path, args.pythonpath, kill_above, args.timeout)}", flush=True)
            print(f"  sandbox deposit   {sandbox_peak(path, args.pythonpath, kill_above, args.timeout)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
