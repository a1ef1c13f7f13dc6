#!/usr/bin/env python3
"""Extract the Chorus Pro flow states and invoice statuses from CHORUS_PRO_API.md.

Usage (from the repository root)::

    python3 data/reference/extract_statuses.py ../shared/docs/CHORUS_PRO_API.md

writes ``flow_states.txt`` (§3.3, first column of the "Flow states" table) and
``invoice_statuses.txt`` (§3.8, the "Full enumeration, in Swagger order" list) next to this
script, one code per line, in document order.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def section(text: str, title_start: str) -> str:
    """The body of the ``### <title_start>...`` section, up to the next ``###``/``##`` heading."""
    match = re.search(rf"^### {re.escape(title_start)}.*?$(.*?)(?=^##)", text, re.S | re.M)
    if not match:
        raise SystemExit(f"section {title_start!r} not found")
    return match.group(1)


def flow_states(text: str) -> list[str]:
    body = section(text, "3.3 ")
    table = body[body.index("**Flow states"):]
    codes: list[str] = []
    for line in table.splitlines():
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| Value"):
            if codes and not line.startswith("|"):
                break  # end of the table
            continue
        first_cell = line.split("|")[1]
        codes += CODE.findall(first_cell)
    return codes


def invoice_statuses(text: str) -> list[str]:
    body = section(text, "3.8 ")
    block = re.search(r"Full enumeration.*?:\s*\n\s*\n`([^`]*)`", body, re.S)
    if not block:
        raise SystemExit("invoice status enumeration not found in §3.8")
    return [code.strip() for code in block.group(1).replace("\n", " ").split(",") if code.strip()]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    text = Path(argv[0]).read_text(encoding="utf-8")
    for name, codes in (("flow_states.txt", flow_states(text)), ("invoice_statuses.txt", invoice_statuses(text))):
        if len(codes) != len(set(codes)):
            raise SystemExit(f"duplicate codes in {name}")
        (HERE / name).write_text("".join(f"{code}\n" for code in codes), encoding="utf-8")
        print(f"{name}: {len(codes)} codes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
