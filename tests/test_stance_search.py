"""Calibration of a recording from whatever the person did: truth from the simulator or from geometry."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.pipeline import analyze
from imu_hinge.analysis.stance_params import StanceSearchParams
from imu_hinge.analysis.stance_search import (
    choose_stance,
    forward_directions,
    standing_after_arch,
    standing_after_seat,
)
from imu_hinge.errors import CalibrationError
from imu_hinge.recording.checks import checked
from imu_hinge.samples import SENSOR_ROLES, Recording, SensorStream
from imu_hinge.simulation import SCENARIOS, SimConfig, simulate

from .test_pipeline import rmse_vs_truth


def crop(rec: Recording, t0: float) -> Recording:
    """The recording from ``t0`` on, as if it had been started then."""
    streams = {}
    for role, s in rec.streams.items():
        i = int(np.searchsorted(s.time_s, t0))
        streams[role] = s.slice(i, len(s))
    return Recording(streams, dict(rec.metadata))


def test_recording_that_starts_moving_at_once_is_analysed(rounding_session) -> None:
    """Cut 0.15 s before the first hinge: the first still moment is that hinge's bottom, which
    must not become the zero; the stance is the next upright pause and angles match the truth."""
    sim = rounding_session
    first = sim.reps[0]
    rec = crop(sim.recording, first["start_s"] - 0.15)
    res = analyze(rec)
    assert res.calibration["stand_start_s"] > first["end_s"]  # the pause after the first rep
    assert not res.warnings or all("upright" not in w for w in res.warnings)
    lumbar = rmse_vs_truth(res, sim, "lumbar_flexion_deg")
    trunk = rmse_vs_truth(res, sim, "trunk_flexion_deg")
    assert lumbar < 0.4  # measured 0.25 (uncut session: 0.23)
    assert trunk < 0.7  # measured 0.46 (uncut: 0.22): the pause after a rep is not quite the first stand
    assert len(res.reps) == len(sim.reps)
    for truth, rep in zip(sim.reps, res.reps, strict=True):
        assert truth["start_s"] <= rep.bottom_s <= truth["end_s"]
        assert ("lumbar_flexion" in rep.faults) == (truth["peak_lumbar_flexion_deg"] > 20)


def test_uncut_session_keeps_its_initial_stance(rounding_session) -> None:
    res = analyze(rounding_session.recording)
    assert res.calibration["stand_start_s"] < 0.05
    assert res.calibration["stand_end_s"] < rounding_session.reps[0]["start_s"]


def _stream(role: str, t: np.ndarray, up: np.ndarray, gyr: np.ndarray) -> SensorStream:
    return SensorStream(role, t, 9.81 * up, gyr)


def _tilted(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """"up" (sensor frame, standing up = +x) after a tilt by ``angle_rad`` towards ``axis`` (unit, across x)."""
    return np.c_[np.cos(angle_rad), np.sin(angle_rad)[:, None] * axis[None, 1:]]


def test_forward_axis_from_hinges_is_not_turned_by_side_bends_first() -> None:
    """Side bends (left 35, right 25 deg, unequal) before the hinges: the forward direction is the
    hinges' within 1 deg, not the side bends' (the sum of tilts would be turned by the unequal ones)."""
    rate = 100.0
    fwd = np.array([0.0, math.cos(0.3), math.sin(0.3)])  # forward, across up = +x
    side = np.array([0.0, -math.sin(0.3), math.cos(0.3)])
    bumps = [(side, 35), (-side, 25), (side, 30), (fwd, 70), (fwd, 65), (fwd, 75)]
    ups = [np.tile([1.0, 0.0, 0.0], (200, 1))]
    for direction, peak_deg in bumps:
        ang = np.radians(peak_deg) * np.sin(np.linspace(0, np.pi, 300))
        ups.append(_tilted(-direction, ang))  # a forward tip moves "up" towards -forward
        ups.append(np.tile([1.0, 0.0, 0.0], (100, 1)))
    up = np.vstack(ups)
    t = np.arange(len(up)) / rate
    zeros = np.zeros_like(up)
    rec = Recording({"sacrum": _stream("sacrum", t, up, zeros), "thoracic": _stream("thoracic", t + 0.003, up, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    for role in ("sacrum", "thoracic"):
        assert f[role] is not None
        assert math.degrees(math.acos(float(f[role] @ fwd))) < 1.0  # measured 0.0 (exact geometry)


def test_no_forward_axis_without_a_tilt_beyond_min_tilt_deg() -> None:
    """Standing with a 12 deg sway, never tipping 20 deg (min_tilt_deg): no tilt has a direction to learn, so
    neither segment gets a forward axis (not an arbitrary one from an empty set of tilts)."""
    t = np.arange(0, 20, 0.01)
    up = _tilted(np.array([0.0, 1.0, 0.0]), np.radians(12.0) * np.sin(2 * np.pi * 0.3 * t))
    zeros = np.zeros_like(up)
    rec = Recording({"sacrum": _stream("sacrum", t, up, zeros), "thoracic": _stream("thoracic", t + 0.003, up, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    assert f == {"sacrum": None, "thoracic": None}


def test_fast_swings_give_the_forward_axis() -> None:
    """Eight kettlebell-like swings of 0.7 s to 40 deg, 0.3 s apart: the accelerometer's low-pass (smooth_s,
    0.3 s) keeps their tilt well beyond min_tilt_deg (20 deg), so both forward axes are found, exact; a
    low-pass as long as a swing and its pause would flatten them below it."""
    rate = 100.0
    fwd = np.array([0.0, math.cos(0.3), math.sin(0.3)])
    deg = [np.zeros(200)]
    for _ in range(8):
        deg += [40.0 * np.sin(np.linspace(0, np.pi, 70)) ** 2, np.zeros(30)]
    up = _tilted(-fwd, np.radians(np.concatenate([*deg, np.zeros(200)])))
    t = np.arange(len(up)) / rate
    zeros = np.zeros_like(up)
    rec = Recording({"sacrum": _stream("sacrum", t, up, zeros), "thoracic": _stream("thoracic", t + 0.003, up, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    for role in ("sacrum", "thoracic"):
        assert f[role] is not None and float(f[role] @ fwd) > math.cos(math.radians(0.1))  # exact geometry


@pytest.mark.parametrize(("peak_deg", "found"), [(19.5, False), (20.5, True)])
def test_a_trunk_tilt_counts_beyond_min_tilt_deg(peak_deg: float, found: bool) -> None:
    """Three hinges held 1 s at ``peak_deg`` (both segments): tilts up to min_tilt_deg (20 deg: sway, walking,
    most side bends) teach no direction; just beyond it they give the hinges' forward axis."""
    rate = 100.0
    fwd = np.array([0.0, math.cos(0.3), math.sin(0.3)])
    deg = [np.zeros(200)]
    for _ in range(3):
        ramp = peak_deg * np.sin(np.linspace(0, np.pi / 2, 100)) ** 2
        deg += [ramp, np.full(100, peak_deg), ramp[::-1], np.zeros(100)]
    up = _tilted(-fwd, np.radians(np.concatenate(deg)))
    t = np.arange(len(up)) / rate
    zeros = np.zeros_like(up)
    rec = Recording({"sacrum": _stream("sacrum", t, up, zeros), "thoracic": _stream("thoracic", t + 0.003, up, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    for role in ("sacrum", "thoracic"):
        assert (f[role] is not None) == found
        if found:
            assert f[role] is not None and float(f[role] @ fwd) > math.cos(math.radians(0.1))  # exact geometry


@pytest.mark.parametrize(("pelvis_deg", "found"), [(0.0, False), (2.5, False), (3.5, True)])
def test_the_pelvis_gets_a_forward_axis_only_when_it_tips_min_mean_deg(pelvis_deg: float, found: bool) -> None:
    """Three 70 deg hinges of the trunk; the pelvis tips ``pelvis_deg`` forward while the trunk is beyond
    20 deg (and 0.4 s either side), with a 1 deg sideways sway all along. Its tilt along its principal axis
    averages about ``pelvis_deg`` over the trunk's forward-tipped samples: below min_mean_deg (3 deg) it has
    no usable direction (None, not the sway's axis), above it the hinges' own; the trunk's is found each time."""
    rate = 100.0
    fwd = np.array([0.0, math.cos(0.3), math.sin(0.3)])
    side = np.array([0.0, -math.sin(0.3), math.cos(0.3)])
    trunk_deg, pelvis_tip = [np.zeros(200)], [np.zeros(200)]
    for _ in range(3):
        bump = 70.0 * np.sin(np.linspace(0, np.pi, 400)) ** 2
        tipped = np.convolve(bump > 20.0, np.ones(81), mode="same") > 0  # 0.4 s either side
        trunk_deg += [bump, np.zeros(150)]
        pelvis_tip += [np.where(tipped, pelvis_deg, 0.0), np.zeros(150)]
    trunk_up = _tilted(-fwd, np.radians(np.concatenate(trunk_deg)))
    t = np.arange(len(trunk_up)) / rate
    tip, sway = np.radians(np.concatenate(pelvis_tip)), np.radians(1.0) * np.sin(2 * np.pi * 0.4 * t)
    pelvis_up = np.c_[np.ones_like(t), np.outer(tip, -fwd[1:]) + np.outer(sway, side[1:])]
    pelvis_up /= np.linalg.norm(pelvis_up, axis=1)[:, None]
    zeros = np.zeros_like(trunk_up)
    rec = Recording({"sacrum": _stream("sacrum", t, pelvis_up, zeros),
                     "thoracic": _stream("thoracic", t + 0.003, trunk_up, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    assert f["thoracic"] is not None and float(f["thoracic"] @ fwd) > math.cos(math.radians(1.0))
    assert (f["sacrum"] is not None) == found
    if found:
        assert f["sacrum"] is not None and float(f["sacrum"] @ fwd) > math.cos(math.radians(1.0))


def test_forward_axis_survives_sideways_chatter_of_the_trunk_sensor() -> None:
    """Three 70 deg hinges while the trunk sensor rattles sideways (a loose strap, a bar's chatter: +-9 m/s^2
    square wave at 25 Hz, across the hinge plane): the accelerometer is low-passed (smooth_s, 0.3 s) before
    its tilt is taken, so the chatter averages out and both forward axes come out exact; taken raw, the
    chatter swamps the tilt and no forward direction is found."""
    rate = 100.0
    fwd = np.array([0.0, math.cos(0.3), math.sin(0.3)])
    side = np.array([0.0, -math.sin(0.3), math.cos(0.3)])
    ups, shake = [np.tile([1.0, 0.0, 0.0], (200, 1))], [np.zeros(200)]
    for _ in range(3):
        ups += [_tilted(-fwd, np.radians(70) * np.sin(np.linspace(0, np.pi, 300))), np.tile([1.0, 0.0, 0.0], (100, 1))]
        shake += [np.where(np.arange(300) % 4 < 2, 1.0, -1.0), np.zeros(100)]
    up, chatter = np.vstack(ups), 9.0 * np.concatenate(shake)[:, None] * side[None, :]
    t = np.arange(len(up)) / rate
    zeros = np.zeros_like(up)
    rec = Recording({"sacrum": _stream("sacrum", t, up, zeros),
                     "thoracic": SensorStream("thoracic", t + 0.003, 9.81 * up + chatter, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    for role in ("sacrum", "thoracic"):
        assert f[role] is not None
        assert math.degrees(math.acos(min(1.0, float(f[role] @ fwd)))) < 1.0  # measured 0.0 (exact geometry)


def test_still_only_briefly_then_slow_motion_warns_with_the_zero_used() -> None:
    """0.3 s still, then a slow, never-settling wobble (0.5 rad/s): no quiet upright stretch; the
    stillest moment near the start is used and the warning says which and how uncertain."""
    rate = 100.0
    t = np.arange(0, 10, 1 / rate)
    ang = np.where(t < 0.3, 0.0, np.radians(8) * np.sin(2 * np.pi * 1.0 * (t - 0.3)))
    rate_rad_s = np.gradient(ang, t)
    up = _tilted(np.array([0.0, 1.0, 0.0]), ang)
    gyr = np.c_[np.zeros_like(t), np.zeros_like(t), -rate_rad_s]
    rec = Recording({"sacrum": _stream("sacrum", t, up, gyr), "thoracic": _stream("thoracic", t + 0.004, up, gyr)})
    choice = choose_stance(rec)
    assert choice.how == "start"
    assert choice.result.start_s < 0.3
    # the zero is the still start, its first start_s (0.25 s) of the 0.3 s still: 0.004-0.254 s
    assert choice.result.end_s - choice.result.start_s == pytest.approx(0.25, abs=1e-9)
    (warning,) = choice.warnings
    assert "no quiet upright stretch" in warning and "uncertain by about 2 deg" in warning  # still: the sway floor
    from imu_hinge.analysis.stance_params import StanceSearchParams

    # a min_stand_s that rounds to no sample scores single samples there: the zero is still in the still 0.3 s
    short = choose_stance(rec, StanceSearchParams(min_stand_s=0.001))
    assert short.how == "start" and short.result.start_s < 0.3, (short.how, short.result.start_s)


def test_never_still_is_refused() -> None:
    rate = 100.0
    t = np.arange(0, 6, 1 / rate)
    ang = np.radians(30) * np.sin(2 * np.pi * 1.0 * t)
    up = _tilted(np.array([0.0, 1.0, 0.0]), ang)
    gyr = np.c_[np.zeros_like(t), np.zeros_like(t), -np.gradient(ang, t)]
    rec = Recording({"sacrum": _stream("sacrum", t, up, gyr), "thoracic": _stream("thoracic", t + 0.004, up, gyr)})
    with pytest.raises(CalibrationError, match="never still"):
        choose_stance(rec)


@pytest.mark.parametrize(("rate_rad_s", "refused"), [(1.0, False), (1.0 + 2.0**-8, True)])
def test_a_start_turning_at_exactly_still_gyr_rad_s_is_still_enough(rate_rad_s: float, refused: bool) -> None:
    """Both sensors turning steadily from the first sample (never quiet): the start's posture is the zero while
    its smoothed rate is not above ``still_gyr_rad_s`` (1 rad/s); a steady 1 rad/s smooths to exactly 1.0 (no
    rough bias: a rotation that fast is not one), a hair faster is refused."""
    t = np.arange(0, 6, 1 / 100.0)
    up = _tilted(np.array([0.0, 1.0, 0.0]), rate_rad_s * t)
    gyr = np.c_[np.zeros_like(t), np.zeros_like(t), np.full_like(t, -rate_rad_s)]
    rec = Recording({"sacrum": _stream("sacrum", t, up, gyr), "thoracic": _stream("thoracic", t + 0.004, up, gyr)})
    if refused:
        with pytest.raises(CalibrationError, match="never still near the start"):
            choose_stance(rec)
    else:
        choice = choose_stance(rec)
        assert choice.how == "start" and "no quiet upright stretch" in choice.warnings[0]


def test_a_brief_stillness_long_after_the_start_does_not_make_a_zero() -> None:
    """Moving from the start, still for only 0.4 s at 6 s (too short for a stance), moving again: only the
    stillness near the start (within fallback_within_s) may serve as the zero; there is none, so it is refused."""
    rate = 100.0
    t = np.arange(0, 12, 1 / rate)
    ang = np.radians(30) * np.sin(2 * np.pi * 1.0 * t) * ~((t >= 6.0) & (t < 6.4))
    up = _tilted(np.array([0.0, 1.0, 0.0]), ang)
    gyr = np.c_[np.zeros_like(t), np.zeros_like(t), -np.gradient(ang, t)]
    rec = Recording({"sacrum": _stream("sacrum", t, up, gyr), "thoracic": _stream("thoracic", t + 0.004, up, gyr)})
    with pytest.raises(CalibrationError, match="never still near the start"):
        choose_stance(rec)


def test_too_short_is_refused() -> None:
    t = np.arange(0, 0.3, 0.01)
    up = np.tile([1.0, 0.0, 0.0], (len(t), 1))
    rec = Recording({"sacrum": _stream("sacrum", t, up, 0 * up), "thoracic": _stream("thoracic", t, up, 0 * up)})
    with pytest.raises(CalibrationError, match="too short"):
        choose_stance(rec)


def test_live_lifter_who_moves_too_early_is_asked_again_and_not_stuck(rounding_session) -> None:
    """Live (guided) calibration: a hinge 0.15 s after the start is a motion before a stance; the
    stance starts over, the guide says so, and the set calibrates at the next pause and runs."""
    from imu_hinge.analysis.pipeline import HingePipeline
    from imu_hinge.feedback.guidance import MOVED_EARLY, CalibrationGuide

    sim = rounding_session
    rec = crop(sim.recording, sim.reps[0]["start_s"] - 0.15)
    pipe = HingePipeline()
    said: list[str] = []
    guide = CalibrationGuide(pipe, said.append)
    for sample in rec.merged_samples():
        for event in pipe.push(sample):
            guide.on_event(event)
        guide.poll(sample.time_s)
    pipe.finish()
    assert pipe.calibration_restarts >= 1
    assert MOVED_EARLY in said
    assert pipe.calibration_phase == "running"
    assert pipe.calibration is not None and pipe.calibration.start_s > sim.reps[0]["start_s"]
    assert len(pipe.result().reps) >= len(sim.reps) - 1  # the first hinge came before calibration


def test_sensors_that_barely_overlap_are_refused_with_the_overlap_they_have(rounding_session) -> None:
    """The sacrum stops at 5 s, the thoracic starts at 4.7 s: the message tells the overlap (from the
    streams' own time stamps, 0.29 s) against the 0.5 s needed."""
    s, t = rounding_session.recording["sacrum"], rounding_session.recording["thoracic"]
    i, j = int(np.searchsorted(s.time_s, 5.0)), int(np.searchsorted(t.time_s, 4.7))
    overlap_s = float(s.time_s[i - 1] - t.time_s[j])
    with pytest.raises(CalibrationError, match=rf"overlap for {overlap_s:.2f} s: too short .*at least 0\.5 s"):
        analyze(Recording({"sacrum": s.slice(0, i), "thoracic": t.slice(j, len(t))}))


def _lean_with_a_knock(knock_rad_s: float, knock_at_s: float = 0.7, rate_hz: float = 100.0):
    """A sensor standing upright (z up) leans forward (about its y axis: forward is +x) slowly at 0.2 rad/s,
    below the 0.3 rad/s of a movement, for 1 s; one sample at ``knock_at_s`` reads ``knock_rad_s`` about the
    same axis (a knock, not a movement: the accelerometer does not follow it); then a real hinge at 0.6 rad/s
    for 0.5 s. Yields (time_s, gyr, acc) with the accelerometer from the true tilt (exact geometry)."""
    ts = 1.0 / rate_hz
    tilt = 0.0
    for k in range(int(1.5 * rate_hz)):
        t = k * ts
        rate = 0.2 if t < 1.0 else 0.6
        tilt += rate * ts
        gyr = np.array([0.0, knock_rad_s if abs(t - knock_at_s) < ts / 2 else rate, 0.0])
        yield t, gyr, 9.81 * np.array([-math.sin(tilt), 0.0, math.cos(tilt)])


def test_a_knock_during_a_slow_lean_is_not_the_first_hinge() -> None:
    """The rate is smoothed over 0.1 s (10 samples at 100 Hz): one knocked sample at 0.8 rad/s during a
    slow lean (mean 0.26 rad/s) sets no axis, although the trunk has tipped 8 deg by then; the hinge after
    it does, to the true forward direction +x, within 0.03 s of its start."""
    from imu_hinge.kinematics.sagittal import AxisSearch

    search = AxisSearch(np.array([0.0, 0.0, 9.81]), 100.0)
    found_at = None
    for t, gyr, acc in _lean_with_a_knock(0.8):
        fwd = search.push(gyr, acc)
        if fwd is not None and found_at is None:
            found_at = t
            np.testing.assert_allclose(fwd, [1.0, 0.0, 0.0], atol=1e-9)
    assert found_at is not None and 1.0 <= found_at <= 1.03, found_at  # measured 1.02 s


def test_a_smoothing_window_shorter_than_a_sample_is_one_sample() -> None:
    """``smooth_s`` 0.004 s at 100 Hz rounds to no sample at all: the window is one sample (no smoothing),
    so a knock of 0.35 rad/s (above the 0.3 rad/s of a movement on its own, not once averaged with the
    0.2 rad/s before it) while the trunk has tipped 8 deg sets the axis there."""
    from imu_hinge.kinematics.sagittal import AxisSearch, AxisSearchParams

    search = AxisSearch(np.array([0.0, 0.0, 9.81]), 100.0, AxisSearchParams(smooth_s=0.004))
    found_at = next(t for t, gyr, acc in _lean_with_a_knock(0.35) if search.push(gyr, acc) is not None)
    assert found_at == pytest.approx(0.7), found_at


def test_a_grid_time_is_in_a_gap_only_more_than_max_gap_s_after_the_latest_sample() -> None:
    """The stance search reads each sensor on a 10 ms grid from its latest sample at or before each grid time;
    a grid time more than ``max_gap_s`` after that sample lies in a gap (-1, no reading), exactly ``max_gap_s``
    after it still reads it (times in binary fractions: the differences are exact)."""
    from imu_hinge.analysis.stance_search import _grid_rows

    t = np.array([0.0, 0.25, 0.5, 2.0])
    grid = np.array([-0.125, 0.0, 0.375, 1.0, 1.0 + 2.0**-10, 1.5, 2.0, 2.5])
    assert _grid_rows(t, grid, max_gap_s=0.5).tolist() == [-1, 0, 1, 2, -1, -1, 3, 3]


def test_the_stance_counts_the_samples_it_averages(rounding_session) -> None:
    """The chosen stance's estimates say how many samples they average: every sample of the sensor within
    the stance's start and end, both included (the session cut just before its first hinge: the stance is
    the pause after it, well into the recording)."""
    rec = crop(rounding_session.recording, rounding_session.reps[0]["start_s"] - 0.15)
    res = choose_stance(rec).result
    for role, est in res.sensors.items():
        t = rec[role].time_s
        assert t[0] < res.start_s - 1.0
        assert est.n_samples == int(np.count_nonzero((t >= res.start_s) & (t <= res.end_s))) > 50, role


def test_forward_axis_of_a_recording_whose_sacrum_stream_ends_first() -> None:
    """Two hinges; the sacrum's stream ends 1 s before the thoracic one, which ends mid-hinge (tipped forward):
    the pelvis' forward direction is taken from its samples nearest the trunk's tipped moments, its last one
    for those after it ends, and is the hinges' (exact geometry)."""
    rate = 100.0
    fwd = np.array([0.0, 1.0, 0.0])  # forward, across up = +x
    ups = [np.tile([1.0, 0.0, 0.0], (200, 1))]
    for peak_deg in (70, 65):
        ups.append(_tilted(-fwd, np.radians(peak_deg) * np.sin(np.linspace(0, np.pi, 300))))
        ups.append(np.tile([1.0, 0.0, 0.0], (100, 1)))
    ups.append(_tilted(-fwd, np.radians(60) * np.sin(np.linspace(0, np.pi / 2, 150))))  # ends 60 deg down
    up = np.vstack(ups)
    t = np.arange(len(up)) / rate
    zeros = np.zeros_like(up)
    cut = len(t) - 100
    rec = Recording({"sacrum": _stream("sacrum", t[:cut], up[:cut], zeros[:cut]),
                     "thoracic": _stream("thoracic", t + 0.003, up, zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    for role in ("sacrum", "thoracic"):
        assert f[role] is not None
        assert math.degrees(math.acos(min(1.0, float(f[role] @ fwd)))) < 1e-6  # exact geometry


@pytest.mark.parametrize("rows", [40, 10])
@pytest.mark.parametrize("n", [2, 4, 5, 8])
def test_the_stance_smoothing_is_centred(n: int, rows: int) -> None:
    """The stance search's moving average is centred on each row: a straight line comes back unchanged
    wherever the whole window fits (and a window of n rows averages exactly n of them: a constant stays)."""
    from imu_hinge.analysis.stance_search import _smooth

    x = np.column_stack([np.arange(float(rows)), np.full(rows, 3.0)])
    out = _smooth(x, n)
    h = n // 2
    inside = slice(h, rows - n + h + 1)
    np.testing.assert_allclose(out[inside, 0], x[inside, 0] - (0.5 if n % 2 == 0 else 0.0), atol=1e-12)
    np.testing.assert_allclose(out[:, 1], 3.0, atol=1e-12)


def _wobble(s: np.ndarray) -> np.ndarray:
    """A fidget that never settles: a tilt swinging 8 deg either way at 1 Hz (deg; a segment of :func:`_postures`)."""
    return 8 * np.sin(2 * np.pi * s)


def _postures(segments: list[tuple[float, Any, float, float]], bias: np.ndarray, mount: np.ndarray,
              rate: float = 100.0) -> Recording:
    """Both sensors through ``segments`` of (duration_s, tilt_from_deg or tilt(s) -> deg, tilt_to_deg,
    turn_rad_s): the tilt towards +y eased from one value to the other (or given as a function of the
    segment's time), with a turn about gravity; standing up = +x in the body, ``mount`` (3, 3) turns it
    into the sensor frame. Exact geometry (du/dt = u x w) and a constant gyro ``bias`` (3,) rad/s."""
    angs, turns = [], []
    for dur, a0, a1, turn in segments:
        n = int(round(dur * rate))
        x = np.arange(n) / n
        angs.append(np.radians(a0(x * dur) if callable(a0) else a0 + (a1 - a0) * (1 - np.cos(np.pi * x)) / 2))
        turns.append(np.full(n, turn))
    ang, turn_rad_s = np.concatenate(angs), np.concatenate(turns)
    t = np.arange(len(ang)) / rate
    up = np.c_[np.cos(ang), np.sin(ang), np.zeros_like(ang)]
    gyr = np.c_[np.zeros_like(t), np.zeros_like(t), -np.gradient(ang, t)] + turn_rad_s[:, None] * up
    return Recording({role: SensorStream(role, t + 0.004 * k, 9.81 * up @ mount.T, gyr @ mount.T + bias)
                      for k, role in enumerate(("sacrum", "thoracic"))})


def _mount(deg: float) -> np.ndarray:
    """A sensor strapped at an angle (gravity along no axis of it)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("zyx", [deg, deg / 2, -deg / 3], degrees=True).as_matrix()


@pytest.mark.parametrize("mount_deg", [0.0, 25.0, 45.0])
def test_a_short_stance_takes_its_gyro_bias_from_a_later_long_held_hinge(mount_deg: float) -> None:
    """0.9 s of quiet standing (shorter than bias_min_s) while turning slowly about gravity (0.05 rad/s: a
    plain mean takes the turn for bias), then a 40 deg hinge held still for 4 s: the stance is the short
    stand, its gyro bias the held hinge's, which has no turn in it. At 25 and 45 deg mounts gravity
    returns to exactly the start's direction, whose cosine rounds above 1 (numpy 2.4)."""
    bias = np.array([0.01, -0.02, 0.015])
    mount = _mount(mount_deg)
    rec = _postures([(1.4, 0, 0, 0.05), (1.0, 0, 40, 0), (4.0, 40, 40, 0), (1.0, 40, 0, 0), (3.0, 0, 0, 0)],
                    bias, mount)
    choice = choose_stance(rec)
    assert choice.how == "quiet" and not choice.warnings
    assert choice.result.start_s < 0.01 and 0.5 <= choice.result.end_s - choice.result.start_s < 1.0  # 0.90 s
    for e in choice.result.sensors.values():
        # measured 1e-16 (the stand's own mean would be 0.05 off, the turn)
        assert np.abs(e.gyr_bias_rad_s - bias).max() < 1e-6


def test_a_recording_never_upright_and_still_pools_the_bias_of_a_later_held_hinge() -> None:
    """0.3 s still (turning slowly about gravity, 0.05 rad/s), then a wobble that never settles, a 40 deg
    hinge held 4 s and more wobble: no quiet upright stretch, the zero is the start, and the gyro bias
    across the held hinge's gravity comes from the hinge (the start's own estimate is 0.05 * sin 40 =
    0.032 rad/s off there)."""
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures([(0.3, 0, 0, 0.05), (3.0, _wobble, 0, 0), (1.0, 0, 40, 0), (4.0, 40, 40, 0),
                     (1.0, 40, 0, 0), (3.0, _wobble, 0, 0)], bias, np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "start"
    assert choice.result.end_s < 0.3
    g = np.array([math.cos(math.radians(40)), math.sin(math.radians(40)), 0.0])
    for e in choice.result.sensors.values():
        err = e.gyr_bias_rad_s - bias
        assert np.linalg.norm(err - g * (g @ err)) < 0.001  # measured 0.0003


@pytest.mark.parametrize(("wobble_s", "pooled"), [(57.6, True), (59.6, False)])
def test_only_quiet_stretches_within_pool_s_of_the_zero_join_its_bias(wobble_s: float, pooled: bool) -> None:
    """As above, with the held hinge starting 59-59.5 s after the zero (a wobble of 57.6 s before it): within
    pool_s (60 s) it gives the bias across its gravity; 2 s later it is out of reach and the start's own
    estimate stands, 0.05 * sin 40 = 0.032 rad/s off there (the slow turn about gravity taken for bias)."""
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures([(0.3, 0, 0, 0.05), (wobble_s, _wobble, 0, 0), (1.0, 0, 40, 0), (4.0, 40, 40, 0),
                     (1.0, 40, 0, 0), (3.0, _wobble, 0, 0)], bias, np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "start"
    g = np.array([math.cos(math.radians(40)), math.sin(math.radians(40)), 0.0])
    for e in choice.result.sensors.values():
        err = e.gyr_bias_rad_s - bias
        across = np.linalg.norm(err - g * (g @ err))
        if pooled:
            assert across < 0.001  # measured 0.0003
        else:
            assert across == pytest.approx(0.05 * math.sin(math.radians(40)), rel=0.01)  # measured 0.0321


def test_a_recording_that_starts_standing_still_keeps_that_zero_however_long_later_holds_are() -> None:
    """2 s of quiet standing, then three 40 deg hinges held 10 s each (isometric holds), 1 s stands between: the
    holds are quiet far longer in all (28 s against ~4 s) but the recording started standing still, so that
    is the zero (the longest-held rule is only for recordings that start moving)."""
    segs = [(2.0, 0, 0, 0)]
    for _ in range(3):
        segs += [(1.0, 0, 40, 0), (10.0, 40, 40, 0), (1.0, 40, 0, 0), (1.0, 0, 0, 0)]
    choice = choose_stance(_postures([*segs, (1.0, 0, 0, 0)], np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == "quiet" and not choice.warnings
    assert choice.result.start_s < 0.01 and choice.result.end_s < 2.0  # measured 0.004-1.504


def test_a_fidget_at_the_start_then_stands_between_held_hinges_takes_the_first_stand() -> None:
    """1.5 s of fidgeting, then stands of 4 s between two 40 deg hinges held 3 s: the start is not quiet, the
    upright posture is held longest (12 s in three stretches against 6 s bent, at least held_ratio = 2x),
    so the first stand after the fidget is the zero."""
    segs = [(1.5, _wobble, 0, 0), (4.0, 0, 0, 0)]
    for _ in range(2):
        segs += [(1.0, 0, 40, 0), (3.0, 40, 40, 0), (1.0, 40, 0, 0), (4.0, 0, 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == "quiet"
    assert 1.5 < choice.result.start_s < 2.0 and choice.result.end_s < 5.5  # measured 1.824-5.004


@pytest.mark.parametrize(("hold_s", "how"), [(3.0, "held"), (4.0, "start"), (5.0, "start")])
def test_a_moving_start_takes_the_posture_held_longest_only_when_it_dominates_held_ratio_times(
        hold_s: float, how: str) -> None:
    """A start fidgeting at 20 deg (matched by no later posture), then 4 s stands between two 40 deg hinges held
    ``hold_s``: upright is quiet 10.5 s in three stretches. Against the bent holds' ~5 s (3 s each) that is over
    held_ratio (2x): the stand is the zero ("held"); against ~7 s (4 s each: 1.5x, more than 2 s longer but not
    twice as long) or ~9 s (5 s each) it is not clearly the home posture, and the zero falls back to the start,
    with its warning."""
    segs = [(1.5, lambda tt: 20 + _wobble(tt), 0, 0), (1.0, 20, 0, 0), (4.0, 0, 0, 0)]
    for _ in range(2):
        segs += [(1.0, 0, 40, 0), (hold_s, 40, 40, 0), (1.0, 40, 0, 0), (4.0, 0, 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == how


@pytest.mark.parametrize(("stands", "how"), [((2.1, 2.1), "held"), ((1.55, 1.55), "start"), ((4.0,), "start")])
def test_the_posture_held_longest_must_be_held_held_min_s_in_at_least_held_min_count_stretches(
        stands: tuple[float, ...], how: str) -> None:
    """A start fidgeting at 20 deg (matched by no later posture), then stands of ``stands`` s with fidgets between
    and after: the only quiet posture (each stand quiet for 0.8 s less: settling, the margin before a movement).
    Two stands of 2.1 s are quiet 2.6 s in all, beyond held_min_s (2 s): the zero ("held"); two of 1.55 s (1.5 s)
    are not, and one stand, however long, is no posture come back to
    (held_min_count = 2): the zero falls back to the start."""
    segs: list[tuple[float, Any, float, float]] = [(1.5, lambda tt: 20 + _wobble(tt), 0, 0), (1.0, 20, 0, 0)]
    for stand_s in stands:
        segs += [(stand_s, 0, 0, 0), (2.0, _wobble, 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == how
    if how == "held":
        assert "posture held longest, 2.6 s over 2 quiet stretch(es)" in choice.warnings[0]


def test_the_posture_held_longest_is_judged_by_its_quiet_seconds_not_by_when_they_come() -> None:
    """Starting mid-rep (a wobble around 40 deg), three stands of 4 s early on, 30 s of fidgeting, then two 60 deg
    holds of 2.5 s late in the recording: standing is held longest (9.8 s against ~3.5 s), so the zero is the first
    long stand, whatever the holds' times."""
    segs = [(1.5, lambda s: 40 + _wobble(s), 0, 0), (1.0, 40, 0, 0), (4.0, 0, 0, 0)]
    for _ in range(2):
        segs += [(1.0, 0, 40, 0), (1.0, 40, 0, 0), (4.0, 0, 0, 0)]
    segs += [(30.0, _wobble, 0, 0)]
    for _ in range(2):
        segs += [(1.0, 0, 60, 0), (2.5, 60, 60, 0), (1.0, 60, 0, 0), (1.0, _wobble, 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == "held"
    assert 2.5 < choice.result.start_s < 3.0 and choice.result.end_s < 6.5  # measured 2.714-6.004


def test_a_stance_after_a_movement_leaves_out_the_settling() -> None:
    """A wobble that stops dead at upright after 2.5 s, then 3 s of still standing: the stance starts
    settle_s (0.3 s) after the motion stopped, not before."""
    rec = _postures([(2.5, _wobble, 0, 0), (3.0, 0, 0, 0), (1.0, 0, 40, 0), (2.0, 40, 40, 0)], np.zeros(3), np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "quiet"
    assert 0.3 <= choice.result.start_s - 2.5 < 0.4  # measured 0.324 (the smoothing: the rate falls 0.02 s late)


def test_a_recording_that_starts_mid_movement_says_how_far_its_zero_wanders() -> None:
    """Recording from the middle of a fast lean (0 -> 20 deg in 0.15 s), then a wobble that never settles:
    the zero is the first 0.1 s, over which gravity tilts from 0 to 15 deg (geometry), so it wanders
    between 7.5 and 15 deg from its mean: the warning says so (not the 2 deg floor of quiet sway)."""
    def lean(s: np.ndarray) -> np.ndarray:
        return 10 * (1 - np.cos(np.pi * np.minimum(s, 0.15) / 0.15)) + 8 * np.sin(2 * np.pi * np.maximum(s - 0.15, 0))

    choice = choose_stance(_postures([(6.0, lean, 0, 0)], np.zeros(3), np.eye(3)))
    assert choice.how == "start" and choice.result.end_s - choice.result.start_s == pytest.approx(0.1)
    (warning,) = choice.warnings
    m = re.search(r"uncertain by about (\d+) deg", warning)
    assert m is not None and 7.5 <= int(m.group(1)) <= 15  # measured 9


@pytest.mark.parametrize(("bounce_m_s2", "still_from_start"), [(1.0, True), (2.0, False)])
def test_a_slow_bounce_is_quiet_within_quiet_acc_m_s2(bounce_m_s2: float, still_from_start: bool) -> None:
    """3 s of a slow vertical bounce (0.5 Hz, no rotation), then 3 s of still standing: |acc| within
    quiet_acc_m_s2 (1.5 m/s^2) of gravity is quiet, so a 1.0 m/s^2 bounce is part of the stance from the start,
    while a 2.0 m/s^2 one is not and the stance begins after it."""
    rec = _postures([(3.0, 0, 0, 0), (3.0, 0, 0, 0), (1.0, 0, 40, 0), (2.0, 40, 40, 0)], np.zeros(3), np.eye(3))
    streams = {}
    for role, s in rec.streams.items():
        acc = s.acc_m_s2.copy()
        bounce = s.time_s < 3.0
        acc[bounce, 0] += bounce_m_s2 * np.sin(2 * np.pi * 0.5 * s.time_s[bounce])
        streams[role] = SensorStream(role, s.time_s, acc, s.gyr_rad_s)
    choice = choose_stance(Recording(streams))
    assert choice.how == "quiet"
    if still_from_start:
        assert choice.result.start_s < 0.01
    else:
        assert 3.0 <= choice.result.start_s < 3.5


@pytest.mark.parametrize(("stand_deg", "how"), [(11.5, "quiet"), (12.5, "held")])
def test_a_later_stand_within_match_deg_of_the_start_posture_is_the_start_posture(stand_deg: float, how: str) -> None:
    """A start that turns about gravity (1 rad/s, upright: its gravity direction is exact, but it is not quiet),
    then two 3 s stands ``stand_deg`` from it with fidgets between: within match_deg (12 deg) a stand is the
    start's posture, the first one the zero ("quiet"); beyond it the stands are only the posture held longest."""
    segs: list[tuple[float, Any, float, float]] = [(1.5, 0, 0, 1.0), (0.5, 0, stand_deg, 0)]
    for _ in range(2):
        segs += [(3.0, stand_deg, stand_deg, 0), (2.0, lambda tt: stand_deg + _wobble(tt), 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == how
    assert 2.0 < choice.result.start_s < 2.5  # the first stand either way


def test_bouncing_upright_without_turning_is_not_standing_still() -> None:
    """2 s of bouncing up and down (+-3 m/s^2 at 2 Hz, no rotation: the gyro sees nothing), then 3 s of still
    standing: the stance is the still standing, not the bouncing."""
    rec = _postures([(2.0, 0, 0, 0), (3.0, 0, 0, 0), (1.0, 0, 40, 0), (2.0, 40, 40, 0)], np.zeros(3), np.eye(3))
    streams = {}
    for role, s in rec.streams.items():
        acc = s.acc_m_s2.copy()
        bounce = s.time_s < 2.0
        acc[bounce, 0] += 3.0 * np.sin(2 * np.pi * 2.0 * s.time_s[bounce])
        streams[role] = SensorStream(role, s.time_s, acc, s.gyr_rad_s)
    choice = choose_stance(Recording(streams))
    assert choice.how == "quiet" and 2.0 <= choice.result.start_s < 2.4  # measured 2.27


def test_a_zero_from_a_brief_still_start_ends_where_the_stillness_ends() -> None:
    """Still for 0.15 s, then a wobble that never settles: the zero is the posture over those 0.15 s (less
    than start_s = 0.25 s), not over the first moments of the wobble."""
    def wobble(s: np.ndarray) -> np.ndarray:
        return 8 * np.sin(2 * np.pi * 1.5 * s)

    choice = choose_stance(_postures([(0.15, 0, 0, 0), (6.0, wobble, 0, 0)], np.zeros(3), np.eye(3)))
    assert choice.how == "start"
    assert 0.1 <= choice.result.end_s - choice.result.start_s <= 0.15  # measured 0.14


def test_a_long_stance_keeps_its_own_gyro_bias_after_an_earlier_long_held_hinge() -> None:
    """A wobble, a 40 deg hinge held 4 s while turning slowly about gravity (0.05 rad/s: its mean gyro is
    off along its gravity), then 3 s of still standing: the stance (2.7 s, long enough) takes its gyro
    bias from itself; the held hinge's would be 0.05 * cos 40 = 0.038 rad/s off along the stance's gravity."""
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures([(0.3, 0, 0, 0), (3.0, _wobble, 0, 0), (1.0, 0, 40, 0), (4.0, 40, 40, 0.05), (1.0, 40, 0, 0),
                     (3.0, 0, 0, 0)], bias, np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "quiet" and choice.result.start_s > 9.3  # the stand after the hinge: measured 9.51
    for e in choice.result.sensors.values():
        assert np.abs(e.gyr_bias_rad_s - bias).max() < 1e-6  # measured 1e-16 (exact geometry)


def test_a_recording_cut_in_the_first_descent_starts_from_the_first_samples_tilt(rounding_session) -> None:
    """Cut where the first descent passes 4 deg of trunk flexion (moving): the stance is the pause after the
    rep, and the filter starts from the tilt the first sample had (run backwards from the stance), so the
    first second's trunk angles match the simulator's at once."""
    sim = rounding_session
    first = sim.reps[0]
    tt, tr = sim.truth_time_s, sim.truth_trunk_flexion_deg
    t0 = float(tt[(tt > first["start_s"]) & (tt < first["bottom_s"]) & (tr > 4.0)][0])
    res = analyze(crop(sim.recording, t0))
    assert res.calibration["stand_start_s"] > first["end_s"] and not res.warnings
    head = res.time_s < res.time_s[0] + 1.0
    err = res.trunk_flexion_deg[head] - np.interp(res.time_s[head], tt, tr)
    # measured 0.91 deg (started from the stance's gravity instead: 3.87)
    assert float(np.sqrt(np.mean(err ** 2))) < 1.3


@pytest.mark.parametrize(("still_s", "how"), [(1.12, "quiet"), (1.11, "start")])
def test_a_still_start_of_exactly_min_stand_s_is_a_stance(still_s: float, how: str) -> None:
    """Still, then a fast lean (1.5 rad/s): left of the margin before the motion, the quiet stretch spans
    min_stand_s (0.5 s: 50 steps of the 0.01 s grid, 0.49 s first to last) when still for 1.12 s, and is the
    stance; still for 1.11 s it is a step short, and the zero falls back to the start."""
    def lean(s: np.ndarray) -> np.ndarray:
        return np.degrees(np.minimum(1.5 * s, np.radians(40)))

    choice = choose_stance(_postures([(still_s, 0, 0, 0), (4.0, lean, 0, 0)], np.zeros(3), np.eye(3)))
    assert choice.how == how
    if how == "quiet":
        assert choice.result.end_s - choice.result.start_s == pytest.approx(0.49, abs=1e-9)


def test_a_recording_cut_in_the_first_descent_with_a_gap_bridges_it_backwards(rounding_session) -> None:
    """As above, and both links lost 0.4 s of the descent (0.6-1.0 s into the rep): the backward run from the
    stance bridges the gap with the gyro (time runs backwards, its steps stay positive), so the first second
    still matches the simulator (a run that missed the gap would start 30 deg off)."""
    sim = rounding_session
    first = sim.reps[0]
    tt, tr = sim.truth_time_s, sim.truth_trunk_flexion_deg
    t0 = float(tt[(tt > first["start_s"]) & (tt < first["bottom_s"]) & (tr > 4.0)][0])
    rec = crop(sim.recording, t0)
    lost = (first["start_s"] + 0.6, first["start_s"] + 1.0)
    streams = {}
    for role, s in rec.streams.items():
        keep = np.flatnonzero((s.time_s <= lost[0]) | (s.time_s >= lost[1]))
        streams[role] = SensorStream(role, s.time_s[keep], s.acc_m_s2[keep], s.gyr_rad_s[keep])
    res = analyze(Recording(streams, dict(rec.metadata)))
    assert res.calibration["stand_start_s"] > first["end_s"] and not res.warnings
    head = res.time_s < res.time_s[0] + 1.0
    err = res.trunk_flexion_deg[head] - np.interp(res.time_s[head], tt, tr)
    assert float(np.sqrt(np.mean(err ** 2))) < 3.0  # measured 2.19 deg (time stamps not reversed: 34)


def test_the_pelvis_forward_axis_counts_only_while_the_trunk_tips_forward() -> None:
    """The pelvis side-bends 40 deg (twice, the trunk upright) and tips 25 deg forward in three hinges (the trunk
    70): its forward direction is its tilt while the trunk is tipped forward, within 1 deg of the hinges' (its
    side bends, the larger tilts, do not count)."""
    rate = 100.0
    fwd = np.array([0.0, math.cos(0.3), math.sin(0.3)])
    side = np.array([0.0, -math.sin(0.3), math.cos(0.3)])
    bump = np.sin(np.linspace(0, np.pi, 300))
    upright = np.tile([1.0, 0.0, 0.0], (100, 1))
    trunk, pelvis = [upright], [upright]
    for pelvis_dir, pelvis_deg, trunk_deg in [(side, 40, 0), (-side, 40, 0), (fwd, 25, 70), (fwd, 25, 70),
                                              (fwd, 25, 70)]:
        trunk += [_tilted(-fwd, np.radians(trunk_deg) * bump), upright]
        pelvis += [_tilted(-pelvis_dir, np.radians(pelvis_deg) * bump), upright]
    t = np.arange(len(np.vstack(trunk))) / rate
    zeros = np.zeros((len(t), 3))
    rec = Recording({"sacrum": _stream("sacrum", t, np.vstack(pelvis), zeros),
                     "thoracic": _stream("thoracic", t, np.vstack(trunk), zeros)})
    f = forward_directions(rec, {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    assert f["sacrum"] is not None
    assert math.degrees(math.acos(min(1.0, float(f["sacrum"] @ fwd)))) < 1.0  # measured 0.0 (exact geometry)


def test_a_large_gyro_bias_does_not_make_standing_sway_look_like_motion() -> None:
    """4 s of standing with a 2 deg sway at 1 Hz (0.22 rad/s at most) on a gyro 0.15 rad/s (8.6 deg/s) off,
    about the same axis: their sum passes the 0.35 rad/s quiet limit, the sway alone does not. The stillness test
    takes the gyro's rough bias out first, so the standing is the stance (up to margin_s before the hinge)."""
    def sway(s: np.ndarray) -> np.ndarray:
        return 2.0 * np.sin(2 * np.pi * 1.0 * s)

    rec = _postures([(4.0, sway, 0, 0), (1.0, 0, 40, 0), (2.0, 40, 40, 0)], np.array([0.0, 0.0, 0.15]), np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "quiet"
    assert choice.result.start_s < 0.01 and choice.result.end_s == pytest.approx(3.5, abs=0.02)  # measured 3.504


@pytest.mark.parametrize(("n", "says"), [(4, "the sacrum sensor has 4 samples: too short to analyse"),
                                         (5, "the two sensors overlap for 0.04 s: too short to calibrate")])
def test_a_sensor_needs_five_samples_before_its_overlap_is_judged(n: int, says: str) -> None:
    t = np.arange(n) * 0.01
    up = np.tile([1.0, 0.0, 0.0], (n, 1))
    rec = Recording({role: SensorStream(role, t, 9.81 * up, 0 * up) for role in ("sacrum", "thoracic")})
    with pytest.raises(CalibrationError, match=says):
        choose_stance(rec)


@pytest.mark.parametrize("cut", ["bottom", "descent"])
def test_a_recording_that_starts_mid_rep_takes_the_posture_held_between_reps(rounding_session, cut: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A lift recorded from the set-up at the bar: the first posture is bent, and a later bottom pause may
    match it. The zero is the posture held far longest (standing between reps), told by a warning."""
    sim = rounding_session
    rep = sim.reps[2]
    t0 = rep["bottom_s"] if cut == "bottom" else 0.5 * (rep["start_s"] + rep["bottom_s"])
    rec = Recording({r: s.slice(int(np.searchsorted(s.time_s, t0)), len(s)) for r, s in sim.recording.streams.items()})
    choice = choose_stance(rec)
    assert choice.how == "held" and "does not start standing still" in choice.warnings[0]
    res = analyze(rec)
    worst = max(rmse_vs_truth(res, sim, c) for c in ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"))
    assert worst < 0.7  # measured 0.26 (bottom) and 0.45 (descent)
    monkeypatch.setattr("imu_hinge.analysis.stance_search._held_posture", lambda *a: None)
    res = analyze(rec)  # without the held posture: cut in the descent, the start wanders and the stand at the end
    # serves (measured 0.34 deg); cut at the bottom pause, the start is still and stays the zero (56 deg)
    assert (rmse_vs_truth(res, sim, "trunk_flexion_deg") < 1.0) == (cut == "descent")
    no_end = AnalysisParams(stance_search=StanceSearchParams(end_stand_within_s=-math.inf))
    res = analyze(rec, no_end)  # ... and without that too, the bent start is the zero
    assert rmse_vs_truth(res, sim, "trunk_flexion_deg") > 20.0  # measured 56 and 53 deg: a bent posture as zero


def test_an_overlap_of_exactly_min_stand_s_is_enough() -> None:
    """Both sensors still for exactly 0.5 s (min_stand_s, 51 samples at 100 Hz): the minimum is inclusive, the
    stance is that half second."""
    t = np.arange(51) / 100.0
    up = np.tile([1.0, 0.0, 0.0], (51, 1))
    rec = Recording({role: SensorStream(role, t, 9.81 * up, 0 * up) for role in ("sacrum", "thoracic")})
    choice = choose_stance(rec)
    assert choice.how == "quiet" and choice.result.start_s == 0.0 and choice.result.end_s > 0.45  # measured 0.49


def test_grid_rows_mark_the_time_after_a_gap_following_the_first_sample() -> None:
    """For each grid time the latest sample at or before it, -1 before the first sample and in a gap: a gap right
    after the very first sample (0 s, then nothing until 1 s) leaves 0.5 s without a sample, like any other."""
    from imu_hinge.analysis.stance_search import _grid_rows

    rows = _grid_rows(np.array([0.0, 1.0, 1.01]), np.array([-0.1, 0.0, 0.05, 0.5, 1.0, 1.05]), max_gap_s=0.1)
    assert rows.tolist() == [-1, 0, 0, -1, 1, 2]


@pytest.mark.parametrize(("stand_s", "how", "start_s"), [(3.5, "quiet", 1.82), (5.0, "held", 5.71)])
def test_a_moving_start_matched_later_yields_only_to_a_posture_held_override_ratio_times_as_long(
        stand_s: float, how: str, start_s: float) -> None:
    """Starting mid-rep (a wobble around 40 deg), a 40 deg hold (2.2 s quiet: it matches the start), then two
    stands. The start's posture is the zero unless standing is held override_ratio (3x) as long in all:
    stands of 3.5 s give 5.25 s (2.4x: the hold stays the zero), stands of 5 s give 8.25 s (3.8x: the first
    long stand is the zero). Both above held_ratio (2x): only the override rule tells them apart."""
    segs = [(1.5, lambda s: 40 + _wobble(s), 0, 0), (3.0, 40, 40, 0), (1.0, 40, 0, 0), (stand_s, 0, 0, 0),
            (1.5, _wobble, 0, 0), (stand_s, 0, 0, 0), (1.5, _wobble, 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == how and choice.result.start_s == pytest.approx(start_s, abs=0.02)  # measured 1.824, 5.714


def test_the_moving_average_is_the_mean_of_each_centred_window_for_every_length() -> None:
    """Against the definition, row by row: the mean of rows i - n//2 .. i - n//2 + n - 1 that exist, for every
    data length 1..12 and window 1..8 (n = 1, a window as long as the data, and one longer included)."""
    from imu_hinge.analysis.stance_search import _smooth

    rng = np.random.default_rng(5)
    for m in range(1, 13):
        x = rng.normal(size=(m, 2))
        for n in range(1, 9):
            h = n // 2
            want = np.array([x[max(0, i - h):min(m, i - h + n)].mean(axis=0) for i in range(m)])
            np.testing.assert_allclose(_smooth(x, n), want, rtol=0, atol=1e-12, err_msg=f"m={m} n={n}")


@pytest.mark.parametrize("n_short", [3, 4, 5])
def test_pooled_bias_weighs_each_stretch_by_its_duration_squared_and_skips_stretches_under_five_samples(
        n_short: int) -> None:
    """A still sensor (gravity along x) whose gyro reads a different constant in each of three stretches, across
    gravity: the accelerometer saw no turn, so each stretch measures its own reading as bias. Its sway error
    falls as 1/duration, so the least-squares weights are duration^2 (1 and 4 for stretches of 1 and 2 s, 0.1
    for the stance's own estimate); a 3- or 4-sample stretch (too short to fit) has none, a 5-sample one (the fewest a
    fit takes, 0.04 s) joins with 0.0016. Along gravity: ``own``."""
    from imu_hinge.analysis.stance_search import _pooled_bias

    t = np.arange(0, 6.0, 0.01)
    gyr = np.zeros((len(t), 3))
    b1, b2, b3 = np.array([0, 0.02, -0.01]), np.array([0, -0.01, 0.03]), np.array([0, 0.5, 0.5])
    gyr[(t >= 0) & (t <= 1.0)] = b1
    gyr[(t >= 2.0 - 1e-9) & (t <= 4.0 + 1e-9)] = b2
    end_s = 5.0 + (n_short - 1) / 100.0
    short = (t >= 5.0 - 1e-9) & (t <= end_s + 1e-9)
    assert short.sum() == n_short
    gyr[short] = b3
    s = SensorStream("sacrum", t, np.tile([9.81, 0, 0], (len(t), 1)), gyr)
    own = np.array([0.004, 0.001, 0.002])
    got = _pooled_bias(s, [(0.0, 1.0), (2.0, 4.0), (5.0, end_s)], own)
    w3 = 0.0 if n_short < 5 else (end_s - 5.0) ** 2
    want_across = (0.1 * own[1:] + 1.0 * b1[1:] + 4.0 * b2[1:] + w3 * b3[1:]) / (0.1 + 1.0 + 4.0 + w3)
    np.testing.assert_allclose(got, [own[0], *want_across], rtol=0, atol=1e-9)


@pytest.mark.parametrize("way", [1.0, -1.0])
def test_the_forward_axis_is_opposite_the_tilts_however_few_and_small(way: float) -> None:
    """A forward tip moves "up" towards -forward: three tilt vectors of 0.2 along +x (or -x) give forward -x
    (or +x), whichever sign the eigen-solver gives the axis (v and -v share it)."""
    from imu_hinge.analysis.stance_params import ForwardParams
    from imu_hinge.analysis.stance_search import _principal_forward

    v = way * np.array([[0.2, 0.01, 0.0], [0.2, -0.01, 0.0], [0.2, 0.0, 0.01]])
    f = _principal_forward(v, ForwardParams())
    assert f is not None
    np.testing.assert_allclose(f, [-way, 0.0, 0.0], atol=0.03)  # measured 0.017 off (the spread of the three)


def test_a_long_quiet_stretch_joins_the_bias_pool_with_its_first_max_stand_s_only() -> None:
    """A recording that starts moving (its zero: the start's posture), then a 40 deg hinge held 10 s whose gyro
    bias drifts by 0.03 rad/s (across gravity) after 5.8 s of it, a sensor warming up: the hold joins the zero's
    bias with its first max_stand_s (5 s) only, so the drift is left out (across-gravity error 0.00004 rad/s;
    the whole hold would put 0.0105 rad/s in)."""
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures([(1.5, _wobble, 0, 0), (1.2, 0, 0, 0.05), (1.0, 0, 40, 0), (10.0, 40, 40, 0), (1.0, 40, 0, 0),
                     (2.0, _wobble, 0, 0)], bias, np.eye(3))
    for s in rec.streams.values():
        s.gyr_rad_s[(s.time_s > 9.5) & (s.time_s < 13.7)] += [0.0, 0.0, 0.03]
    choice = choose_stance(rec)
    assert choice.how == "start"
    g = np.array([math.cos(math.radians(40)), math.sin(math.radians(40)), 0.0])
    for e in choice.result.sensors.values():
        err = e.gyr_bias_rad_s - bias
        assert np.linalg.norm(err - g * (g @ err)) < 0.001  # measured 0.00004


@pytest.mark.parametrize(("turn_s", "accepted"), [(2.5, True), (2.8, False)])
def test_without_an_upright_stance_the_data_must_be_still_within_fallback_within_s(turn_s: float,
                                                                                   accepted: bool) -> None:
    """Turning in place at 1.5 rad/s (never still) for turn_s, then a 40 deg hinge held 3 s (still, but not the
    start's posture), then turning again: no upright quiet stretch and no posture held twice, so the zero is the
    start's posture when the data is still within fallback_within_s (3 s) of the start, else it is refused in
    one line. The hold becomes still 0.2-0.5 s after its tilt begins (measured: turns of 1.8-2.5 s accepted,
    2.8-3.5 s refused), so the two cases sit on either side of 3 s."""
    rec = _postures([(turn_s, 0, 0, 1.5), (0.5, 0, 40, 0), (3.0, 40, 40, 0), (0.5, 40, 0, 0), (1.5, 0, 0, 1.5)],
                    np.array([0.01, -0.02, 0.015]), np.eye(3))
    if accepted:
        choice = choose_stance(rec)
        assert choice.how == "start" and choice.result.start_s < 0.01  # measured 0.004-0.104
    else:
        with pytest.raises(CalibrationError, match="never still near the start"):
            choose_stance(rec)


@pytest.mark.parametrize(("tip_rad_s", "found"), [(0.2, False), (0.5, True)])
def test_the_axis_search_counts_only_the_rate_across_gravity(tip_rad_s: float, found: bool) -> None:
    """A forward tip about y while twisting at 0.5 rad/s about gravity (exact: the twist leaves gravity where it
    is): a tip at 0.2 rad/s is under min_rate_rad_s (0.3) however fast the twist, so no axis is set in 3 s
    (34 deg of tip); at 0.5 rad/s the axis is set, forward = +x (y x up), once gravity has tipped 5 deg."""
    from imu_hinge.kinematics.sagittal import AxisSearch

    search = AxisSearch(np.array([0.0, 0.0, 9.81]), 100.0)
    forward = None
    for k in range(300):
        theta = tip_rad_s * k / 100.0
        forward = search.push(np.array([0.0, tip_rad_s, 0.5]), 9.81 * np.array([-np.sin(theta), 0.0, np.cos(theta)]))
    if found:
        assert forward is not None
        np.testing.assert_allclose(forward, [1.0, 0.0, 0.0], atol=1e-12)
    else:
        assert forward is None


def test_a_later_stance_shorter_than_bias_min_s_takes_its_bias_from_a_longer_quiet_stretch() -> None:
    """After a fidget, a stand of 0.78 s quiet (shorter than bias_min_s, 1 s) while turning slowly about gravity
    (0.05 rad/s, which a plain mean takes for bias), then a 40 deg hinge held 4 s and a stand: the stance is the
    short stand, its bias from the first quiet stretch at least 1 s long (the hold), so the turn stays out
    (measured 1e-16 rad/s off; the short stand's own estimate, pooled, 0.0019 rad/s)."""
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures([(1.5, _wobble, 0, 0), (1.6, 0, 0, 0.05), (1.0, 0, 40, 0), (4.0, 40, 40, 0), (1.0, 40, 0, 0),
                     (3.0, 0, 0, 0)], bias, np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "quiet" and 1.5 < choice.result.start_s < choice.result.end_s < 2.7  # measured 1.82-2.60
    assert choice.result.end_s - choice.result.start_s < 1.0
    for e in choice.result.sensors.values():
        np.testing.assert_allclose(e.gyr_bias_rad_s, bias, rtol=0, atol=1e-6)


def test_a_long_side_lean_below_min_tilt_does_not_turn_the_forward_axis() -> None:
    """60 s leaning 15 deg to one side (carrying a bag, below min_tilt_deg 20), then three 40 deg hinges of 2 s:
    only the samples tilted beyond 20 deg count, so both forward axes are the hinges' (geometry: "up" tips towards
    -z). Counting every sample, the lean's 6,000 samples outweigh the hinges' and the trunk's axis turns sideways."""
    rate = 100.0
    t = np.arange(int(80 * rate)) / rate
    side = np.where((t > 5) & (t < 65), np.radians(15.0), 0.0)
    hinge = np.zeros_like(t)
    for s in (67.0, 71.0, 75.0):
        m = (t > s) & (t < s + 2.0)
        hinge[m] = np.radians(40.0) * np.sin(np.pi * (t[m] - s) / 2.0)
    streams = {}
    for role, share in (("sacrum", 0.5), ("thoracic", 1.0)):  # the pelvis tips half as far
        th, ph = share * hinge, share * side
        up = np.stack([np.cos(th) * np.cos(ph), np.sin(ph), -np.sin(th) * np.cos(ph)], axis=1)
        streams[role] = SensorStream(role, t, 9.81 * up, np.zeros((len(t), 3)))
    f = forward_directions(Recording(streams), {"sacrum": np.array([1.0, 0, 0]), "thoracic": np.array([1.0, 0, 0])})
    for role in ("sacrum", "thoracic"):
        assert f[role] is not None, role
        np.testing.assert_allclose(f[role], [0.0, 0.0, 1.0], atol=1e-3)  # measured exact to 1e-3


def test_a_long_quiet_stand_gives_a_stance_of_its_first_max_stand_s() -> None:
    """12 s of standing still, then a hinge: the stance is the stand's first max_stand_s (5 s) only (a sensor
    warming up drifts; the first seconds are enough), from the first sample."""
    rec = _postures([(12.0, 0, 0, 0), (1.0, 0, 40, 0), (1.0, 40, 0, 0), (2.0, 0, 0, 0)],
                    np.array([0.01, -0.02, 0.015]), _mount(25.0))
    res = choose_stance(rec).result
    assert res.start_s == pytest.approx(0.004, abs=1e-9)  # the later sensor's first sample (stamped 4 ms after)
    assert res.end_s - res.start_s == pytest.approx(5.0, abs=0.011)  # measured 5.0 (to a sample)


@pytest.mark.parametrize(("stand_s", "own"), [(1.9, True), (1.3, False)])
def test_a_stance_of_bias_min_s_takes_its_own_gyro_bias(stand_s: float, own: bool) -> None:
    """The gyro's bias steps by 0.02 rad/s (1.1 deg/s: a sensor warming up) between a quiet stand at the start and
    a 40 deg hinge held for 4 s. A stance of bias_min_s (1 s) or more takes the bias it had itself (the 1.9 s stand
    leaves a 1.3 s stance: settle and margin off); a shorter one (the 1.3 s stand leaves 0.8 s) pools it with the
    quiet stretches within pool_s after it, weighted by their durations squared: the held hinge (4 s) and the end
    stand outweigh its own 0.8 s, and the bias is the later one, within a tenth of the step."""
    bias, step = np.array([0.01, -0.02, 0.015]), np.array([0.0, 0.02, 0.0])
    rec = _postures([(stand_s, 0, 0, 0), (1.0, 0, 40, 0), (4.0, 40, 40, 0), (1.0, 40, 0, 0), (3.0, 0, 0, 0)],
                    bias, _mount(25.0))
    rec = Recording({r: replace(s, gyr_rad_s=s.gyr_rad_s + step * (s.time_s >= stand_s + 0.5)[:, None])
                     for r, s in rec.streams.items()})
    choice = choose_stance(rec)
    assert choice.how == "quiet" and choice.result.start_s < 0.01
    assert (choice.result.end_s - choice.result.start_s >= 1.0) == own
    for e in choice.result.sensors.values():
        if own:  # measured 1e-16 off the stance's own bias (noise-free)
            assert np.abs(e.gyr_bias_rad_s - bias).max() < 1e-6
        else:  # measured 0.0019 rad/s off the later bias (9 % of the step: the stance's own share)
            assert np.abs(e.gyr_bias_rad_s - (bias + step)).max() < 0.1 * np.abs(step).max()


@pytest.mark.parametrize(("start", "run_back"), [("still", False), ("0.8", False), ("0.97", False), ("1.03", True),
                                                ("1.2", True), ("lean", True), ("0.97 at 1000 s", False)])
def test_a_live_stance_after_a_start_over_starts_the_filter_from_the_first_samples_gravity(start: str,
                                                                                         run_back: bool) -> None:
    """Live calibration that starts over (a lean before the stance): the filter starts from the mean gravity of the
    first edge_s (0.3 s) when those samples turned less than edge_turn_deg (1 deg): still for 0.6 s first, or
    tipping 0.8 or 0.97 deg over them. When they turned more (1.03 or 1.2 deg, or the lean starting at once at
    20 deg/s: the turn is the mean rate over the first to the last of those samples), that
    mean is off by about half the turn, and the start is the first sample's gravity run back from the stance
    instead (exact geometry: measured 0.015 deg off; the mean 1.27 deg off after the lean)."""
    from imu_hinge.analysis.pipeline import HingePipeline

    first_s = {"still": [(0.6, 0, 0, 0)], "0.8": [(0.3, 0, 0.8, 0), (0.9, 0.8, 25, 0)],
               "0.97": [(0.3, 0, 0.97, 0), (0.9, 0.97, 25, 0)], "1.03": [(0.3, 0, 1.03, 0), (0.9, 1.03, 25, 0)],
               "0.97 at 1000 s": [(0.3, 0, 0.97, 0), (0.9, 0.97, 25, 0)],
               "1.2": [(0.3, 0, 1.2, 0), (0.9, 1.2, 25, 0)], "lean": [(1.2, 0, 25, 0)]}[start]
    rest = [(1.2, 25, 0, 0), (3.0, 0, 0, 0), (1.5, 0, 45, 0), (1.5, 45, 0, 0), (2.0, 0, 0, 0)]
    if start == "still":
        rest = [(1.2, 0, 25, 0), *rest]
    rec = _postures(first_s + rest, np.array([0.01, -0.02, 0.015]), _mount(25.0))
    if start.endswith("at 1000 s"):  # a clock that does not start at 0 (the turn spans the samples' times)
        rec = Recording({r: replace(s, time_s=s.time_s + 1000.0) for r, s in rec.streams.items()})
    pipe = HingePipeline()
    for sample in rec.merged_samples():
        pipe.push(sample)
    assert pipe.calibration is not None and pipe.calibration.start_s - rec["sacrum"].time_s[0] > 2.0  # after the lean
    for role, s in rec.streams.items():
        first = s.acc_m_s2[s.time_s <= s.time_s[0] + 0.3].mean(axis=0)
        began = pipe.calibration.sensors[role].acc_first_m_s2
        if not run_back:
            np.testing.assert_array_equal(began, first)
        else:
            assert math.degrees(math.acos(min(1.0, _unit(began) @ _unit(s.acc_m_s2[0])))) < 0.05, role
            assert math.degrees(math.acos(min(1.0, _unit(first) @ _unit(s.acc_m_s2[0])))) > 0.3, role  # the mean


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.mark.parametrize(("sway_deg", "run_back"), [(1.0, False), (0.2, True)])
def test_a_live_stance_that_sways_more_than_still_rms_keeps_the_first_samples_gravity(sway_deg: float,
                                                                                     run_back: bool) -> None:
    """As the start-over cases above (the first 0.3 s tip 1.2 deg, then a lean), but the stance sways at 1 Hz.
    1 deg (gyro RMS 0.078 rad/s, over still_rms_rad_s 0.05, under the stance's own limits): its mean gravity is
    not exact, nothing better to run back from: the filter starts from the first samples' mean gravity as found.
    0.2 deg (RMS 0.015 rad/s, quiet standing's sway): still, so the run back (measured 0.015 deg off the first
    sample)."""
    from imu_hinge.analysis.pipeline import HingePipeline

    sway = [(3.0, lambda s: sway_deg * np.sin(2 * np.pi * s), 0, 0)]
    segs = [(0.3, 0, 1.2, 0), (0.9, 1.2, 25, 0), (1.2, 25, 0, 0), *sway, (1.5, 0, 45, 0), (1.5, 45, 0, 0),
            (2.0, 0, 0, 0)]
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures(segs, bias, _mount(25.0))
    pipe = HingePipeline()
    for sample in rec.merged_samples():
        pipe.push(sample)
    cal = pipe.calibration
    assert cal is not None and 2.0 < cal.start_s < 4.0  # in the sway, after the lean
    for role, s in rec.streams.items():
        in_stance = (s.time_s >= cal.start_s) & (s.time_s <= cal.end_s)
        rms = float(np.sqrt(np.mean(np.sum((s.gyr_rad_s[in_stance] - bias) ** 2, axis=1))))
        assert rms == pytest.approx(0.078 * sway_deg, rel=0.15), rms
        began, first = cal.sensors[role].acc_first_m_s2, s.acc_m_s2[s.time_s <= s.time_s[0] + 0.3].mean(axis=0)
        if run_back:
            assert math.degrees(math.acos(min(1.0, _unit(began) @ _unit(s.acc_m_s2[0])))) < 0.05, role
        else:
            np.testing.assert_array_equal(began, first)


def test_a_run_back_to_a_first_sample_in_full_motion_ends_half_a_step_before_it() -> None:
    """Live calibration after a lean that moves at full speed from the very first sample (33 deg/s: 0.33 deg per
    100 Hz sample). The filter's steps turn by each sample's rate over the interval before it, so the run back
    from the stance, taking the rates in reverse, ends half a step beyond the first sample (the rates there are
    not the trapezoid's): that is where the forward filter must start, since its first update turns it by the
    first sample's rate for one period. Geometry: 0.5 step (0.165 deg) before sample 0, 1.5 steps from sample 1;
    measured 0.18 and 0.51 deg. Started from the run back's second-last state it would sit between the two."""
    from imu_hinge.analysis.pipeline import HingePipeline

    lean = [(1.2, lambda s: 25.0 * np.sin(np.pi * s / 2.4), 0, 0), (1.2, 25, 0, 0), (3.0, 0, 0, 0),
            (1.5, 0, 45, 0), (1.5, 45, 0, 0), (2.0, 0, 0, 0)]
    rec = _postures(lean, np.array([0.01, -0.02, 0.015]), _mount(25.0))
    pipe = HingePipeline()
    for sample in rec.merged_samples():
        pipe.push(sample)
    assert pipe.calibration is not None and pipe.calibration.start_s > 2.0  # after the lean

    def deg(a: np.ndarray, b: np.ndarray) -> float:
        return math.degrees(math.acos(min(1.0, _unit(a) @ _unit(b))))

    for role, s in rec.streams.items():
        began, g0, g1 = pipe.calibration.sensors[role].acc_first_m_s2, s.acc_m_s2[0], s.acc_m_s2[1]
        step = deg(g0, g1)
        assert step == pytest.approx(0.327, abs=0.005)
        assert 0.35 * step < deg(began, g0) < 0.7 * step, role  # measured 0.55 steps
        assert deg(began, g1) > 1.35 * step, role  # measured 1.55 steps: beyond sample 0, not between


def test_a_live_stance_at_the_start_whose_first_samples_settle_starts_the_filter_from_the_first_sample() -> None:
    """No start-over: the live stance begins with the data, but its first 0.3 s still settle (a 1.2 deg tip, then
    still). Their mean gravity is off by about half the tip; the stance is still overall (gyro RMS under
    still_rms_rad_s), so the filter starts from the first sample's gravity run back from the stance, as after a
    start-over (exact geometry: measured 0.037 and 0.039 deg off the first sample; the mean 0.60 deg off)."""
    from imu_hinge.analysis.pipeline import HingePipeline

    rest = [(3.0, 1.2, 1.2, 0), (1.5, 1.2, 45, 0), (1.5, 45, 1.2, 0), (2.0, 1.2, 1.2, 0)]
    rec = _postures([(0.3, 0, 1.2, 0), *rest], np.array([0.01, -0.02, 0.015]), _mount(25.0))
    pipe = HingePipeline()
    for sample in rec.merged_samples():
        pipe.push(sample)
    assert pipe.calibration is not None and pipe.calibration.start_s < 0.01 and pipe.calibration_restarts == 0
    for role, s in rec.streams.items():
        first = s.acc_m_s2[s.time_s <= s.time_s[0] + 0.3].mean(axis=0)
        began = pipe.calibration.sensors[role].acc_first_m_s2
        assert math.degrees(math.acos(min(1.0, _unit(began) @ _unit(s.acc_m_s2[0])))) < 0.05, role
        assert math.degrees(math.acos(min(1.0, _unit(first) @ _unit(s.acc_m_s2[0])))) > 0.5, role  # the mean: 0.60


@pytest.mark.parametrize("n_in", [4, 5])
def test_a_stance_with_fewer_than_five_samples_of_a_sensor_is_refused_with_the_span(n_in: int) -> None:
    """A stance span holding only four samples of a sensor (a slow sensor, or a gap in it; here samples from
    index 500 on, as later in a recording) cannot give its posture and bias: one line that names the sensor and
    the span; five samples are enough."""
    from imu_hinge.analysis.stance_search import _estimate

    t = np.concatenate([np.arange(500) / 100.0, 5.0 + np.arange(n_in) / 100.0, 8.0 + np.arange(300) / 100.0])
    s = SensorStream("sacrum", t, np.tile([9.81, 0.0, 0.0], (len(t), 1)), np.zeros((len(t), 3)))
    span = (4.995, 5.0 + (n_in - 1) / 100.0 + 0.001)
    if n_in < 5:
        with pytest.raises(CalibrationError, match=r"^the sacrum sensor has too few samples in the stance "
                                                   r"\(5\.00-5\.03 s\): check the recording for a gap there$"):
            _estimate(s, *span, span, np.array([9.81, 0.0, 0.0]))
    else:
        est = _estimate(s, *span, span, np.array([9.81, 0.0, 0.0]))
        assert est.n_samples == 5


def test_a_stillness_window_that_rounds_to_no_sample_is_one_sample() -> None:
    """``smooth_s`` 0.004 s at 100 Hz rounds to no sample: the stillness is then taken sample by sample (as with
    a window of exactly one sample, 0.01 s), not over an empty window."""
    from imu_hinge.analysis.stance_params import StanceSearchParams
    from imu_hinge.analysis.stance_search import _stillness

    rng = np.random.default_rng(4)
    t = np.arange(300) / 100.0
    s = SensorStream("sacrum", t, np.array([0.0, 0.0, 9.81]) + 0.3 * rng.standard_normal((300, 3)),
                     0.1 * rng.standard_normal((300, 3)))
    rate, acc, _ = _stillness(s, StanceSearchParams(smooth_s=0.004))
    one_rate, one_acc, _ = _stillness(s, StanceSearchParams(smooth_s=0.01))
    assert np.isfinite(rate).all() and np.isfinite(acc).all()
    np.testing.assert_array_equal(rate, one_rate)
    np.testing.assert_array_equal(acc, one_acc)


def test_the_stance_s_own_stretch_joins_its_bias_pool() -> None:
    """The quiet stretches pooled for a zero at 5 s: the stance's own stretch (starting at the zero, cut to its
    first max_stand_s) and those starting within pool_s after it; not one before it, nor one beyond pool_s."""
    from imu_hinge.analysis.stance_params import StanceSearchParams
    from imu_hinge.analysis.stance_search import _bias_pool

    p = StanceSearchParams()
    stretches = [(1.0, 3.0), (5.0, 12.0), (20.0, 22.0), (5.0 + p.pool_s, 70.0), (66.0, 68.0)]
    assert _bias_pool(stretches, 5.0, p) == [(5.0, 10.0), (20.0, 22.0), (65.0, 70.0)]


def test_the_rough_bias_comes_from_the_larger_slow_set() -> None:
    """A stream still 45 % of the time (gyro 0.01 rad/s: its bias) and moving one way the rest (0.3-2 rad/s about
    x): the median rate, 0.33, lies in the motion, but fewer samples are slow around it than around zero; the
    rough bias is the still samples' (their smoothed rate stays under 0.02 rad/s), not the motion's."""
    from imu_hinge.analysis.stance_params import StanceSearchParams
    from imu_hinge.analysis.stance_search import _stillness

    n_still, n_moving = 450, 550
    gyr = np.zeros((n_still + n_moving, 3))
    gyr[:n_still, 0] = 0.01
    gyr[n_still:, 0] = np.linspace(0.3, 2.0, n_moving)
    t = np.arange(len(gyr)) / 100.0
    s = SensorStream("sacrum", t, np.tile([0.0, 0.0, 9.81], (len(t), 1)), gyr)
    rate, _, _ = _stillness(s, StanceSearchParams())
    assert rate[20:n_still - 20].max() < 0.02  # measured 0.0 (the rough bias is the still samples' 0.01)


def test_the_held_zero_is_the_longest_stand_of_the_posture_held_longest() -> None:
    """A start fidgeting at 20 deg, then stands of 2, 2 and 5 s between 40 deg hinges: upright is the posture held
    longest, and its zero is its longest stand (the last: 12.7-17.5 s, settle and margin off), not its first
    one (2.6-4.0 s)."""
    segs = [(1.5, lambda tt: 20 + _wobble(tt), 0, 0), (1.0, 20, 0, 0), (2.0, 0, 0, 0)]
    for stand_s in (2.0, 5.0):
        segs += [(1.0, 0, 40, 0), (1.0, 40, 40, 0), (1.0, 40, 0, 0), (stand_s, 0, 0, 0)]
    choice = choose_stance(_postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3)))
    assert choice.how == "held"
    assert 12.5 < choice.result.start_s < 13.0 and choice.result.end_s > 16.0, choice.result


@pytest.mark.parametrize("seed", [0, 1, 11, 13])
def test_a_set_moving_from_its_first_sample_that_ends_standing_takes_the_end_as_its_zero(seed: int) -> None:
    """Kettlebell swings from 0.05 s and 3 s of standing at the end: that stand is the zero, with a warning saying
    so. Seeds 11 and 13 have no stillness near the start (they were refused: "never still near the start"),
    measured 0.48 and 0.53 deg lumbar RMSE; seeds 0 and 1 have some, but the start's posture wanders by 9 and 14
    deg (they read 3.3 and 3.6 deg from it), measured 0.24 and 0.54 deg."""
    from imu_hinge.recording.checks import checked
    from imu_hinge.simulation import SimConfig, simulate

    sim = simulate(SimConfig(seed=seed, exercise="kb_swing", n_reps=8, stand_start_s=0.05, rate_hz=100.0,
                             mount_sacrum="random", mount_thoracic="random"))
    res = analyze(checked(sim.recording))
    assert res.calibration["stand_end_s"] > sim.recording["sacrum"].time_s[-1] - 1.0
    assert any("holds one quiet posture only at its end" in w for w in res.warnings)
    truth = np.interp(res.time_s, sim.truth_time_s, sim.truth_lumbar_flexion_deg)
    assert np.sqrt(np.nanmean((res.lumbar_flexion_deg - truth) ** 2)) < 1.0
    assert len(res.reps) == len(sim.reps)


# -- a seat taken for the zero ---------------------------------------------------------------------------------
def _pelvis_trunk(segments: list[tuple[float, float, float, float, float]], rate: float = 100.0) -> Recording:
    """The two sensors through ``segments`` of (duration_s, pelvis_from, pelvis_to, trunk_from, trunk_to) (deg of
    forward tilt, eased over the segment: still where from == to), each strapped at its own angle."""
    streams = {}
    for k, (role, i0, mount) in enumerate((("sacrum", 1, _mount(20.0)), ("thoracic", 3, _mount(-35.0)))):
        angs = []
        for seg in segments:
            n = int(round(seg[0] * rate))
            x = np.arange(n) / n
            angs.append(np.radians(seg[i0] + (seg[i0 + 1] - seg[i0]) * (1 - np.cos(np.pi * x)) / 2))
        ang = np.concatenate(angs)
        t = np.arange(len(ang)) / rate
        up = np.c_[np.cos(ang), np.sin(ang), np.zeros_like(ang)]
        gyr = np.c_[np.zeros_like(t), np.zeros_like(t), -np.gradient(ang, t)]
        streams[role] = SensorStream(role, t + 0.004 * k, 9.81 * up @ mount.T, gyr @ mount.T)
    return Recording(streams)


def _seat_check(rec: Recording, params: StanceSearchParams | None = None) -> Any:
    choice = choose_stance(rec, params)
    forwards = forward_directions(rec, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()})
    return choice, standing_after_seat(rec, choice, forwards, params)


SEATED_START = [(3.0, 0, 0, 0, 0), (1.5, 0, 20, 0, 40), (1.5, 20, 10, 40, 0),  # seated, then up (a hinge-like lean)
                (3.0, 10, 10, 0, 0), (1.5, 10, 40, 0, 60), (3.0, 40, 40, 60, 60),  # a stand, a held hinge bottom
                (1.5, 40, 12, 60, 0), (2.0, 12, 12, 0, 0), (1.5, 12, 40, 0, 60), (1.5, 40, 8, 60, 0),
                (5.0, 8, 8, 0, 0), (1.5, 8, 40, 0, 60), (1.5, 40, 7, 60, 0), (1.0, 7, 7, 0, 0)]


def test_a_seated_zero_gives_way_to_the_longest_stand() -> None:
    """Construction: 3 s seated still (the zero: the start is quiet), stand up, then stands between hinges (one
    bottom held still 3 s) with the pelvis 10, 12, 8 and 7 deg forward of the seat and the trunk as upright as
    seated. The standing posture is the longest stand (5 s, 8 deg), not the most forward one; the four stands are
    counted, the held bottom is not (and does not end the count)."""
    rec = _pelvis_trunk(SEATED_START)
    choice, seat = _seat_check(rec)
    assert choice.how == "quiet" and choice.result.start_s < 0.01
    assert seat is not None
    (a, b), pelvis_deg, trunk_deg, count, total_s = seat
    assert 20.0 < a < 20.5 and b - a > 3.5  # the 5 s stand from 20.0 s (settled 0.3 s later)
    assert pelvis_deg == pytest.approx(8.0, abs=0.1) and abs(trunk_deg) < 0.1
    assert count == 4 and 8.0 < total_s < 11.0  # measured 9.1 s (the quiet parts of 3 + 2 + 5 + 1 s)
    forwards = forward_directions(rec, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()})
    assert standing_after_seat(rec, choice, {**forwards, "sacrum": None}) is None  # no pelvis axis: no check


@pytest.mark.parametrize(("pelvis", "trunk", "hold_s", "seat"), [
    (6.5, 0.0, 4.0, True), (5.5, 0.0, 4.0, False),  # seat_pelvis_deg, 6
    (10.0, 5.5, 4.0, True), (10.0, 6.5, 4.0, False), (10.0, -6.5, 4.0, False),  # seat_trunk_deg, 6
    (10.0, 0.0, 2.7, True), (10.0, 0.0, 2.3, False)])  # seat_min_s, 2: quiet 2.19 and 1.79 s of the hold
def test_the_seat_check_asks_for_a_forward_pelvis_an_upright_trunk_and_time(
        pelvis: float, trunk: float, hold_s: float, seat: bool) -> None:
    """The seat session with one stand after getting up, its pelvis, trunk and time either side of each limit."""
    rec = _pelvis_trunk([(3.0, 0, 0, 0, 0), (1.5, 0, 20, 0, 40), (1.5, 20, pelvis, 40, trunk),
                         (hold_s, pelvis, pelvis, trunk, trunk), (1.5, pelvis, 40, trunk, 60),
                         (1.5, 40, 0, 60, 0), (1.0, 0, 20, 0, 40), (1.0, 20, 0, 40, 0)])
    assert (_seat_check(rec)[1] is not None) == seat


def test_a_zero_posture_stood_in_again_a_hinge_away_is_no_seat() -> None:
    """Standing first, a hinge, back to the same stand for a moment, then the sacrum sensor slips 10 deg forward
    and every later stand reads so: the person stood in the zero's posture after a hinge, so the zero stands.
    Without the moment back at the zero (a slip in the first hinge) it reads as a seat."""
    slipped = [(1.5, 0, 40, 0, 60), (1.5, 40, 10, 60, 0), (3.0, 10, 10, 0, 0), (1.5, 10, 40, 0, 60),
               (1.5, 40, 10, 60, 0), (3.0, 10, 10, 0, 0)]
    back = _pelvis_trunk([(3.0, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0), (0.4, 0, 0, 0, 0),
                          *slipped])
    assert _seat_check(back)[1] is None  # back 0.4 s: 0.92 s within the limits with the easing (0.52 s without)
    assert _seat_check(_pelvis_trunk([(3.0, 0, 0, 0, 0), *slipped]))[1] is not None
    passing = _pelvis_trunk([(3.0, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (0.5, 40, 0, 60, 0), (0.5, 0, 40, 0, 60),
                             *slipped[1:]])
    assert _seat_check(passing)[1] is not None  # through the zero's posture in a swing: under seat_back_s


@pytest.mark.parametrize(("seed", "before_deg"), [(7001, 6.18), (7003, 10.89)])
def test_a_session_that_sits_down_after_a_moment_takes_its_stand_for_the_zero(seed: int, before_deg: float) -> None:
    """Simulated: 0.25 s standing, then sitting down for a few seconds, up, and six RDLs: the seat is the first
    quiet posture and was the zero (lumbar RMSE 6.2 and 10.9 deg, pelvis 10.4 and 10.7). Now a warning says the
    zero looked seated and the angles are relative to the stand."""
    cfg = dataclasses.replace(SCENARIOS["bad_start_sit_down"], seed=seed, stand_start_s=0.25)
    sim = simulate(cfg)
    rec = checked(sim.recording)
    res = analyze(rec)
    assert any("looks seated" in w for w in res.warnings)
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.7  # measured 0.23 and 0.46 deg
    assert rmse_vs_truth(res, sim, "pelvic_tilt_deg") < 0.5  # measured 0.21 and 0.22 deg
    assert len(res.reps) == len(sim.reps)
    off = AnalysisParams(stance_search=replace(StanceSearchParams(), seat_pelvis_deg=math.inf))
    assert rmse_vs_truth(analyze(rec, params=off), sim, "lumbar_flexion_deg") == pytest.approx(before_deg, abs=0.05)


def test_a_sacrum_that_slips_forward_soon_after_the_zero_is_not_taken_for_a_seat() -> None:
    """Simulated RDLs, the sacrum sensor slipping 7 deg at 8 s; the zero is the stand after the first rep (the
    start stands 0.5 s only), and every stand after the slip reads the pelvis 7 deg forward with the trunk upright,
    as a seat's would. The person stood in the zero's posture before the first rep, a hinge away: no seat (lumbar
    0.73 deg: the mount check takes the slip out); without that test the stand after the slip became the zero, with
    a false seat warning (9 of 12 seeds), and read 7.3 deg; now the mount check, told the zero lies after the step,
    takes the step out of the angles before it instead (0.61 deg)."""
    cfg = dataclasses.replace(SCENARIOS["sensor_slip"], seed=7000, slip=("sacrum", 8.0, 7.0), stand_start_s=0.5)
    sim = simulate(cfg)
    rec = checked(sim.recording)
    res = analyze(rec)
    assert not any("looks seated" in w for w in res.warnings)
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 1.2  # measured 0.73 deg
    blind = AnalysisParams(stance_search=replace(StanceSearchParams(), seat_back_s=math.inf))
    res = analyze(rec, params=blind)
    assert any("looks seated" in w for w in res.warnings) and res.calibration["stand_end_s"] > 8.0
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 1.0  # measured 0.61 deg


def test_a_later_zero_whose_run_back_restarts_near_the_start_still_starts_the_filters() -> None:
    """Simulated: a moment's stand, sitting down, good mornings at 52 Hz (thoracic 104 Hz), 6 % of the samples
    lost in packets of 4 stamped on arrival. The zero is a stand at 17.7 s; the thoracic filter, run back from
    it to find its orientation at the first sample, crosses a lost stretch 1.2 s from the start, restarts there
    and has not settled by the first sample: its "up" there was NaN and the analysis stopped with a ValueError
    (a traceback). The accelerometer's mean over the start stands in, as a filter started there would take. (Now
    the gaps across the seat are bridged and the search finds it at 2.2 s, the stand later by the seat check: the
    zero at 17.7 s is the one the search found with no gap bridged, ``quiet_gap_s`` 0.)"""
    from imu_hinge.analysis.pipeline import backward_ups

    cfg = SimConfig(seed=5010, exercise="good_morning", n_reps=9, n_sets=2, stand_start_s=0.1, lockout_arch_frac=0.2,
                    wobble_deg=1.926, sway_deg=1.190, rate_hz=52.0, thoracic_rate_hz=104.0, mount_sacrum="random",
                    mount_thoracic="random", arrival_latency_s=0.02, arrival_packet=4, drop_fraction=0.06,
                    first_moves=("sit_down",), between_sets_moves=("stairs",))
    sim = simulate(cfg)
    rec = checked(sim.recording)
    zero = choose_stance(rec, StanceSearchParams(quiet_gap_s=0.0)).result
    s, est = rec["thoracic"], zero.sensors["thoracic"]
    stop = int(np.searchsorted(s.time_s, zero.end_s, side="right"))
    ups = backward_ups(est, AnalysisParams(), s.time_s[:stop], s.acc_m_s2[:stop], s.gyr_rad_s[:stop],
                       est.gyr_bias_rad_s, est.acc_mean_m_s2, at_samples=False)
    assert zero.start_s > 10.0 and not np.all(np.isfinite(ups[0]))  # the case: NaN at the first sample
    res = analyze(rec)
    assert abs(len(res.reps) - len(sim.reps)) <= 1  # measured 19 of 18
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 2.0  # measured 1.17 deg


@pytest.mark.parametrize(("between", "seat"), [((1.5, 0, 40, 0, 60, 1.5, 40, 0, 60, 0), False),
                                               ((0.25, 0, 10, 0, 0, 0.25, 10, 0, 0, 0), True)])
def test_a_stand_in_the_zeros_posture_before_it_counts_only_a_hinge_away(
        between: tuple[float, ...], seat: bool) -> None:
    """The zero (forced: a later stretch, as a moving start makes it) has a stand in its own posture 1 s before it;
    with a hinge between the two the person stood so (no seat), with a mere shift of the pelvis (a quick 10 deg
    and back, no trunk tilt) between them it is the same rest (a seat: every later stand holds the pelvis 10 deg
    forward)."""
    segs = [(1.0, 0, 0, 0, 0), between[:5], between[5:], (3.0, 0, 0, 0, 0), (1.5, 0, 20, 0, 40),
            (1.5, 20, 10, 40, 0), (3.0, 10, 10, 0, 0), (1.5, 10, 40, 0, 60), (1.5, 40, 10, 60, 0), (3.0, 10, 10, 0, 0)]
    rec = _pelvis_trunk(segs)
    stretches = choose_stance(rec).stretches
    mid = 1.0 + between[0] + between[5] + 1.5  # the middle of the 3 s rest
    zero = next((a, b) for a, b in stretches if a < mid < b)
    choice = choose_stance(rec, stance_at=zero)
    assert choice.how == "standing" and choice.result.start_s == zero[0]
    forwards = forward_directions(rec, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()})
    assert (standing_after_seat(rec, choice, forwards) is not None) == seat


def _arched(start: tuple[float, float] = (0.0, 0.0), arch: tuple[float, float] = (10.0, -8.0),
            later_s: float = 0.0, later: tuple[float, float] | None = None, shift_s: float = 0.0) -> Recording:
    """A moment's stand in ``start`` (pelvis, trunk: deg of forward tilt), a hinge up into a lockout held arched in
    ``arch`` (1.5 s: the first quiet posture, within ``match_deg`` of the start), then stands in the upright
    posture (0, 0) between two more hinges; ``later_s``: one more lockout held so long before the end, in ``later``
    (the arch's posture by default). Its clock starts at ``shift_s``."""
    (p0, t0), (pa, ta) = start, arch
    segs = [(0.25, p0, p0, t0, t0), (1.5, p0, 40, t0, 60), (1.5, 40, pa, 60, ta), (1.5, pa, pa, ta, ta),
            (0.3, pa, 0, ta, 0), (3.0, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0), (3.0, 0, 0, 0, 0),
            (1.5, 0, 40, 0, 60)]
    if later_s:
        pl, tl = later or arch
        segs += [(1.5, 40, pl, 60, tl), (later_s, pl, pl, tl, tl), (0.3, pl, 0, tl, 0)]
    else:
        segs += [(1.5, 40, 0, 60, 0)]
    rec = _pelvis_trunk([*segs, (1.0, 0, 0, 0, 0)])
    return Recording({r: SensorStream(r, rec[r].time_s + shift_s, rec[r].acc_m_s2, rec[r].gyr_rad_s)
                      for r in SENSOR_ROLES})


def _arch_check(rec: Recording, params: StanceSearchParams | None = None, how: str | None = None) -> Any:
    choice = choose_stance(rec, params)
    forwards = forward_directions(rec, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()})
    asked = choice if how is None else replace(choice, how=how)
    return choice, standing_after_arch(rec, asked, forwards, params)


def test_an_arched_lockout_taken_for_the_zero_gives_way_to_the_longest_stand() -> None:
    """Construction: a moment's stand, a hinge up into a lockout held arched (the pelvis 10 deg forward, the trunk 8
    back): the first quiet posture in the start's (within 12 deg), so the zero; the stands after it hold the trunk 18
    deg forward of the pelvis relative to it, and so does the start: the longest stand is the zero instead. Not asked
    of a fallback zero, nor without both forward directions; not with the seat check's test (the pelvis goes back)."""
    rec = _arched()
    choice, arch = _arch_check(rec)
    assert choice.how == "quiet" and 3.0 < choice.result.start_s < 5.0  # the arched hold, 3.25-4.75 s
    assert arch is not None
    (a, b), pelvis_deg, trunk_deg, count, total_s = arch
    assert 11.0 < a < 11.5 and b - a > 2.0  # the second 3 s stand (quiet 11.20-13.61 s; the first 5.32-7.61 s)
    assert pelvis_deg == pytest.approx(-10.0, abs=0.1) and trunk_deg == pytest.approx(8.0, abs=0.1)
    assert count == 3 and 5.0 < total_s < 6.0  # the two 3 s stands and the last second: measured 5.53 s
    for how in ("held", "end", "start", "standing"):  # the fallbacks (and a stand already chosen)
        assert _arch_check(rec, how=how)[1] is None
    forwards = forward_directions(rec, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()})
    assert standing_after_arch(rec, choice, {**forwards, "thoracic": None}) is None
    assert standing_after_seat(rec, choice, forwards) is None


@pytest.mark.parametrize(("start", "arch", "params", "later_s", "later", "found"), [
    ((0, 0), (6.0, -5.0), {}, 0.0, None, True), ((0, 0), (5.0, -4.0), {}, 0.0, None, False),  # arch_lumbar_deg, 10
    ((6, -6), (10.0, -8.0), {}, 0.0, None, True), ((7, -7), (10.0, -8.0), {}, 0.0, None, False),  # the start: 6, 4
    ((0, 0), (10.0, -8.0), {"arch_trunk_deg": 8.5}, 0.0, None, True),  # the stands' trunk at +8
    ((0, 0), (10.0, -8.0), {"arch_trunk_deg": 7.5}, 0.0, None, False),
    ((0, 0), (10.0, -8.0), {"seat_min_s": 5.0}, 0.0, None, True),  # the stands: 5.53 s in all
    ((0, 0), (10.0, -8.0), {"seat_min_s": 6.0}, 0.0, None, False),
    ((0, 0), (10.0, -8.0), {}, 5.0, None, True), ((0, 0), (10.0, -8.0), {}, 6.0, None, False),  # the arch held again
    ((0, 0), (10.0, -8.0), {}, 6.0, (11.0, -4.0), False),  # ... swayed (lumbar 3 deg): the zero's posture still
    ((0, 0), (10.0, -8.0), {}, 6.0, (6.5, -4.5), True)])  # ... half way to standing (lumbar 7 deg): neither
def test_the_arch_check_asks_for_a_flexed_stand_a_flexed_start_an_upright_trunk_and_time(
        start: tuple[float, float], arch: tuple[float, float], params: dict[str, float], later_s: float,
        later: tuple[float, float] | None, found: bool) -> None:
    """The arched construction with each limit either side: the lumbar angle of the stands relative to the zero, that
    of the start (half as much), the trunk's tilt, the stands' time in all (measured 5.53 s), and the zero's posture
    held again as long as the stands (5.41 s in all then): a hold of 5 s is quiet 3.77 s, 6 s 4.77 s, and with the
    zero's own 0.77 s, 4.54 and 5.54 s; a hold swayed (the pelvis 1 deg, the trunk 4 deg forward of the arch)
    counts, one half way to standing does not. On a clock that starts at 1000 s (the start's posture is over the
    first 0.25 s of it)."""
    rec = _arched(start, arch, later_s, later, shift_s=1000.0)
    choice, got = _arch_check(rec, replace(StanceSearchParams(), **params))
    assert 1003.0 < choice.result.start_s < 1005.0  # the zero: the arched hold
    assert (got is not None) == found


def test_a_session_whose_first_rep_ends_in_an_arch_held_takes_its_stand_for_the_zero() -> None:
    """Simulated (the random real-world session seed 48007): hinges at 52 Hz (thoracic 104 Hz), a stand of 0.25 s,
    the first rep's lockout held arched (17 deg of lumbar extension) 0.5 s: the first quiet posture within 12 deg of
    the start's, and the zero; every stand after it read the lumbar spine 17 deg flexed, with no warning. Now a
    warning says the zero looked arched and the angles are relative to the stand."""
    cfg = SimConfig(seed=48007, name="mix48007", exercise="hinge", n_reps=6, stand_start_s=0.25, rounding_frac=0.3,
                    back_first_frac=0.2, lockout_arch_frac=0.2, wobble_deg=3.27, sway_deg=0.79, rate_hz=52.0,
                    thoracic_rate_hz=104.0, mount_sacrum="random", mount_thoracic="random",
                    between_moves=("side_bend", "twist"))
    sim = simulate(cfg)
    rec = checked(sim.recording)
    res = analyze(rec)
    (warning,) = [w for w in res.warnings if "looks arched" in w]
    said = re.search(r"hold the trunk (\d+) deg further forward of the pelvis \(the pelvis at (\S+) deg, the trunk at "
                     r"(\S+) deg\)", warning)
    assert said is not None and said.groups() == ("17", "-9", "+8")  # the arch: 17 deg of lumbar extension
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.7  # measured 0.48 deg
    assert len(res.reps) == len(sim.reps)
    off = AnalysisParams(stance_search=replace(StanceSearchParams(), arch_lumbar_deg=math.inf))
    assert rmse_vs_truth(analyze(rec, params=off), sim, "lumbar_flexion_deg") > 15.0  # measured 16.99 deg


def _zero_off_deg(rec: Recording, choice: Any, stand: tuple[float, float]) -> float:
    """How far (deg) the zero's gravity lies from the posture over ``stand`` (s), the worse of the two sensors."""
    off = []
    for role in SENSOR_ROLES:
        s = rec[role]
        m = (s.time_s >= stand[0]) & (s.time_s <= stand[1])
        a, b = s.acc_m_s2[m].mean(axis=0), np.asarray(choice.result.sensors[role].acc_mean_m_s2)
        off.append(math.degrees(math.acos(min(1.0, float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b))))))
    return max(off)


BACK_BEND_FIRST = [(0.6, 0, 0, 0, 0), (1.2, 0, -2, 0, -10), (0.8, -2, -2, -10, -10), (1.2, -2, 0, -10, 0),
                   (3.0, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0), (2.0, 0, 0, 0, 0)]


def test_a_slow_bend_under_the_quiet_rate_cuts_the_stretch_it_lies_in() -> None:
    """0.6 s standing, then a slow back bend (the trunk 10 deg back over 1.2 s, at most 13 deg/s: under the quiet
    rate, 20 deg/s), held 0.8 s, back, a 3 s stand, a hinge, a stand. Without the steady test the first quiet
    stretch runs from 0 to 6.4 s through the bend and the zero averages it (measured 4.0 deg off the stands); the
    bend cuts it (the trunk tilts back relative to the pelvis by steady_lumbar_deg, 6, within 0.8 s): the zero is
    the stand before it, 0-1.01 s."""
    rec = _pelvis_trunk(BACK_BEND_FIRST)
    choice = choose_stance(rec)
    assert choice.how == "quiet" and choice.result.start_s < 0.01 and 0.8 < choice.result.end_s < 1.1  # 1.01
    assert _zero_off_deg(rec, choice, (4.5, 6.0)) < 0.6  # measured 0.38 (the bend's first 0.4 s are in)
    uncut = choose_stance(rec, StanceSearchParams(steady_deg=math.inf))
    assert uncut.result.end_s > 4.0 and _zero_off_deg(rec, uncut, (4.5, 6.0)) > 3.0


@pytest.mark.parametrize(("turn_deg", "cut"), [(6.0, False), (9.0, True)])
def test_a_drift_within_steady_deg_does_not_cut(turn_deg: float, cut: bool) -> None:
    """A quiet stretch whose trunk alone drifts back by 6 deg over 1.2 s (at most 7.9 deg/s; at most 5.2 deg within
    any 0.8 s, under steady_lumbar_deg) is one stretch; 9 deg (7.8 within 0.8 s) cuts it. Sitting and standing
    still drift (the shared dev case of seated bends turns its trunk 4.1 deg within 0.5 s)."""
    rec = _pelvis_trunk([(1.0, 0, 0, 0, 0), (1.2, 0, 0, 0, -turn_deg), (1.0, 0, 0, -turn_deg, -turn_deg),
                         (1.5, 0, 40, -turn_deg, 60), (1.5, 40, 0, 60, 0), (2.0, 0, 0, 0, 0)])
    first = choose_stance(rec).stretches[0]
    assert (first[1] < 2.0) == cut, first


def test_a_turn_about_gravity_does_not_cut() -> None:
    """Both sensors turn 20 deg about the vertical over 1.2 s while upright (a slow turn on the spot: no tilt) within
    a quiet stretch: gravity's direction stays, the stretch is not cut."""
    rec = _pelvis_trunk(BACK_BEND_FIRST)
    streams = {}
    for role in SENSOR_ROLES:
        s = rec[role]
        yaw = np.radians(np.interp(s.time_s, [1.0, 2.2], [0.0, 20.0]))
        up = s.acc_m_s2[0] / np.linalg.norm(s.acc_m_s2[0])  # standing still at the start: the vertical
        gyr = np.array(s.gyr_rad_s)
        gyr[:, :] = np.gradient(yaw, s.time_s)[:, None] * up[None, :]  # the turn about the vertical only
        acc = np.tile(s.acc_m_s2[0], (len(s), 1))
        streams[role] = SensorStream(role, s.time_s, acc, gyr)
    choice = choose_stance(Recording(streams))
    assert choice.stretches[0][0] < 0.01 and choice.stretches[0][1] > 10.0  # one stretch: nothing else moves


SETTLE_THEN_STAND = [(0.2, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (1.5, 40, 6, 60, -4), (1.0, 6, 6, -4, -4),
                     (0.8, 6, 0, -4, 0), (2.0, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0), (2.0, 0, 0, 0, 0),
                     (1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0), (2.0, 0, 0, 0, 0)]


def test_of_a_stretch_cut_in_two_the_zero_is_the_posture_held_again() -> None:
    """A recording that starts with a hinge: the lifter comes up arched, the pelvis 6 deg forward and the trunk 4 deg
    back, stays a second, then straightens slowly (0.8 s: quiet, yet the back 10 deg less arched) and stands, as
    after each later hinge. The quiet stretch is cut in two; both match the start; the zero is the one whose
    posture the stands hold again (4.80-6.56 s; measured 0.04 deg off), not the first (3.36-4.39 s: 5.9 deg off)
    nor both together (3.36-6.56 s: 2.3 deg off)."""
    rec = _pelvis_trunk(SETTLE_THEN_STAND)
    choice = choose_stance(rec)
    assert 4.6 < choice.result.start_s < 5.0 and choice.result.end_s > 6.3
    assert _zero_off_deg(rec, choice, (16.0, 17.0)) < 0.3
    first_part = choose_stance(rec, StanceSearchParams(same_posture_deg=-1.0))  # no posture counts as held again
    assert first_part.result.start_s < 3.5 and _zero_off_deg(rec, first_part, (16.0, 17.0)) > 5.0
    uncut = choose_stance(rec, StanceSearchParams(steady_deg=math.inf))
    assert uncut.result.start_s < 3.5 and uncut.result.end_s > 6.3 and _zero_off_deg(rec, uncut, (16.0, 17.0)) > 2.0


SWAY_FIRST = [(0.6, 0, 0, 0, 0), (0.8, 0, 4, 0, 4), (0.8, 4, -4, 4, -4), (0.8, -4, 4, -4, 4), (0.8, 4, 0, 4, 0),
              (1.0, 0, 0, 0, 0), (1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0), (2.0, 0, 0, 0, 0)]


def test_a_sway_leaning_both_segments_alike_is_one_posture() -> None:
    """A wide sway (the whole body 4 deg forward and back, 8 deg within 0.8 s, under the quiet rate) tilts each
    segment past steady_deg (5) but the trunk not relative to the pelvis, nor a segment by steady_segment_deg (12):
    the quiet stretch stays whole (its mean is the stance). Counting every such tilt as a change of posture cuts it
    at each lean (the shared dev case of standing sway, cut so, read lumbar 2.58 deg instead of 1.31)."""
    rec = _pelvis_trunk(SWAY_FIRST)
    choice = choose_stance(rec)
    assert choice.stretches[0][0] < 0.01 and choice.stretches[0][1] > 4.0  # 0 to the hinge's margin
    assert _zero_off_deg(rec, choice, (8.0, 9.5)) < 1.0  # measured 0.73: the mean over the stretch, as sway is
    every_tilt = choose_stance(rec, StanceSearchParams(steady_lumbar_deg=0.0))
    assert every_tilt.stretches[0][1] < 2.0  # measured 1.53: cut in the first lean


@pytest.mark.parametrize(("hinge_deg", "cut"), [(15.0, True), (12.0, False)])
def test_a_slow_hip_hinge_cuts_at_steady_segment_deg(hinge_deg: float, cut: bool) -> None:
    """Both segments tip forward together over 1.25 s (a hinge at the hips with a neutral back, slow enough to be
    quiet: at most 18.8 deg/s for 15 deg) and stay: the lumbar angle holds, but 15 deg (12.7 within 0.8 s) reaches
    steady_segment_deg and cuts the stretch; 12 deg (10.2 within 0.8 s) does not."""
    rec = _pelvis_trunk([(1.0, 0, 0, 0, 0), (1.25, 0, hinge_deg, 0, hinge_deg), (1.5, *[hinge_deg] * 4),
                         (1.5, hinge_deg, 40, hinge_deg, 60), (1.5, 40, 0, 60, 0), (2.0, 0, 0, 0, 0)])
    first = choose_stance(rec).stretches[0]
    assert (first[1] < 2.0) == cut, first


def test_a_simulated_back_bend_after_a_short_stand_is_not_the_zero() -> None:
    """The simulator's bad start with a back bend (seed 7001: a short stand, then the trunk bent back slowly enough
    to pass as quiet, held, and back): the first quiet stretch ran through the bend and the zero averaged it,
    lumbar RMSE 3.94 deg; cut where the back bends, the zero is the stand before it: 0.645 deg."""
    sim = simulate(replace(SCENARIOS["bad_start_back_bend"], seed=7001))
    res = analyze(checked(sim.recording))
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 1.0  # measured 0.645
    uncut = AnalysisParams(stance_search=StanceSearchParams(steady_deg=math.inf))
    assert rmse_vs_truth(analyze(checked(sim.recording), uncut), sim, "lumbar_flexion_deg") > 3.0  # 3.94


def _arched_lockouts(stand_s: float, stand_pelvis: float = 0.0) -> Recording:
    """A standing zero (2 s), then three hinges, each ending held arched 1.6 s (the pelvis 10 deg forward, the trunk
    4 deg back) before settling slowly (0.8 s, quiet) into a stand of ``stand_s`` (the pelvis at ``stand_pelvis``)."""
    q = stand_pelvis
    return _pelvis_trunk([(2.0, 0, 0, 0, 0)] + [seg for _ in range(3) for seg in (
        (1.5, 0, 40, 0, 60), (1.5, 40, 10, 60, -4), (1.6, 10, 10, -4, -4), (0.8, 10, q, -4, 0), (stand_s, q, q, 0, 0))])


@pytest.mark.parametrize(("stand_s", "told"), [(3.0, False), (1.5, True)])
def test_lockouts_held_arched_are_no_seat_when_the_zero_is_stood_in_again(stand_s: float, told: bool) -> None:
    """The arched holds look like stands after a seat (the pelvis forward, the trunk within seat_trunk_deg); cut from
    the stands by the change of posture they are 3 quiet stretches, 4.31 s in all, and nothing stood in the zero's
    posture a hinge away before the first. After it the stands in the zero's posture add up to 8.1 s with stands of
    3 s: more, so no seat; with stands of 1.5 s, 3.6 s: fewer, and the arches are taken for stands after a seat."""
    choice, seat = _seat_check(_arched_lockouts(stand_s))
    assert choice.how == "quiet" and choice.result.start_s < 0.01
    assert (seat is not None) == told
    if seat is not None:
        assert seat[3] == 3 and seat[4] == pytest.approx(4.31, abs=0.05)


@pytest.mark.parametrize(("stand_pelvis", "told"), [(2.7, False), (-2.7, False), (3.3, True), (-3.3, True)])
def test_a_stand_counts_in_the_zeros_posture_with_the_pelvis_within_half_seat_pelvis_deg(stand_pelvis: float,
                                                                                      told: bool) -> None:
    """The same, the stands after the arches 3 s long but with the pelvis at +-2.7 deg (within half of seat_pelvis_deg,
    3 deg, of the zero: the zero's posture, stood in again, no seat) or +-3.3 deg (neither the zero's posture nor a
    stand after a seat: the arches are taken for stands after a seat)."""
    choice, seat = _seat_check(_arched_lockouts(3.0, stand_pelvis))
    assert (seat is not None) == told


def test_of_a_stretch_cut_in_two_the_zero_is_the_posture_held_longest_in_all() -> None:
    """A recording starting with a hinge: a stand (A, 1.5 s), then slowly into an arch held 1.5 s (B: the pelvis 6 deg
    forward, the trunk 4 deg back), back, and three stands after hinges; nine hinges later one more arch held 1.2 s
    (its quiet part 0.5 s). The stretch holding A and B is cut; A's posture is held 6.8 s in all, B's 2.6 s: the zero
    is A, though B's posture comes back last (the seconds held count, not when)."""
    hinge = [(1.5, 0, 40, 0, 60), (1.5, 40, 0, 60, 0)]
    rec = _pelvis_trunk([(0.2, 0, 0, 0, 0), *hinge, (1.5, 0, 0, 0, 0), (0.8, 0, 6, 0, -4), (1.5, 6, 6, -4, -4),
                         (0.8, 6, 0, -4, 0), *hinge, (2.0, 0, 0, 0, 0), *hinge, (2.0, 0, 0, 0, 0), *hinge,
                         (3.0, 0, 0, 0, 0)] + [*hinge, (0.3, 0, 0, 0, 0)] * 9
                        + [(1.5, 0, 40, 0, 60), (1.5, 40, 6, 60, -4), (1.2, 6, 6, -4, -4), (1.0, 6, 40, -4, 60),
                           (1.5, 40, 0, 60, 0), (0.3, 0, 0, 0, 0)])
    choice = choose_stance(rec)
    (a, b), (c, d), *_, (e, f) = choice.stretches
    assert (a, b) == (choice.result.start_s, choice.result.end_s)
    assert 3.2 < a < 3.5 and 5.2 < c < 5.5 and e > 55.0 and 0.4 < f - e < 0.6  # A, B and B's posture again, last
    assert _zero_off_deg(rec, choice, (11.2, 12.3)) < 0.3  # measured 0.04


@pytest.mark.parametrize("seed", [0, 1])
def test_a_sway_measured_by_a_noisy_accelerometer_is_still_one_posture(seed: int) -> None:
    """The sway above with white noise of 0.3 m/s^2 on each accelerometer axis (1.7 deg of tilt a sample): the
    sagittal tilts compared across the window are smoothed over smooth_s first, and the stretch stays whole (0 to
    4.36 s); read from single samples, the noise of four of them makes a change of posture (cut at 1.5-1.7 s in
    each of eight noise seeds)."""
    rec = _pelvis_trunk(SWAY_FIRST)
    rng = np.random.default_rng(seed)
    noisy = Recording({r: SensorStream(r, s.time_s, s.acc_m_s2 + rng.normal(0.0, 0.3, s.acc_m_s2.shape), s.gyr_rad_s)
                       for r, s in rec.streams.items()})
    assert choose_stance(noisy).stretches[0][1] > 4.0


def _without(rec: Recording, lost: dict[str, np.ndarray]) -> Recording:
    """``rec`` with the samples ``lost[role]`` (indices) removed, as packets lost on the link."""
    streams = {}
    for role, s in rec.streams.items():
        keep = np.setdiff1d(np.arange(len(s)), lost.get(role, np.zeros(0, dtype=int)))
        streams[role] = SensorStream(role, s.time_s[keep], s.acc_m_s2[keep], s.gyr_rad_s[keep])
    return Recording(streams, dict(rec.metadata))


@pytest.mark.parametrize("quiet_gap_s", [0.5, 0.0])
def test_a_stand_at_25_hz_with_single_samples_lost_stays_one_quiet_stretch(quiet_gap_s: float) -> None:
    """4 s standing at 25 Hz, then hinges; one sample in 12 lost on each link (an 80 ms gap each time, past the
    1.5-sample step of the stillness grid). The stand is one quiet stretch, the zero from its start; without
    bridging (``quiet_gap_s`` 0) every half second holds a gap, never quiet: no quiet stretch, nothing still near
    the start, the recording refused."""
    segments = [(4.0, 0, 0, 0.0)] + [(1.0, 0, 60, 0.0), (1.0, 60, 0, 0.0), (0.3, 0, 0, 0.0)] * 3 + [(3.0, 0, 0, 0.0)]
    rec = _postures(segments, np.zeros(3), _mount(20.0), rate=25.0)
    lossy = _without(rec, {"sacrum": np.arange(5, len(rec["sacrum"]) - 1, 12),
                           "thoracic": np.arange(11, len(rec["thoracic"]) - 1, 12)})
    if not quiet_gap_s:
        with pytest.raises(CalibrationError, match="never still"):
            choose_stance(lossy, StanceSearchParams(quiet_gap_s=quiet_gap_s))
        return
    choice = choose_stance(lossy, StanceSearchParams(quiet_gap_s=quiet_gap_s))
    assert choice.how == "quiet" and not choice.warnings
    assert choice.result.start_s < 0.1 and choice.stretches[0][1] > 3.3  # the stand to its margin: 3.39 s


@pytest.mark.parametrize(("step_deg", "gap_s", "bridged"),
                         [(2.0, 0.4, True), (4.0, 0.4, False), (2.0, 0.48, True), (2.0, 0.56, False)])
def test_a_gap_bridges_a_quiet_stretch_only_when_short_and_the_posture_is_the_same_across_it(
        step_deg: float, gap_s: float, bridged: bool) -> None:
    """Standing, the samples of ``gap_s`` lost (from 2.0 s) while the body tilts by ``step_deg``, then standing
    again: one quiet stretch across the gap while it is at most ``quiet_gap_s`` (0.5 s) long and gravity's
    direction the same on both sides within ``same_posture_deg`` (3 deg); otherwise the gap ends the stretch."""
    rate = 100.0
    rec = _postures([(2.0, 0, 0, 0.0), (gap_s, 0, step_deg, 0.0), (3.0, step_deg, step_deg, 0.0)], np.zeros(3),
                    np.eye(3), rate=rate)
    lost = {role: np.flatnonzero((s.time_s > 2.0) & (s.time_s < 2.0 + gap_s - 0.5 / rate))
            for role, s in rec.streams.items()}
    choice = choose_stance(_without(rec, lost))
    if bridged:
        assert len(choice.stretches) == 1 and choice.stretches[0][1] > 4.0, choice.stretches
    else:
        assert len(choice.stretches) == 2, choice.stretches
        assert choice.stretches[0][1] < 2.0 < choice.stretches[1][0]


def test_a_still_start_cut_short_by_a_gap_at_25_hz_still_gives_a_zero() -> None:
    """25 Hz, still for 0.3 s, then a wobble that never settles; the thoracic link loses samples 2-6 (0.08-0.24 s):
    the zero is the still start, widened to five samples of each sensor (it was refused: too few samples)."""
    rec = _postures([(0.3, 0, 0, 0.0), (8.0, _wobble, 0, 0.0)], np.zeros(3), np.eye(3), rate=25.0)
    choice = choose_stance(_without(rec, {"thoracic": np.arange(2, 7)}))
    assert choice.how == "start"
    assert all(e.n_samples >= 5 for e in choice.result.sensors.values())
    assert choice.result.end_s < 0.4  # the fifth thoracic sample at 0.284 s


def test_a_short_stance_at_the_start_pools_its_bias_rather_than_trust_one_later_stretch() -> None:
    """A 1.3 s stand at the start (a 0.7 s stance: shorter than bias_min_s), a step, then a 2 s stand turning slowly
    about gravity (0.05 rad/s: its own estimate takes the turn for bias along gravity), a 40 deg hinge held 4 s and
    a stand. Taken alone, that first long stretch gives the bias 0.05 rad/s off; pooled with the quiet stretches after
    the stance (the held hinge sees the vertical across its own gravity), the bias is within 0.005 rad/s."""
    bias = np.array([0.01, -0.02, 0.015])
    rec = _postures([(1.3, 0, 0, 0.0), (0.6, 0, 8, 0.0), (0.6, 8, 0, 0.0), (2.5, 0, 0, 0.05), (1.0, 0, 40, 0.0),
                     (4.0, 40, 40, 0.0), (1.0, 40, 0, 0.0), (3.0, 0, 0, 0.0)], bias, np.eye(3))
    choice = choose_stance(rec)
    assert choice.how == "quiet" and choice.result.start_s < 0.01
    assert choice.result.end_s - choice.result.start_s < 1.0
    for e in choice.result.sensors.values():
        assert np.abs(e.gyr_bias_rad_s - bias).max() < 0.005  # measured 0.0016 (alone: 0.050)


def test_a_still_start_with_fewer_than_five_samples_of_a_sensor_in_the_overlap_is_refused_saying_so() -> None:
    """A 5 Hz sacrum stream (six samples, 0-1.0 s) beside a 100 Hz thoracic one from 0.3 s, both wobbling at
    0.5 rad/s (still enough for the start's fallback zero, never quiet): the fallback widens its window towards five
    samples of each sensor but the sacrum has four in the overlap: refused with the reason, not an IndexError."""
    def stream(role: str, t: np.ndarray) -> SensorStream:
        ang = 0.1 * np.sin(5.0 * t)
        up = _tilted(np.array([0.0, 1.0, 0.0]), ang)
        return _stream(role, t, up, np.c_[np.zeros_like(t), np.zeros_like(t), -0.5 * np.cos(5.0 * t)])

    rec = Recording({"sacrum": stream("sacrum", np.arange(6) * 0.2),
                     "thoracic": stream("thoracic", 0.3 + np.arange(71) * 0.01)})
    with pytest.raises(CalibrationError, match="too few samples"):
        choose_stance(rec)
