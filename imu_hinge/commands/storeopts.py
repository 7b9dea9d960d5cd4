"""Shared by the commands that use the store: the ``--db PATH`` option and opening the store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imu_hinge.jsonable import dumps, format_number
from imu_hinge.store import Store
from imu_hinge.store.db import ENV_DB


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH",
                        help=f"store file (default: ${ENV_DB}, else store.sqlite3 in the user's data directory)")


def open_store(args: argparse.Namespace, *, create: bool = True) -> Store:
    """The store named by ``--db`` (or the default); ``create=False`` for commands that only read."""
    return Store(getattr(args, "db", None), create=create)


def print_json(doc: Any, out: Any = None) -> None:
    """``doc`` as indented JSON on stdout (NaN -> null)."""
    print(dumps(doc, indent=1, fallback=str), file=out or sys.stdout)


def fmt(value: float | None, spec: str = "5.1f") -> str:
    """``value`` formatted, or a right-aligned dash when missing."""
    return format_number(value, spec)
