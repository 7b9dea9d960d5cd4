"""``imu-hinge advise PERSON [--exercise E] [--rules FILE]``: next progression from the person's history.

The advice names the rule that fired (from ``progression.toml`` or ``--rules FILE``), the
sessions and sets it fired on, and the rules checked before it: nothing is hidden.
"""

from __future__ import annotations

import argparse
from typing import Any

from imu_hinge.commands.storeopts import add_db_argument, open_store, print_json
from imu_hinge.rehab.exercise_catalogue import catalogue
from imu_hinge.rehab.progression import Advice, RuleCheck, advise, load_rules
from imu_hinge.store import canonical_exercise

SETS_LOOKED_AT = 50


def register(sub: Any) -> None:
    p = sub.add_parser("advise", help="progression advice from a person's history (rules: exercises --rules)",
                       description="For each exercise the person has done (or --exercise), apply the progression "
                                   "rules to the recent sets and say what to do next and why.")
    p.add_argument("person")
    p.add_argument("--exercise", metavar="E", help="only this exercise")
    p.add_argument("--rules", metavar="FILE", help="a progression rules file (default: the built-in one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_argument(p)
    p.set_defaults(func=run)


def _label(key: str) -> str:
    e = catalogue()[key]
    return f"{key} ({e.get('label', key)}, level {e.get('level')})"


def _sets_text(check: RuleCheck) -> str:
    return ", ".join(f"session #{s.session_id} {s.started_utc[:10]} set {s.set_index}" for s in check.matching)


def _check_line(check: RuleCheck, entry: dict[str, Any]) -> str:
    r = check.rule
    if not r.where and r.min_matching == 0:
        return f"{r.id}: applies whenever no rule above it does"
    conds = " and ".join(c.describe(entry) for c in r.where) or "(no condition)"
    sessions = f", from >= {r.min_sessions} sessions" if r.min_sessions > 1 else ""
    days = f", within {r.within_days:g} days" if r.within_days else ""
    return (f"{r.id}: {len(check.matching)} of the last {len(check.window)} set(s) met {conds} "
            f"(needs {r.min_matching}{sessions}{days})")


def render_advice(adv: Advice) -> str:
    entry = catalogue()[adv.exercise]
    if adv.action == "none":
        return f"{_label(adv.exercise)}: {adv.note}"
    if adv.action == "stay" or adv.targets == [adv.exercise]:
        head = f"{_label(adv.exercise)}: STAY at this step"
    else:
        head = f"{_label(adv.exercise)}: {adv.action.upper()} -> " + " or ".join(_label(t) for t in adv.targets)
    lines = [head]
    if adv.note:
        lines.append(f"  ({adv.note})")
    if adv.fired is not None:
        r = adv.fired.rule
        lines.append(f"  rule {r.id!r} fired ({r.action}): {r.why}")
        lines.append(f"    {_check_line(adv.fired, entry)}")
        if adv.fired.matching:
            lines.append(f"    on: {_sets_text(adv.fired)}")
        if r.advice:
            lines.append(f"  advice: {r.advice}")
    for check in adv.checked:
        lines.append(f"  checked first, did not fire: {_check_line(check, entry)}")
    cues = catalogue()[adv.targets[0]].get("cues", []) if adv.targets else []
    if cues:
        lines.append(f"  cues for {adv.targets[0]}: " + "; ".join(cues))
    return "\n".join(lines)


def advice_doc(adv: Advice) -> dict[str, Any]:
    def check(c: RuleCheck) -> dict[str, Any]:
        return {"rule": c.rule.id, "action": c.rule.action, "fired": c.fired, "window_sets": len(c.window),
                "matching_sets": [{"session_id": s.session_id, "started_utc": s.started_utc, "set_index": s.set_index}
                                  for s in c.matching], "needs": c.rule.min_matching}

    return {"exercise": adv.exercise, "action": adv.action, "targets": adv.targets, "note": adv.note,
            "fired": check(adv.fired) if adv.fired else None, "why": adv.fired.rule.why if adv.fired else None,
            "advice": adv.fired.rule.advice if adv.fired else None, "checked": [check(c) for c in adv.checked]}


def run(args: argparse.Namespace) -> int:
    rules = load_rules(args.rules)
    with open_store(args, create=False) as store:
        person = store.person(args.person)
        exercises = [canonical_exercise(args.exercise)] if args.exercise else store.exercises_done(person)
        advice = [advise(e, store.sets(person, e, SETS_LOOKED_AT), rules) for e in exercises]
    if args.json:
        print_json({"person": person.name, "rules": rules.source, "advice": [advice_doc(a) for a in advice]})
        return 0
    if not advice:
        print(f"{person.name}: no sessions yet (imu-hinge analyze RECORDING --person NAME --exercise E)")
        return 0
    print(f"{person.name}: progression advice (rules: {rules.source}; `imu-hinge exercises --rules` shows them)")
    for a in advice:
        print(render_advice(a))
    return 0
