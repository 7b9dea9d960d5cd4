"""The exercise catalogue (``imu_hinge/data/exercises.toml``): data, not code."""

from __future__ import annotations

import dataclasses
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from imu_hinge.analysis.analysis_params import AnalysisParams, params_from_dict
from imu_hinge.errors import UsageError

ALIASES = {"rdl": "barbell_rdl", "swing": "kettlebell_swing", "kb_swing": "kettlebell_swing",
           "deadlift": "conventional_deadlift", "trap_bar": "trap_bar_deadlift", "sumo": "sumo_deadlift"}


@cache
def catalogue() -> dict[str, dict[str, Any]]:
    """Exercise name -> entry, in progression order."""
    text = resources.files("imu_hinge").joinpath("data/exercises.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return dict(sorted(data.items(), key=lambda kv: (kv[1].get("level", 99), kv[0])))


def lookup(name: str) -> tuple[str, dict[str, Any]]:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    cat = catalogue()
    if key not in cat:
        raise UsageError(f"unknown exercise {name!r}; see `imu-hinge exercises` (e.g. {', '.join(list(cat)[:4])})")
    return key, cat[key]


def apply_exercise(params: AnalysisParams, name: str) -> AnalysisParams:
    """``params`` with the exercise's detector overrides applied."""
    _, entry = lookup(name)
    overrides = entry.get("detector")
    if not overrides:
        return params
    base = dataclasses.asdict(params.detector)
    for section, values in overrides.items():
        base.setdefault(section, {}).update(values)
    merged = params_from_dict({"detector": base})
    return dataclasses.replace(params, detector=merged.detector)
