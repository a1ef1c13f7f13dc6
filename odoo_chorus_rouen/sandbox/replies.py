"""The sandbox's answers: one reply of the platform, its return codes, and the body readers the operations share.

Paged searches read their paging with :func:`paging` and answer it with :func:`page_info`; an empty
search answers :data:`NO_RESULT`.

Kept apart from :mod:`.engine` so that the operation modules (deposits, flows, invoices, completion...)
build their answers without importing the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

OK_TRA = "TRA_MSG_00.000"
OK_GCU = "GCU_MSG_01_000"
NO_RESULT = (20000, "TRA_MSG_00.015")
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000


@dataclass
class Reply:
    """One answer of the platform: the JSON body, and the HTTP status when it is not the default.

    ``status`` None means 200 when ``codeRetour`` is 0 or ``no_result`` is set, else the configured
    status of functional errors (200 or 400).
    """

    body: dict[str, Any]
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    no_result: bool = False

    @property
    def code(self) -> int:
        return int(self.body.get("codeRetour", 0))


def error(code: int, label: str, **extra: Any) -> Reply:
    return Reply({"codeRetour": code, "libelle": label, **extra})


def text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def paging(page: Any, size: Any, default_size: int) -> tuple[int, int]:
    """The page asked for (from 1) and its size (``default_size`` when absent, at most :data:`MAX_PAGE_SIZE`)."""
    page = integer(page) or 1
    size = integer(size) or default_size
    return max(page, 1), min(max(size, 1), MAX_PAGE_SIZE)


def page_info(size: int, page: int, total: int) -> dict[str, int]:
    """``parametresRetour`` of a paged search."""
    return {"nbResultatsParPage": size, "pageCourante": page, "pages": math.ceil(total / size), "total": total}
