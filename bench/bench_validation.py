#!/usr/bin/env python3
"""Time the three validation layers on the sample invoices.

Usage (from the repository root)::

    python3 bench/bench_validation.py [--runs 100] [--layout direct|reform] [FILE ...]

First the one-off costs of a fresh process (importing the module, compiling each XSD and each
Schematron stylesheet: ``warm_up()``), then the median time per invoice of each layer over
``--runs`` runs for each file (default: the good samples of ``data/invoices/``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_FILES = [
    "facturx_principal_invoice.pdf",
    "facturx_transports_invoice.pdf",
    "cii_eau_invoice.xml",
    "facturx_dechets_credit_note.pdf",
    "ubl_assainissement_invoice.xml",
]
COLUMNS = ("input", "xsd", "schematron", "chorus", "total")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100, help="validations per file (default 100)")
    parser.add_argument("--layout", default="direct", choices=("direct", "reform"))
    parser.add_argument("files", nargs="*", type=Path, help="invoice files (default: the good samples)")
    args = parser.parse_args(argv)
    files = args.files or [ROOT / "data" / "invoices" / name for name in DEFAULT_FILES]

    start = time.perf_counter()
    from odoo_chorus_rouen.core import validation
    import_seconds = time.perf_counter() - start
    compile_seconds = validation.warm_up()

    print(f"import odoo_chorus_rouen.core.validation: {import_seconds * 1000:8.1f} ms")
    print(f"first compile (warm_up), total:           {compile_seconds * 1000:8.1f} ms")
    for artefact, seconds in sorted(validation.compile_times().items(), key=lambda item: -item[1]):
        print(f"    {artefact:58} {seconds * 1000:8.1f} ms")
    print()
    print(f"median per invoice over {args.runs} runs, layout={args.layout}, in ms")
    header = f"{'file':34} {'format':12} " + " ".join(f"{c:>10}" for c in COLUMNS) + f" {'errors':>7}"
    print(header)
    print("-" * len(header))
    every: dict[str, list[float]] = {c: [] for c in COLUMNS}
    for path in files:
        data = path.read_bytes()
        runs: dict[str, list[float]] = {c: [] for c in COLUMNS}
        report = None
        for _ in range(args.runs):
            report = validation.validate(data, layout=args.layout)
            for column in COLUMNS:
                runs[column].append(report.timings.get(column, 0.0))
        for column in COLUMNS:
            every[column] += runs[column]
        medians = " ".join(f"{statistics.median(runs[c]) * 1000:10.2f}" for c in COLUMNS)
        fmt = report.format.value if report.format else "-"
        print(f"{path.name[:34]:34} {fmt:12} {medians} {len(report.errors):7d}")
    print("-" * len(header))
    medians = " ".join(f"{statistics.median(every[c]) * 1000:10.2f}" for c in COLUMNS)
    print(f"{'all files':34} {'':12} {medians}")
    try:
        import psutil

        print(f"\nresident memory after the runs: {psutil.Process().memory_info().rss / 1048576:.0f} MB")
    except ImportError:  # pragma: no cover
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
