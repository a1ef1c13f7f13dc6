#!/usr/bin/env python3
"""Memory of one send job over N invoices (core outbox against the sandbox): peak resident set size.

The sandbox runs in a separate process so that only the sender's memory is measured. Each invoice
is a Factur-X PDF of about 10 KB (the samples' size); the job deposits them all in one run.

    python3 bench/bench_send_memory.py --invoices 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from odoo_chorus_rouen.core.auth import Credentials, Endpoints
from odoo_chorus_rouen.core.client import ChorusClient
from odoo_chorus_rouen.core.outbox import Outbox
from odoo_chorus_rouen.sandbox import DEFAULT_CREDENTIALS
from odoo_chorus_rouen.sandbox.sample_invoices import make_facturx


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args(argv)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "odoo_chorus_rouen.sandbox", "--port", str(args.port), "--delay", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)
        url = f"http://127.0.0.1:{args.port}"
        me = psutil.Process(os.getpid())
        with tempfile.TemporaryDirectory() as tmp:
            outbox = Outbox(
                str(Path(tmp) / "outbox.sqlite3"),
                lambda: ChorusClient(Credentials.coerce(DEFAULT_CREDENTIALS), Endpoints.from_base_url(url)),
            )
            for i in range(args.invoices):
                outbox.add(make_facturx(f"MEM-{i:05d}"))
            before = me.memory_info().rss
            peak = [before]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], me.memory_info().rss)
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            outcomes = outbox.send_due()
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            outbox.close()
    finally:
        sandbox.terminate()
        sandbox.wait()
    mib = 1024 * 1024
    print(f"invoices sent        {dict(outcomes)}")
    print(f"send job time        {seconds:.1f} s ({args.invoices / seconds:.0f} invoices/s)")
    print(f"RSS before the job   {before / mib:.0f} MiB")
    print(f"RSS peak in the job  {peak[0] / mib:.0f} MiB (+{(peak[0] - before) / mib:.0f} MiB)")
    print(f"ru_maxrss (process)  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0 if outcomes.get("sent") == args.invoices else 1


if __name__ == "__main__":
    sys.exit(main())
