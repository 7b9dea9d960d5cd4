"""Issue 12 item 3 through `train`: a sensor lost mid-descent and back re-anchors, no wild angles, alerts
or cues, and `analyze` of the recording and the live driver agree with it.

(Written by the reconnect helper against its own re-anchoring; it passes on main's, which does the same.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import HingePipeline, analyze
from imu_hinge.api import load
from imu_hinge.samples import ImuSample

from .helpers import REPO
from .test_train import train


def _demo_set(tmp_path: Path, name: str, *lose: str) -> tuple[dict[str, Any], Path]:
    """``train --emulate`` the bundled demo for 34 s as fast as the link goes; (JSON, recording)."""
    j, rec = tmp_path / f"{name}.json", tmp_path / f"{name}.ihr.csv"
    args = [a for s in lose for a in ("--emulate-lose", s)]
    assert train("--emulate", REPO / "recordings" / "demo_rdl_session.csv", "--no-gui", "--duration", "34",
                 "--emulate-speed", "max", "--json", j, "--out", rec, *args) == 0
    return json.loads(j.read_text()), rec


def test_sensor_back_after_an_outage_re_anchors_no_wild_angles_alerts_or_cues(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12 item 3: thoracic lost mid-descent 18-24 s. The gyro bridge over the outage used to
    give lumbar_flexion +142 deg (or lockout_hyperextension -162.6 deg) at the return and 'L 18 good'
    for the next rounded rep; now it re-anchors to gravity, angles absent while it settles."""
    plain, plain_rec = _demo_set(tmp_path, "plain")
    lost, lost_rec = _demo_set(tmp_path, "lost", "thoracic:18-24")
    capsys.readouterr()
    back_s = lost["sensor_outages"][0]["back_s"]
    assert 24.0 <= back_s < 26.0  # measured 24.61
    # no alert and no cue from the settling filter: after the return, only the true rounded rep's
    after = [a for a in lost["alerts"] if a["time_s"] >= back_s]
    assert after and all(a["fault"] == "lumbar_flexion" and a["value_deg"] < 35 for a in after), after  # 22.0
    assert all(c["faults"] == ["lumbar_flexion"] for c in lost["feedback"]["cues"] if c["time_s"] >= back_s)
    across = [r for r in lost["reps"] if r["start_s"] < back_s and r["end_s"] + 0.3 > 18.0]
    assert across and all(r["complete"] is False for r in across)
    nxt = [r for r in lost["reps"] if r["start_s"] > back_s]
    # the same rounded rep without the outage: peak L 31.1 deg; with it 30.6 (was 'L 18 good' on main)
    ref = [r for r in plain["reps"] if abs(r["start_s"] - nxt[0]["start_s"]) < 0.5]
    assert len(nxt) == 1 and len(ref) == 1 and "lumbar_flexion" in nxt[0]["faults"] and nxt[0]["complete"]
    assert abs(nxt[0]["peak_lumbar_flexion_deg"] - ref[0]["peak_lumbar_flexion_deg"]) < 1.5  # measured 0.5
    # analyze of the written recording: the same reps, and the angles from 1 s after the return
    # within 3 deg of the session without the outage (measured 1.5 deg trunk, 1.1 lumbar), absent before
    p_rec, q_rec = load(plain_rec), load(lost_rec)
    p, q = analyze(p_rec), analyze(q_rec)
    assert [(r.index, r.complete, r.faults) for r in q.reps] == [
        (r["index"], r["complete"], r["faults"]) for r in lost["reps"]]
    # the two sets were emulated separately: their session clocks start apart (by tens of ms on a busy machine,
    # where the hosts' arrival times stall). The same sample index is the same moment of the played recording:
    # put the lost set on the plain set's clock by the sacrum's samples common to both
    ps, qs = p_rec["sacrum"], q_rec["sacrum"]
    assert ps.seq is not None and qs.seq is not None
    _, pi, qi = np.intersect1d(ps.seq, qs.seq, return_indices=True)
    q_t = q.time_s - float(np.median(qs.time_s[qi] - ps.time_s[pi]))
    late = (q_t > back_s + 1.0) & (q_t < p.time_s[-1])
    for name in ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"):
        diff = getattr(q, name)[late] - np.interp(q_t[late], p.time_s, getattr(p, name))
        # what timing differences stay (each sensor's clock fit; at full link speed on a loaded machine, a dropped
        # notification now and then) move a fast hinge by a few degrees, so the comparison is by RMS (measured
        # 0.5-1.3 deg idle) with "never wild" as the peak (measured 1.1-3.7)
        ok = np.isfinite(diff)
        rms = float(np.sqrt(np.mean(diff[ok] ** 2)))
        assert ok.mean() > 0.95 and rms < 2.0 and np.max(np.abs(diff[ok])) < 6.0, (name, rms)
    # while the filter settles after the return: absent causally (live, replay), never wild;
    # filled offline (analyze: the filter run back from where it settled), as close as the rows after
    q_causal = HingePipeline().analyze(q_rec, repair=False)
    settle = (q.time_s >= back_s) & (q.time_s <= back_s + 1.0)
    for res, filled in ((q_causal, False), (q, True)):
        t_settle = res.trunk_flexion_deg[settle]
        diff = t_settle - np.interp(q_t[settle], p.time_s, p.trunk_flexion_deg)
        assert bool(np.isfinite(t_settle).all()) == filled and np.isnan(t_settle[0]) != filled
        assert np.nanmax(np.abs(diff)) < 6.0, filled  # measured 1.1-1.7 deg either way
    q = q_causal
    # the live driver (one sample at a time) gives the same angles as the causal batch driver
    pipe = HingePipeline()
    rec = load(lost_rec)
    merged = sorted((float(rec[r].time_s[i]), r, i) for r in ("sacrum", "thoracic") for i in range(len(rec[r].time_s)))
    for t, r, i in merged:
        pipe.push(ImuSample(t, r, tuple(rec[r].acc_m_s2[i]), tuple(rec[r].gyr_rad_s[i])))
    pipe.finish()
    live = pipe.result()
    both, li, qi = np.intersect1d(live.time_s, q.time_s, return_indices=True)
    assert len(both) > 0.95 * len(q.time_s)
    assert np.allclose(live.trunk_flexion_deg[li], q.trunk_flexion_deg[qi], atol=1e-6, equal_nan=True)
    assert [(r.index, r.complete, r.faults) for r in live.reps] == [(r.index, r.complete, r.faults) for r in q.reps]
