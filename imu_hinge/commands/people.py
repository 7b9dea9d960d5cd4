"""``imu-hinge people add|list|show|set``: the people in the store, their range and their thresholds."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imu_hinge.commands.storeopts import add_db_argument, fmt, open_store, print_json
from imu_hinge.errors import UsageError
from imu_hinge.store import ALL_EXERCISES, Store


def register(sub: Any) -> None:
    p = sub.add_parser("people", help="add, list and show people; set their thresholds",
                       description="People in the store (see --db): their range calibration (Lmax/Lext), "
                                   "per-exercise lumbar-flexion thresholds and sessions.")
    actions = p.add_subparsers(dest="people_action", metavar="ACTION")
    a = actions.add_parser("add", help="add a person", description="Add a person to the store (creating it).")
    a.add_argument("name", help="the person's name (unique, case-insensitive)")
    a.add_argument("--notes", help="free text kept with the person")
    a.set_defaults(func=run_add)
    ls = actions.add_parser("list", help="list people with their session counts and Lmax")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=run_list)
    sh = actions.add_parser("show", help="one person: range calibration, thresholds, sessions")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true", help="print JSON instead of text")
    sh.set_defaults(func=run_show)
    st = actions.add_parser("set", help="set a person's lumbar-flexion threshold (per exercise or for all)",
                            description="Set the lumbar-flexion alert threshold `analyze --person` applies: a % of "
                                        "the person's calibrated Lmax (`imu-hinge calibrate range`) or degrees; "
                                        "for one exercise or, without --exercise, for every exercise without "
                                        "its own setting.")
    st.add_argument("name")
    st.add_argument("--exercise", metavar="E", help="exercise from `imu-hinge exercises` (default: all)")
    how = st.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold-pct", type=float, metavar="PCT", help="threshold as %% of Lmax, e.g. 60")
    how.add_argument("--threshold-deg", type=float, metavar="DEG", help="threshold in deg, e.g. 18")
    how.add_argument("--clear", action="store_true", help="remove the setting")
    st.set_defaults(func=run_set)
    for leaf in (a, ls, sh, st):
        add_db_argument(leaf)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def run_add(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        person = store.add_person(args.name, args.notes)
        print(f"added {person.name} to {store.path}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with open_store(args, create=False) as store:
        rows = store.people()
    if args.json:
        print_json([{"name": r.person.name, "created_utc": r.person.created_utc, "sessions": r.n_sessions,
                     "last_session_utc": r.last_session_utc, "lmax_deg": r.lmax_deg} for r in rows])
        return 0
    if not rows:
        print("no people yet: imu-hinge people add NAME")
        return 0
    width = max(4, *(len(r.person.name) for r in rows))
    print(f"{'name':<{width}} {'sessions':>8} {'last session':>12} {'Lmax':>5}")
    for r in rows:
        print(f"{r.person.name:<{width}} {r.n_sessions:>8} {(r.last_session_utc or '-')[:10]:>12} "
              f"{fmt(r.lmax_deg)}")
    return 0


def show_doc(store: Store, name: str) -> dict[str, Any]:
    person = store.person(name)
    ranges = store.range_calibrations(person)
    sessions = store.sessions(person)
    return {"name": person.name, "created_utc": person.created_utc, "notes": person.notes,
            "range_calibration": None if not ranges else {
                "lmax_deg": ranges[0].lmax_deg, "lext_deg": ranges[0].lext_deg, "created_utc": ranges[0].created_utc,
                "source": ranges[0].source, "count": len(ranges)},
            "settings": [{"exercise": s.exercise, "threshold_pct_lmax": s.threshold_pct_lmax,
                          "threshold_deg": s.threshold_deg, "updated_utc": s.updated_utc}
                         for s in store.settings(person)],
            "sessions": len(sessions), "first_session_utc": sessions[0].started_utc if sessions else None,
            "last_session_utc": sessions[-1].started_utc if sessions else None,
            "exercises": store.exercises_done(person)}


def run_show(args: argparse.Namespace) -> int:
    with open_store(args, create=False) as store:
        doc = show_doc(store, args.name)
    if args.json:
        print_json(doc)
        return 0
    print(f"{doc['name']} (added {doc['created_utc'][:10]})" + (f": {doc['notes']}" if doc["notes"] else ""))
    rc = doc["range_calibration"]
    if rc:
        lext = f", Lext {rc['lext_deg']:.1f} deg" if rc["lext_deg"] is not None else ""
        print(f"range: Lmax {rc['lmax_deg']:.1f} deg{lext} ({rc['created_utc'][:10]}, from {rc['source'] or '?'}; "
              f"{rc['count']} calibration(s))")
    else:
        print("range: not calibrated (imu-hinge calibrate range RECORDING --person NAME)")
    if doc["settings"]:
        for s in doc["settings"]:
            scope = "every exercise" if s["exercise"] == ALL_EXERCISES else s["exercise"]
            if s["threshold_pct_lmax"] is not None:
                deg = f" = {s['threshold_pct_lmax'] / 100 * rc['lmax_deg']:.1f} deg" if rc else " (needs Lmax)"
                print(f"threshold, {scope}: {s['threshold_pct_lmax']:g}% of Lmax{deg}")
            else:
                print(f"threshold, {scope}: {s['threshold_deg']:g} deg")
    else:
        print("thresholds: exercise defaults (imu-hinge people set NAME --threshold-pct PCT)")
    if doc["sessions"]:
        print(f"sessions: {doc['sessions']} ({doc['first_session_utc'][:10]} .. {doc['last_session_utc'][:10]}); "
              f"exercises: {', '.join(doc['exercises'])}")
    else:
        print("sessions: none yet (imu-hinge analyze RECORDING --person NAME)")
    return 0


def run_set(args: argparse.Namespace) -> int:
    for opt in ("threshold_pct", "threshold_deg"):
        v = getattr(args, opt)
        if v is not None and not v > 0:
            raise UsageError(f"--{opt.replace('_', '-')} must be a positive number, got {v}")
    with open_store(args, create=False) as store:
        person = store.person(args.name)
        scope = args.exercise or "every exercise"
        if args.clear:
            done = store.clear_threshold(person, args.exercise)
            print(f"{person.name}: threshold for {scope} {'cleared' if done else 'was not set'}")
            return 0
        setting = store.set_threshold(person, args.exercise, pct_lmax=args.threshold_pct, deg=args.threshold_deg)
        line = f"{person.name}: lumbar-flexion threshold for {setting.exercise if args.exercise else scope} " \
               f"set to {setting.describe()}"
        rc = store.range_calibration(person)
        if setting.threshold_pct_lmax is not None:
            line += (f" (= {setting.threshold_pct_lmax / 100 * rc.lmax_deg:.1f} deg with Lmax {rc.lmax_deg:.1f})"
                     if rc else "; no range calibration yet: until there is one the deg threshold applies")
        print(line)
    return 0
