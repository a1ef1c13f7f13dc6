"""Sandbox time: wall time plus a persisted offset, and the date formats Chorus Pro writes."""

from __future__ import annotations

import math
import re
import time
from datetime import date, datetime, timedelta, timezone, tzinfo

__all__ = ["PARIS", "Clock", "format_date", "format_datetime", "format_minutes", "parse_moment"]


def _paris() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Paris")
    except Exception:  # no tz database on this machine: UTC is close enough for a sandbox
        return timezone.utc


PARIS = _paris()


YEAR = 365.25 * 86400
#: How far ahead of real time the clock may be moved: dates stay within what every format can write.
MAX_OFFSET = 1000 * YEAR


class Clock:
    """``now()`` = wall time + ``offset`` seconds; only ever moves forward through :meth:`advance`."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = float(offset)

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        seconds = float(seconds)
        if seconds < 0 or math.isnan(seconds) or math.isinf(seconds):
            raise ValueError("the sandbox clock only moves forward: advance must be a positive number of seconds")
        if self.offset + seconds > MAX_OFFSET:
            raise ValueError(f"the sandbox clock moves at most {MAX_OFFSET / YEAR:.0f} years ahead of real time, "
                             f"not {(self.offset + seconds) / YEAR:.3g} years")
        self.offset += seconds
        return self.now()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, PARIS)


def format_datetime(ts: float | None) -> str | None:
    """ISO 8601 with milliseconds and offset, e.g. ``2026-11-26T15:10:25.536+01:00``."""
    return None if ts is None else _dt(ts).isoformat(timespec="milliseconds")


def format_date(ts: float | None) -> str | None:
    """``YYYY-MM-DD`` (Paris time)."""
    return None if ts is None else _dt(ts).date().isoformat()


def format_minutes(ts: float | None) -> str | None:
    """``YYYY-MM-DD HH:MM`` (Paris time), the format of history entries and recycling dates."""
    return None if ts is None else _dt(ts).strftime("%Y-%m-%d %H:%M")


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_moment(value: str, *, end_of_day: bool = False) -> float:
    """Parse a datetime criterion: ISO 8601 (offset optional, ``Z`` accepted), ``YYYY-MM-DD HH:MM[:SS]``
    or a bare date (start of that day, or its last instant when ``end_of_day``). Naive values are Paris time.

    :raises ValueError: on anything else.
    """
    text = str(value).strip()
    if _DATE_ONLY.match(text):
        day = date.fromisoformat(text)
        moment = datetime(day.year, day.month, day.day, tzinfo=PARIS)
        if end_of_day:
            moment += timedelta(days=1)
            return moment.timestamp() - 0.000001
        return moment.timestamp()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.timestamp()
