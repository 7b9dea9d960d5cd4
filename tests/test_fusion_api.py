"""estimate_orientation's public contract on its inputs (contracts §5)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from imu_hinge.errors import UsageError
from imu_hinge.fusion import METHODS, estimate_orientation, make_filter


def test_time_stamps_of_another_length_are_refused_with_both_counts() -> None:
    gyr = np.zeros((100, 3))
    acc = np.tile([0.0, 0.0, 9.81], (100, 1))
    with pytest.raises(UsageError, match=r"time_s must have 100 entries, got 99$"):
        estimate_orientation(gyr, acc, 100.0, time_s=np.arange(99) / 100.0)


@pytest.mark.parametrize("start_s", [0.0, 1000.0, -30.0])
@pytest.mark.parametrize("method", ["vqf", "madgwick", "mahony", "ekf"])
def test_even_time_stamps_give_the_nominal_rate_result(method: str, start_s: float) -> None:
    """Samples exactly 1/rate apart: the same orientations as without time stamps (the same intervals, the first
    sample's one nominal period too: the filters that integrate over dt would otherwise turn it backwards), whether
    the clock starts at 0, the samples are an excerpt stamped from 1000 s on, or they are stamped from -30 s
    (times counted from an event, a start signal): the first interval is one period, not a gap."""
    rng = np.random.default_rng(3)
    gyr = 0.3 * rng.standard_normal((200, 3))
    acc = np.tile([0.0, 0.0, 9.81], (200, 1)) + 0.2 * rng.standard_normal((200, 3))
    plain = estimate_orientation(gyr, acc, 100.0, method=method)
    stamped = estimate_orientation(gyr, acc, 100.0, method=method, time_s=start_s + np.arange(200) / 100.0)
    np.testing.assert_allclose(stamped, plain, atol=1e-9)


def _tilted_acc(norm_m_s2: float, tilt_deg: float = 20.0) -> np.ndarray:
    """An accelerometer reading of size ``norm_m_s2`` along "up" tilted ``tilt_deg`` about the sensor's x axis."""
    a = np.radians(tilt_deg)
    return norm_m_s2 * np.array([0.0, np.sin(a), np.cos(a)])


def _tilt_deg(q: np.ndarray) -> float:
    from imu_hinge.fusion import up_in_sensor

    up = up_in_sensor(q)
    return float(np.degrees(np.arctan2(up[1], up[2])))


@pytest.mark.parametrize("method", ["vqf", "madgwick", "mahony", "ekf"])
def test_the_start_takes_gravity_direction_from_a_weak_reading(method: str) -> None:
    """Only the direction of gravity sets the start: a reading of 0.8 m/s^2 (a sensor in free fall, or one
    reporting in g) tilted 20 deg starts the filter at 20 deg, given to reset() or as the first sample."""
    from imu_hinge.fusion import make_filter

    acc = _tilted_acc(0.8)
    f = make_filter(method, 100.0)
    f.reset(acc)
    # measured 20.000 deg (madgwick 19.991: its first step normalises a zero gradient, also at 9.81 m/s^2)
    assert _tilt_deg(f.update(np.zeros(3), acc)) == pytest.approx(20.0, abs=0.015)
    f = make_filter(method, 100.0)
    assert _tilt_deg(f.update(np.zeros(3), acc)) == pytest.approx(20.0, abs=0.015)


@pytest.mark.parametrize("method", ["vqf", "madgwick", "mahony", "ekf"])
def test_an_empty_first_sample_starts_level_and_gravity_then_takes_over(method: str) -> None:
    """A first packet of zeros (no direction in it) starts the filter level, heading kept (the identity
    quaternion); the real gravity that follows (tilted 20 deg) then pulls it over at the filter's own pace
    (after 5 s measured: madgwick 5.7, mahony 7.8, ekf 19.96, vqf 20.0 deg)."""
    from imu_hinge.fusion import make_filter

    f = make_filter(method, 100.0)
    np.testing.assert_allclose(f.update(np.zeros(3), np.zeros(3)), [1.0, 0.0, 0.0, 0.0], atol=1e-12)
    acc = _tilted_acc(9.81)
    for _ in range(500):
        q = f.update(np.zeros(3), acc)
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-9)
    assert 5.0 < _tilt_deg(q) < 20.05


def test_ekf_initial_uncertainty_sets_how_fast_a_wrong_start_is_left() -> None:
    """``p0`` is the EKF's initial state covariance (identity times p0): started level on a sensor tilted
    20 deg, a large one (1, "the start is unknown") reaches the true tilt within 0.1 s, a small one (1e-4,
    "trust the start") stays at the start over that time."""
    from imu_hinge.fusion import make_filter

    acc = _tilted_acc(9.81)
    tilt = {}
    for p0 in (1.0, 1e-4):
        f = make_filter("ekf", 100.0, p0=p0)
        f.reset(np.array([0.0, 0.0, 9.81]))
        for _ in range(10):
            q = f.update(np.zeros(3), acc)
        tilt[p0] = _tilt_deg(q)
    assert tilt[1.0] > 17.5, tilt  # measured 18.16 deg of 20
    assert abs(tilt[1e-4]) < 0.05, tilt  # measured 0.022 deg


@pytest.mark.parametrize("bad", [{"var_gyr": 0.0}, {"var_acc": 0.0}, {"p0": 0.0}, {"var_gyr": -1.0},
                                 {"var_acc": -1.0}, {"p0": -1.0}])
def test_ekf_refuses_a_noise_or_uncertainty_that_is_not_positive(bad: dict[str, float]) -> None:
    """A variance of 0 (or below) would make the EKF trust one input absolutely: refused in one line, naming it."""
    from imu_hinge.fusion import make_filter

    with pytest.raises(UsageError, match="var_gyr, var_acc, p0 must be positive"):
        make_filter("ekf", 100.0, **bad)


@pytest.mark.parametrize(("method", "bad", "says"), [("madgwick", {"gain": 0.0}, "gain must be positive"),
                                                     ("mahony", {"k_p": 0.0}, "k_p must be positive"),
                                                     ("mahony", {"k_p": -0.5}, "k_p must be positive"),
                                                     ("mahony", {"k_i": -0.01}, "k_i non-negative")])
def test_madgwick_and_mahony_refuse_gains_out_of_range(method: str, bad: dict[str, float], says: str) -> None:
    from imu_hinge.fusion import make_filter

    with pytest.raises(UsageError, match=says):
        make_filter(method, 100.0, **bad)


def test_default_mahony_leaves_the_bias_to_the_calibration() -> None:
    """Mahony's default has no integral term (k_i = 0: the stance calibration gives the bias): under a gyro
    bias of 0.5 deg/s it estimates none; with k_i = 0.03 it learns it (measured 0.525 deg/s after 60 s)."""
    from imu_hinge.fusion import make_filter

    bias = np.radians([0.5, 0.0, 0.0])
    acc = _tilted_acc(9.81)
    learned = {}
    for params in ({}, {"k_i": 0.03}):
        f = make_filter("mahony", 100.0, **params)
        f.reset(acc)
        for _ in range(6000):
            f.update(bias, acc)
        learned[params.get("k_i", 0.0)] = np.degrees(np.linalg.norm(f.gyr_bias_rad_s))
    assert learned[0.0] == 0.0 and abs(learned[0.03] - 0.5) < 0.04, learned


@pytest.mark.parametrize("left_out", ["reset", "update", "gyr_bias_rad_s"])
def test_a_new_filter_must_implement_the_whole_interface(left_out: str) -> None:
    """docs/architecture.md: a new filter implements ``OrientationFilter``: ``reset``, ``update`` and the
    ``gyr_bias_rad_s`` property (update_batch comes with it). One left out: the class cannot be made."""
    import inspect

    from imu_hinge.fusion.base import OrientationFilter

    members = {
        "reset": lambda self, acc_m_s2=None, gyr_bias_rad_s=None: None,
        "update": lambda self, gyr_rad_s, acc_m_s2, dt_s=None: np.array([1.0, 0.0, 0.0, 0.0]),
        "gyr_bias_rad_s": property(lambda self: np.zeros(3)),
    }
    complete = type("Complete", (OrientationFilter,), dict(members))(100.0)
    assert complete.update_batch(np.zeros((3, 3)), np.ones((3, 3))).shape == (3, 4)
    assert isinstance(inspect.getattr_static(OrientationFilter, "gyr_bias_rad_s"), property)
    partial = type("Partial", (OrientationFilter,), {k: v for k, v in members.items() if k != left_out})
    with pytest.raises(TypeError, match=left_out):
        partial(100.0)


def test_vqf_defaults_are_vqfs_own() -> None:
    """VqfParams says it keeps vqf's defaults (nothing measured better): every parameter passed on to vqf
    equals what vqf itself uses when given none. They are frozen."""
    import dataclasses

    import vqf

    from imu_hinge.fusion.vqf_filter import VqfParams

    own = vqf.VQF(0.01).params
    for key, value in VqfParams().to_vqf().items():
        assert value == own[key], key
    with pytest.raises(dataclasses.FrozenInstanceError):  # parameters, apart from the filter's state
        VqfParams().tau_acc_s = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("rate_hz", [0.0, -100.0, float("nan"), float("inf")])
def test_a_rate_that_is_not_positive_and_finite_is_refused(rate_hz: float) -> None:
    from imu_hinge.fusion import make_filter

    with pytest.raises(UsageError, match="rate_hz must be positive"):
        make_filter("madgwick", rate_hz)


@pytest.mark.parametrize("method", ["madgwick", "mahony"])
def test_only_the_first_sample_starts_a_filter_not_given_gravity(method: str) -> None:
    """Started from its first sample (level), a filter then approaches a 20 deg tilt at its own slow pace (gain
    0.01 / k_p 0.1: measured 0.11 and 0.20 deg after 0.1 s): later samples never restart it."""
    from imu_hinge.fusion import make_filter

    f = make_filter(method, 100.0)
    f.update(np.zeros(3), np.array([0.0, 0.0, 9.81]))
    acc = _tilted_acc(9.81)
    for _ in range(10):
        q = f.update(np.zeros(3), acc)
    assert 0.05 < _tilt_deg(q) < 0.3


@pytest.mark.parametrize(("gyr_shape", "acc_shape"), [((100, 3), (99, 3)), ((100, 2), (100, 2)), ((100, 3), (100, 4)),
                                                     ((3,), (3,)), ((4, 3, 3), (4, 3, 3))])
def test_gyro_and_accelerometer_arrays_of_other_shapes_are_refused_with_both_shapes(
        gyr_shape: tuple[int, ...], acc_shape: tuple[int, ...]) -> None:
    """Arrays that are not (N, 3) samples, also one sample given flat (3,) or a stack of (4, 3, 3), are refused
    with both shapes (not a numpy error from deep in the filter)."""
    with pytest.raises(UsageError, match=rf"must both have shape \(N, 3\), got {re.escape(str(gyr_shape))}, "
                                         rf"{re.escape(str(acc_shape))}$"):
        estimate_orientation(np.zeros(gyr_shape), np.full(acc_shape, 5.0), 100.0)


@pytest.mark.parametrize("acc0", [[0.0, 0.0, 0.0], [np.inf, 0.0, 0.0], [np.nan, 0.0, 9.81]])
def test_a_starting_gravity_that_is_zero_or_not_finite_is_refused(acc0: list[float]) -> None:
    with pytest.raises(UsageError, match="acc_m_s2 for the initial orientation must be finite, non-zero"):
        estimate_orientation(np.zeros((10, 3)), np.tile([0.0, 0.0, 9.81], (10, 1)), 100.0, acc0_m_s2=np.array(acc0))


@pytest.mark.parametrize("method", ["madgwick", "mahony", "ekf"])
@pytest.mark.parametrize("bias", [[0.1, 0.2], [0.1, 0.2, 0.3, 0.4], [0.1, np.nan, 0.3]])
def test_a_known_gyro_bias_that_is_not_three_finite_numbers_is_refused(method: str, bias: list[float]) -> None:
    with pytest.raises(UsageError, match=f"fusion method '{method}': gyr_bias_rad_s must be 3 finite numbers"):
        estimate_orientation(np.zeros((10, 3)), np.tile([0.0, 0.0, 9.81], (10, 1)), 100.0, method,
                             gyr_bias_rad_s=np.array(bias))


def test_the_method_names_are_the_filter_classes_names() -> None:
    from imu_hinge.fusion import METHODS, filter_classes

    assert METHODS == tuple(filter_classes()) and {cls.name for cls in filter_classes().values()} == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_a_block_of_one_sample_takes_its_interval_as_a_scalar_and_any_positive_rate_is_accepted(method: str) -> None:
    """The live driver's block of one sample may pass its interval as a 0-d value: the same as a (1,) array.
    Any positive rate is a rate (a slow logger at 0.5 Hz); zero is not."""
    g, a = np.array([[0.3, -0.1, 0.2]]), np.array([[0.5, 0.2, 9.7]])
    outs = []
    for dt in (np.float64(0.013), np.array([0.013])):
        f = make_filter(method, 100.0)
        f.reset(np.array([0.0, 0.0, 9.81]), None)
        outs.append(f.update_batch(g, a, dt))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert make_filter(method, 0.5).rate_hz == 0.5
    with pytest.raises(UsageError, match="rate_hz must be positive"):
        make_filter(method, 0.0)


def test_ekf_gyro_noise_default_is_ahrs_own() -> None:
    """EkfFilter keeps ahrs' gyroscope noise variance (0.3^2, its documented default) and passes it on; only
    the accelerometer's was tuned (on the BROAD trials: the class docstring)."""
    from ahrs.filters import EKF

    from imu_hinge.fusion.ahrs_filters import EkfFilter

    ekf = EkfFilter(100.0)
    assert ekf.var_gyr == float(EKF().g_noise) and float(ekf._ahrs.g_noise) == ekf.var_gyr


def test_ekf_defaults_are_the_documented_tuning() -> None:
    """The EKF's defaults are what its docstring documents and was tuned with on the BROAD trials: var_acc 4
    (inclination RMSE 1.30 deg there) and p0 1 ("the start is unknown"): the default filter and one given
    those values explicitly turn out the same orientations, started level on a tilted, turning sensor."""
    rng = np.random.default_rng(11)
    gyr = 0.4 * rng.standard_normal((300, 3))
    acc = np.tile(_tilted_acc(9.81, 30.0), (300, 1)) + 0.5 * rng.standard_normal((300, 3))
    level = np.array([0.0, 0.0, 9.81])
    default = estimate_orientation(gyr, acc, 100.0, "ekf", acc0_m_s2=level)
    explicit = estimate_orientation(gyr, acc, 100.0, "ekf", acc0_m_s2=level, var_gyr=0.3 ** 2, var_acc=4.0, p0=1.0)
    np.testing.assert_array_equal(default, explicit)
    for other in ({"var_acc": 5.0}, {"p0": 2.0}):  # and each value shows in the result
        assert np.abs(estimate_orientation(gyr, acc, 100.0, "ekf", acc0_m_s2=level, **other) - default).max() > 1e-4


def test_samples_with_more_than_three_axes_are_refused() -> None:
    """(N, 4) arrays (a quaternion or a time column passed by mistake) are not gyro and accelerometer samples."""
    g = np.zeros((10, 4))
    with pytest.raises(UsageError, match=r"must both have shape \(N, 3\), got \(10, 4\), \(10, 4\)"):
        estimate_orientation(g, g + [0.0, 0.0, 9.81, 0.0], 100.0)


def test_the_offline_filter_takes_a_static_calibration_bias_off_the_gyro() -> None:
    """vqf_offline given a known gyro bias (a static calibration) gives what it gives for the gyro with the bias
    already taken off, and reports that bias plus its own estimate (none to find in bias-free data)."""
    rng = np.random.default_rng(2)
    n = 2000
    gyr = 0.3 * np.sin(np.linspace(0, 12, n))[:, None] * np.array([1.0, 0.5, -0.3]) + rng.normal(0, 0.01, (n, 3))
    acc = np.tile([0.0, 0.0, 9.81], (n, 1)) + rng.normal(0, 0.05, (n, 3))
    bias = np.array([0.02, -0.01, 0.015])
    given, plain = make_filter("vqf_offline", 100.0), make_filter("vqf_offline", 100.0)
    given.reset(None, bias)
    plain.reset(None, None)
    np.testing.assert_allclose(given.update_batch(gyr + bias, acc), plain.update_batch(gyr, acc), rtol=0, atol=1e-9)
    np.testing.assert_allclose(given.gyr_bias_rad_s - bias, plain.gyr_bias_rad_s, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("method", "options"), [("vqf", {}), ("vqf", {"quiet_bias_est_enabled": True}),
                                                  ("madgwick", {}), ("mahony", {}), ("ekf", {})])
def test_a_block_of_no_samples_gives_no_orientations_and_changes_nothing(method: str, options: dict) -> None:
    """A live poll that brought no samples: an empty (0, 4) block, with or without intervals, and a causal
    filter goes on as if it had not been called (the same orientations as in one block without the empty ones;
    the offline filter takes each batch on its own)."""
    rng = np.random.default_rng(9)
    gyr = 0.3 * rng.standard_normal((100, 3))
    acc = np.tile([0.0, 0.0, 9.81], (100, 1)) + 0.2 * rng.standard_normal((100, 3))
    plain, gapped = make_filter(method, 100.0, **options), make_filter(method, 100.0, **options)
    for f in (plain, gapped):
        f.reset(np.array([0.0, 0.0, 9.81]), np.zeros(3))
    want = plain.update_batch(gyr, acc)
    none = np.zeros((0, 3))
    assert gapped.update_batch(none, none).shape == (0, 4)
    first = gapped.update_batch(gyr[:50], acc[:50])
    assert gapped.update_batch(none, none, np.zeros(0)).shape == (0, 4)
    np.testing.assert_array_equal(np.vstack([first, gapped.update_batch(gyr[50:], acc[50:])]), want)


def test_the_offline_filter_takes_a_block_of_no_samples() -> None:
    """A batch of no samples, with or without intervals: no orientations, no error, the bias estimate kept."""
    f = make_filter("vqf_offline", 100.0)
    none = np.zeros((0, 3))
    assert f.update_batch(none, none).shape == (0, 4)
    assert f.update_batch(none, none, np.zeros(0)).shape == (0, 4)
    np.testing.assert_array_equal(f.gyr_bias_rad_s, np.zeros(3))


def test_mahony_bridges_a_gap_with_the_bias_it_learnt() -> None:
    """Mahony with its integral term (k_i) on a still, level sensor whose gyro reads an uncalibrated bias across
    gravity (0.04, -0.03 rad/s): after 2 min it has learnt that bias, and a 2 s gap is bridged with it taken off,
    so the orientation does not jump (measured 0.0 deg; turned by the raw reading it would tilt 5.7 deg)."""
    bias = np.array([0.04, -0.03, 0.0])
    level = np.array([0.0, 0.0, 9.81])
    f = make_filter("mahony", 100.0, k_p=0.3, k_i=0.03)
    f.reset(level)
    before = f.update_batch(np.tile(bias, (12000, 1)), np.tile(level, (12000, 1)))[-1]
    np.testing.assert_allclose(f.gyr_bias_rad_s, bias, atol=1e-4)
    after = f.update(bias, level, 2.0)
    assert abs(_tilt_deg(after)) < 0.05 and abs(float(np.dot(before, after))) > np.cos(np.radians(0.05) / 2)


@pytest.mark.parametrize("options", [{}, {"quiet_bias_est_enabled": True}])
def test_a_gap_at_the_start_of_a_block_is_bridged_from_the_last_block_s_last_gyro(options: dict) -> None:
    """A turning sensor (rates changing sample to sample) with a 0.3 s gap: split into blocks right at the gap (the
    sample ending it first in its block, as live polls may bring it), the orientations are those of one block:
    the gap is bridged from the last gyro reading before it, kept from the earlier block."""
    rng = np.random.default_rng(12)
    n = 200
    gyr = np.cumsum(0.05 * rng.standard_normal((n, 3)), axis=0)
    acc = np.tile([0.0, 0.0, 9.81], (n, 1)) + 0.2 * rng.standard_normal((n, 3))
    dt = np.full(n, 0.01)
    dt[120] = 0.3
    one, split = make_filter("vqf", 100.0, **options), make_filter("vqf", 100.0, **options)
    for f in (one, split):
        f.reset(np.array([0.0, 0.0, 9.81]), np.zeros(3))
    want = one.update_batch(gyr, acc, dt)
    got = np.vstack([split.update_batch(gyr[:120], acc[:120], dt[:120]),
                     split.update_batch(gyr[120:], acc[120:], dt[120:])])
    np.testing.assert_array_equal(got, want)


def test_time_that_runs_backwards_is_refused_with_the_sample() -> None:
    """Stamps out of order would run the quiet-window estimator's clock backwards (its bias uncertainty would
    shrink by a negative random walk) and skip gap bridging: refused, naming the sample, in the API's own
    words; equal stamps (a burst stamped on arrival) are time standing still and pass."""
    n = 50
    gyr, acc = np.zeros((n, 3)), np.tile([0.0, 0.0, 9.81], (n, 1))
    t = np.arange(n) / 100.0
    t[30] = t[28]  # sample 30 stamped before sample 29
    with pytest.raises(UsageError, match=r"time_s must not decrease: sample 30 at 0\.28 s comes after 0\.29 s"):
        estimate_orientation(gyr, acc, 100.0, time_s=t)
    t[30] = t[29]
    assert estimate_orientation(gyr, acc, 100.0, time_s=t).shape == (n, 4)


@pytest.mark.parametrize(("method", "options"), [("vqf", {"quiet_bias_est_enabled": True}), ("vqf", {}),
                                                 ("madgwick", {}), ("ekf", {})])
def test_a_negative_step_is_refused_by_every_causal_filter(method: str, options: dict) -> None:
    filt = make_filter(method, 100.0, **options)
    dt = np.full(6, 0.01)
    dt[4] = -0.01
    with pytest.raises(ValueError, match=r"dt_s must not be negative \(time runs forward\): entry 4 is -0\.01 s"):
        filt.update_batch(np.zeros((6, 3)), np.tile([0.0, 0.0, 9.81], (6, 1)), dt)
    with pytest.raises(ValueError, match=r"entry 1 is -0\.01 s"):  # a block of two
        filt.update_batch(np.zeros((2, 3)), np.tile([0.0, 0.0, 9.81], (2, 1)), np.array([0.01, -0.01]))
    with pytest.raises(ValueError, match=r"entry 0 is -0\.01 s"):  # a block of one sample (the live driver's)
        filt.update_batch(np.zeros((1, 3)), np.array([[0.0, 0.0, 9.81]]), np.array([-0.01]))
    with pytest.raises(ValueError, match=r"entry 0 is -0\.01 s"):  # one sample
        filt.update(np.zeros(3), np.array([0.0, 0.0, 9.81]), -0.01)
