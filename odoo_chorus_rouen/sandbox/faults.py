"""Faults on demand: what a flaky gateway or platform does to a client.

Kinds (``kind``):

- ``http_500``, ``http_503``: answer that status at once, before anything is processed.
- ``http_500_after``: process the call normally (a deposit IS recorded), then answer 500 anyway.
- ``http_429``: answer 429 with a ``Retry-After`` header (``retry_after`` seconds, default 1).
- ``slow``: process the call normally, then wait ``delay`` seconds (default 2) before answering.
- ``expire_token``: the call's access token expires now; the call gets 401 and the client must
  fetch a new token (only consumed by a call that carries a currently valid token).
- ``cut``: process the call normally (a deposit IS recorded), then close the connection without
  answering: the client cannot know whether its request was taken.
- ``incident``: only for ``deposerFluxFacture``: the deposit is taken normally but the flow ends
  ``IN_INCIDENTE`` instead of being integrated.

Queued faults hit the next ``count`` matching calls, first queued first served. A fault without
``operation`` matches every ``/cpro`` API call; the token endpoint is only hit when the operation
is ``"token"``. Random mode (``probability``, ``seed``) draws a fault for each matching call when no
queued fault applies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .json_body import in_range
from .store import Store

__all__ = ["FAULT_KINDS", "RANDOM_DEFAULT_KINDS", "Fault", "FaultBox", "FaultError"]

FAULT_KINDS = ("http_500", "http_500_after", "http_503", "http_429", "slow", "expire_token", "cut", "incident")
RANDOM_DEFAULT_KINDS = ("http_500", "http_500_after", "http_503", "http_429", "slow", "expire_token", "cut")
_ALIASES = {
    "500": "http_500",
    "503": "http_503",
    "429": "http_429",
    "expired_token": "expire_token",
    "expired": "expire_token",
    "timeout": "slow",
    "disconnect": "cut",
    "cut_after_deposit": "cut",
}
DEFAULT_DELAY = 2.0
DEFAULT_RETRY_AFTER = 1
#: Bounds of a fault's settings: an answer slower than the clients' longest timeout (one hour) or a
#: Retry-After beyond a day tests nothing more, and a fault queue of a million calls is plenty.
MAX_DELAY = 3600.0
MAX_RETRY_AFTER = 86400
MAX_COUNT = 1_000_000


def _timing(delay: Any, retry_after: Any) -> tuple[float, int]:
    """``(delay, retry_after)`` of a fault, checked: seconds within their bounds."""
    try:
        delay = in_range(delay, "delay", 0, MAX_DELAY)
        retry_after = int(in_range(DEFAULT_RETRY_AFTER if retry_after is None else retry_after, "retry_after", 0,
                                   MAX_RETRY_AFTER))
    except ValueError as err:
        raise FaultError(str(err)) from None
    return delay, retry_after


class FaultError(ValueError):
    """A fault request cannot be understood (the message names the field)."""


@dataclass
class Fault:
    kind: str
    operation: str | None = None
    delay: float = DEFAULT_DELAY
    retry_after: int = DEFAULT_RETRY_AFTER
    source: str = "queue"  # "queue" or "random"
    extra: dict[str, Any] = field(default_factory=dict)


def normalize_kind(kind: Any) -> str:
    text = str(kind or "").strip().lower()
    text = _ALIASES.get(text, text)
    if text not in FAULT_KINDS:
        raise FaultError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    return text


def _matches(filter_: str | None, operation: str, path: str) -> bool:
    if not filter_ or filter_ == "*":
        return operation != "token"
    names = {part.strip() for part in filter_.split(",") if part.strip()}
    return operation in names or path in names


class FaultBox:
    """Queued and random faults, persisted in the store (the random generator restarts from its seed)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._random_config: dict[str, Any] | None = store.get_meta("random_faults")
        self._rng = random.Random(self._random_config.get("seed") if self._random_config else None)
        self.drawn: dict[str, int] = {}  # "operation:kind" -> faults served since start (not persisted)

    # -- configuration ------------------------------------------------------------------------------
    def inject(
        self,
        kind: str,
        count: int = 1,
        operation: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
    ) -> dict[str, Any]:
        kind = normalize_kind(kind)
        try:
            count = int(count)
        except (TypeError, ValueError, OverflowError) as err:
            raise FaultError("count must be an integer") from err
        if not 1 <= count <= MAX_COUNT:
            raise FaultError(f"count must be between 1 and {MAX_COUNT}")
        delay, retry_after = _timing(DEFAULT_DELAY if delay is None else delay, retry_after)
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO faults (kind, remaining, operation, delay, retry_after) VALUES (?, ?, ?, ?, ?)",
                (kind, count, operation or None, delay, retry_after),
            )
        return {
            "id": cursor.lastrowid,
            "kind": kind,
            "count": count,
            "operation": operation,
            "delay": delay,
            "retry_after": retry_after,
        }

    def set_random(
        self,
        probability: float,
        seed: int | None = None,
        kinds: list[str] | tuple[str, ...] | None = None,
        operation: str | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
    ) -> dict[str, Any] | None:
        try:
            probability = in_range(probability, "probability", 0, 1)
        except ValueError as err:
            raise FaultError(str(err)) from None
        if probability == 0:
            self.clear_random()
            return None
        config = {
            "probability": probability,
            "seed": seed,
            "kinds": [normalize_kind(kind) for kind in (kinds or RANDOM_DEFAULT_KINDS)],
            "operation": operation,
        }
        config["delay"], config["retry_after"] = _timing(0.5 if delay is None else delay, retry_after)
        with self.store.transaction():
            self.store.set_meta("random_faults", config)
            self._random_config = config
            self._rng = random.Random(seed)
        return config

    def clear_random(self) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = 'random_faults'")
            self._random_config = None

    def clear(self) -> None:
        with self.store.transaction() as conn:
            self.drawn.clear()
            conn.execute("DELETE FROM faults")
            conn.execute("DELETE FROM meta WHERE key = 'random_faults'")
            self._random_config = None

    def reload(self) -> None:
        self._random_config = self.store.get_meta("random_faults")
        self._rng = random.Random(self._random_config.get("seed") if self._random_config else None)

    def describe(self) -> dict[str, Any]:
        rows = self.store.all("SELECT * FROM faults ORDER BY id")
        return {
            "queued": [
                {
                    "id": r["id"],
                    "kind": r["kind"],
                    "remaining": r["remaining"],
                    "operation": r["operation"],
                    "delay": r["delay"],
                    "retry_after": r["retry_after"],
                }
                for r in rows
            ],
            "random": self._random_config,
            "drawn": dict(sorted(self.drawn.items())),
        }

    # -- use ----------------------------------------------------------------------------------------
    def draw(self, operation: str, path: str, *, token_valid: bool) -> Fault | None:
        """Consume and return the fault for this call, if any."""
        with self.store.lock:
            fault = self._draw(operation, path, token_valid)
            if fault is not None:
                key = f"{operation}:{fault.kind}"
                self.drawn[key] = self.drawn.get(key, 0) + 1
            return fault

    def _draw(self, operation: str, path: str, token_valid: bool) -> Fault | None:
        with self.store.transaction() as conn:
            for row in conn.execute("SELECT * FROM faults ORDER BY id").fetchall():
                if not _matches(row["operation"], operation, path):
                    continue
                if row["kind"] == "expire_token" and not token_valid:
                    continue
                if row["kind"] == "incident" and operation != "deposerFluxFacture":
                    continue
                if row["remaining"] <= 1:
                    conn.execute("DELETE FROM faults WHERE id = ?", (row["id"],))
                else:
                    conn.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],))
                return Fault(row["kind"], row["operation"], row["delay"], row["retry_after"])
            return self._draw_random(operation, path, token_valid)

    def _draw_random(self, operation: str, path: str, token_valid: bool) -> Fault | None:
        config = self._random_config
        if not config or not _matches(config.get("operation"), operation, path):
            return None
        if self._rng.random() >= config["probability"]:
            return None
        kinds = [
            kind
            for kind in config["kinds"]
            if (kind != "expire_token" or token_valid) and (kind != "incident" or operation == "deposerFluxFacture")
        ]
        if not kinds:
            return None
        kind = self._rng.choice(kinds)
        return Fault(kind, config.get("operation"), config["delay"], config["retry_after"], source="random")
