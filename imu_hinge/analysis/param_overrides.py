"""Change a few analysis parameters by name: ``threshold_deg=18``, ``min_peak_deg=25``, ``detector.reps.end_deg=8``.

Used by ``analyze --sweep`` and :func:`imu_hinge.api.run`. A name is one of :data:`ALIASES`, a
dotted path into :class:`~imu_hinge.analysis.analysis_params.AnalysisParams` (``__`` works as the dot in Python
keywords), or the last part of a path when that is unique in the tree (``lockout_extension_deg``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from imu_hinge.analysis.analysis_params import AnalysisParams, params_from_dict
from imu_hinge.errors import UsageError

ALIASES: dict[str, str] = {
    "filter": "fusion_method",
    "threshold_deg": "detector.faults.lumbar_flexion_deg",
    "threshold_pct": "detector.faults.lumbar_flexion_pct_lmax",
    "lmax_deg": "detector.faults.lmax_deg",
}
OPAQUE = ("fusion_options",)
"""Settings whose value is a table of its own (not walked into)."""


def leaf_paths(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in tree.items():
        if isinstance(value, dict) and key not in OPAQUE:
            out.extend(leaf_paths(value, f"{prefix}{key}."))
        else:
            out.append(prefix + key)
    return out


def resolve_name(name: str, paths: list[str]) -> str:
    """A user's parameter name -> its dotted path (raises :class:`UsageError` with suggestions)."""
    dotted = ALIASES.get(name, name.replace("__", "."))
    if dotted in paths:
        return dotted
    tails = [p for p in paths if p.rsplit(".", 1)[-1] == dotted]
    if len(tails) == 1:
        return tails[0]
    known = [*ALIASES, *paths, *(p.rsplit(".", 1)[-1] for p in paths)]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(ALIASES)} or a dotted path"
    raise UsageError(f"unknown analysis parameter {name!r}{hint}")


def parse_text(text: str) -> Any:
    """Command-line text -> bool / None / the text (numbers are converted by the params loader)."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null", "off"):
        return None
    return text.strip()


def apply_overrides(params: AnalysisParams, values: Mapping[str, Any]) -> AnalysisParams:
    """A copy of ``params`` with each named setting replaced (validated like a config file)."""
    if not values:
        return params
    tree = params.to_dict()
    paths = leaf_paths(tree)
    for name, value in values.items():
        node = tree
        parts = resolve_name(name, paths).split(".")
        for key in parts[:-1]:
            node = node[key]
        node[parts[-1]] = value
    if "fusion_method" in (ALIASES.get(k, k) for k in values):
        from imu_hinge.fusion import METHODS

        if tree["fusion_method"] not in METHODS:
            raise UsageError(f"unknown filter {tree['fusion_method']!r}; choose from {', '.join(METHODS)}")
    return params_from_dict(tree)
