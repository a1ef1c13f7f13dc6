"""What the sandbox knows about duplicates: flows refused as a duplicate, numbers the recipient got twice.

The exactly-once checks (tests, soaks) ask two different questions, and only the second one is a fault:

* how many flows Chorus Pro refused because the invoice number was already used by the supplier
  (``listeErreurDP`` citing the duplicate rule, see :data:`.rules.MESSAGES` ``duplicate``). After an
  uncertain deposit that is *allowed*: the sender deposited again once the settle delay was over, and
  the first flow was integrated later (a long processing delay);
* how many invoice numbers the recipient received more than once (two integrated invoices of the same
  supplier and number, neither rejected by the recipient: ``REJETEE`` frees a number). That must always be 0.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DUPLICATE_MARKER", "duplicate_report"]

#: The part of the duplicate refusal that names it (the platform's wording, CHORUS_PRO_API.md §5.6 [U]).
DUPLICATE_MARKER = "(doublon"


def duplicate_report(store: Any, numbers: list[str] | None = None) -> dict[str, Any]:
    """Duplicate flows and numbers received twice, over every flow (or only those holding ``numbers``).

    :return: ``{"refused_duplicate_flows": int, "refused_duplicates": {number: count},
        "received_twice": int, "received_twice_numbers": [number, ...]}``
    """
    wanted = set(numbers) if numbers is not None else None
    refused: dict[str, int] = {}
    for row in store.all("SELECT result FROM flows WHERE finalized = 1 AND result IS NOT NULL"):
        result = json.loads(row["result"])
        for entry in result.get("listeErreurDP") or []:
            number = entry.get("numeroDP")
            if DUPLICATE_MARKER in (entry.get("libelleErreurDP") or "") and (wanted is None or number in wanted):
                refused[number] = refused.get(number, 0) + 1
    twice = [
        row["number"]
        for row in store.all(
            "SELECT number, supplier_siret, COUNT(*) AS n FROM invoices WHERE status != 'REJETEE'"
            " GROUP BY number, supplier_siret HAVING n > 1"
        )
        if wanted is None or row["number"] in wanted
    ]
    return {
        "refused_duplicate_flows": sum(refused.values()),
        "refused_duplicates": refused,
        "received_twice": len(twice),
        "received_twice_numbers": sorted(twice),
    }
