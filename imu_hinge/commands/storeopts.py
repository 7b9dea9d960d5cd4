"""Shared by the commands that use the store: the ``--db PATH`` option and opening the store."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from imu_hinge.jsonable import dumps, format_number

if TYPE_CHECKING:
    from imu_hinge.store import Store

ENV_DB_HELP = "IMU_HINGE_DB"
"""imu_hinge.store.db.ENV_DB, written out: the option's help does not load the store package (17 ms of every
command's start-up, analyze's included; a test holds the two equal)."""


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH",
                        help=f"store file (default: ${ENV_DB_HELP}, else store.sqlite3 in the user's data directory)")


def open_store(args: argparse.Namespace, *, create: bool = True) -> Store:
    """The store named by ``--db`` (or the default); ``create=False`` for commands that only read."""
    from imu_hinge.store import Store

    return Store(getattr(args, "db", None), create=create)


def print_json(doc: Any, out: Any = None) -> None:
    """``doc`` as indented JSON on stdout (NaN -> null)."""
    print(dumps(doc, indent=1, fallback=str), file=out or sys.stdout)


def fmt(value: float | None, spec: str = "5.1f") -> str:
    """``value`` formatted, or a right-aligned dash when missing."""
    return format_number(value, spec)
