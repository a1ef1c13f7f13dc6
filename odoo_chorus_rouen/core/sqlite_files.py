"""What an existing file given as a SQLite store holds, read before anything is written into it.

The send journal (``chorus-rouen send --journal``) and the sandbox's state (``--state``) are SQLite
files named by the user: a wrong name must be refused, never filled with our tables.

>>> sqlite_tables("/nonexistent/folder/file.sqlite3") is None
True
"""

from __future__ import annotations

import os
import sqlite3

__all__ = ["NotSQLiteError", "sqlite_tables"]

_SQLITE_MAGIC = b"SQLite format 3\x00"


class NotSQLiteError(ValueError):
    """The file exists, is not empty and is not a SQLite database."""


def sqlite_tables(path: str) -> set[str] | None:
    """The table names of the SQLite file at ``path``; None when it does not exist or is empty.

    :raises NotSQLiteError: a file that is something else.
    :raises sqlite3.Error: SQLite cannot open it.
    :raises OSError: it cannot be read.
    """
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path, "rb") as handle:
        if handle.read(16) != _SQLITE_MAGIC:
            raise NotSQLiteError(path)
    db = sqlite3.connect(path, timeout=30)
    try:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
