"""Strict JSON everywhere (docs/json.md): an undefined number is ``null``, never ``NaN``/``Infinity``."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imu_hinge as ih
from imu_hinge.analysis.pipeline import HingePipeline
from imu_hinge.cli import main
from imu_hinge.jsonable import dumps, finite_or_none, finite_values, format_number, jsonable, loads_strict
from imu_hinge.simulation import SimConfig, simulate
from imu_hinge.simulation.case_files import write_case

PACKAGE = Path(ih.__file__).resolve().parent


def _refuse(name: str) -> Any:
    raise ValueError(f"non-strict JSON constant {name}")


def strict(text: str) -> Any:
    """What a strict RFC 8259 parser makes of ``text`` (Python's own json.loads accepts NaN)."""
    return json.loads(text, parse_constant=_refuse)


def test_a_rep_over_a_sensor_outage_is_null_in_analyze_json_and_to_json(tmp_path: Path) -> None:
    # the sacrum is gone from 8.8 to 12.5 s: the second rep (9.4-11.7 s) has no pelvic tilt, hence no lumbar
    res = simulate(SimConfig(seed=1, n_reps=3, rate_hz=50.0, outage_role="sacrum", outage_s=(8.8, 12.5)))
    csv, _, _ = write_case(res, tmp_path / "outage.csv")
    out = tmp_path / "out.json"
    assert main(["analyze", str(csv), "--json", str(out), "--quiet"]) == 0
    doc = strict(out.read_text(encoding="utf-8"))
    over = [r for r in doc["reps"] if not r["complete"]]
    assert len(over) == 1 and 8.8 < over[0]["start_s"] < 12.5  # measured: rep 2, 9.37 .. 11.73 s
    for key in ("min_lumbar_flexion_deg", "hinge_share"):
        assert over[0][key] is None, key
    assert over[0]["peak_trunk_flexion_deg"] > 30  # the thoracic sensor saw the rep
    whole = [r for r in doc["reps"] if r["complete"]]
    assert len(whole) == 2 and all(isinstance(r["peak_lumbar_flexion_deg"], float) for r in whole)
    # its two peaks are estimates (analyze, offline), said so, and of the right size: the truth's rep has pelvis
    # 65.8, lumbar 9.6 deg; estimated 69.6 and 4.8 (the other two reps' lumbar / trunk ratios are 0.043 and 0.089)
    assert any(n.startswith("pelvis not measured in this rep") for n in over[0]["notes"])
    assert abs(over[0]["peak_pelvic_tilt_deg"] - res.reps[1]["peak_pelvic_tilt_deg"]) < 5.0
    assert abs(over[0]["peak_lumbar_flexion_deg"] - res.reps[1]["peak_lumbar_flexion_deg"]) < 6.0
    assert over[0]["faults"] == []

    analysis = ih.run(csv)
    assert math.isnan(analysis.reps[over[0]["index"] - 1].hinge_share)  # Python keeps NaN ...
    api_doc = strict(analysis.to_json())  # ... the JSON says null
    assert api_doc["reps"] == doc["reps"]
    # the causal pipeline (live, replay) has no estimate: the peaks are undefined there
    live = HingePipeline().analyze(ih.load(csv), repair=False)
    assert math.isnan(live.reps[over[0]["index"] - 1].peak_lumbar_flexion_deg)


def test_the_helper_cleans_numpy_and_non_finite_values() -> None:
    doc = {"a": np.float32(1.5), "b": np.array([1.0, np.nan, np.inf]), "c": (np.int64(3), -math.inf),
           2: {"d": [float("nan")], "e": np.bool_(True)}, "p": Path("x/y.csv")}
    text = dumps(doc)
    assert strict(text) == {"a": 1.5, "b": [1.0, None, None], "c": [3, None], "2": {"d": [None], "e": True},
                            "p": "x/y.csv"}
    assert loads_strict(dumps(doc, compact=True)) == strict(text)
    assert jsonable([1.23456, 2], ndigits=2) == [1.23, 2]
    assert [finite_or_none(v) for v in (None, True, "1", np.float64(2.0), math.nan, 3)] == [None, None, None,
                                                                                            2.0, None, 3.0]
    with pytest.raises(TypeError):  # an unexpected object is a bug, not data
        dumps({"x": object()})
    assert dumps({"x": object()}, fallback=lambda o: "obj") == '{"x": "obj"}'
    with pytest.raises(ValueError):
        loads_strict('{"x": NaN}')


def test_every_json_writer_of_the_package_goes_through_the_helper() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "jsonable.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("dump", "dumps")
                    and isinstance(node.value, ast.Name) and node.value.id == "json"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == [], "write JSON with imu_hinge.jsonable.dumps: " + ", ".join(offenders)


def test_text_outputs_write_a_missing_number_as_a_dash_and_never_minus_zero() -> None:
    assert [format_number(v, "5.1f") for v in (None, math.nan, math.inf, -0.04, -1.25, 12)] == \
        ["    -", "    -", "    -", "  0.0", " -1.2", " 12.0"]
    assert format_number(-0.2, "3.0f") == "  0" and format_number(math.nan, "3.0f") == "  -"
    assert format_number(None, ".1f", "–") == "–" and format_number(12.6, "d") == "13"
    assert finite_values([1, None, math.nan, "x", True, np.float64(2.5)]) == [1.0, 2.5]
