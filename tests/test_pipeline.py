"""The core pipeline on simulated sessions with ground truth.

Accuracy is checked against the simulator's truth, never against earlier output of the code.
Bounds sit about 1.5x above what the code measures on that case (the measured value is beside each).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import LIVE_CALIBRATION, HingePipeline, analyze, pipeline_for
from imu_hinge.detection.rep_events import CalibrationDone, FaultRaised, RepCompleted
from imu_hinge.recording.checks import checked
from imu_hinge.samples import Recording, SensorStream
from imu_hinge.simulation import SimConfig, simulate


def rmse_vs_truth(res, sim, col: str) -> float:
    truth = np.interp(res.time_s, sim.truth_time_s, getattr(sim, "truth_" + col))
    est = getattr(res, col)
    m = np.isfinite(est) & (res.time_s > sim.stand_start_s - 1.0)
    return float(np.sqrt(np.mean((est[m] - truth[m]) ** 2)))


@pytest.mark.parametrize("calibration", ["recording", "later", "live"])
def test_live_and_batch_drivers_agree(rounding_session, calibration) -> None:
    """Pushed sample by sample or analysed in one go: the same angles, reps and alerts, whether the
    recording is calibrated as a whole before its first sample (also from a later stance, which the filters are
    put on as they pass it: the recording cut in its first rep) or (a live session's) as it ran."""
    rec = rounding_session.recording
    if calibration == "later":
        cut = rounding_session.reps[0]["start_s"] + 0.3
        rec = Recording({r: s.slice(int(np.searchsorted(s.time_s, cut)), len(s)) for r, s in rec.streams.items()},
                        dict(rec.metadata))
    if calibration == "live":  # the metadata as a session file gives it back (JSON: a new string, not the constant)
        rec = Recording(rec.streams, {**rec.metadata, **json.loads(json.dumps({"calibration": LIVE_CALIBRATION}))})
    batch = analyze(rec)
    pipe, _ = pipeline_for(rec)
    assert bool(pipe.trackers) == (calibration != "live")
    if calibration == "later":
        assert all(t.pin is not None for t in pipe.trackers.values())
        assert batch.calibration["stand_start_s"] > rounding_session.reps[0]["end_s"]
    events = []
    rows: list[tuple[float, float, float, float]] = []
    for sample in rec.merged_samples():
        events.extend(pipe.push(sample))
        rows.extend(pipe.rows_since(len(rows)))  # a live display reads the new rows as they come
        assert pipe.n_rows == len(rows)
    events.extend(pipe.finish())
    live = pipe.result()
    assert len(batch.reps) == len(live.reps) >= 5
    np.testing.assert_array_equal(np.array(rows), np.column_stack([live.time_s, live.pelvic_tilt_deg,
                                                                   live.trunk_flexion_deg, live.lumbar_flexion_deg]))
    assert [(a.time_s, a.fault, a.rep_index) for a in batch.alerts] == \
        [(a.time_s, a.fault, a.rep_index) for a in live.alerts]
    for a, b in zip(batch.alerts, live.alerts, strict=True):
        assert a.value_deg == pytest.approx(b.value_deg, abs=1e-9)
    for a, b in zip(batch.reps, live.reps, strict=True):
        assert (a.start_s, a.bottom_s, a.end_s, a.faults) == (b.start_s, b.bottom_s, b.end_s, b.faults)
        assert a.peak_lumbar_flexion_deg == pytest.approx(b.peak_lumbar_flexion_deg, abs=1e-9)
    np.testing.assert_array_equal(batch.time_s, live.time_s)
    for col in ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"):
        np.testing.assert_allclose(getattr(batch, col), getattr(live, col), atol=1e-9, equal_nan=True)
    # the live driver emitted the same alerts as events, at the samples that raised them
    assert [e.time_s for e in events if isinstance(e, FaultRaised)] == [a.time_s for a in live.alerts]
    assert sum(isinstance(e, RepCompleted) for e in events) == len(live.reps)
    # and said once that calibration is done: at the first sample (calibrated before it) or at the stance's close
    (done,) = [e for e in events if isinstance(e, CalibrationDone)]
    first_s = min(float(s.time_s[0]) for s in rec.streams.values())
    assert (done.time_s == first_s) == (calibration != "live"), (done.time_s, first_s)


def test_angles_and_reps_match_ground_truth(rounding_session) -> None:
    sim = rounding_session
    res = analyze(sim.recording)
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.34  # measured 0.23
    assert rmse_vs_truth(res, sim, "pelvic_tilt_deg") < 0.3  # measured 0.20
    assert rmse_vs_truth(res, sim, "trunk_flexion_deg") < 0.33  # measured 0.22
    assert len(res.reps) == len(sim.reps)
    for truth, rep in zip(sim.reps, res.reps, strict=True):
        assert truth["start_s"] <= rep.bottom_s <= truth["end_s"]
        assert rep.peak_lumbar_flexion_deg == pytest.approx(truth["peak_lumbar_flexion_deg"], abs=0.65)  # max 0.44
        rounded = truth["peak_lumbar_flexion_deg"] > 24
        clean = truth["peak_lumbar_flexion_deg"] < 16
        if rounded:
            assert "lumbar_flexion" in rep.faults
        if clean:
            assert "lumbar_flexion" not in rep.faults
    # every lumbar_flexion alert falls inside a rep whose truth peak is above threshold
    for a in res.alerts:
        if a.fault == "lumbar_flexion":
            owner = [t for t in sim.reps if t["start_s"] - 0.2 <= a.time_s <= t["end_s"] + 0.5]
            assert owner and owner[0]["peak_lumbar_flexion_deg"] > 16


@pytest.mark.parametrize("mount", [((0, 0, 90), (180, 0, 0)), ("random", "random"), ((90, 0, 0), (0, 90, 0))])
def test_any_sensor_mounting(mount) -> None:
    sim = simulate(SimConfig(seed=5, exercise="rdl", n_reps=4, mount_sacrum=mount[0], mount_thoracic=mount[1]))
    res = analyze(sim.recording)
    assert len(res.reps) == 4
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.4  # measured 0.19-0.27 over the three mounts
    assert rmse_vs_truth(res, sim, "trunk_flexion_deg") < 0.6  # measured 0.27-0.40


def test_kettlebell_swings_counted_without_pauses() -> None:
    sim = simulate(SimConfig(seed=8, exercise="kb_swing", n_reps=12))
    res = analyze(sim.recording)
    assert len(res.reps) == len(sim.reps) == 12
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.6  # measured 0.40


def test_unequal_rates_and_drops_keep_gaps_as_gaps() -> None:
    sim = simulate(SimConfig(seed=9, exercise="rdl", n_reps=4, rate_hz=52.0, thoracic_rate_hz=208.0,
                             drop_fraction=0.02))
    rec = sim.recording
    res = analyze(rec)
    assert len(res.reps) == 4
    # one row per sample of the faster (thoracic) stream, never more: nothing invented
    assert len(res.time_s) == len(rec["thoracic"])
    np.testing.assert_array_equal(res.time_s, rec["thoracic"].time_s)
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.64  # measured 0.43


@pytest.mark.parametrize(("rate_hz", "thoracic_hz"), [(12.0, None), (15.0, None), (12.0, 60.0)])
def test_sensors_slower_than_25_hz_without_gaps_give_complete_reps(rate_hz: float, thoracic_hz: float | None) -> None:
    """Below 25 Hz a sample period is longer than the 0.06 s of a short hole: a gap is 1.5 periods there, of the
    rows' stream for the detector and of the other stream for its angle at a row (a 12 Hz sacrum beside a 60 Hz
    thoracic sensor, the rows), so streams without gaps leave every rep complete and every row with both angles."""
    sim = simulate(SimConfig(seed=3, exercise="rdl", n_reps=4, rate_hz=rate_hz, thoracic_rate_hz=thoracic_hz))
    res = analyze(sim.recording)
    assert len(res.reps) == 4 and all(r.complete for r in res.reps)
    assert np.isfinite(res.lumbar_flexion_deg[res.time_s > res.calibration["stand_end_s"]]).all()


@pytest.mark.parametrize("seed", [9, 10])
def test_rows_after_a_dropped_sample_read_as_well_as_the_rest(seed: int) -> None:
    """A 52 Hz sacrum beside a 208 Hz thoracic sensor (the rows) drops single samples (5 %): on the rows
    after a drop, the pelvis's angle comes from the secant over the gap, as accurate as on every other row.
    Holding the last angle instead (the slope limit was 1.5 periods) read 2.3x and 2.2x the other rows' RMSE.
    Holes of one or two samples (up to 58 ms) are no gaps: every rep is complete."""
    sim = simulate(SimConfig(seed=seed, exercise="rdl", n_reps=4, rate_hz=52.0, thoracic_rate_hz=208.0,
                             drop_fraction=0.05, drop_burst_share=0.0))
    res = analyze(sim.recording)
    assert res.calibration["base_sensor"] == "thoracic"
    st = sim.recording["sacrum"].time_s
    prev = np.searchsorted(st, res.time_s, side="right") - 1  # the sacrum sample each row follows
    after_drop = np.zeros(len(res.time_s), dtype=bool)
    after_drop[prev >= 1] = np.diff(st)[prev[prev >= 1] - 1] > 1.5 / 52.0
    err = res.pelvic_tilt_deg - np.interp(res.time_s, sim.truth_time_s, sim.truth_pelvic_tilt_deg)
    ok = np.isfinite(err)
    assert (after_drop & ok).sum() > 200  # measured 273, 304 rows
    after = float(np.sqrt(np.mean(err[after_drop & ok] ** 2)))
    rest = float(np.sqrt(np.mean(err[~after_drop & ok] ** 2)))
    assert after < 1.15 * rest, (after, rest)  # measured 0.212 vs 0.209, 0.192 vs 0.194 deg (held: 0.487, 0.422)
    # and a dropped sample is no gap in a rep (the detector's gap is at least 0.06 s; 1.5 row periods are 7 ms)
    assert len(res.reps) == 4 and all(r.complete for r in res.reps)


@pytest.mark.parametrize(("hole_s", "bound_deg"), [(0.3, 0.22), (0.45, 0.30)])
def test_rows_after_a_bridged_hole_follow_the_secant_across_it(hole_s: float, bound_deg: float) -> None:
    """Holes of 0.3 and 0.45 s in a 52 Hz sacrum beside a 208 Hz thoracic sensor (every 1.37 s, through the
    reps; the filter bridges holes up to reanchor.gap_s = 0.5 s): on the rows between the first sacrum sample
    after a hole and the next, the pelvis's angle moves along the secant across the hole, as the truth moves.
    The check is on the angle's change since the row at the return, so the filter's own error after the
    hole (an offset on those rows) drops out. Holding the angle over the hole (the slope limit was 0.25 s)
    misses the change: 0.416 and 0.378 deg."""
    errs = []
    for seed in (9, 10, 11):
        sim = simulate(SimConfig(seed=seed, exercise="rdl", n_reps=6, rate_hz=52.0, thoracic_rate_hz=208.0))
        s = sim.recording["sacrum"]
        cut = np.zeros(len(s), dtype=bool)
        for a in np.arange(sim.reps[0]["start_s"] - 0.3, s.time_s[-1] - 1.0, 1.37):
            cut |= (s.time_s > a) & (s.time_s < a + hole_s)
        sim.recording.streams["sacrum"] = s.rows(~cut)
        res = analyze(sim.recording)
        st = sim.recording["sacrum"].time_s
        prev = np.searchsorted(st, res.time_s, side="right") - 1  # the sacrum sample each row follows
        truth = np.interp(res.time_s, sim.truth_time_s, sim.truth_pelvic_tilt_deg)
        for k in np.flatnonzero(np.diff(st) > hole_s) + 1:
            rows = np.flatnonzero(prev == k)
            assert len(rows) >= 3 and np.isfinite(res.pelvic_tilt_deg[rows]).all()
            errs.append((res.pelvic_tilt_deg[rows[1:]] - res.pelvic_tilt_deg[rows[0]])
                        - (truth[rows[1:]] - truth[rows[0]]))
    assert len(errs) > 60  # measured 74 returns (218-219 rows)
    rmse = float(np.sqrt(np.mean(np.concatenate(errs) ** 2)))
    assert rmse < bound_deg, rmse  # measured 0.162 and 0.226 deg (held: 0.416, 0.378)


@pytest.mark.parametrize(("sacrum_hz", "thoracic_hz", "base"),
                         [(100.0, 60.0, "sacrum"), (102.0, 100.0, "thoracic")])
def test_rows_follow_the_clearly_faster_sensor(sacrum_hz, thoracic_hz, base) -> None:
    """One row per sample of the sensor more than 5 % faster: a sacrum at 100 Hz beside a thoracic at 60 Hz
    sets the rows (and the pelvis is still the pelvis: lumbar flexion matches the truth); a sacrum only 2 %
    faster (a clock off, nominally the same rate) leaves the rows on the thoracic sensor."""
    sim = simulate(SimConfig(seed=4, exercise="rdl", n_reps=2, rate_hz=sacrum_hz, thoracic_rate_hz=thoracic_hz))
    res = analyze(sim.recording)
    assert res.calibration["base_sensor"] == base
    np.testing.assert_array_equal(res.time_s, sim.recording[base].time_s)
    assert len(res.reps) == 2
    assert rmse_vs_truth(res, sim, "lumbar_flexion_deg") < 0.8  # measured 0.63, 0.63
    assert rmse_vs_truth(res, sim, "pelvic_tilt_deg") < 0.45  # measured 0.30, 0.28


def test_long_sacrum_gap_gives_nan_and_incomplete_rep() -> None:
    sim = simulate(SimConfig(seed=3, exercise="rdl", n_reps=3))
    rec = sim.recording
    s = rec["sacrum"]
    rep = sim.reps[1]
    cut = (s.time_s > rep["bottom_s"] - 0.5) & (s.time_s < rep["bottom_s"] + 0.5)
    rec.streams["sacrum"] = s.slice(0, len(s))
    keep = ~cut
    rec.streams["sacrum"].time_s = s.time_s[keep]
    rec.streams["sacrum"].acc_m_s2 = s.acc_m_s2[keep]
    rec.streams["sacrum"].gyr_rad_s = s.gyr_rad_s[keep]
    res = analyze(rec)
    in_gap = (res.time_s > rep["bottom_s"] - 0.4) & (res.time_s < rep["bottom_s"] + 0.4)
    assert in_gap.any() and np.isnan(res.pelvic_tilt_deg[in_gap]).all()
    assert np.isnan(res.lumbar_flexion_deg[in_gap]).all()
    assert np.isfinite(res.trunk_flexion_deg[in_gap]).all()
    assert [r.complete for r in res.reps] == [True, False, True]
    # where the angles stop: a row gets the pelvis extrapolated while the last sacrum sample is at most 60 ms
    # (a short hole; 1.5 sacrum periods for a slower sensor) plus half a row period old (the streams' offset)
    st = rec["sacrum"].time_s
    edge = (res.time_s > st[np.argmax(cut) - 1] - 0.1) & (res.time_s < st[np.argmax(cut)])  # up to the gap's end
    age_s = res.time_s[edge] - st[np.searchsorted(st, res.time_s[edge], side="right") - 1]
    assert ((age_s > 0.065) & (age_s < 0.075)).any()  # a row just past the limit (measured 0.071 s: the streams'
    # stamps are 1 ms apart), which a limit of 1.5 row periods more would give an angle
    np.testing.assert_array_equal(np.isfinite(res.pelvic_tilt_deg[edge]), age_s <= 0.06 + 0.5 / 100.0)


def test_a_short_gap_of_the_base_sensor_mid_rep_marks_that_rep_incomplete() -> None:
    """The thoracic sensor (the rows' time base) misses 0.3 s at a rep's bottom: bridged by the filter (shorter
    than a long gap), but no rows exist there, so the rows jump by 0.3 s (more than the detector's 0.06 s
    max_gap at 100 Hz) and that rep is incomplete; the others are complete."""
    sim = simulate(SimConfig(seed=3, exercise="rdl", n_reps=3))
    rec = sim.recording
    s = rec["thoracic"]
    rep = sim.reps[1]
    keep = ~((s.time_s > rep["bottom_s"] - 0.15) & (s.time_s < rep["bottom_s"] + 0.15))
    rec.streams["thoracic"] = SensorStream("thoracic", s.time_s[keep], s.acc_m_s2[keep], s.gyr_rad_s[keep])
    res = analyze(rec)
    assert not ((res.time_s > rep["bottom_s"] - 0.14) & (res.time_s < rep["bottom_s"] + 0.14)).any()
    assert np.isfinite(res.lumbar_flexion_deg[res.time_s > rep["bottom_s"]][:5]).all()  # bridged: angles at once
    assert [r.complete for r in res.reps] == [True, False, True]


def test_threshold_from_lmax_percentage() -> None:
    from imu_hinge.analysis.analysis_params import AnalysisParams, with_overrides

    sim = simulate(SimConfig(seed=21, exercise="rdl", n_reps=4, clean_lumbar_deg=(12.0, 14.0)))
    default = analyze(sim.recording)
    assert not any(a.fault == "lumbar_flexion" for a in default.alerts)
    tight = with_overrides(AnalysisParams(), lmax_deg=40.0, lumbar_flexion_pct_lmax=20.0)  # 8 deg
    res = analyze(sim.recording, tight)
    assert sum(a.fault == "lumbar_flexion" for a in res.alerts) == 4
    assert all(r.peak_lumbar_pct_lmax is not None and r.peak_lumbar_pct_lmax > 20 for r in res.reps)


def test_metrics_are_physical(rounding_session) -> None:
    res = analyze(rounding_session.recording)
    for r in res.reps:
        assert r.start_s < r.bottom_s < r.end_s
        assert math.isclose(r.descent_s + r.ascent_s, r.end_s - r.start_s, abs_tol=1e-9)
        assert 0 < r.hinge_share < 1.2
        assert r.peak_trunk_flexion_deg >= 30
        assert r.time_above_threshold_s >= 0


def test_quality_report_counts_removed_samples_exactly() -> None:
    from imu_hinge.analysis.data_quality import recording_quality

    sim = simulate(SimConfig(seed=4, exercise="rdl", n_reps=2))
    rec = sim.recording
    s = rec["thoracic"]
    rng = np.random.default_rng(1)
    drop = rng.choice(np.arange(10, len(s) - 10, 3), size=37, replace=False)  # isolated single drops
    keep = np.ones(len(s), bool)
    keep[drop] = False
    s.time_s, s.acc_m_s2, s.gyr_rad_s = s.time_s[keep], s.acc_m_s2[keep], s.gyr_rad_s[keep]
    cut = (s.time_s > 10.0) & (s.time_s < 10.8)  # plus one 0.8 s hole
    s.time_s, s.acc_m_s2, s.gyr_rad_s = s.time_s[~cut], s.acc_m_s2[~cut], s.gyr_rad_s[~cut]
    quality, warnings = recording_quality(rec)
    q = quality["thoracic"]
    assert q["dropped_samples"] == 37 + int(cut.sum())
    assert q["longest_gap_s"] == pytest.approx(0.8, abs=0.03)
    assert quality["sacrum"]["dropped_samples"] == 0
    assert any("longest gap" in w and "thoracic" in w for w in warnings)


def test_filter_rate_is_not_biased_by_dropped_samples() -> None:
    """50 Hz with 3 % of the samples lost: the rate is the sensor's, and the pelvis follows the truth through the
    hinges (a biased rate scales every turn the filter integrates: an error that comes and goes with the reps, not
    an offset; the offset is the zero's, from which part of the standing sway it averages)."""
    sim = simulate(SimConfig(seed=15001, exercise="rdl", n_reps=4, rate_hz=50.0, drop_fraction=0.03))
    res = analyze(sim.recording)
    for role in ("sacrum", "thoracic"):
        assert res.calibration["sensors"][role]["rate_hz"] == pytest.approx(50.0, rel=0.002)
    truth = np.interp(res.time_s, sim.truth_time_s, sim.truth_pelvic_tilt_deg)
    err = (res.pelvic_tilt_deg - truth)[np.isfinite(res.pelvic_tilt_deg)]
    assert float(np.std(err)) < 0.25  # measured 0.19 (0.16 with the zero from 0.9 s, before single losses were bridged)
    assert rmse_vs_truth(res, sim, "pelvic_tilt_deg") < 0.45  # measured 0.37 (0.17): the zero's 0.32 deg offset


def test_block_processing_is_exact(monkeypatch, rounding_session, tmp_path) -> None:
    """Long recordings are read and analysed in blocks; block size must not change any number."""
    import imu_hinge.analysis.pipeline as pipeline_module
    import imu_hinge.recording.interchange as interchange
    from imu_hinge.recording import read_interchange_csv, recording_to_interchange_csv

    csv = tmp_path / "s.csv"
    recording_to_interchange_csv(rounding_session.recording, csv)
    whole = read_interchange_csv(csv)
    ref = analyze(whole)
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 777)
    monkeypatch.setattr(pipeline_module, "BLOCK_SAMPLES", 1000)
    chunked = read_interchange_csv(csv)
    for role in ("sacrum", "thoracic"):
        np.testing.assert_array_equal(whole[role].time_s, chunked[role].time_s)
        np.testing.assert_array_equal(whole[role].gyr_rad_s, chunked[role].gyr_rad_s)
    res = analyze(chunked)
    np.testing.assert_array_equal(ref.lumbar_flexion_deg, res.lumbar_flexion_deg)
    assert [r.to_dict() for r in ref.reps] == [r.to_dict() for r in res.reps]
    assert ref.alerts == res.alerts


def _thread_names_during(work: Any) -> tuple[Any, set[str]]:
    """``work()`` and the names of the threads that ran Python code meanwhile (threading.settrace reaches every
    thread started while it is set)."""
    import threading

    seen: set[str] = set()

    def trace(frame: Any, event: str, arg: Any) -> None:
        seen.add(threading.current_thread().name)

    threading.settrace(trace)
    try:
        return work(), seen
    finally:
        threading.settrace(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("calibration", ["recording", "live"])
def test_two_threads_give_one_threads_result_bit_for_bit(rounding_session, calibration) -> None:
    """analyze runs the two sensors' filters and angles side by side (the second sensor's on a thread of its own;
    their C loops release the GIL): its angles, reps and alerts are those of one thread, bit for bit, whether the
    trackers are built before the first sample or from a live stance."""
    rec = rounding_session.recording
    if calibration == "live":
        rec = Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION})
    two, names = _thread_names_during(lambda: analyze(rec, threads=2))
    assert any(n.startswith("imu-hinge-replay") for n in names), names
    one, names = _thread_names_during(lambda: analyze(rec, threads=1))
    assert not any(n.startswith("imu-hinge-replay") for n in names), names
    for col in ("time_s", "pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"):
        np.testing.assert_array_equal(getattr(two, col), getattr(one, col))
    assert [r.to_dict() for r in two.reps] == [r.to_dict() for r in one.reps] and two.alerts == one.alerts
    assert two.calibration == one.calibration


def test_a_failure_on_one_sensors_thread_is_raised_after_both_are_done() -> None:
    """per_role: the second sensor's work on its own thread; an exception in either comes out of the call, and
    only once both have finished (no thread left changing state behind the caller)."""
    import threading

    from imu_hinge.sensor_threads import per_role

    done: list[str] = []
    release = threading.Event()

    def work(role: str) -> str:
        if role == "sacrum":
            release.wait(timeout=30)
            raise ValueError("sacrum failed")
        done.append(threading.current_thread().name)
        release.set()
        return role

    with pytest.raises(ValueError, match="sacrum failed"):
        per_role(work, threads=2)
    assert len(done) == 1 and done[0].startswith("imu-hinge-replay")  # the thoracic's ran, on its thread, and ended
    assert per_role(str.upper, threads=1) == {"sacrum": "SACRUM", "thoracic": "THORACIC"}


def test_a_batch_job_analyses_on_one_thread(rounding_csv) -> None:
    """A batch's parallelism is across recordings (--jobs, Dask workers): each job's reading and analysis stay on
    its process's one thread, so --jobs 1 is one core; one recording read and analysed alone takes two."""
    from imu_hinge.analysis.analysis_params import AnalysisParams
    from imu_hinge.batch.runner import Setting, analyze_file
    from imu_hinge.recording import load_recording

    out, names = _thread_names_during(lambda: analyze_file(rounding_csv, Setting("base", AnalysisParams())))
    assert out.ok and out.reps
    assert not any(n.startswith("imu-hinge-") for n in names), names  # neither reading nor replay threads
    _, names = _thread_names_during(lambda: analyze(load_recording(rounding_csv)))  # one recording: both
    assert {"imu-hinge-read", "imu-hinge-replay"} <= {n.rpartition("_")[0] for n in names}, names


def test_swapped_roles_are_warned_by_analyze(rounding_session) -> None:
    from dataclasses import replace

    from imu_hinge.samples import Recording

    rec = rounding_session.recording
    swapped = Recording({"sacrum": replace(rec["thoracic"], sensor="sacrum"),
                         "thoracic": replace(rec["sacrum"], sensor="thoracic")})
    assert not any("swapped" in w for w in analyze(rec).warnings)
    assert any("swapped" in w for w in analyze(swapped).warnings)


def test_a_live_stance_that_holds_a_slow_lean_hands_it_to_the_axis_search() -> None:
    """Live calibration: 1.5 s still, then a lean at 0.32 rad/s (slower than the stance's motion test, 0.35,
    faster than the axis search's 0.3) to 20 deg, held. The stance closes after max_stand_s (5 s) with the
    lean inside; the samples it buffered go through the axis search, which has seen the trunk tip forward
    (past 5 deg at 1.77 s, geometry): the pipeline starts at the close, not at the next hinge (6.6 s)."""
    from imu_hinge.detection.rep_events import CalibrationDone

    from .test_stance_search import _postures

    def lean(s: np.ndarray) -> np.ndarray:
        return np.degrees(np.minimum(0.32 * s, np.radians(20)))

    rec = _postures([(1.5, 0, 0, 0), (5.0, lean, 0, 0), (1.0, 20, 60, 0), (1.0, 60, 0, 0), (3.0, 0, 0, 0)],
                    np.array([0.01, -0.02, 0.015]), np.eye(3))
    pipe, _ = pipeline_for(Recording(rec.streams, {"calibration": LIVE_CALIBRATION}))
    done = [e.time_s for sample in rec.merged_samples() for e in pipe.push(sample) if isinstance(e, CalibrationDone)]
    assert pipe.calibration is not None and pipe.calibration.end_s == pytest.approx(5.0, abs=0.01)  # measured 5.004
    assert done == [pytest.approx(5.0, abs=0.01)]  # measured 5.004
    for role, search in pipe._searches.items():  # forward is -y (up tips to +y, away from it), from the bias-
        # corrected gyro: in the lean's plane (z 0), across the stance's up (tipped 11.8 deg by the lean inside it)
        assert search.forward is not None and abs(search.forward[2]) < 0.01 and search.forward[1] < -0.97, \
            (role, search.forward)  # measured (0.205, -0.979, 1e-16)


@pytest.mark.parametrize(("over_deg", "swapped"), [(0.3, False), (0.5, False), (1.0, True)])
def test_roles_look_swapped_when_the_pelvis_tilts_more_than_half_a_degree_beyond_the_trunk(
        over_deg: float, swapped: bool) -> None:
    """The role check's noise guard: a rep counts as 'pelvis beyond trunk' when its peak P exceeds peak T by more
    than 0.5 deg (MARGIN_DEG); four reps 0.3 deg or exactly 0.5 deg over are not swapped, four 1 deg over are."""
    from types import SimpleNamespace

    from imu_hinge.detection.role_check import roles_look_swapped

    reps = [SimpleNamespace(peak_pelvic_tilt_deg=40.0 + k + over_deg, peak_trunk_flexion_deg=40.0 + k)
            for k in range(4)]
    assert roles_look_swapped(reps) is swapped


def test_roles_look_swapped_from_two_reps_on() -> None:
    """MIN_REPS = 2: two reps with the pelvis beyond the trunk are enough to tell; one is not."""
    from types import SimpleNamespace

    from imu_hinge.detection.role_check import roles_look_swapped

    rep = SimpleNamespace(peak_pelvic_tilt_deg=45.0, peak_trunk_flexion_deg=40.0)
    assert roles_look_swapped([rep, rep]) is True
    assert roles_look_swapped([rep]) is False


@pytest.mark.parametrize(("n_swapped", "swapped"), [(4, True), (3, False), (1, False)])
def test_roles_look_swapped_on_at_least_80_percent_of_the_reps(n_swapped: int, swapped: bool) -> None:
    """Five reps, ``n_swapped`` of them with the pelvis 1 deg beyond the trunk: 4 of 5 (80 %) is swapped, 3 not."""
    from types import SimpleNamespace

    from imu_hinge.detection.role_check import roles_look_swapped

    reps = [SimpleNamespace(peak_pelvic_tilt_deg=40.0 + (1.0 if k < n_swapped else -5.0), peak_trunk_flexion_deg=40.0)
            for k in range(5)]
    assert roles_look_swapped(reps) is swapped


def test_a_live_calibrated_recording_that_never_stands_still_is_refused_once_all_is_read() -> None:
    """Replayed as it was calibrated live (calibration: live), a recording still for 0.3 s and then moving to its
    end never completes a stance: once every sample has been offered, the analysis stops with the live
    calibration's one-line reason (it does not wait for more data)."""
    from imu_hinge.errors import CalibrationError

    from .test_stance_search import _postures, _wobble

    rec = _postures([(0.3, 0, 0, 0), (3.0, _wobble, 0, 0)], np.zeros(3), np.eye(3))
    with pytest.raises(CalibrationError, match="no quiet standing at the start"):
        analyze(Recording(rec.streams, {"calibration": LIVE_CALIBRATION}))


@pytest.mark.parametrize("still_s", [0.8, 1.2])
def test_a_refused_live_stance_tells_how_long_the_lifter_stood(still_s: float) -> None:
    """Still for 0.8 s or 1.2 s, then moving to the end: too short for a live stance (1.0 s plus the 0.5 s
    margin before a movement). The refusal tells the stance the lifter gave (the simulated postures' still
    time), not the empty attempt after the movement started it over (it read 0.2 s for the 1.2 s)."""
    from imu_hinge.errors import CalibrationError

    from .test_stance_search import _postures, _wobble

    rec = _postures([(still_s, 0, 0, 0), (3.0, _wobble, 0, 0)], np.zeros(3), np.eye(3))
    with pytest.raises(CalibrationError, match=rf"still for {still_s:.1f} s at the longest; a stance needs 1.0 s"):
        analyze(Recording(rec.streams, {"calibration": LIVE_CALIBRATION}))


def test_a_refused_live_stance_tells_the_stillness_the_data_ended_in() -> None:
    """A fidget for 0.3 s, then still for 0.9 s to the end of the data: too short for a live stance, and the longest
    stillness is the attempt the data ended in, from when the fidget's smoothed motion died down (0.5 s in) to the
    end (1.2 s): the refusal tells 0.7 s."""
    from imu_hinge.errors import CalibrationError

    from .test_stance_search import _postures, _wobble

    rec = _postures([(0.3, _wobble, 0, 0), (0.9, 0, 0, 0)], np.zeros(3), np.eye(3))
    with pytest.raises(CalibrationError, match=r"still for 0.7 s at the longest; a stance needs 1.0 s"):
        analyze(Recording(rec.streams, {"calibration": LIVE_CALIBRATION}))


@pytest.mark.parametrize(("lead_s", "origin_s"), [(32.0, 0.0), (32.0, 1000.0), (29.0, 0.0)])
def test_a_live_calibration_found_after_the_first_half_minute_is_the_same_in_analyze(rounding_session,
                                                                                      lead_s: float,
                                                                                      origin_s: float) -> None:
    """A live-calibrated recording whose person turns to and fro about gravity (never still) for 32 s before the
    session's quiet stance: analyze replays the early samples in arrival order half a minute at a time, and the
    stance it finds is the one after the turning, as the live driver finds it, with the session's six reps;
    on a clock that starts at 0 or at 1000 s (the half minutes count from the first sample), and with the
    stance across the first half minute (turning for 29 s: the next pass must go on from where the first
    stopped; pushing the early samples again started it over at 28.97 s, 116 start-overs instead of 58)."""
    streams = {}
    for role, s in rounding_session.recording.streams.items():
        tt = np.arange(0.0, lead_s, 1.0 / s.nominal_rate_hz)
        a0 = s.acc_m_s2[:20].mean(axis=0)
        w = np.sin(np.pi * tt)[:, None] * (a0 / np.linalg.norm(a0))  # 1 rad/s peak about gravity
        streams[role] = SensorStream(role, origin_s + np.r_[tt, s.time_s - s.time_s[0] + lead_s],
                                     np.vstack([np.tile(a0, (len(tt), 1)), s.acc_m_s2]),
                                     np.vstack([w + s.gyr_rad_s[:20].mean(axis=0), s.gyr_rad_s]))
    rec = Recording(streams, {"calibration": LIVE_CALIBRATION})
    batch_pipe = HingePipeline()
    batch = batch_pipe.analyze(rec)
    assert lead_s < batch.calibration["stand_start_s"] - origin_s < lead_s + 0.5  # measured 32.34, 29.31
    assert len(batch.reps) == len(rounding_session.reps) == 6
    pipe, live = _pushed(rec)
    assert [r.to_dict() for r in live.reps] == [r.to_dict() for r in batch.reps]
    # every early sample went to the stance once, as live: the same start-overs (none counted twice)
    assert batch_pipe.calibration_restarts == pipe.calibration_restarts > 0


def test_live_angles_start_timeout_s_after_the_stance_when_the_trunk_never_tips() -> None:
    """Standing still for 16 s before the first hinge (live calibration): the stance closes after max_stand_s
    (5 s), the search for the trunk's forward axis waits timeout_s (8 s) for a movement, then gives up and the
    angles flow: the first rows come out at 13.0 s, not at the hinge."""
    from .test_stance_search import _postures

    rec = _postures([(16.0, 0, 0, 0), (1.0, 0, 40, 0), (1.0, 40, 0, 0), (3.0, 0, 0, 0)],
                    np.array([0.01, -0.02, 0.015]), np.eye(3))
    pipe, _ = pipeline_for(Recording(rec.streams, {"calibration": LIVE_CALIBRATION}))
    first_rows_at = None
    for sample in rec.merged_samples():
        pipe.push(sample)
        if first_rows_at is None and len(pipe.result().time_s):
            first_rows_at = sample.time_s
            break
    assert pipe.calibration is not None and pipe.calibration.end_s == pytest.approx(5.0, abs=0.01)  # measured 5.004
    assert first_rows_at == pytest.approx(5.0 + 8.0, abs=0.02)  # measured 13.01
    # exactly: the first sample more than timeout_s after the stance's end (one lands exactly 8 s after it,
    # 13.004 on the thoracic clock: that one still waits)
    after = [s.time_s for s in rec.merged_samples() if s.time_s - pipe.calibration.end_s > 8.0]
    assert first_rows_at == after[0]
    assert any(s.time_s - pipe.calibration.end_s == 8.0 for s in rec.merged_samples())
    # analyze replays the live calibration alike, to the same rows and angles
    live_rec = Recording(rec.streams, {"calibration": LIVE_CALIBRATION})
    _, live = _pushed(live_rec)
    batch = analyze(live_rec)
    np.testing.assert_array_equal(batch.time_s, live.time_s)
    np.testing.assert_allclose(batch.trunk_flexion_deg, live.trunk_flexion_deg, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("sacrum_hz", "base"), [(120.0, "sacrum"), (104.0, "thoracic")])
def test_the_angles_come_on_the_faster_sensors_clock_unless_within_five_percent(sacrum_hz: float,
                                                                              base: str) -> None:
    """Sensors at different rates: the rows follow the faster one's samples (nothing is thrown away), except when
    the two are within 5 % (then the thoracic sensor's, the detector's timing segment): sacrum 120 Hz vs thoracic
    100 Hz gives rows at 120 Hz; 104 Hz vs 100 Hz rows at 100 Hz."""
    sim = simulate(SimConfig(seed=5, exercise="rdl", n_reps=3, rate_hz=sacrum_hz, thoracic_rate_hz=100.0))
    res = analyze(sim.recording)
    assert res.calibration["base_sensor"] == base
    row_hz = 1.0 / float(np.median(np.diff(res.time_s)))
    assert row_hz == pytest.approx(sacrum_hz if base == "sacrum" else 100.0, rel=0.01)  # measured 120.1, 100.0


def _pushed(rec: Recording) -> tuple[Any, Any]:
    """``rec`` through the live driver, sample by sample in arrival order, to the end: (pipeline, its result)."""
    pipe, _ = pipeline_for(rec)
    for sample in rec.merged_samples():
        pipe.push(sample)
    pipe.finish()
    return pipe, pipe.result()


def test_sensors_stamped_at_the_same_instants_give_the_same_rows_live_and_in_analyze() -> None:
    """Both sensors sampled on one clock (every sacrum and thoracic sample at the same instant, as a logger that
    reads both at once stamps them): the live driver takes the sacrum's sample first on a tie, and analyze must
    pair them the same way, to the bit (pairing the earlier sacrum sample instead moves P by up to 0.03 deg)."""
    from .test_stance_search import _postures

    segs: list[tuple[float, Any, float, float]] = [(2.0, 0, 0, 0)]
    for _ in range(3):
        segs += [(1.0, 0, 60, 0), (1.0, 60, 0, 0), (1.5, 0, 0, 0)]
    made = _postures(segs, np.array([0.01, -0.02, 0.015]), np.eye(3))
    t = made.streams["sacrum"].time_s
    rec = Recording({role: SensorStream(role, t, s.acc_m_s2, s.gyr_rad_s) for role, s in made.streams.items()})
    batch = analyze(rec)
    pipe, live = _pushed(rec)
    assert len(batch.reps) == 3
    for col in ("time_s", "pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"):
        np.testing.assert_array_equal(getattr(batch, col), getattr(live, col), err_msg=col)


def test_finish_reports_the_rep_whose_lockout_window_the_data_cut_short(rounding_session) -> None:
    """The data end 0.3 s after the last rep's true end (its lockout window still open): pushed sample by
    sample, that rep is reported by finish() (a RepCompleted, then in the result), as analyze reports it; a
    caller's warnings reach the result."""
    sim = rounding_session
    cut_s = sim.reps[-1]["end_s"] + 0.3
    rec = Recording({r: s.slice(0, int(np.searchsorted(s.time_s, cut_s))) for r, s in sim.recording.streams.items()},
                    dict(sim.recording.metadata))
    batch = analyze(rec)
    pipe, _ = pipeline_for(rec)
    pushed = [e for sample in rec.merged_samples() for e in pipe.push(sample)]
    tail = pipe.finish()
    live = pipe.result(["from the caller"])
    assert len(batch.reps) == len(live.reps) == len(sim.reps)
    assert sum(isinstance(e, RepCompleted) for e in pushed) == len(sim.reps) - 1
    assert [e.rep.index for e in tail if isinstance(e, RepCompleted)] == [live.reps[-1].index]
    assert (live.reps[-1].start_s, live.reps[-1].end_s) == (batch.reps[-1].start_s, batch.reps[-1].end_s)
    assert live.warnings == ["from the caller"]


def test_live_and_batch_drivers_agree_when_stamps_tie_and_the_sacrum_is_the_faster_base() -> None:
    """The sacrum at 200 Hz (the faster sensor: the rows' base) and the thoracic at 100 Hz, stamped on one grid so
    that every thoracic sample shares its time with a sacrum one (a logger that stamps both from one clock tick):
    on a tie the sacrum's sample comes first, in the live order and in the batch alignment alike; pushed sample
    by sample or analysed in one go, the same rows."""
    import dataclasses

    sim = simulate(SimConfig(seed=3, exercise="rdl", n_reps=5, rate_hz=200.0, thoracic_rate_hz=100.0))
    sac, tho = sim.recording["sacrum"], sim.recording["thoracic"]
    rec = Recording({"sacrum": dataclasses.replace(sac, time_s=np.arange(len(sac)) / 200.0),
                     "thoracic": dataclasses.replace(tho, time_s=np.arange(len(tho)) / 100.0)})
    batch = analyze(rec)
    pipe, live = _pushed(rec)
    assert pipe.base == "sacrum" and len(batch.reps) == len(live.reps) == 5
    np.testing.assert_array_equal(batch.time_s, live.time_s)
    for col in ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"):
        np.testing.assert_allclose(getattr(batch, col), getattr(live, col), atol=1e-9, equal_nan=True)


def test_the_live_driver_takes_sensor_names_made_at_run_time(rounding_session) -> None:
    """Sensor names arrive as strings made at run time (parsed from a BLE source's config or a file), equal to the
    role names but not the same objects: pushed sample by sample, the same rows as with the package's constants."""
    rec = rounding_session.recording
    rows = []
    for fresh in (False, True):
        pipe, _ = pipeline_for(rec)
        for sample in rec.merged_samples():
            if fresh:
                sample = sample._replace(sensor="".join(list(sample.sensor)))
                assert sample.sensor is not rec.streams[sample.sensor].sensor
            pipe.push(sample)
        pipe.finish()
        rows.append(np.array(pipe.rows_since(0)))
    assert len(rows[1]) == len(rows[0]) > 1000
    np.testing.assert_array_equal(rows[1], rows[0])


@pytest.mark.parametrize("family", ["rdl_good", "bad_start_walk"])
def test_the_angles_do_not_depend_on_where_the_clock_starts(family: str) -> None:
    """The same session stamped from 0 s and from 1000 s (a logger's clock): the same angles, reps and stance,
    only shifted. Whether the stance is at the start is judged from the first sample, not from time 0 (a
    stance at the start takes the filter's own "up", a later one the accelerometer's: the angles would differ)."""
    import dataclasses

    from imu_hinge.simulation import SCENARIOS

    sim = simulate(dataclasses.replace(SCENARIOS[family], seed=7000))
    rec = sim.recording
    late = Recording({r: dataclasses.replace(s, time_s=s.time_s + 1000.0) for r, s in rec.streams.items()})
    a, b = analyze(rec), analyze(late)
    np.testing.assert_allclose(b.time_s - 1000.0, a.time_s, rtol=0, atol=1e-9)
    for name in ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-6, err_msg=name)
    assert b.calibration["stand_start_s"] - 1000.0 == pytest.approx(a.calibration["stand_start_s"], abs=1e-9)
    assert [r.bottom_s - 1000.0 for r in b.reps] == pytest.approx([r.bottom_s for r in a.reps], abs=1e-9)


def test_a_later_stance_puts_the_filters_on_its_gravity_and_bias_as_they_pass_it(monkeypatch) -> None:
    """Simulated: a moment's stand, sitting down, mixed hinges at 200 Hz with 2.5 deg of soft tissue and 3 % of the
    samples lost. The zero is a stand at 7.2 s; the filters run from the first sample through the seat and the first
    rep, started from the orientation a run back from the stance found there. Put on the stance's gravity (at its
    first sample) and its gyro bias as they pass it, both segments read their zero over the stance and the trunk
    follows the truth afterwards; left to run on, the trunk read 9.8 deg there and its error decayed over seconds."""
    import imu_hinge.analysis.pipeline as pipeline_module

    cfg = SimConfig(seed=14017, exercise="mixed", n_reps=6, stand_start_s=1.0, rounding_frac=0.6, back_first_frac=0.2,
                    wobble_deg=2.2, sway_deg=1.06, rate_hz=200.0, thoracic_rate_hz=200.0, mount_sacrum="random",
                    mount_thoracic="random", drop_fraction=0.03, first_moves=("sit_down",), tissue_deg=2.5)
    sim = simulate(cfg)
    rec = checked(sim.recording)

    def measured(res) -> tuple[float, float, float]:
        c = res.calibration
        stance = (res.time_s >= c["stand_start_s"]) & (res.time_s <= c["stand_end_s"])
        after = (res.time_s > c["stand_end_s"]) & (res.time_s < c["stand_end_s"] + 12.0)
        err = res.trunk_flexion_deg - np.interp(res.time_s, sim.truth_time_s, sim.truth_trunk_flexion_deg)
        worst_zero = max(abs(float(np.nanmean(res.trunk_flexion_deg[stance]))),
                         abs(float(np.nanmean(res.pelvic_tilt_deg[stance]))))
        return worst_zero, float(np.sqrt(np.nanmean(err[after] ** 2))), rmse_vs_truth(res, sim, "lumbar_flexion_deg")

    res = analyze(rec)
    assert res.calibration["stand_start_s"] > 5.0  # a later stance
    zero_deg, trunk_after, lumbar = measured(res)
    assert zero_deg < 0.5  # measured 0.01
    assert trunk_after < 2.0  # measured 1.35
    assert lumbar < 2.3  # measured 1.89

    prepare = pipeline_module.HingePipeline.prepare

    def unpinned(self, *args, **kwargs):
        out = prepare(self, *args, **kwargs)
        for tracker in self.trackers.values():
            assert tracker.pin is not None
            tracker.pin = None
        return out

    monkeypatch.setattr(pipeline_module.HingePipeline, "prepare", unpinned)
    zero_deg, trunk_after, lumbar = measured(analyze(rec))
    assert zero_deg > 5.0 and trunk_after > 3.0 and lumbar > 2.4  # measured 9.80, 3.51, 2.75: the case (4.54 and
    # 3.29 while the quiet-window estimator took the bridged gaps' turns as exact)
