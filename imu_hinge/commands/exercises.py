"""``imu-hinge exercises [NAME] [--rules]``: the exercise catalogue and the progression rules (both data files)."""

from __future__ import annotations

import argparse
from typing import Any

from imu_hinge.commands.storeopts import print_json
from imu_hinge.rehab.exercise_catalogue import ALIASES, catalogue, lookup


def register(sub: Any) -> None:
    p = sub.add_parser("exercises", help="list the hinge exercises (progressions, thresholds, dosage, cues)",
                       description="The exercise catalogue (imu_hinge/data/exercises.toml), regressed to advanced: "
                                   "level, expected depth and tempo, rep range, default thresholds and cues. "
                                   "--rules prints the progression rules `imu-hinge advise` applies.")
    p.add_argument("name", nargs="?", help="show one exercise in full")
    p.add_argument("--rules", action="store_true", help="print the progression rules (progression.toml)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _span(v: Any, unit: str = "") -> str:
    if isinstance(v, list) and len(v) == 2:
        return f"{v[0]:g}-{v[1]:g}{unit}"
    return "-" if v is None else f"{v:g}{unit}"


def _faults(entry: dict[str, Any]) -> dict[str, Any]:
    from imu_hinge.detection.detector_params import FaultParams

    defaults = FaultParams()
    given = entry.get("detector", {}).get("faults", {})
    return {"lumbar_flexion_deg": given.get("lumbar_flexion_deg", defaults.lumbar_flexion_deg),
            "lockout_extension_deg": given.get("lockout_extension_deg", defaults.lockout_extension_deg),
            "lumbar_led_deg": given.get("lumbar_led_deg", defaults.lumbar_led_deg)}


def _aliases(key: str) -> list[str]:
    return sorted(a for a, k in ALIASES.items() if k == key)


def print_one(key: str, entry: dict[str, Any]) -> None:
    step = f"level {entry.get('level')}" if entry.get("ladder", True) else "not a progression step"
    print(f"{key}: {entry.get('label', key)} ({step})")
    if _aliases(key):
        print(f"  also called: {', '.join(_aliases(key))}")
    print(f"  depth (peak trunk flexion): {_span(entry.get('depth_deg'), ' deg')}; rep duration: "
          f"{_span(entry.get('tempo_s'), ' s')}; dosage: {_span(entry.get('sets'))} sets of {_span(entry.get('reps'))}"
          + (f"; hold {_span(entry.get('hold_s'), ' s')}" if entry.get("hold_s") else ""))
    f = _faults(entry)
    print(f"  thresholds: lumbar flexion > {f['lumbar_flexion_deg']:g} deg, lockout extension > "
          f"{f['lockout_extension_deg']:g} deg, lumbar-led at {f['lumbar_led_deg']:g} deg")
    for section, values in entry.get("detector", {}).items():
        other = {k: v for k, v in values.items() if section != "faults" or k not in f}
        if other:
            print(f"  detector.{section}: " + ", ".join(f"{k} = {v}" for k, v in other.items()))
    for cue in entry.get("cues", []):
        print(f"  cue: {cue}")
    if entry.get("note"):
        print(f"  note: {entry['note']}")


def run(args: argparse.Namespace) -> int:
    if args.rules:
        from imu_hinge.rehab.progression import load_rules

        rules = load_rules()
        if args.json:
            print_json([{"id": r.id, "action": r.action, "where": [c.text for c in r.where], "last_sets": r.last_sets,
                         "min_matching": r.min_matching, "min_sessions": r.min_sessions,
                         "within_days": r.within_days, "why": r.why, "advice": r.advice} for r in rules.rules])
        else:
            print(f"# {rules.source}; `imu-hinge advise PERSON --rules FILE` applies an edited copy\n")
            print(rules.text.rstrip())
        return 0
    cat = catalogue()
    if args.name:
        key, entry = lookup(args.name)
        if args.json:
            print_json({"name": key, **entry, "thresholds": _faults(entry), "aliases": _aliases(key)})
        else:
            print_one(key, entry)
        return 0
    if args.json:
        print_json([{"name": k, **e, "thresholds": _faults(e), "aliases": _aliases(k)} for k, e in cat.items()])
        return 0
    print(f"{'lvl':>3}  {'exercise':<24} {'depth deg':>9} {'tempo s':>8} {'reps':>5} {'sets':>4} {'L thr':>5}  label")
    for key, e in sorted(cat.items(), key=lambda kv: not kv[1].get("ladder", True)):
        lvl = str(e.get("level", "-")) if e.get("ladder", True) else "-"
        print(f"{lvl:>3}  {key:<24} {_span(e.get('depth_deg')):>9} {_span(e.get('tempo_s')):>8} "
              f"{_span(e.get('reps')):>5} {_span(e.get('sets')):>4} {_faults(e)['lumbar_flexion_deg']:5g}  "
              f"{e.get('label', key)}")
    print("L thr: lumbar-flexion alert threshold (deg; a person's own setting overrides it). "
          "`imu-hinge exercises NAME` for cues; --rules for the progression rules.")
    return 0
