"""``imu-hinge sessions delete ID``: take a filed session out of the store (a mistaken or doubled filing).

Filing the same recording again for the same person already replaces its session (the store keys
sessions by the recording's SHA-256); ``delete`` is the undo for anything else. ``history PERSON``
lists the session ids.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imu_hinge.commands.report import SESSION_ID
from imu_hinge.commands.storeopts import add_db_argument, open_store


def register(sub: Any) -> None:
    p = sub.add_parser("sessions", help="delete a filed session (undo a filing)",
                       description="Manage filed sessions. `imu-hinge history PERSON` lists their ids.")
    actions = p.add_subparsers(dest="sessions_action", metavar="ACTION")
    d = actions.add_parser("delete", help="delete a filed session with its sets, reps and alerts",
                           description="Delete a filed session with its sets, reps and alerts (the recording "
                                       "file itself is left alone).")
    d.add_argument("session", metavar="ID", help="session id, as `history` shows it (e.g. 12 or #12)")
    add_db_argument(d)
    d.set_defaults(func=run_delete)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_delete(args: argparse.Namespace) -> int:
    from imu_hinge.errors import UsageError

    m = SESSION_ID.fullmatch(args.session.strip())
    if not m:
        raise UsageError(f"not a session id: {args.session!r} (`imu-hinge history PERSON` lists them)")
    with open_store(args, create=False) as store:
        session = store.session(int(m.group(1)))
        store.delete_session(int(m.group(1)))
        print(f"deleted session #{m.group(1)} ({session.get('exercise')}, {session.get('n_reps')} reps, "
              f"{str(session.get('started_utc'))[:16].replace('T', ' ')}) from {store.path}")
    return 0


__all__ = ["register", "run_delete"]
