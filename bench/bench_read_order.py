#!/usr/bin/env python3
"""Time and memory of reading purchase orders (``core/purchase_order.py``), samples and worst cases.

Usage (from the repository root)::

    python3 bench/bench_read_order.py [--runs 20]

Each case runs in a fresh child process; "+RSS" is its peak resident memory beyond what it held once
the toolkit was imported (the reading's own cost, an upper bound). The median time of
``--runs`` reads of each sample of ``data/orders/``, then the worst files the bounds let through
(a page of text instructions just under the page cap, four such pages, four pages of drawing
without text: the document's cap) and
hostile files that are refused (a page content bomb inflating to 200 MB, a 101-page PDF).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from odoo_chorus_rouen.core.errors import InputError
from odoo_chorus_rouen.core.purchase_order import read_order
data = open(sys.argv[2], "rb").read()
def status(key):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(key + ":"))
import pypdf  # noqa: F401 - imported before the baseline, like the rest of the toolkit
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # Linux: the peak (VmHWM) starts again from the current resident size
base = status("VmRSS")
times, outcome = [], ""
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    try:
        reading = read_order(data)
        outcome = f"read, SIRET {reading.value('siret')}"
    except InputError as err:
        outcome = f"refused ({err.code})"
    times.append(time.perf_counter() - start)
print(json.dumps({"median": statistics.median(times), "max": max(times), "outcome": outcome,
                  "rss": status("VmHWM") - base}))
"""


def _pdf(make_orders, pages_content: list[bytes]) -> bytes:
    """A PDF of raw content streams (for the worst cases), Helvetica as F1."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for content in pages_content:
        stream = zlib.compress(content)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % len(objects))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    return make_orders.write_pdf(objects)


def _text_content(size: int) -> bytes:
    """Drawing instructions of text lines, just under ``size`` bytes once decoded."""
    line = b"BT /F1 8 Tf 1 0 0 1 40 %d Tm (Panneau AB3a 700 mm classe 2 - lot 3  35  58,00  2 030,00) Tj ET\n"
    parts, total, index = [], 0, 0
    while True:
        chunk = line % (800 - index % 760)
        if total + len(chunk) > size:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        index += 1


def _drawing(size: int) -> bytes:
    """Drawing instructions without text (lines and colours), just under ``size`` bytes once decoded."""
    chunk = b"q 0.5 g 40 700 m 500 700 l S 1 0 0 1 0 1 cm Q\n"
    return chunk * (size // len(chunk))


def cases(tmp: Path) -> list[tuple[str, Path, int]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_orders", ROOT / "data" / "make_orders.py")
    make_orders = importlib.util.module_from_spec(spec)
    sys.modules["make_orders"] = make_orders
    spec.loader.exec_module(make_orders)
    from odoo_chorus_rouen.core.order_text import MAX_PAGE_CONTENT as page

    found = [(path.name, path, 0) for path in sorted((ROOT / "data" / "orders").iterdir())
             if path.suffix in (".pdf", ".xml")]
    worst = {
        f"worst page: {page // 1024} KB of text instructions": _pdf(make_orders, [_text_content(page - 64)]),
        f"4 pages of {page // 1024} KB of text": _pdf(make_orders, [_text_content(page - 64)] * 4),
        f"worst file: 4 pages of {page // 1024} KB of drawing": _pdf(make_orders, [_drawing(page - 64)] * 4),
        "bomb: page content inflating to 200 MB": _pdf(make_orders, [b" " * (200 * 1024 * 1024)]),
        "101 pages": make_orders.build_pdf([make_orders.Page().text(50, 700, "x") for _ in range(101)], "many"),
    }
    for name, data in worst.items():
        path = tmp / (name.split(":")[0].replace(" ", "_") + ".pdf")
        path.write_bytes(data)
        found.append((name, path, 1))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="reads per sample (default 20; worst cases: 3)")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        print(f"{'case':42} {'size':>9} {'median':>9} {'max':>9} {'+RSS':>9}  outcome")  # noqa: T201
        for name, path, heavy in cases(Path(folder)):
            runs = 3 if heavy else args.runs
            result = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(path), str(runs)],
                                    capture_output=True, text=True, timeout=600, check=True)
            figures = json.loads(result.stdout)
            print(f"{name[:42]:42} {path.stat().st_size / 1024:7.0f}KB {figures['median'] * 1000:7.0f}ms "  # noqa: T201
                  f"{figures['max'] * 1000:7.0f}ms {figures['rss'] / 1024:7.1f}MB  {figures['outcome']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
