"""A request's JSON body read safely: nesting, numbers and ids within range, or one sentence saying why not.

Shared by the ``/cpro`` gateway and the ``/sandbox`` control API, which turn :class:`JsonBodyError`
into a 400 answer. Without it, ``[[[[...]]]]`` nested 100,000 deep ended in a ``RecursionError``
(HTTP 500), ``1e999`` became an infinite float that later broke the clock, and a 30-digit id
overflowed SQLite (HTTP 500).

>>> parse_json(b'{"count": 3, "advance": 1.5}')
{'count': 3, 'advance': 1.5}
>>> parse_json(b'{"advance": 1e999}')
Traceback (most recent call last):
...
odoo_chorus_rouen.sandbox.json_body.JsonBodyError: the number 1e999 is out of range (a finite number is expected)
>>> parse_json(b"[" * 40 + b"]" * 40)
Traceback (most recent call last):
...
odoo_chorus_rouen.sandbox.json_body.JsonBodyError: the JSON body is nested more than 32 levels deep
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_ID", "MAX_INTEGER", "JsonBodyError", "check_id", "in_range", "parse_json"]

#: Levels of arrays and objects a body may nest (the deepest body of the API nests 3).
MAX_DEPTH = 32
#: Largest integer accepted anywhere (SQLite's signed 64 bits).
MAX_INTEGER = 2**63 - 1
#: Largest id (``identifiantFactureCPP``, ``idStructureCPP``...): Chorus Pro's ids are 32-bit integers.
MAX_ID = 2**31 - 1


class JsonBodyError(ValueError):
    """The body is not usable JSON; the message is one sentence for the client (HTTP 400).

    :ivar syntax: the body is not JSON at all (the gateway answers 415 then, as PISTE does).
    """

    def __init__(self, message: str, *, syntax: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax


def _integer(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > 19 or abs(int(text)) > MAX_INTEGER:
        shown = text if len(text) <= 30 else f"{text[:12]}...({len(digits)} digits)"
        raise JsonBodyError(f"the number {shown} is out of range (at most {MAX_INTEGER})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonBodyError(f"the number {text[:30]} is out of range (a finite number is expected)")
    return value


def _constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not a number JSON allows")


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body`` (UTF-8).

    :raises JsonBodyError: not UTF-8 or not JSON, nested more than :data:`MAX_DEPTH` levels, a number
        that is not finite or beyond :data:`MAX_INTEGER`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JsonBodyError(f"the body is not UTF-8 text ({err.reason} at byte {err.start})", syntax=True) from None
    too_deep = JsonBodyError(f"the JSON body is nested more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except JsonBodyError:
        raise
    except RecursionError:
        raise too_deep from None
    except ValueError as err:
        raise JsonBodyError(f"the body is not JSON ({err})", syntax=True) from None
    if _depth(value) > MAX_DEPTH:
        raise too_deep
    return value


def check_id(text: str, what: str = "id") -> int:
    """An id written in a path (digits), within the platform's 32-bit range.

    >>> check_id("3200001")
    3200001
    >>> check_id("99999999999", "invoice id")
    Traceback (most recent call last):
    ...
    odoo_chorus_rouen.sandbox.json_body.JsonBodyError: invoice id 99999999999 is out of range (at most 2147483647)
    """
    if not text.isdigit() or len(text) > 10 or int(text) > MAX_ID:
        raise JsonBodyError(f"{what} {text[:30]} is out of range (at most {MAX_ID})")
    return int(text)


def in_range(value: Any, what: str, low: float, high: float) -> float:
    """``value`` as a number between ``low`` and ``high`` (a setting of the control API).

    >>> in_range("2.5", "delay", 0, 3600)
    2.5
    >>> in_range(1e300, "delay", 0, 3600)
    Traceback (most recent call last):
    ...
    odoo_chorus_rouen.sandbox.json_body.JsonBodyError: delay must be between 0 and 3600, not 1e+300
    """
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise JsonBodyError(f"{what} must be a number, not {str(value)[:30]!r}") from None
    if not low <= number <= high:  # also refuses nan
        raise JsonBodyError(f"{what} must be between {low:g} and {high:g}, not {number:g}")
    return number
