"""The core's per-sample loops are C built at install (no JIT): geometry truths, bad buffers refused."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from imu_hinge.fusion import _fusion_loops, up_in_sensor
from imu_hinge.kinematics import _kinematics_loops
from imu_hinge.kinematics.alignment import combine_batch
from imu_hinge.kinematics.sagittal import AxisParams, SagittalAngle


def test_the_core_runs_without_a_jit() -> None:
    code = ("import sys; from imu_hinge.analysis.pipeline import HingePipeline; "
            "print(sorted(m for m in ('numba', 'llvmlite', 'ahrs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # ahrs too: imported only when one of its filters is built


def test_the_fusion_package_loads_its_filters_on_first_use() -> None:
    """``import imu_hinge.fusion`` (for its method names, as the command line and a Dask client do) loads neither
    numpy nor a filter module: they load when a filter is made."""
    code = ("import sys, imu_hinge.fusion as f; print(sorted(m for m in sys.modules if m.startswith('imu_hinge.')"
            " or m == 'numpy')); f.make_filter('vqf', 100.0); print('imu_hinge.fusion.vqf_filter' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['imu_hinge.errors', 'imu_hinge.fusion', 'imu_hinge.lazy_exports']" and out[1] == "True"


def test_sagittal_angle_is_the_tilt_towards_forward_in_one_sample_or_a_block() -> None:
    tilt_deg = np.array([-20.0, 0.0, 10.0, 45.0, 89.0])
    th = np.radians(tilt_deg)
    up = np.column_stack([-np.sin(th), np.zeros_like(th), np.cos(th)])  # "up" moves towards -forward
    block = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0, forward=np.array([1.0, 0.0, 0.0]), refine=False)
    one = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0, forward=np.array([1.0, 0.0, 0.0]), refine=False)
    got = block.update_batch(up)
    assert np.allclose(got, tilt_deg, atol=1e-9)
    assert [one.update(u) for u in up] == got.tolist()  # the same loop, bit for bit


def test_a_provisional_forward_direction_is_refined_by_default_from_the_hinges_that_follow() -> None:
    """Given a forward 20 deg off (the gyro's provisional one), the default angle refines it from the tilts of
    the next refine_s (2 s) beyond provisional_deg: hinges straight forward bring it to the true one."""
    off = np.radians(20.0)
    guess = np.array([np.cos(off), np.sin(off), 0.0])
    th = np.radians(40.0) * np.sin(np.linspace(0.0, np.pi, 300)) ** 2  # three 1 s hinges to 40 deg, straight ahead
    up = np.column_stack([-np.sin(np.tile(th, 3)), np.zeros(900), np.cos(np.tile(th, 3))])
    angle = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0, forward=guess)
    assert not angle.frozen
    angle.update_batch(up)
    assert angle.frozen and angle.forward is not None
    assert np.degrees(np.arccos(min(1.0, float(angle.forward @ [1.0, 0.0, 0.0])))) < 1e-6  # exact geometry


def test_the_forward_axis_is_the_mean_tilt_direction_of_the_first_refine_s_beyond_provisional_deg() -> None:
    """Tilts of 30 deg towards A for 1.5 s, then towards B (40 deg beside A) for 2 s, at 100 Hz: the first
    2 s (refine_s) beyond 15 deg are 150 samples towards A and 50 towards B, so forward is their mean
    direction, 9.7 deg from A towards B (geometry), then frozen: B's later tilts do not move it."""
    a, b = np.array([1.0, 0.0, 0.0]), np.array([np.cos(np.radians(40.0)), np.sin(np.radians(40.0)), 0.0])
    th = np.radians(30.0)
    up = np.vstack([np.tile(np.cos(th) * np.array([0.0, 0.0, 1.0]) - np.sin(th) * d, (k, 1))
                    for d, k in ((a, 150), (b, 200))])
    angle = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0)
    angle.update_batch(up)
    expected = (150 * a + 50 * b) / np.linalg.norm(150 * a + 50 * b)
    assert angle.frozen and angle.forward is not None
    assert np.allclose(angle.forward, expected, atol=1e-12)  # 9.7 deg from A: refine_s 1 s would give A itself
    shorter = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0, AxisParams(refine_s=1.0))  # a parameter set apart
    shorter.update_batch(up)
    assert shorter.forward is not None and np.allclose(shorter.forward, a, atol=1e-12)  # the first 1 s: all A
    first = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0, AxisParams(refine_s=0.0))  # at least one sample
    first.update_batch(up[[0, -1]])  # a tilt towards A, then one towards B
    assert first.frozen and first.forward is not None and np.allclose(first.forward, a, atol=1e-12)


@pytest.mark.parametrize(("peak_deg", "found"), [(14.8, False), (15.2, True)])
def test_without_a_provisional_axis_the_first_tilt_beyond_provisional_deg_sets_it(peak_deg: float, found: bool) -> None:
    """No forward direction given: a lean to 14.8 deg (under provisional_deg, 15) leaves it unknown and the
    angle is the unsigned tilt; a lean to 15.2 deg sets it towards that lean (exact geometry)."""
    th = np.radians(peak_deg) * np.sin(np.linspace(0.0, np.pi, 200)) ** 2
    d = np.array([np.cos(0.3), np.sin(0.3), 0.0])
    up = np.cos(th)[:, None] * np.array([0.0, 0.0, 1.0]) - np.sin(th)[:, None] * d
    angle = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0)
    got = angle.update_batch(up)
    assert (angle.forward is not None) == found
    if found:
        assert angle.forward is not None and np.allclose(angle.forward, d, atol=1e-12)
    np.testing.assert_allclose(got, np.degrees(th), atol=1e-9)  # forward tilt (or unsigned tilt) either way


@pytest.mark.parametrize(("second_deg", "joins"), [(90.0, False), (45.5, False), (44.5, True)])
def test_only_tilts_within_refine_gate_deg_of_the_axis_so_far_refine_it(second_deg: float, joins: bool) -> None:
    """A first hinge of 1 s beyond provisional_deg (100 samples at 30 deg towards A), then 1.5 s of tilts towards B
    (30 deg again): a side bend (B 90 deg from A) or a tilt 45.5 deg off (beyond refine_gate_deg, 45) leaves the
    axis at A and still refining (100 of the 200 samples of refine_s); a tilt 44.5 deg off joins (the first 100 of
    it): forward is the mean of the two directions, 22.25 deg from A, and frozen (exact geometry)."""
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([np.cos(np.radians(second_deg)), np.sin(np.radians(second_deg)), 0.0])
    th = np.radians(30.0)
    up = np.vstack([np.tile(np.cos(th) * np.array([0.0, 0.0, 1.0]) - np.sin(th) * d, (k, 1))
                    for d, k in ((a, 100), (b, 150))])
    angle = SagittalAngle(np.array([0.0, 0.0, 1.0]), 100.0)
    got = angle.update_batch(up)
    assert angle.forward is not None
    if joins:
        assert angle.frozen and np.allclose(angle.forward, (a + b) / np.linalg.norm(a + b), atol=1e-12)
    else:
        assert not angle.frozen and np.allclose(angle.forward, a, atol=1e-12)
        # the second tilt reads as its projection on A: 30 deg tipped 90 (50) deg aside
        want = np.degrees(np.arctan2(np.sin(th) * np.cos(np.radians(second_deg)), np.cos(th)))
        np.testing.assert_allclose(got[100:], want, atol=1e-9)


@pytest.mark.parametrize(("first_deg", "restarts"), [(25.0, True), (50.0, False)])
def test_a_deeper_tilt_in_another_direction_starts_the_axis_over(first_deg: float, restarts: bool) -> None:
    """A back bend first (2.5 s at first_deg towards B, the axis refined and frozen on it), then a hinge to 60 deg
    towards A (opposite): beyond first_deg + restart_deg (15) the axis starts over from the hinge, is refined on it
    and reads the hinge as forward from there; a first bend of 50 deg is not exceeded by 15 and stays the axis.
    A direction given from the whole recording (refine=False) never starts over."""
    a, b = np.array([1.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0])
    z = np.array([0.0, 0.0, 1.0])

    def tilts(d: np.ndarray, deg: np.ndarray) -> np.ndarray:
        th = np.radians(deg)[:, None]
        return np.cos(th) * z - np.sin(th) * d

    hinge = 60.0 * np.sin(np.linspace(0.0, np.pi, 500)) ** 2  # 5 s: 2.6 s beyond 15 deg after 40 deg is passed
    up = np.vstack([tilts(b, np.full(250, first_deg)), tilts(a, hinge)])
    angle = SagittalAngle(z, 100.0)
    got = angle.update_batch(up)
    assert angle.forward is not None and angle.frozen
    np.testing.assert_allclose(angle.forward, a if restarts else b, atol=1e-12)
    if restarts:  # read as a forward tilt from the sample that starts it over
        first = 250 + int(np.flatnonzero(hinge > first_deg + 15.0)[0])
        np.testing.assert_allclose(got[first:], hinge[first - 250:], atol=1e-9)
        assert got[first - 1] < 0  # before it: the hinge read backwards on the back bend's axis
    fixed = SagittalAngle(z, 100.0, forward=b, refine=False)
    fixed.update_batch(up)
    np.testing.assert_allclose(fixed.forward, b, atol=1e-12)


def test_a_provisional_forward_is_taken_as_its_direction_across_up() -> None:
    """A provisional forward given at any length and not quite across standing up ((3, 0, 0.5): 3.04 long, 9.5 deg
    off the horizontal) is used as its unit direction across up: the same angles as (1, 0, 0) (exact geometry)."""
    tilt_deg = np.array([-10.0, 0.0, 10.0, 14.0])  # under provisional_deg: the given direction is the one used
    th = np.radians(tilt_deg)
    up = np.column_stack([-np.sin(th), np.zeros_like(th), np.cos(th)])
    z = np.array([0.0, 0.0, 1.0])
    given = SagittalAngle(z, 100.0, forward=np.array([3.0, 0.0, 0.5])).update_batch(up)
    unit = SagittalAngle(z, 100.0, forward=np.array([1.0, 0.0, 0.0])).update_batch(up)
    np.testing.assert_allclose(given, unit, atol=1e-12)
    np.testing.assert_allclose(given, tilt_deg, atol=1e-9)


def test_up_vector_of_a_quaternion_is_earth_z_in_the_sensor_frame() -> None:
    half = np.radians(30.0) / 2  # sensor pitched 30 deg about its y axis
    q = np.array([[np.cos(half), 0.0, np.sin(half), 0.0]])
    assert np.allclose(up_in_sensor(q), [[-0.5, 0.0, np.sqrt(3) / 2]], atol=1e-12)


def test_up_vector_keeps_the_shape_of_any_stack_of_quaternions() -> None:
    """(..., 4) -> (..., 3): one quaternion gives (3,), a (2, 3, 4) stack a (2, 3, 3) one, each entry the up
    vector of its own quaternion (rotations about y by 0..50 deg: up = (-sin, 0, cos))."""
    ang = np.radians(np.arange(6) * 10.0).reshape(2, 3)
    q = np.stack([np.cos(ang / 2), np.zeros_like(ang), np.sin(ang / 2), np.zeros_like(ang)], axis=-1)
    up = up_in_sensor(q)
    assert up.shape == (2, 3, 3)
    assert np.allclose(up, np.stack([-np.sin(ang), np.zeros_like(ang), np.cos(ang)], axis=-1), atol=1e-12)
    assert up_in_sensor(q[1, 2]).shape == (3,)


def test_combiner_extrapolates_the_other_stream_linearly_and_leaves_gaps_nan() -> None:
    other_t = np.array([0.0, 0.01, 0.02])
    other = 2.0 * other_t  # deg, a constant rate
    base_t = np.array([0.025, 0.2])  # the second one is long after the other's last sample
    got = combine_batch(base_t, other_t, other, other_first_on_tie=False, max_age_s=0.05, max_slope_gap_s=0.05)
    assert got[0] == pytest.approx(0.05, abs=1e-12)
    assert np.isnan(got[1])


def test_loops_refuse_buffers_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="too small"):
        _fusion_loops.up_rows(np.zeros((4, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="do not match"):
        _kinematics_loops.combine(np.zeros(5), np.zeros(3), np.zeros(2), False, 0.1, 0.1, np.zeros(5))
    with pytest.raises(ValueError, match="not C-contiguous"):
        _fusion_loops.up_rows(np.zeros((4, 8))[:, ::2], np.zeros((4, 3)))  # not contiguous


def test_the_quiet_loop_refuses_a_state_it_would_read_or_write_past() -> None:
    """quiet_run reads ``history`` windows' means from the pairing state and keeps an open window's samples in a
    buffer of fixed room: a pairing state shorter than its history, a history of none, a count of kept windows
    outside 0..history, a sample buffer smaller than its room or a count of kept samples beyond it, stretches that
    run backwards or past the block, and a capsule that is not VQF are refused, never read or written past. The
    state as the filter makes it is taken, and runs."""
    from imu_hinge.fusion.quiet_bias import _K_COUNT, _K_HIST, _K_HISTORY, _Q_PEND_CAP, _Q_PEND_N, _W_LEN
    from imu_hinge.fusion.vqf_filter import VqfFilter

    f = VqfFilter(100.0, quiet_bias_est_enabled=True)
    f.reset(np.array([0.0, 0.0, 9.81]), np.zeros(3))
    assert f._quiet is not None
    gyr, acc = np.zeros((10, 3)), np.tile([0.0, 0.0, 9.81], (10, 1))
    plan, n_ends = f._planner.run(gyr, acc, np.full(10, 0.01))
    st, k, pend = f._quiet.run_args()

    def run(st: np.ndarray, k: np.ndarray, pend: np.ndarray, plan: np.ndarray = plan, vqf: object = f._vqf) -> int:
        return _fusion_loops.quiet_run(vqf, gyr, acc, plan, np.empty((10, 4)), n_ends, 0, False, st, k, pend)

    for history, size, count in ((9, 8, 0), (0, 8, 0), (8, 8, 9), (8, 8, -1)):
        bad = np.zeros(_K_HIST + size * _W_LEN)
        bad[:_K_HIST] = k[:_K_HIST]
        bad[_K_HISTORY], bad[_K_COUNT] = history, count
        with pytest.raises(ValueError, match="do not match"):
            run(st, bad, pend)
    room = int(st[_Q_PEND_CAP])
    with pytest.raises(ValueError, match="do not match"):
        run(st, k, pend[:-1])
    over = st.copy()
    over[_Q_PEND_N] = room + 1
    with pytest.raises(ValueError, match="do not match"):
        run(over, k, pend)
    for ends in ([5.0, 3.0], [11.0]):  # backwards; past the block
        bad_plan = plan.copy()
        bad_plan[:len(ends), 5] = ends
        with pytest.raises(ValueError, match="do not fit"):
            _fusion_loops.quiet_run(f._vqf, gyr, acc, bad_plan, np.empty((10, 4)), len(ends), 0, False, st, k, pend)
    with pytest.raises(ValueError):
        run(st, k, pend, vqf=_fusion_loops.vqf_new.__self__)  # not a capsule
    assert run(st, k, pend) == -1  # the filter's own state: the block runs (no gap)

