"""Accuracy regression guard: one fixed simulated session per scenario family, its stated RMSE.

Each family's lumbar and worst segment (pelvis/trunk) RMSE against the simulator's truth was
measured on this code (seed 7000, the first seed of ``benchmarks/accuracy_sim.py``) and is stated
below. A change that makes any family more than 10 % worse fails here: look at why before you
restate a number. A change that makes a family better should restate it (tighter), so the guard
keeps following the code. Families: every scenario of :data:`imu_hinge.simulation.SCENARIOS` with
reps (the walking-only one has no hinge to define the sagittal plane). Each session goes through the
input checks first, as a user's recording does (cheap_sensor's and arrival_stamps' scattered stamps are
put back on the sensors' clocks there: without that, 0.907/0.625 and 1.828/2.001 deg). Before vqf's bound on
its bias estimate was moved around the stance's known bias (it cut each axis to 2 deg/s), large_gyro_bias read
0.381/5.321 deg, high_bias 0.563/0.901 and rate_400hz 0.339/0.261. With the offline bridge choice
(imu_hinge.fusion.gap_bridge, seventeenth sitting) the three families with samples lost moved: low_rate_drops
0.357 -> 0.296, mixed 0.528 -> 0.560, arrival_stamps 0.328 -> 0.361 (lumbar, seed 7000); over seeds 7000-7003
arrival_stamps 0.328/0.244/0.182/0.361 -> 0.361/0.244/0.174/0.360, mixed 0.539/0.463/0.381/0.454 ->
0.560/0.463/0.376/0.454, low_rate_drops 0.351/0.258/0.192/0.409 -> 0.296/0.269/0.182/0.390: restated.
Four families moved without being restated, found by bisecting (nineteenth sitting; seed 7000, lumbar / segment):
seated_bends 0.532 -> 0.571 / 0.605 at a108fe8 (a short stance at the start pools its gyro bias with the quiet
stretches after it; over seeds 7000-7011 mean lumbar 0.779 -> 0.794, seed by seed -0.13 to +0.14: noise of the
pooled bias, not a trend), no_quiet_start 0.308/0.361 -> 0.309/0.340 at 5e26659 (a later stance puts the filters
on its gravity and bias), sensor_slip 0.557/0.526 -> 0.532/0.490 at 73abfae (the mount check takes the moved
segment's whole step), mixed 0.560/0.616 -> 0.563/0.621 at 665a4af (bridged gaps' variance in the quiet-window
bias): restated.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.recording.checks import checked
from imu_hinge.simulation import SCENARIOS, simulate

SEED = 7000
WORSE = 1.10

# family: (lumbar RMSE, worst of pelvis/trunk RMSE), deg, measured on this code
STATED: dict[str, tuple[float, float]] = {
    "rdl_good": (0.290, 0.223), "rdl_rounding": (0.299, 0.251), "back_first": (0.342, 0.278),
    "lockout_arch": (0.290, 0.267), "kb_swings": (0.316, 0.340), "kb_swings_rounding": (0.344, 0.359),
    "long_holds": (0.238, 0.310), "fatigue_set": (0.264, 0.210), "good_morning": (0.330, 0.225),
    "wall_hinge": (0.240, 0.171), "walk_between": (0.294, 0.924), "mixed_mount": (0.280, 0.267),
    "high_bias": (0.558, 0.768), "large_gyro_bias": (0.330, 0.263), "cheap_sensor": (0.756, 0.448),
    "low_rate_drops": (0.296, 0.264),
    "unequal_rates": (0.285, 0.234), "rate_25hz": (0.359, 0.301), "rate_400hz": (0.295, 0.238),
    "mixed": (0.563, 0.621), "no_quiet_start": (0.309, 0.340), "standing_sway": (0.302, 0.284),
    "seated_bends": (0.571, 0.605), "side_bends_twists": (0.307, 0.278), "walk_stairs": (0.300, 0.712),
    "soft_tissue": (1.156, 1.141), "bias_warmup": (0.619, 0.423), "coloured_noise": (1.065, 0.703),
    "outage_return": (0.342, 0.264), "sensor_slip": (0.532, 0.490), "bad_start_side_bend": (0.304, 0.329),
    "bad_start_twist": (0.285, 0.269), "bad_start_back_bend": (0.297, 0.300), "bad_start_walk": (0.272, 0.802),
    "bad_start_sit_down": (0.301, 0.448), "arrival_stamps": (0.361, 0.299),
}


def test_every_family_is_guarded() -> None:
    families = {name for name, cfg in SCENARIOS.items() if cfg.exercise != "walk"}
    assert families == set(STATED), f"state the RMSE of {sorted(families ^ set(STATED))}"


def _rmse(sim, res, col: str) -> float:
    truth = np.interp(res.time_s, sim.truth_time_s, getattr(sim, "truth_" + col))
    est = getattr(res, col)
    m = np.isfinite(est) & (res.time_s > sim.stand_start_s - 1.0)
    return float(np.sqrt(np.mean((est[m] - truth[m]) ** 2)))


@pytest.mark.parametrize("family", sorted(STATED))
def test_family_no_worse_than_stated(family: str) -> None:
    sim = simulate(dataclasses.replace(SCENARIOS[family], seed=SEED))
    res = analyze(checked(sim.recording))  # as users get it: the input checks first
    _assert_no_worse(family, sim, res, STATED[family])


def _assert_no_worse(name: str, sim, res, stated_rmse: tuple[float, float]) -> None:
    """The lumbar and worst segment RMSE at most 10 % above the stated (lumbar, segment) values."""
    lumbar = _rmse(sim, res, "lumbar_flexion_deg")
    segment = max(_rmse(sim, res, "pelvic_tilt_deg"), _rmse(sim, res, "trunk_flexion_deg"))
    for what, got, stated in (("lumbar", lumbar, stated_rmse[0]), ("segment", segment, stated_rmse[1])):
        assert got <= WORSE * stated, f"{name}: {what} RMSE {got:.3f} deg, stated {stated:.3f} (more than 10 % worse)"


# The live calibration (stance from the start, started over when the lifter moves; what `train` and a replay of
# its recordings do) on the families whose live stance starts over: (lumbar, worst segment) RMSE, deg, measured
# on this code. Before the live stance refused a reference taken in a motion (mean gyro > 0.2 rad/s or RMS about
# it > 0.1), no_quiet_start's live stance took in the end of a rep's ascent: 5.02 / 2.97, and seated_bends
# 1.13 / 0.67 (its segment RMSE is 19 % worse now, its lumbar half).
LIVE_STATED: dict[str, tuple[float, float]] = {"no_quiet_start": (0.304, 0.379), "seated_bends": (0.555, 0.791)}


@pytest.mark.parametrize("family", sorted(LIVE_STATED))
def test_live_calibrated_family_no_worse_than_stated(family: str) -> None:
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    sim = simulate(dataclasses.replace(SCENARIOS[family], seed=SEED))
    rec = checked(sim.recording)
    res = analyze(Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION}, rec.warnings))
    assert res.calibration["stand_start_s"] > min(s.time_s[0] for s in rec.streams.values()) + 0.25  # started over
    _assert_no_worse(f"{family} (live)", sim, res, LIVE_STATED[family])


# A gyro whose zero-rate offset is 10-20 deg/s on each axis (uncalibrated MEMS parts are specified at up to
# +-20): large_gyro_bias's session with gyro_bias_dps=20, both calibrations, (lumbar, worst segment) RMSE, deg,
# measured on this code; the same as at 6 deg/s within 0.002. Before, the recording's stance search found no quiet
# stretch (its rough bias took only rates under 0.2 rad/s around zero): 0.655 / 1.669 at 15 deg/s; the live stance
# refused every reference (a mean gyro over 0.2 rad/s read as a turn): no stance at all; and vqf cut the bias it
# was given to 2 deg/s: 5.3 deg segment RMSE already at 6 deg/s.
BIG_BIAS_STATED = {"recording": (0.329, 0.261), "live": (0.331, 0.261)}


@pytest.mark.parametrize("calibration", sorted(BIG_BIAS_STATED))
def test_a_gyro_bias_of_20_deg_s_reads_as_well_as_a_small_one(calibration: str) -> None:
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    sim = simulate(dataclasses.replace(SCENARIOS["large_gyro_bias"], seed=SEED, gyro_bias_dps=20.0))
    rec = checked(sim.recording)
    if calibration == "live":
        rec = Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION}, rec.warnings)
    res = analyze(rec)
    assert not res.warnings
    assert len(res.reps) == len(sim.reps) == 8
    _assert_no_worse(f"gyro bias 20 deg/s ({calibration})", sim, res, BIG_BIAS_STATED[calibration])


@pytest.mark.parametrize("seed", [1, 3])
def test_the_first_hinge_reads_as_well_with_a_large_gyro_bias_live(seed: int) -> None:
    """Live calibration: until the first hinge the forward axis comes from the gyro with the stance's bias taken
    off (:class:`~imu_hinge.kinematics.sagittal.AxisSearch`), then the tilts refine it. With a 20 deg/s bias
    the first rep's trunk angle reads as it does at 0.5 deg/s (RMSE over the rep within 0.01 deg; measured
    0.726/0.731 and 0.298/0.298 deg): were the bias not taken off (or doubled), the axis would start up to tens
    of degrees off and the first rep read 1.00 and 1.14 deg."""
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    rms = []
    for dps in (0.5, 20.0):
        sim = simulate(dataclasses.replace(SCENARIOS["large_gyro_bias"], seed=seed, gyro_bias_dps=dps))
        rec = Recording(sim.recording.streams, {**sim.recording.metadata, "calibration": LIVE_CALIBRATION})
        res = analyze(checked(rec))
        first = (sim.truth_time_s > sim.reps[0]["start_s"]) & (sim.truth_time_s < sim.reps[0]["end_s"])
        err = np.interp(sim.truth_time_s[first], res.time_s, res.trunk_flexion_deg) - sim.truth_trunk_flexion_deg[first]
        rms.append(float(np.sqrt(np.mean(err ** 2))))
    assert rms[1] < 0.8 and abs(rms[1] - rms[0]) < 0.01, rms  # measured 0.726 (seed 1), 0.298 (seed 3)


def test_a_side_bend_soon_after_the_first_hinge_does_not_turn_the_live_axis() -> None:
    """Live calibration, an RDL set with a side bend after each rep (side_bends_twists with side bends only, seed 0):
    the first rep's tilts beyond provisional_deg last under refine_s, and the side bend after it, 90 deg off the
    axis, is left out of the refinement (refine_gate_deg): trunk RMSE 0.476 deg (bound 1.1x); with the side bend
    averaged in, 0.788."""
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    sim = simulate(dataclasses.replace(SCENARIOS["side_bends_twists"], seed=0, between_moves=("side_bend",)))
    rec = checked(sim.recording)
    res = analyze(Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION}, rec.warnings))
    assert _rmse(sim, res, "trunk_flexion_deg") <= 1.1 * 0.476


# Live calibration when the lifter bends back or sideways before the first hinge (the stance found before it): the
# bend sets the segments' axis first (nothing tells it from a hinge yet); the first hinge, 15 deg (restart_deg)
# deeper in another direction, starts the axis over. (lumbar, trunk) RMSE after the first rep, deg, measured on this
# code; before, the axis stayed on the bend: whole sessions at 56 / 56 (back bend, the hinges read backwards) and
# 21 / 22 deg (side bend).
AFTER_BAD_START: dict[str, tuple[float, float]] = {"bad_start_back_bend": (0.281, 0.231),
                                                   "bad_start_side_bend": (0.299, 0.220)}


@pytest.mark.parametrize("family", sorted(AFTER_BAD_START))
def test_a_bend_before_the_first_hinge_does_not_keep_the_live_axis(family: str) -> None:
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    sim = simulate(dataclasses.replace(SCENARIOS[family], seed=SEED))
    rec = checked(sim.recording)
    res = analyze(Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION}, rec.warnings))
    assert res.calibration["stand_end_s"] < sim.moves[0][1] + 0.5  # the stance came before the bend
    # every hinge found, its start within 0.55 s as the detector places starts (measured 0.37-0.55); the first
    # 1.4 s late (read backwards until it passes the bend by 15 deg). The side bend itself reads as a 33 deg rep.
    for k, rep in enumerate(sim.reps):
        assert any(0.0 < r.start_s - rep["start_s"] < (1.5 if k == 0 else 0.6) for r in res.reps), rep["start_s"]
    after = res.time_s > sim.reps[0]["end_s"]
    for col, stated in zip(("lumbar_flexion_deg", "trunk_flexion_deg"), AFTER_BAD_START[family], strict=True):
        truth = np.interp(res.time_s[after], sim.truth_time_s, getattr(sim, "truth_" + col))
        err = getattr(res, col)[after] - truth
        got = float(np.sqrt(np.nanmean(err ** 2)))
        assert got <= WORSE * stated, f"{family} {col}: {got:.3f} deg after the first rep, stated {stated}"


def test_live_angles_before_the_first_hinge_are_signed() -> None:
    """Live calibration of a swaying stand (standing_sway, seed 7000): the forward axis the gyro gave at the first
    hinge's onset applies to the samples before it as well, so standing sway reads forward and back (down to -3.25
    deg where the truth reaches -3.9), trunk RMSE before the first rep 0.433 deg (bound 1.1x); read as an unsigned
    tilt it would never go negative (2.01 deg)."""
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    sim = simulate(dataclasses.replace(SCENARIOS["standing_sway"], seed=SEED))
    rec = checked(sim.recording)
    res = analyze(Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION}, rec.warnings))
    pre = res.time_s < sim.reps[0]["start_s"]
    truth = np.interp(res.time_s[pre], sim.truth_time_s, sim.truth_trunk_flexion_deg)
    est = res.trunk_flexion_deg[pre]
    assert float(np.nanmin(est)) < -2.0
    assert float(np.sqrt(np.nanmean((est - truth) ** 2))) <= 1.1 * 0.433
