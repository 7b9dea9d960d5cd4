"""Progression advice from a person's sets: rules as data (``imu_hinge/data/progression.toml``).

The rules file explains itself (``imu-hinge exercises --rules`` prints it). In short: rules
are checked in order against the person's most recent sets of an exercise; the first whose
conditions hold on enough sets fires, and its action moves along the catalogue's ladder
(``level`` in ``exercises.toml``). :func:`advise` returns the fired rule, the sets it fired
on, and every rule checked before it with how close it came, so the advice can say why.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from imu_hinge.errors import ConfigError
from imu_hinge.rehab.exercise_catalogue import catalogue
from imu_hinge.store.db import parse_utc
from imu_hinge.store.session_store import SET_METRICS, SetSummary

ACTIONS = ("advance", "regress", "stay")
OPS = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__, "==": float.__eq__,
       "!=": float.__ne__}
REFS = {"reps_low": ("reps", 0), "reps_high": ("reps", 1), "depth_low": ("depth_deg", 0),
        "depth_high": ("depth_deg", 1)}
_COND = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|==|!=|<|>)\s*([A-Za-z_][A-Za-z0-9_]*|[-+]?[0-9.]+(?:e[-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float | str
    """A number, or the name of one of the exercise's figures (:data:`REFS`)."""
    text: str

    def threshold(self, entry: dict[str, Any]) -> float | None:
        if isinstance(self.value, float):
            return self.value
        key, i = REFS[self.value]
        figures = entry.get(key)
        return float(figures[i]) if isinstance(figures, list) and len(figures) > i else None

    def holds(self, metrics: dict[str, float | None], entry: dict[str, Any]) -> bool:
        v, ref = metrics.get(self.metric), self.threshold(entry)
        return v is not None and ref is not None and OPS[self.op](float(v), ref)

    def describe(self, entry: dict[str, Any]) -> str:
        ref = self.threshold(entry)
        return self.text if isinstance(self.value, float) or ref is None else f"{self.text} ({ref:g})"


@dataclass(frozen=True)
class Rule:
    id: str
    action: str
    where: tuple[Condition, ...]
    last_sets: int = 3
    min_matching: int = 3
    min_sessions: int = 1
    within_days: float | None = None
    why: str = ""
    advice: str = ""


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    source: str
    text: str


def _parse_condition(text: Any, where: str) -> Condition:
    m = _COND.match(str(text))
    if not m:
        raise ConfigError(f"{where}: condition {text!r} is not 'METRIC OP VALUE' (e.g. 'rounding_rate >= 0.25')")
    metric, op, raw = m.groups()
    if metric not in SET_METRICS:
        raise ConfigError(f"{where}: unknown metric {metric!r}; known: {', '.join(SET_METRICS)}")
    try:
        value: float | str = float(raw)
    except ValueError:
        if raw not in REFS:
            raise ConfigError(f"{where}: {raw!r} is neither a number nor one of {', '.join(REFS)}") from None
        value = raw
    return Condition(metric, op, value, f"{metric} {op} {raw}")


def _int(d: dict[str, Any], key: str, default: int, where: str, low: int) -> int:
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise ConfigError(f"{where}: {key} must be an integer >= {low}, got {v!r}")
    return v


def parse_rules(data: dict[str, Any], source: str, text: str = "") -> RuleSet:
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"{source}: no [[rules]] found")
    rules, seen = [], set()
    for i, r in enumerate(rules_raw, start=1):
        if not isinstance(r, dict):
            raise ConfigError(f"{source}: rule {i} is not a table")
        rid = str(r.get("id") or f"rule-{i}")
        where = f"{source}: rule {rid!r}"
        unknown = set(r) - {"id", "action", "where", "last_sets", "min_matching", "min_sessions", "within_days",
                            "why", "advice"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if rid in seen:
            raise ConfigError(f"{where}: the id is used twice")
        seen.add(rid)
        if r.get("action") not in ACTIONS:
            raise ConfigError(f"{where}: action must be one of {', '.join(ACTIONS)}, got {r.get('action')!r}")
        conds = r.get("where", [])
        if not isinstance(conds, list):
            raise ConfigError(f"{where}: where must be a list of conditions")
        last = _int(r, "last_sets", 3, where, 1)
        need = _int(r, "min_matching", last, where, 0)
        if need > last:
            raise ConfigError(f"{where}: min_matching ({need}) cannot exceed last_sets ({last})")
        days = r.get("within_days")
        if days is not None and (not isinstance(days, int | float) or isinstance(days, bool) or days <= 0):
            raise ConfigError(f"{where}: within_days must be a positive number of days")
        rules.append(Rule(rid, str(r["action"]), tuple(_parse_condition(c, where) for c in conds), last, need,
                          _int(r, "min_sessions", 1, where, 0), None if days is None else float(days),
                          str(r.get("why", "")), str(r.get("advice", ""))))
    return RuleSet(tuple(rules), source, text)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """The rules in ``path``, or the bundled ``progression.toml``; :class:`ConfigError` if invalid."""
    if path is None:
        text = resources.files("imu_hinge").joinpath("data/progression.toml").read_text(encoding="utf-8")
        source = "progression.toml (built in)"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"rules file not found: {p}")
        text, source = p.read_text(encoding="utf-8"), str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_rules(data, source, text)


def neighbours(exercise: str, step: int) -> list[str]:
    """Ladder exercises one level above (``step`` +1) or below (-1) ``exercise``; [] at the ends or off-ladder."""
    cat = catalogue()
    entry = cat[exercise]
    if entry.get("ladder", True) is False:
        return []
    level = entry.get("level", 0)
    levels = sorted({e.get("level", 0) for e in cat.values() if e.get("ladder", True)
                     and (e.get("level", 0) - level) * step > 0}, reverse=step < 0)
    return [k for k, e in cat.items() if levels and e.get("ladder", True) and e.get("level") == levels[0]]


@dataclass
class RuleCheck:
    rule: Rule
    window: list[SetSummary]
    matching: list[SetSummary]
    fired: bool

    @property
    def sessions(self) -> list[int]:
        return sorted({s.session_id for s in self.matching})


@dataclass
class Advice:
    exercise: str
    action: str
    """What the fired rule asks for (``advance``/``regress``/``stay``), or ``none`` (no sets, off-ladder)."""
    targets: list[str]
    """Exercises to do next (this one for ``stay``)."""
    fired: RuleCheck | None
    checked: list[RuleCheck] = field(default_factory=list)
    """Rules checked before the one that fired (they did not match)."""
    note: str = ""


def check_rule(rule: Rule, sets: list[SetSummary], entry: dict[str, Any]) -> RuleCheck:
    window = sets[:rule.last_sets]
    if rule.within_days is not None and window:
        newest = parse_utc(window[0].started_utc)
        window = [s for s in window if newest - parse_utc(s.started_utc) <= _dt.timedelta(days=rule.within_days)]
    matching = [s for s in window if all(c.holds(s.metrics(), entry) for c in rule.where)]
    fired = len(matching) >= rule.min_matching and len({s.session_id for s in matching}) >= rule.min_sessions
    return RuleCheck(rule, window, matching, fired)


def advise(exercise: str, sets: list[SetSummary], rules: RuleSet) -> Advice:
    """Advice for one exercise from the person's sets of it (newest first)."""
    entry = catalogue()[exercise]
    if not sets:
        return Advice(exercise, "none", [], None, note="no sets of this exercise yet")
    if entry.get("ladder", True) is False:
        return Advice(exercise, "none", [], None,
                      note=f"{exercise} is not a step of the progression; file sessions with --exercise to get advice")
    checked = []
    for rule in rules.rules:
        check = check_rule(rule, sets, entry)
        if not check.fired:
            checked.append(check)
            continue
        note = ""
        targets = [exercise]
        if rule.action != "stay":
            found = neighbours(exercise, +1 if rule.action == "advance" else -1)
            if found:
                targets = found
            else:
                note = f"{exercise} is already the {'last' if rule.action == 'advance' else 'first'} step: stay"
        return Advice(exercise, rule.action, targets, check, checked, note)
    return Advice(exercise, "stay", [exercise], None, checked, note="no rule fired: stay")
