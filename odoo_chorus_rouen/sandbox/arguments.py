"""Checks of the sandbox's command-line settings: one clear line instead of a traceback.

>>> check_port(8080)
>>> check_port(99999)
Traceback (most recent call last):
...
ValueError: --port must be between 0 and 65535, not 99999
"""

from __future__ import annotations

import os
import sqlite3

from ..core.sqlite_files import NotSQLiteError, sqlite_tables

__all__ = ["check_port", "check_state_path"]

def check_port(port: int) -> None:
    """:raises ValueError: a TCP port out of 0-65535."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, not {port}")


def check_state_path(path: str) -> None:
    """Refuse a state file the sandbox cannot use, before it writes anything into it.

    Accepted: ``:memory:``, a file that does not exist yet (in an existing folder), an empty file,
    or a sandbox state file (SQLite with the sandbox's ``flows`` table).

    :raises ValueError: a folder, a missing folder, a file that is not SQLite, another SQLite database.
    """
    if path == ":memory:":
        return
    if os.path.isdir(path):
        raise ValueError(f"--state {path} is a folder: give a file, e.g. {os.path.join(path, 'sandbox.sqlite3')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"--state {path}: the folder {folder} does not exist")
    try:
        tables = sqlite_tables(path)
    except OSError as err:
        raise ValueError(f"--state {path} cannot be read ({err.strerror or err})") from None
    except NotSQLiteError:
        raise ValueError(f"--state {path} is not a sandbox state file (not SQLite): give a new file name") from None
    except sqlite3.Error as err:
        raise ValueError(f"--state {path} cannot be opened ({err})") from None
    if tables and "flows" not in tables:
        raise ValueError(f"--state {path} is an SQLite database but not a sandbox state file: give a new file name")
