"""Where the store lives, how a connection is opened, transactions, and SQLite errors as one-line messages.

The store is one SQLite file. Its path is, in order of precedence: ``--db PATH`` on the command
line (the ``path`` argument here), the ``IMU_HINGE_DB`` environment variable, and
``store.sqlite3`` in the user's data directory (``platformdirs.user_data_dir("imu-hinge")``).

Every connection runs with ``journal_mode=WAL`` (readers never block the writer),
``synchronous=NORMAL`` (safe in WAL mode: a power cut can lose the last transaction, never
corrupt the file), ``foreign_keys=ON`` and a busy timeout (``IMU_HINGE_DB_BUSY_TIMEOUT_S``,
default 5 s) after which a locked database is reported instead of waited on forever.
Connections are in autocommit mode; every write happens inside :func:`transaction`, which
commits as a whole or rolls back as a whole (``BEGIN IMMEDIATE``: the write lock is taken at
the start, so a locked store fails before anything is written).
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from imu_hinge.errors import StoreError

ENV_DB = "IMU_HINGE_DB"
ENV_BUSY_TIMEOUT_S = "IMU_HINGE_DB_BUSY_TIMEOUT_S"
DEFAULT_BUSY_TIMEOUT_S = 5.0
DB_FILENAME = "store.sqlite3"
APPLICATION_ID = 0x494D5548
"""``PRAGMA application_id`` of an imu-hinge store ("IMUH"), so a foreign SQLite file is recognised."""


def default_db_path() -> Path:
    """The store file when no ``--db`` is given: ``$IMU_HINGE_DB``, else the user's data directory."""
    env = os.environ.get(ENV_DB, "").strip()
    return Path(env).expanduser() if env else platform_db_path()


def platform_db_path() -> Path:
    """``store.sqlite3`` in the user's data directory (``platformdirs``); the folder is created on first use."""
    import platformdirs

    return Path(platformdirs.user_data_dir("imu-hinge", appauthor=False)) / DB_FILENAME


def resolve_db_path(path: str | Path | None) -> Path:
    """``path`` if given, else :func:`default_db_path`."""
    return Path(path).expanduser() if path else default_db_path()


def busy_timeout_s(value: float | None = None) -> float:
    """The busy timeout (s): ``value``, else ``$IMU_HINGE_DB_BUSY_TIMEOUT_S``, else 5 s."""
    if value is not None:
        return float(value)
    env = os.environ.get(ENV_BUSY_TIMEOUT_S, "").strip()
    try:
        return max(0.0, float(env)) if env else DEFAULT_BUSY_TIMEOUT_S
    except ValueError:
        raise StoreError(f"{ENV_BUSY_TIMEOUT_S} must be a number of seconds, got {env!r}") from None


def utc_now() -> str:
    """Now as an ISO 8601 UTC string with seconds (``2024-05-01T10:00:00Z``): sorts as text."""
    return iso_utc(_dt.datetime.now(_dt.UTC))


def iso_utc(when: _dt.datetime) -> str:
    """A datetime (naive = UTC) as the store's timestamp text."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> _dt.datetime:
    """The store's timestamp text (any ISO 8601; naive = UTC) as an aware datetime; ValueError if not one."""
    when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.UTC)


def describe(exc: sqlite3.Error, path: Path) -> str:
    """One line saying what went wrong with the store at ``path`` and what to do."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    if "locked" in low or "busy" in low:
        return (f"the store {path} is locked by another program (still busy after the timeout); "
                "close the other imu-hinge or SQLite session and try again")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return (f"{path} is not a readable imu-hinge store (not an SQLite database, or corrupt: {text}); "
                "restore a backup or use another --db")
    if "unable to open" in low:
        return f"cannot open the store {path} ({text}); check the folder exists and is writable"
    if "readonly" in low or "read-only" in low:
        return f"the store {path} is read-only ({text})"
    if "disk" in low and "full" in low:
        return f"the disk holding {path} is full; nothing was written"
    return f"store {path}: {text}"


def connect(path: Path, *, timeout_s: float | None = None) -> sqlite3.Connection:
    """Open ``path`` (created if missing) with the store's pragmas; SQLite errors become :class:`StoreError`."""
    if not path.parent.is_dir():
        raise StoreError(f"cannot create the store {path}: its folder does not exist", path=path)
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a store file", path=path)
    wait_s = busy_timeout_s(timeout_s)
    try:
        conn = sqlite3.connect(str(path), timeout=wait_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path), path=path) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            conn.execute("PRAGMA journal_mode")  # e.g. an in-memory path: keep what SQLite chose
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(describe(exc, path), path=path) from None
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception (even KeyboardInterrupt) rolls everything back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


P = ParamSpec("P")
R = TypeVar("R")


def guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Decorator for methods of an object with a ``path``: :class:`sqlite3.Error` -> :class:`StoreError`."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            owner: Any = args[0] if args else None
            where = getattr(owner, "path", None)
            raise StoreError(describe(exc, Path(where or "?")), path=where) from None

    return wrapper
