"""Schema versions and the ordered migrations between them (``PRAGMA user_version``).

A new store is built by running every migration from version 0; an older store is brought
up to date the same way, each step in its own transaction together with its
``user_version`` bump, so an interrupted upgrade leaves the file at the last complete
version. To change the schema: append a function to :data:`MIGRATIONS` (never edit an
existing one) and add a test that opens a file of the previous version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imu_hinge.errors import StoreError
from imu_hinge.store import schema
from imu_hinge.store.db import APPLICATION_ID, transaction


@dataclass(frozen=True)
class Migration:
    version: int
    """The schema version this step produces."""
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    for sql in statements:  # one by one: executescript() would commit in the middle of the transaction
        conn.execute(sql)


def _v1_initial(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    _run(conn, schema.V1)


def _v2_settings_and_indexes(conn: sqlite3.Connection) -> None:
    _run(conn, schema.V2)


def _v3_content_hash(conn: sqlite3.Connection) -> None:
    _run(conn, schema.V3)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "people, calibrations, sessions, sets, reps, rep faults, alerts", _v1_initial),
    Migration(2, "per-person threshold settings; indexes for history and deletes", _v2_settings_and_indexes),
    Migration(3, "sessions.content_sha256: the same recording files as the same session", _v3_content_hash),
)
LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_ownership(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; :class:`StoreError` if it is another program's SQLite file or too new."""
    version = schema_version(conn)
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables:
            raise StoreError(f"{path} is an SQLite database but not an imu-hinge store; use another --db", path=path)
        return 0
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite database but not an imu-hinge store; use another --db", path=path)
    if version > LATEST_VERSION:
        raise StoreError(f"{path} was written by a newer imu-hinge (store schema v{version}; this version "
                         f"knows up to v{LATEST_VERSION}); upgrade imu-hinge", path=path)
    return version


def migrate(conn: sqlite3.Connection, path: Path, target: int | None = None) -> int:
    """Bring the store at ``conn`` to ``target`` (default: the latest); return the version reached."""
    target = LATEST_VERSION if target is None else target
    version = check_ownership(conn, path)
    for step in MIGRATIONS:
        if step.version <= version:
            continue
        if step.version > target:
            break
        with transaction(conn):
            # re-read inside the write lock: another process may have migrated meanwhile
            if schema_version(conn) >= step.version:
                continue
            step.apply(conn)
            conn.execute(f"PRAGMA user_version = {int(step.version)}")
    return schema_version(conn)
