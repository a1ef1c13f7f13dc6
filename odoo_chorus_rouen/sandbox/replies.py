"""The sandbox's answers: one reply of the platform, its return codes, and the body readers the operations share.

Kept apart from :mod:`.engine` so that the operations written in their own modules (completion, embedded
files...) build their answers without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK_TRA = "TRA_MSG_00.000"
OK_GCU = "GCU_MSG_01_000"


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
