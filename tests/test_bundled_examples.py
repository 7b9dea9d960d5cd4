"""The bundled recordings say what recordings/README.md says about them: the example session's recorded alert events
are the ones `analyze` raises now and the ones the README quotes, the rep counts and the file size are as described.
When the detector changes, rerun recordings/make_example_session.py and update the README's quoted lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.recording import load_recording

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
EXAMPLE = RECORDINGS / "example_rdl_session.ihr.csv"
DEMO = RECORDINGS / "demo_rdl_session.csv"
README = (RECORDINGS / "README.md").read_text(encoding="utf-8")


def _events(text: str, kind: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        if line.startswith("# event: ") and f'"kind":"{kind}"' in line:
            out.append(json.loads(line.removeprefix("# event: ")))
    return out


def test_example_session_alerts_are_what_analyze_raises_and_what_the_readme_quotes() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    recorded = _events(text, "alert")
    res = analyze(load_recording(EXAMPLE))
    assert [(e["fault"], round(float(e["time_s"]), 6)) for e in recorded] == \
        [(a.fault, round(a.time_s, 6)) for a in res.alerts]  # rerun recordings/make_example_session.py if not
    for e, a in zip(recorded, res.alerts, strict=True):
        assert abs(float(e["value_deg"]) - a.value_deg) <= 0.005  # the file rounds to 0.01 deg
    quoted = [line for line in README.splitlines() if line.startswith("# event: ")]
    for line in quoted:  # every event line the README quotes is in the file, verbatim
        assert line in text.splitlines(), line
    assert any('"kind":"alert"' in line for line in quoted)
    # "the first 26 s of the demo (4 reps, the 4th rounded) ... (966 kB)"
    row = next(line for line in README.splitlines() if line.startswith("| `example_rdl_session.ihr.csv`"))
    assert "4 reps, the 4th rounded" in row and len(res.reps) == 4
    assert [bool(r.faults) for r in res.reps] == [False, False, False, True] and "lumbar_flexion" in res.reps[3].faults
    kb = int(re.search(r"\((\d+) kB\)", row).group(1))  # type: ignore[union-attr]
    assert kb == round(EXAMPLE.stat().st_size / 1000)


def test_demo_session_has_the_reps_the_readme_says() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| `demo_rdl_session.csv`"))
    n = int(re.search(r"(\d+) Romanian deadlifts", row).group(1))  # type: ignore[union-attr]
    res = analyze(load_recording(DEMO))
    assert len(res.reps) == n == 8
    faults = {f for r in res.reps for f in r.faults}
    assert {"lumbar_flexion", "lumbar_led", "lockout_hyperextension"} <= faults  # rounded, led, arched


def test_the_bundled_range_calibration_trial_gives_its_lmax() -> None:
    from imu_hinge.rehab.range_calibration import find_range

    trial = RECORDINGS / "range_calibration_trial.csv"
    assert "`range_calibration_trial.csv`" in README
    truth = json.loads(trial.with_name("range_calibration_trial.truth.json").read_text(encoding="utf-8"))
    held_deg = truth["reps"][0]["peak_lumbar_flexion_deg"]
    found = find_range(analyze(load_recording(trial)))
    assert abs(found.lmax_deg - held_deg) <= 2.0  # measured 44.2 deg against 45 held
