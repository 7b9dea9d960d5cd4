"""``imu-hinge history PERSON``: a per-session table and the trend of peak lumbar flexion and flagged reps.

The trend is a text sparkline (oldest -> newest, bucketed to 40 characters) and a
least-squares slope per week, over every session shown (``--exercise`` narrows them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from imu_hinge.commands.storeopts import add_db_argument, fmt, open_store, print_json
from imu_hinge.rehab.trend import BARS, slope_per_week, sparkline
from imu_hinge.store import Store
from imu_hinge.store.db import parse_utc


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="a person's sessions and trends (peak lumbar flexion, flagged reps)",
                       description="Per-session table (reps, flagged reps, peak lumbar flexion) and the trend of "
                                   "peak lumbar flexion and of the flagged-rep rate: a sparkline and a slope per "
                                   "week. Advice on the next progression: `imu-hinge advise PERSON`.")
    p.add_argument("person")
    p.add_argument("--exercise", metavar="E", help="only sessions of this exercise")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="table rows: the last N sessions (default 20; 0 = all); the trend uses every session")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--ascii", action="store_true", help="ASCII sparklines")
    add_db_argument(p)
    p.set_defaults(func=run)


def history_report(store: Store, person: str, exercise: str | None = None) -> dict[str, Any]:
    """The person's sessions (oldest first) and the trend numbers, JSON-ready."""
    who = store.person(person)
    rows = store.sessions(who, exercise)
    rc = store.range_calibration(who)
    times = [parse_utc(s.started_utc).timestamp() for s in rows]
    with_reps = [i for i, s in enumerate(rows) if s.n_reps]
    peak = [rows[i].peak_lumbar_max_deg for i in with_reps]
    rate = [100.0 * rows[i].n_flagged / rows[i].n_reps for i in with_reps]
    t = [times[i] for i in with_reps]
    return {
        "person": who.name, "exercise": exercise, "lmax_deg": rc.lmax_deg if rc else None,
        "sessions": [{"id": s.id, "started_utc": s.started_utc, "exercise": s.exercise, "kind": s.kind,
                      "source": s.source, "reps": s.n_reps, "flagged": s.n_flagged,
                      "flagged_pct": None if not s.n_reps else round(100.0 * s.n_flagged / s.n_reps, 1),
                      "peak_lumbar_max_deg": s.peak_lumbar_max_deg, "peak_lumbar_mean_deg": s.peak_lumbar_mean_deg,
                      "threshold_deg": s.threshold_deg} for s in rows],
        "trend": {"sessions": len(with_reps),
                  "peak_lumbar_deg": peak, "peak_lumbar_slope_deg_per_week": slope_per_week(t, peak),
                  "flagged_pct": rate, "flagged_slope_pct_per_week": slope_per_week(t, rate)},
    }


def _slope(v: float | None, unit: str) -> str:
    return "slope -  (less than a day of data)" if v is None else f"slope {v:+.2f} {unit}/week"


def render_history(report: dict[str, Any], limit: int = 20, ascii_only: bool = False) -> str:
    rows = report["sessions"]
    what = f" of {report['exercise']}" if report["exercise"] else ""
    head = f"{report['person']}: {len(rows)} session(s){what}"
    if rows:
        head += f", {rows[0]['started_utc'][:10]} .. {rows[-1]['started_utc'][:10]}"
    if report["lmax_deg"] is not None:
        head += f"; Lmax {report['lmax_deg']:.1f} deg"
    lines = [head]
    if not rows:
        lines.append("no sessions yet: imu-hinge analyze RECORDING --person NAME")
        return "\n".join(lines)
    shown = rows if limit <= 0 else rows[-limit:]
    lines.append(f"{'#':>5}  {'date':<10}  {'exercise':<22} {'reps':>4} {'flagged':>8} {'L peak':>6} {'L mean':>6} "
                 f"{'thr':>5}")
    for s in shown:
        flagged = f"{s['flagged']} {s['flagged_pct']:3.0f}%" if s["reps"] else "-"
        lines.append(f"{s['id']:>5}  {s['started_utc'][:10]:<10}  {s['exercise'][:22]:<22} {s['reps']:>4} "
                     f"{flagged:>8} {fmt(s['peak_lumbar_max_deg'], '6.1f')} {fmt(s['peak_lumbar_mean_deg'], '6.1f')} "
                     f"{fmt(s['threshold_deg'])}")
    if len(shown) < len(rows):
        lines.append(f"(the last {len(shown)} of {len(rows)} sessions; --limit 0 shows all)")
    tr = report["trend"]
    if tr["sessions"]:
        peak, rate = tr["peak_lumbar_deg"], tr["flagged_pct"]
        finite = [v for v in peak if v is not None]
        lines.append(f"trend over {tr['sessions']} session(s) with reps, oldest -> newest:")
        if finite:
            lines.append(f"  peak lumbar flexion  {sparkline(peak, ascii_only=ascii_only)}  "
                         f"{fmt(finite[0], '.1f')} -> {fmt(finite[-1], '.1f')} deg, "
                         f"{_slope(tr['peak_lumbar_slope_deg_per_week'], 'deg')}")
        lines.append(f"  flagged-rep rate     {sparkline(rate, ascii_only=ascii_only, lo=0.0, hi=100.0)}  "
                     f"{rate[0]:.0f}% -> {rate[-1]:.0f}%, {_slope(tr['flagged_slope_pct_per_week'], '%')}")
    return "\n".join(lines)


def _can_print(text: str) -> bool:
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def run(args: argparse.Namespace) -> int:
    with open_store(args, create=False) as store:
        report = history_report(store, args.person, args.exercise)
    if args.json:
        print_json(report)
    else:
        print(render_history(report, args.limit, ascii_only=args.ascii or not _can_print(BARS)))
    return 0
