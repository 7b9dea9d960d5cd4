"""The detector's tables: sessions long enough to make the compiled loop ask for room (a candidate of
thousands of rows, more lockout windows open than the table first holds), checked rep by rep against the
angle signal the test builds (its rows are the truth). The tables' layouts: tests/test_compiled_layouts.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imu_hinge.detection.detector import HingeDetector
from imu_hinge.detection.detector_params import DetectorParams, FaultParams
from imu_hinge.detection.rep_events import FaultRaised, RepCompleted

DT_S = 0.01


def test_last_time_s_is_the_last_row_seen() -> None:
    det = HingeDetector()
    assert math.isnan(det.last_time_s)
    det.step(1000.25, 0.0, 2.0, 0.0)
    assert det.last_time_s == 1000.25
    det.run(np.array([1000.5, 1000.75]), np.zeros(2), np.zeros(2), np.zeros(2))
    assert det.last_time_s == 1000.75


def swings(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` kettlebell-like swings of 1.1 s between 15 and 60 deg of trunk flexion, never back to standing
    (one candidate of ``110 n`` rows, split at each valley), then standing; L = 0.4 T, P = T - L."""
    t = np.arange(int((4.0 + 1.1 * n) / DT_S)) * DT_S
    x = (t - 2.0) / 1.1
    trunk = np.where((x >= 0) & (x <= n), 15 + 45 * np.sin(np.pi * x) ** 2, 0.0)
    trunk = np.where((t >= 1.5) & (t < 2.0), 30 * (t - 1.5), trunk)
    end = 2.0 + 1.1 * n
    trunk = np.where((t > end) & (t < end + 0.5), 15 - 30 * (t - end), trunk)
    trunk = np.maximum(trunk, 0.0)
    lum = 0.4 * trunk
    return t, trunk - lum, trunk, lum


def feed(rows: tuple[np.ndarray, ...], params: DetectorParams | None = None, block: bool = False) -> HingeDetector:
    det = HingeDetector(params)
    if block:
        det.run(*rows)
    else:
        for row in zip(*rows, strict=True):
            det.step(*map(float, row))
    det.finish()
    return det


@pytest.mark.parametrize("block", [False, True], ids=["rows", "block"])
def test_thirty_swings_in_one_candidate_keep_every_reps_numbers(block: bool) -> None:
    """3,300 rows in one candidate: the row table (1,024 rows at first) is compacted and grown on the way;
    every swing's numbers are those of its rows."""
    t, p, tr, lum = rows = swings(30)
    det = feed(rows, block=block)
    assert len(det.reps) == 30
    threshold = det.params.faults.lumbar_threshold_deg
    for k, rep in enumerate(det.reps):
        assert rep.complete and rep.notes == []
        # the first from the last row at standing (T <= 3 deg), the others from the valley between swings
        start = t[np.flatnonzero((tr <= 3.0) & (t < 2.0))[-1]] if k == 0 else 2.0 + 1.1 * k
        assert rep.start_s == pytest.approx(start, abs=0.5 * DT_S)
        # its rows: from the valley; the first from where T passed 10 deg (it starts at the detector's look back)
        first_row = rep.start_s if k else t[np.flatnonzero(tr > 10.0)[0]]
        inside = (t >= first_row - 1e-9) & (t <= rep.end_s + 1e-9)
        assert rep.peak_trunk_flexion_deg == float(tr[inside].max())
        assert rep.peak_pelvic_tilt_deg == float(p[inside].max())
        assert rep.peak_lumbar_flexion_deg == float(lum[inside].max())
        assert rep.min_lumbar_flexion_deg == float(lum[inside].min())
        above = DT_S * np.count_nonzero(lum[inside][1:] > threshold)
        assert rep.time_above_threshold_s == pytest.approx(above, abs=1e-9)
        assert rep.lockout_extension_deg == 0.0  # L >= 6 deg all through: no extension at lockout


@pytest.mark.parametrize("block", [False, True], ids=["rows", "block"])
def test_more_lockout_windows_open_than_the_tables_hold(block: bool) -> None:
    """A lockout window of 1000 s (a setting, not a default) over 520 swings: 520 windows open at once (the
    window table holds 16 at first, the event table 256 rows, and each row may close every open window:
    both grow, more than once); one arched lockout at the end (L = -12 deg for 1 s) is inside every window,
    so every rep gets its lockout alert, in rep order, on that row, and an extension of 12 deg."""
    t, p, tr, lum = swings(520)
    lum = np.where(t > t[-1] - 1.0, -12.0, lum)
    p = tr - lum
    det = feed((t, p, tr, lum), DetectorParams(faults=FaultParams(lockout_window_s=(-0.3, 1000.0))), block=block)
    alerts = [a for a in det.alerts if a.fault == "lockout_hyperextension"]
    assert [a.rep_index for a in alerts] == list(range(1, 521))
    assert {a.time_s for a in alerts} == {float(t[t > t[-1] - 1.0][0])}
    assert [r.index for r in det.reps] == list(range(1, 521))
    for rep in det.reps:
        assert "lockout_hyperextension" in rep.faults
        assert rep.lockout_extension_deg == 12.0
        assert rep.notes[-1] == "recording ended inside the lockout window"


@pytest.mark.parametrize("lengths", [(100, 99, 100, 100), (100, 100, 100, 101), (99, 100, 100, 100)])
def test_a_block_of_unequal_columns_is_refused(lengths: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="one length"):
        HingeDetector().run(*(np.zeros(n) for n in lengths))


def test_finish_reports_open_windows_at_the_last_rows_time() -> None:
    t, p, tr, lum = (x[:500] for x in swings(2))  # ends at 4.99 s, 0.6 s after the second swing
    det = HingeDetector()
    det.run(t, p, tr, lum)
    events = det.finish()
    assert [type(e) for e in events] == [RepCompleted]
    assert events[0].time_s == float(t[-1])  # the last row seen, a float
    assert isinstance(events[0].time_s, float)
    assert not [e for e in events if isinstance(e, FaultRaised)]


def test_an_incomplete_rep_measured_to_its_depth_bound_is_not_called_unmeasured() -> None:
    """A rep whose descent has a 0.3 s sensor gap and whose peak is exactly the 30 deg minimum: incomplete
    (the gap), but its depth was measured: no note that the bottom fell in the gap."""
    t = np.arange(600) * DT_S
    trunk = 30.0 * np.sin(np.pi * np.clip((t - 1.0) / 3.0, 0.0, 1.0)) ** 2
    trunk[np.argmax(trunk)] = 30.0
    keep = ~((t > 1.5) & (t < 1.8))
    det = feed((t[keep], 0.8 * trunk[keep], trunk[keep], 0.2 * trunk[keep]))
    (rep,) = det.reps
    assert rep.peak_trunk_flexion_deg == 30.0
    assert not rep.complete
    assert rep.notes == ["a sensor gap overlaps this rep: its numbers are incomplete"]


def test_a_rep_whose_lockout_window_saw_no_lumbar_angle_reports_no_extension() -> None:
    """The sacrum lost from 0.35 s before the rep ends to the end of the data (P and so L missing, T still
    there): the rep is found and marked incomplete, and its lockout window saw no lumbar angle, so no extension
    is reported (0, as for a rep that does not extend), whatever the lumbar did before the gap."""
    t = np.arange(0.0, 4.0, DT_S)
    trunk = np.where((t > 1) & (t < 3), 50 * np.sin(np.pi * (t - 1) / 2) ** 2, 0.0)
    lum = np.where(t < 2.0, 0.3 * trunk, -0.2 * (50 - trunk))  # extending on the way up (-10 deg at the end)
    pelvis = np.where(t > 2.35, np.nan, trunk - lum)
    det = feed((t, pelvis, trunk, trunk - pelvis), block=True)
    assert len(det.reps) == 1
    rep = det.reps[0]
    assert not rep.complete and rep.end_s == pytest.approx(2.71, abs=0.01)
    assert rep.lockout_extension_deg == 0.0
    seen = feed((t, trunk - lum, trunk, lum), block=True)  # with the sacrum: the extension it saw
    assert seen.reps[0].lockout_extension_deg == pytest.approx(10.0, abs=1e-9)
