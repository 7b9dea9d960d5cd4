"""imu_hinge.fusion: every method against physics (synthetic) and against BROAD optical ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imu_hinge.fusion as fusion
from imu_hinge.errors import UsageError
from imu_hinge.fusion import (
    METHODS,
    OfflineVqf,
    estimate_orientation,
    make_filter,
    quat_from_gravity,
    up_in_sensor,
)
from imu_hinge.fusion.base import gap_rate, integrate_gyr

G_M_S2 = 9.81
CAUSAL = tuple(m for m in METHODS if m != "vqf_offline")
BROAD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "broad"


def incl_err_deg(q_est: np.ndarray, q_true: np.ndarray) -> np.ndarray:
    """Angle (N,) deg between estimated and true "up" in the sensor frame; NaN where the truth is NaN."""
    u1, u2 = up_in_sensor(q_est), up_in_sensor(q_true)
    cos = np.sum(u1 * u2, axis=-1) / np.linalg.norm(u1, axis=-1) / np.linalg.norm(u2, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def rms(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x ** 2)))


def simulate(rate_hz: float, duration_s: float, omega_fn, q0: np.ndarray, bias_rad_s=(0.0, 0.0, 0.0),
             gyr_noise: float = 0.005, acc_noise: float = 0.02, seed: int = 0):
    """Synthetic IMU without linear acceleration: (time_s, gyr, acc, q_true), rates in the sensor frame."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate_hz))
    t = np.arange(n) / rate_hz
    omega = np.array([omega_fn(ti) for ti in t]).reshape(n, 3)
    q = np.empty((n, 4))
    qk = np.asarray(q0, dtype=float)
    for k in range(n):
        if k:
            qk = integrate_gyr(qk, omega[k], 1.0 / rate_hz)
        q[k] = qk
    gyr = omega + np.asarray(bias_rad_s) + gyr_noise * rng.standard_normal((n, 3))
    acc = G_M_S2 * up_in_sensor(q) + acc_noise * rng.standard_normal((n, 3))
    return t, gyr, acc, q


def wobble(t: float) -> np.ndarray:
    """Smooth multi-axis motion, rad/s."""
    return np.array([0.5 * np.sin(2 * np.pi * 0.2 * t), 1.0 * np.sin(2 * np.pi * 0.3 * t),
                     0.3 * np.cos(2 * np.pi * 0.1 * t)])


def with_gaps(n: int, seed: int = 1) -> np.ndarray:
    """Indices kept after dropping ~10 % of samples in runs of 2-20."""
    rng = np.random.default_rng(seed)
    keep = np.ones(n, dtype=bool)
    for start in rng.choice(np.arange(50, n - 30), size=max(1, n // 200), replace=False):
        keep[start:start + rng.integers(2, 21)] = False
    return np.flatnonzero(keep)


# --- API ---------------------------------------------------------------------------------------------

def test_public_api():
    assert set(fusion.__all__) <= set(dir(fusion))
    assert {"vqf", "vqf_offline", "madgwick", "mahony", "ekf"} == set(METHODS)
    assert fusion.DEFAULT_METHOD == "vqf"


def test_unknown_method_and_parameter():
    with pytest.raises(UsageError, match="choose one of: vqf, vqf_offline, madgwick, mahony, ekf"):
        make_filter("kalman", 100.0)
    with pytest.raises(UsageError) as exc:
        estimate_orientation(np.zeros((3, 3)), np.ones((3, 3)), 100.0, method="nope")
    assert "\n" not in str(exc.value)
    for method in METHODS:
        with pytest.raises(UsageError):
            make_filter(method, 100.0, no_such_gain=1.0)
    with pytest.raises(UsageError):
        make_filter("vqf", -5.0)


def test_offline_is_batch_only():
    filt = make_filter("vqf_offline", 100.0)
    assert isinstance(filt, OfflineVqf)
    with pytest.raises(UsageError, match="batch-only"):
        filt.update(np.zeros(3), np.array([0.0, 0.0, G_M_S2]))


# --- identical per-sample and batch ------------------------------------------------------------------

@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("method", CAUSAL)
def test_batch_identical_to_per_sample(method, gaps):
    n = 4000 if method == "vqf" else 600
    t, gyr, acc, _ = simulate(100.0, n / 100.0, wobble, quat_from_gravity(np.array([0.3, -0.5, 1.0])),
                              bias_rad_s=(0.01, -0.02, 0.005))
    dt = None
    if gaps:
        keep = with_gaps(n)
        t, gyr, acc = t[keep], gyr[keep], acc[keep]
        dt = np.diff(t, prepend=t[0] - 0.01)
        assert dt.max() > 0.02
    one, many = make_filter(method, 100.0), make_filter(method, 100.0)
    for filt in (one, many):
        filt.reset(acc[:20].mean(axis=0), np.array([0.01, -0.02, 0.0]))
    q_one = np.array([one.update(gyr[i], acc[i], None if dt is None else float(dt[i])) for i in range(len(t))])
    q_many = many.update_batch(gyr, acc, dt)
    assert np.array_equal(q_one, q_many)
    assert np.array_equal(one.gyr_bias_rad_s, many.gyr_bias_rad_s)
    assert np.allclose(np.linalg.norm(q_many, axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("shape", [(1, -1), (-1, 1)])
def test_vqf_reads_sample_intervals_of_any_shape_with_one_entry_a_sample(shape):
    """``dt_s`` as a (1, N) row or an (N, 1) column: the same intervals, the same quaternions as (N,)."""
    t, gyr, acc, _ = simulate(100.0, 6.0, wobble, quat_from_gravity(np.array([0.3, -0.5, 1.0])),
                              bias_rad_s=(0.01, -0.02, 0.005))
    keep = with_gaps(len(t))
    t, gyr, acc = t[keep], gyr[keep], acc[keep]
    dt = np.diff(t, prepend=t[0] - 0.01)
    flat, shaped = make_filter("vqf", 100.0), make_filter("vqf", 100.0)
    assert np.array_equal(flat.update_batch(gyr, acc, dt), shaped.update_batch(gyr, acc, dt.reshape(shape)))


def test_batch_in_chunks_continues_state():
    t, gyr, acc, _ = simulate(100.0, 30.0, wobble, np.array([1.0, 0.0, 0.0, 0.0]))
    whole = make_filter("vqf", 100.0).update_batch(gyr, acc)
    filt = make_filter("vqf", 100.0)
    parts = np.vstack([filt.update_batch(gyr[:1234], acc[:1234]), filt.update_batch(gyr[1234:], acc[1234:])])
    assert np.array_equal(whole, parts)


# --- physics -----------------------------------------------------------------------------------------

UPS = {
    "flat": [0, 0, 1], "upside_down": [0, 0, -1], "x_up": [1, 0, 0], "minus_x_up": [-1, 0, 0],
    "y_up": [0, 1, 0], "minus_y_up": [0, -1, 0], "oblique": [0.4, -0.7, -0.6], "nearly_down": [1e-4, 0, -1],
}


@pytest.mark.parametrize("up", list(UPS), ids=list(UPS))
@pytest.mark.parametrize("method", METHODS)
def test_static_any_orientation(method, up):
    u = np.array(UPS[up], dtype=float)
    u /= np.linalg.norm(u)
    rng = np.random.default_rng(3)
    n = 300
    acc = G_M_S2 * u + 0.02 * rng.standard_normal((n, 3))
    gyr = 0.002 * rng.standard_normal((n, 3))
    for acc0 in (None, acc[:50].mean(axis=0)):
        q = estimate_orientation(gyr, acc, 100.0, method, acc0_m_s2=acc0)
        assert q.shape == (n, 4)
        assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-9)
        err = np.degrees(np.arccos(np.clip(up_in_sensor(q) @ u, -1, 1)))
        assert err[-100:].max() < 1.0, (method, up, acc0 is None, err[-100:].max())


def test_vqf_starts_aligned_with_known_bias():
    u = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    bias = np.array([0.02, -0.01, 0.03])
    filt = make_filter("vqf", 200.0)
    filt.reset(G_M_S2 * u, bias)
    assert np.allclose(filt.gyr_bias_rad_s, bias)
    q = filt.update(bias, G_M_S2 * u)
    assert np.degrees(np.arccos(min(1.0, float(up_in_sensor(q) @ u)))) < 0.01


@pytest.mark.parametrize("method", ["vqf", "madgwick", "mahony", "ekf"])
def test_a_known_bias_is_taken_off_every_sample(method: str) -> None:
    """Still and tilted for 1 s, the gyro reading only its bias (given to reset): "up" stays put (measured
    max 0.006 deg for madgwick, 1e-6 for the others; the bias added instead of taken off turns it ~2 deg)."""
    u = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    bias = np.array([0.02, -0.01, 0.03])
    filt = make_filter(method, 100.0)
    filt.reset(G_M_S2 * u, bias)
    q = filt.update_batch(np.tile(bias, (100, 1)), np.tile(G_M_S2 * u, (100, 1)))
    assert np.degrees(np.arccos(np.clip(up_in_sensor(q) @ u, -1, 1))).max() < 0.05


@pytest.mark.parametrize("method", ["madgwick", "mahony"])
def test_ahrs_corrects_with_exactly_zero_gyro(method):
    """ahrs updateIMU skips the acc correction on a zero gyro sample; the wrapper must not."""
    u = np.array([0.0, np.sin(0.5), np.cos(0.5)])  # tilted ~29 deg
    n = 3000
    q = estimate_orientation(np.zeros((n, 3)), np.tile(G_M_S2 * u, (n, 1)), 100.0, method,
                             acc0_m_s2=np.array([0.0, 0.0, G_M_S2]))
    err = np.degrees(np.arccos(np.clip(up_in_sensor(q) @ u, -1, 1)))
    assert err[-1] < 0.5 * err[0]


def test_vqf_constant_rotation_with_bias():
    """30 deg/s about a tilted axis, 1 deg/s-class gyro bias: vqf estimates it and keeps inclination."""
    axis = np.array([1.0, 0.0, 1.0]) / np.sqrt(2)
    bias = np.array([0.015, -0.02, 0.01])
    t, gyr, acc, q_true = simulate(100.0, 90.0, lambda _t: np.radians(30.0) * axis,
                                   np.array([1.0, 0.0, 0.0, 0.0]), bias_rad_s=bias)
    q = estimate_orientation(gyr, acc, 100.0, "vqf")
    err = incl_err_deg(q, q_true)
    assert rms(err[t > 30]) < 1.0
    naive = estimate_orientation(gyr - bias, acc, 100.0, "vqf")
    assert rms(incl_err_deg(naive, q_true)[t > 30]) < 1.0


@pytest.mark.parametrize("method", METHODS)
def test_gaps_bridged(method):
    """Dropping ~10 % of samples (runs of 2-20) barely changes the inclination when time_s is given;
    ignoring the gaps (no time_s) is clearly worse."""
    duration = 60.0 if method.startswith("vqf") else 30.0
    t, gyr, acc, q_true = simulate(100.0, duration, wobble, quat_from_gravity(np.array([0.5, 0.2, 1.0])),
                                   bias_rad_s=(0.005, -0.005, 0.0))
    full = estimate_orientation(gyr, acc, 100.0, method, acc0_m_s2=acc[0])
    keep = with_gaps(len(t))
    dropped = estimate_orientation(gyr[keep], acc[keep], 100.0, method, time_s=t[keep], acc0_m_s2=acc[0])
    blind = estimate_orientation(gyr[keep], acc[keep], 100.0, method, acc0_m_s2=acc[0])
    late = t[keep] > 5.0
    err_full = rms(incl_err_deg(full[keep], q_true[keep])[late])
    err_dropped = rms(incl_err_deg(dropped, q_true[keep])[late])
    err_blind = rms(incl_err_deg(blind, q_true[keep])[late])
    assert err_dropped < err_full + (0.5 if method == "vqf_offline" else 0.2), (err_full, err_dropped)
    assert 2 * err_dropped < err_blind, (err_dropped, err_blind)


def _ekf_after_rest(var_gyr: float) -> fusion.EkfFilter:
    """An EKF that has filtered 0.5 s at rest, tilted: its state covariance is no longer isotropic
    (the accelerometer shrank the tilt directions, not the heading)."""
    ekf = fusion.EkfFilter(100.0, var_gyr=var_gyr, var_acc=0.01, p0=0.01)
    up = np.array([0.5, -0.3, 1.0])
    acc = G_M_S2 * up / np.linalg.norm(up)
    ekf.reset(acc)
    for _ in range(50):
        ekf.update(np.zeros(3), acc)
    return ekf


def _hamilton(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products a * b of quaternion rows (..., 4), written out for the test."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def test_a_gap_is_bridged_at_the_mean_of_a_rate_ramping_linearly_across_it():
    """A 0.5 s gap at 100 Hz whose rate ramps linearly from 0 (the sample before) to (1, -2, 0.5) rad/s (the
    sample ending it): its missing part (the first 0.49 s; the last sample covers its own 0.01 s) turns at the
    ramp's mean over that part, found here by integrating the ramp numerically."""
    end_rate = np.array([1.0, -2.0, 0.5])
    t = np.linspace(0.0, 0.49, 49_001)
    ramp = t[:, None] / 0.5 * end_rate[None, :]
    mean_rate = np.trapezoid(ramp, t, axis=0) / 0.49
    assert np.allclose(gap_rate(np.zeros(3), end_rate, 0.5, 0.01), mean_rate, atol=1e-9)  # measured 0.49 x end
    assert np.array_equal(gap_rate(None, end_rate, 0.5, 0.01), end_rate)  # nothing before: the rate is held


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("extra", [-1, 1])
def test_batch_refuses_intervals_of_another_length(method, extra):
    """dt_s must have one entry per sample: one fewer or one more is refused, naming both counts."""
    filt = make_filter(method, 100.0)
    with pytest.raises((ValueError, UsageError), match=r"dt_s must have 50 entries, got " + str(50 + extra)):
        filt.update_batch(np.zeros((50, 3)), np.tile([0.0, 0.0, 9.81], (50, 1)), np.full(50 + extra, 0.01))


def test_ekf_gap_turns_its_covariance_with_the_rotation():
    """A gap bridged by a known rotation dq (noise-free gyro) moves the state q -> q * dq, a linear
    map: the state covariance P must become F P F^T with F that map (built here from the Hamilton
    product of each basis quaternion with dq), neither grown nor shrunk nor turned the wrong way."""
    ekf = _ekf_after_rest(var_gyr=1e-16)
    p_before = np.array(ekf._ahrs.P)
    eig = np.linalg.eigvalsh(p_before)
    assert eig[-1] > 3 * eig[0], eig  # anisotropic (measured 5e-5 .. 1e-2), or a wrong turn would not show
    gyr = np.array([0.8, -1.5, 0.6])  # 0.6 s of it: a 1.08 rad turn
    dq = fusion.base.quat_from_rate(gyr, 0.6)
    f_true = _hamilton(np.identity(4), dq).T  # column k: e_k * dq
    q_before = ekf.q.copy()
    ekf._bridge_gap(gyr, 0.6)
    np.testing.assert_allclose(ekf.q, _hamilton(q_before, dq), atol=1e-12)  # the state turned by dq as well
    expected = f_true @ p_before @ f_true.T
    err = np.abs(np.array(ekf._ahrs.P) - expected).max()
    assert err < 1e-14, err  # measured 9e-18 (the 1e-16 gyro noise)


def test_ekf_gap_covariance_grows_by_the_gyro_noise_over_the_gap():
    """At rest through a 0.3 s gap, white gyro noise of variance var_gyr held over the gap spreads the
    state q * exp(n t / 2): the covariance must grow by that spread (Monte Carlo of the same rotation,
    20,000 draws), in every direction but along q itself."""
    var_gyr = 0.09
    ekf = _ekf_after_rest(var_gyr)
    p_before, q0 = np.array(ekf._ahrs.P), ekf.q.copy()
    gap_s = 0.3
    noise = np.sqrt(var_gyr) * np.random.default_rng(3).standard_normal((20000, 3))
    angle = np.linalg.norm(noise, axis=1) * gap_s
    axis = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    dq = np.column_stack([np.cos(angle / 2), np.sin(angle / 2)[:, None] * axis])
    spread = np.cov(_hamilton(q0, dq), rowvar=False)
    ekf._bridge_gap(np.zeros(3), gap_s)
    grown = np.array(ekf._ahrs.P) - p_before
    scale = var_gyr * (gap_s / 2) ** 2  # 0.0020 rad^2: the spread's size
    err = np.abs(grown - spread).max() / scale
    assert err < 0.04, err  # measured 0.028 (Monte Carlo error and the small-angle approximation)


# --- BROAD (real data, optical ground truth) ---------------------------------------------------------

def _broad_files() -> list[Path]:
    if not BROAD_DIR.is_dir():
        pytest.skip(f"BROAD data not found at {BROAD_DIR} (the only allowed skip)")
    files = sorted(BROAD_DIR.glob("*.hdf5"))
    if not files:
        pytest.skip(f"no BROAD .hdf5 files in {BROAD_DIR}")
    return files


def _load(path: Path, max_samples: int | None = None):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        sl = slice(0, max_samples)
        return (f["imu_gyr"][sl], f["imu_acc"][sl], f["opt_quat"][sl], float(f.attrs["sampling_rate"]),
                f["movement"][sl].astype(bool))


def _broad_rmse(path: Path, method: str, max_samples: int | None = None, init: bool = False) -> float:
    """Inclination RMSE (deg) over the movement mask; ``init``: start from the first 0.5 s (at rest)."""
    gyr, acc, q_true, rate, move = _load(path, max_samples)
    n0 = int(0.5 * rate)
    kw = {"acc0_m_s2": acc[:n0].mean(axis=0), "gyr_bias_rad_s": gyr[:n0].mean(axis=0)} if init else {}
    q = estimate_orientation(gyr, acc, rate, method, **kw)
    return rms(incl_err_deg(q, q_true)[move])


def test_broad_vqf_within_published_range():
    """vqf inclination RMSE over the movement mask: measured 0.37-1.02 deg; range given for vqf on
    BROAD in docs/fusion.md 0.25-1.76 deg. Bound 2.0 deg undisturbed, 2.5 deg disturbed."""
    for path in _broad_files():
        bound = 2.0 if "undisturbed" in path.name else 2.5
        for method, init in (("vqf", False), ("vqf", True), ("vqf_offline", False)):
            err = _broad_rmse(path, method, init=init)
            assert err < bound, (method, init, path.name, err)


@pytest.mark.parametrize("method", ["madgwick", "mahony", "ekf"])
def test_broad_ahrs_conventions(method):
    """First 18000 samples (63 s, 36 s of them moving) of the fast rotation trial, started from
    the first 0.5 s at rest (gravity + static gyro bias), as the defaults assume.

    Bound 3 deg (the whole trials measured 0.48-1.45 deg this way; docs/fusion.md gives
    Madgwick 0.55-4.2 deg with library defaults); a wrong frame or quaternion convention gives
    tens of degrees up to 180. (Pure-Python filters: 40-140 us/sample, hence the excerpt.)
    """
    path = next((p for p in _broad_files() if p.name.startswith("07_")), None)
    assert path is not None, f"BROAD trial 07 missing from {BROAD_DIR}"
    err = _broad_rmse(path, method, max_samples=18000, init=True)
    assert err < 3.0, (method, path.name, err)


def test_quat_to_matrix_is_scipys_rotation_with_the_same_bits_for_any_batch() -> None:
    from scipy.spatial.transform import Rotation

    from imu_hinge.fusion.base import quat_to_matrix

    q = np.random.default_rng(3).normal(size=(500, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    m = quat_to_matrix(q)
    np.testing.assert_allclose(m, Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix(), atol=1e-14)
    assert np.array_equal(np.concatenate([quat_to_matrix(q[i:i + 1]) for i in range(len(q))]), m)


def test_offline_vqf_reports_the_bias_at_the_end_of_the_batch() -> None:
    """A still sensor whose gyro bias drifts from 0 to (0.04, -0.03, 0.02) rad/s over 120 s: the estimate
    ``gyr_bias_rad_s`` is the one at the batch's end (measured 0.80 of the final bias on each axis; the
    forward-backward estimate at the start is 0.07 of it)."""
    rng = np.random.default_rng(0)
    n = 12000
    final = np.array([0.04, -0.03, 0.02])
    gyr = np.linspace(0.0, 1.0, n)[:, None] * final + rng.normal(0.0, 0.003, (n, 3))
    acc = np.tile([0.0, 0.0, 9.81], (n, 1)) + rng.normal(0.0, 0.05, (n, 3))
    filt = OfflineVqf(100.0)
    filt.update_batch(gyr, acc)
    bias = filt.gyr_bias_rad_s
    assert bias.shape == (3,)
    ratio = bias / final
    assert np.all((ratio > 0.6) & (ratio < 1.0)), ratio


@pytest.mark.parametrize("method", ["vqf", "vqf_offline", "madgwick"])
def test_an_interval_of_exactly_one_and_a_half_periods_is_no_gap(method):
    """Gaps are intervals *longer* than 1.5 nominal periods: one of exactly 1.5 periods is an ordinary sample (the
    same orientations as without time stamps), one of 2 periods is bridged (other orientations)."""
    from imu_hinge.fusion.base import GAP_FACTOR

    t, gyr, acc, _ = simulate(100.0, 4.0, wobble, quat_from_gravity(np.array([0.3, -0.5, 1.0])))
    plain = make_filter(method, 100.0).update_batch(gyr, acc)
    for factor, same in ((GAP_FACTOR, True), (2.0, False)):
        dt = np.full(len(t), 0.01)
        dt[200] = factor * make_filter(method, 100.0).ts_s
        stamped = make_filter(method, 100.0).update_batch(gyr, acc, dt)
        assert np.array_equal(stamped, plain) == same, factor


@pytest.mark.parametrize(("method", "params"), [*((m, {}) for m in CAUSAL), ("vqf", {"quiet_bias_est_enabled": True})],
                         ids=[*CAUSAL, "vqf-quiet"])
def test_a_gap_over_a_still_sensor_is_bridged_without_its_known_bias(method: str, params: dict) -> None:
    """A still, tilted sensor whose gyro reads only its bias (3 and -1.7 deg/s across gravity), given to
    the filter: a 2 s gap is bridged with the bias taken off, so the orientation after the gap is where
    it was (the bias's own turn over 2 s would be 6.9 deg; taken twice, 14)."""
    bias = np.array([0.05, -0.03, 0.0])
    up = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    acc = np.tile(G_M_S2 * up, (300, 1))
    gyr = np.tile(bias, (300, 1))
    dt = np.full(300, 0.01)
    dt[200] = 2.0
    filt = make_filter(method, 100.0, **params)
    filt.reset(acc[0], bias)
    q = filt.update_batch(gyr, acc, dt)
    err = incl_err_deg(q, np.tile(quat_from_gravity(up), (300, 1)))
    assert err.max() < 0.05, (err[195:205], err.max())  # exact inputs


@pytest.mark.parametrize(("rest", "quiet", "vqf_rest"),
                         [(True, False, True), (None, True, False), (False, True, False), (False, False, False)])
def test_the_quiet_window_estimator_replaces_vqfs_rest_detection(rest: bool | None, quiet: bool,
                                                                 vqf_rest: bool) -> None:
    """VqfParams.quiet_bias_est_enabled: ours learns the bias at quiet moments *instead of* vqf's rest detection
    (two estimators would pull one bias each its own way); without it vqf's own follows rest_bias_est_enabled.
    (None: rest detection not named, its default True.)"""
    options = {"quiet_bias_est_enabled": quiet} if rest is None else {"rest_bias_est_enabled": rest,
                                                                       "quiet_bias_est_enabled": quiet}
    filt = make_filter("vqf", 100.0, **options)
    assert filt.vqf_params["restBiasEstEnabled"] is vqf_rest
    assert filt.vqf_params["motionBiasEstEnabled"] is True


def test_rest_detection_asked_for_beside_the_quiet_windows_is_refused_not_ignored(tmp_path) -> None:
    """Named true while the quiet windows are on (as the analysis runs vqf), vqf's rest detection would be switched
    off without a word: refused in one line that says what to set (a config file's fusion_options included)."""
    import dataclasses

    from imu_hinge.analysis.analysis_params import AnalysisParams
    from imu_hinge.analysis.pipeline import analyze
    from imu_hinge.recording import recording_to_interchange_csv
    from imu_hinge.simulation import SCENARIOS, simulate

    from .helpers import run_cli

    with pytest.raises(UsageError, match="set quiet_bias_est_enabled=false as well"):
        make_filter("vqf", 100.0, rest_bias_est_enabled=True, quiet_bias_est_enabled=True)
    rec = simulate(dataclasses.replace(SCENARIOS["rdl_good"], seed=7000, n_reps=2)).recording
    with pytest.raises(UsageError, match="rest_bias_est_enabled=true has no effect while quiet_bias_est_enabled"):
        analyze(rec, AnalysisParams(fusion_options={"rest_bias_est_enabled": True}))
    res = analyze(rec, AnalysisParams(fusion_options={"rest_bias_est_enabled": True, "quiet_bias_est_enabled": False}))
    assert len(res.reps) == 2
    csv, config = tmp_path / "two_reps.csv", tmp_path / "rest.toml"
    recording_to_interchange_csv(rec, csv)
    config.write_text("[fusion_options]\nrest_bias_est_enabled = true\n")
    proc = run_cli("analyze", csv, "--config", config)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "quiet_bias_est_enabled=false as well" in proc.stderr


@pytest.mark.parametrize("method", ["vqf", "vqf_offline"])
@pytest.mark.parametrize("shape", [(3,), (2, 1, 3), (4, 2)])
def test_update_batch_refuses_samples_not_shaped_n_by_3(method: str, shape: tuple[int, ...]) -> None:
    """A single sample as a flat (3,) array, a stack of blocks or two columns are not N samples of 3 axes."""
    filt = make_filter(method, 100.0)
    bad = np.zeros(shape)
    with pytest.raises(ValueError, match=r"gyr_rad_s must have shape \(N, 3\)"):
        filt.update_batch(bad, np.tile([0.0, 0.0, 9.81], (4, 1)))


def test_vqfs_bias_bound_follows_the_bias_given_at_each_reset() -> None:
    """vqf's per-axis bound on its bias estimate: its own 2 deg/s for small or no known bias, the known bias's
    largest axis + 1 deg/s for a large one (vqf would cut it), and back to 2 when a later reset gives none."""
    filt = make_filter("vqf", 100.0)
    acc = np.array([0.0, 0.0, G_M_S2])
    assert filt.vqf_params["biasClip"] == 2.0
    filt.reset(acc, np.radians([0.5, -0.8, 0.2]))
    assert filt.vqf_params["biasClip"] == 2.0
    filt.reset(acc, np.radians([3.0, -6.0, 1.0]))
    assert filt.vqf_params["biasClip"] == pytest.approx(7.0)
    assert np.allclose(filt.gyr_bias_rad_s, np.radians([3.0, -6.0, 1.0]))  # given whole, not cut
    filt.reset(acc)
    assert filt.vqf_params["biasClip"] == 2.0


def test_a_step_of_no_time_turns_nothing() -> None:
    """Tied stamps (a burst stamped on arrival) give steps of 0 s: whatever the rate, no rotation (and no
    division by the step), and a tiny step turns by rate x step exactly."""
    w = np.array([0.8, -1.5, 0.6])
    np.testing.assert_array_equal(fusion.base.quat_from_rate(w, 0.0), [1.0, 0.0, 0.0, 0.0])
    q = np.array([0.6, 0.0, 0.8, 0.0])
    np.testing.assert_allclose(fusion.base.integrate_gyr(q, w, 0.0), q, atol=1e-15)
    dq = fusion.base.quat_from_rate(w, 1e-6)
    np.testing.assert_allclose(dq[1:], 0.5e-6 * w, rtol=1e-9)


@pytest.mark.parametrize("gap_after", [1, 2])
def test_the_offline_filter_starts_a_new_run_after_a_gap_right_at_the_start(gap_after: int) -> None:
    """Level for the first sample(s), then a 1 s gap in which the sensor was tipped 30 deg and held: the
    non-causal filter must not smooth across the gap (the gyro saw nothing of the turn): the samples before
    it read level, every one after it 30 deg at once (smoothed across, the first read 29.8 deg)."""
    n, th = 300, np.radians(30.0)
    acc = np.tile([0.0, 9.81 * np.sin(th), 9.81 * np.cos(th)], (n, 1))
    acc[:gap_after] = [0.0, 0.0, 9.81]
    dt = np.full(n, 0.01)
    dt[gap_after] = 1.0
    up = up_in_sensor(make_filter("vqf_offline", 100.0).update_batch(np.zeros((n, 3)), acc, dt))
    tilt_deg = np.degrees(np.arccos(np.clip(up[:, 2], -1.0, 1.0)))
    assert np.all(tilt_deg[:gap_after] < 0.01) and np.all(np.abs(tilt_deg[gap_after:] - 30.0) < 0.01), tilt_deg[:4]


@pytest.mark.parametrize("rate_hz", [52.0, 104.0, 400.0])
def test_a_reset_puts_vqfs_accelerometer_low_pass_in_its_steady_state(rate_hz: float) -> None:
    """Reset on a still sensor's gravity, vqf's 2nd-order accelerometer low-pass starts in the steady state of
    that constant input (its state, not zeros, not the input itself): fed the same gravity with no rotation, the
    filter state does not move at all (to 1e-12 of g; a state off by one coefficient, ~1e-4 of g here, moves)."""
    from imu_hinge.fusion.vqf_filter import VqfFilter

    g = np.array([1.2, -3.4, 9.1])
    f = VqfFilter(rate_hz)
    f.reset(g, np.zeros(3))
    before = np.array(f.vqf_state()["accLpState"], dtype=float)
    f.update_batch(np.zeros((50, 3)), np.tile(g, (50, 1)))
    after = np.array(f.vqf_state()["accLpState"], dtype=float)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12 * np.linalg.norm(g))


@pytest.mark.parametrize("acc", [(0.0, 0.0, -9.81), (0.0, 0.0, -1.0), (1e-9, -2e-9, -9.81), (0.3, -0.5, 1.0)])
def test_the_orientation_from_gravity_puts_that_gravity_up_even_upside_down(acc: tuple[float, float, float]) -> None:
    """The start orientation from one gravity reading: a unit quaternion whose "up" in the sensor frame is that
    reading's direction, also for a sensor exactly (or within 1e-9) upside down, where the shortest rotation's
    axis vanishes (a half turn about x then)."""
    from imu_hinge.fusion.base import up_in_sensor

    q = quat_from_gravity(np.array(acc))
    assert np.all(np.isfinite(q)) and abs(np.linalg.norm(q) - 1.0) < 1e-12
    a = np.array(acc)
    np.testing.assert_allclose(up_in_sensor(q[None])[0], a / np.linalg.norm(a), rtol=0, atol=1e-8)


@pytest.mark.parametrize("method", fusion.METHODS)
@pytest.mark.parametrize("n_acc", [4, 6])
def test_a_block_whose_accelerometer_rows_differ_from_the_gyros_is_refused(method: str, n_acc: int) -> None:
    """Five gyro rows with four or six accelerometer rows: a ValueError naming both counts, for every filter."""
    f = fusion.make_filter(method, 100.0)
    f.reset(np.array([0.0, 0.0, 9.81]))
    with pytest.raises(ValueError, match=rf"gyr_rad_s and acc_m_s2 differ in length: 5 vs {n_acc}"):
        f.update_batch(np.zeros((5, 3)), np.tile([0.0, 0.0, 9.81], (n_acc, 1)))


@pytest.mark.parametrize("params", [{}, {"rest_bias_est_enabled": False, "tau_acc_s": 1.5, "bias_clip_deg_s": 1.0}])
def test_the_compiled_vqf_is_the_vqf_package_bit_for_bit(params: dict[str, float]) -> None:
    """VqfFilter runs VQF's C++ compiled into the core's extension (sources vendored from the vqf package): on
    motion with rests and a gyro bias, its quaternions and bias are those of the vqf package's own updateBatch with
    the same parameters, bit for bit, block by block and sample by sample (a vendored copy that drifted from the
    package, or a parameter passed in the wrong place, would differ)."""
    import vqf

    from imu_hinge.fusion.vqf_filter import VqfFilter

    rng = np.random.default_rng(7)
    n = 3000
    t = np.arange(n) * 0.01
    moving = (np.sin(2 * np.pi * t / 10.0) > 0)[:, None]  # 5 s moving, 5 s still, in turn
    gyr = moving * np.column_stack([1.2 * np.sin(2 * t), 0.5 * np.cos(3 * t), 0.3 * np.sin(t)])
    gyr = gyr + np.radians([0.4, -0.3, 0.2]) + 0.002 * rng.standard_normal((n, 3))
    acc = np.column_stack([2.0 * np.sin(t), 1.0 * np.cos(2 * t), 9.81 + 0.5 * np.sin(3 * t)]) * moving
    acc = acc + (1 - moving) * np.array([0.0, 0.0, 9.81]) + 0.02 * rng.standard_normal((n, 3))
    f = VqfFilter(100.0, **params)
    ref = vqf.VQF(0.01, **f.params.to_vqf())
    expected = ref.updateBatch(np.ascontiguousarray(gyr), np.ascontiguousarray(acc))
    np.testing.assert_array_equal(f.update_batch(gyr, acc), expected["quat6D"])
    np.testing.assert_array_equal(f.gyr_bias_rad_s, expected["bias"][-1])
    assert f.gyr_bias_sigma_rad_s == expected["biasSigma"][-1]
    f.reset()
    np.testing.assert_array_equal(np.array([f.update(g, a) for g, a in zip(gyr[:500], acc[:500], strict=True)]),
                                  expected["quat6D"][:500])
    from imu_hinge.fusion import _fusion_loops

    for q1, q2 in rng.standard_normal((20, 2, 4)):  # the product that bridges a gap: vqf's own
        out = np.empty(4)
        _fusion_loops.vqf_quat_multiply(q1, q2, out)
        np.testing.assert_array_equal(out, vqf.VQF.quatMultiply(q1, q2))


@pytest.mark.parametrize(("pattern", "bound_deg"), [("one in 8", 2.5), ("0.2 s every 0.7 s", 4.5)])
def test_the_offline_filter_bridges_a_short_gap_on_the_gyro(pattern: str, bound_deg: float) -> None:
    """A sensor 0.4 m from the hip on a segment swinging 60 deg at 0.8 Hz (the accelerometer carries the swing's
    tangential and centripetal acceleration), 52 Hz, one sample lost every 8 from 4 s to 6 s: the offline filter
    bridges each hole on the rate taken as linear across it (the accelerometer step skipped) and follows the
    swing. Split at every gap instead, each 7-sample run was filtered on its own, its filter started from an
    accelerometer in mid-swing (a simulated kettlebell set with 5 % losses read 200 deg of lockout extension)."""
    rate, n, r_m = 52.0, 520, 0.4
    t = np.arange(n) / rate
    w = 2 * np.pi * 0.8
    theta = np.radians(60.0) * np.sin(w * t)
    theta_rate = np.radians(60.0) * w * np.cos(w * t)
    theta_acc = -np.radians(60.0) * w**2 * np.sin(w * t)
    rate_x = np.radians(60.0) * (np.sin(w * t) - np.sin(w * (t - 1 / rate))) * rate  # the mean over each interval
    gyr = np.column_stack([rate_x, np.zeros(n), np.zeros(n)])
    up = np.column_stack([np.zeros(n), np.sin(theta), np.cos(theta)])
    acc = 9.81 * up + np.column_stack([np.zeros(n), -r_m * theta_acc, r_m * theta_rate**2])
    if pattern == "one in 8":
        keep = ~((t >= 4.0) & (t < 6.0) & (np.arange(n) % 8 == 0))
    else:
        keep = ~((t >= 3.0) & (t < 7.0) & (t % 0.7 < 0.2))
    dt = np.diff(t[keep], prepend=t[keep][0] - 1 / rate)
    flt = make_filter("vqf_offline", rate)
    est = up_in_sensor(flt.update_batch(gyr[keep], acc[keep], dt))
    err = np.degrees(np.arccos(np.clip(np.sum(est * up[keep], axis=1), -1.0, 1.0)))
    # measured: one in 8 lost 1.25 deg, as without losses (1.26), split at each hole 14.9; 0.2 s holes 3.95, the
    # rate held across them 17.1, the linear rate started a step late 5.9
    assert err.max() < bound_deg
    # a block that starts after a gap (dt[0] long: bridged or split length) has nothing before its first sample
    for first_dt in (0.3, 1.0):
        late = dt.copy()
        late[0] = first_dt
        np.testing.assert_array_equal(up_in_sensor(flt.update_batch(gyr[keep], acc[keep], late)), est)


def test_the_offline_filter_bridges_a_gap_of_exactly_its_bound() -> None:
    """OFFLINE_BRIDGE_S (0.5 s) is the longest gap the offline VQF bridges, itself included: at 4 Hz one lost sample
    leaves exactly 0.5 s (binary-exact stamps), and a steady turn of 0.4 rad/s about the vertical comes out of it
    where the unbroken stream does (a gap taken as one period would leave it 0.1 rad, 5.7 deg, short)."""
    from imu_hinge.fusion.vqf_filter import OFFLINE_BRIDGE_S

    rate, n = 4.0, 40
    t = np.arange(n) / rate
    gyr, acc = np.tile([0.0, 0.0, 0.4], (n, 1)), np.tile([0.0, 0.0, 9.81], (n, 1))
    keep = np.ones(n, bool)
    keep[20] = False
    assert np.diff(t[keep]).max() == OFFLINE_BRIDGE_S == 0.5
    full = OfflineVqf(rate).update_batch(gyr, acc, np.diff(t, prepend=t[0] - 1 / rate))
    lost = OfflineVqf(rate).update_batch(gyr[keep], acc[keep], np.diff(t[keep], prepend=t[0] - 1 / rate))
    assert np.allclose(lost[-1], full[-1], atol=1e-9), (lost[-1], full[-1])  # measured equal to the bit
