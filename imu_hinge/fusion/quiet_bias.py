"""Gyro bias from gravity seen in quiet moments: a slow Kalman filter beside VQF.

A body-worn MEMS gyroscope's bias does not stay at the value the standing calibration found:
it drifts by tenths of a deg/s over a session (warm-up on the skin, bias instability). VQF
follows a drift only slowly; a bias error ``db`` leaves the inclination about ``db x tau_acc``
behind (0.3 deg/s x 3 s ~ 1 deg, the whole error budget of a lumbar angle).

Between sets and reps the lifter stands still, holds the bottom of a hinge or pauses at
lockout. Each such **quiet window** (mean gyro below ``quiet_gyr_rad_s`` over ``smooth_s``, specific
force near 1 g) gives the direction of gravity in the frame of the filter's gyro-only
strapdown integration (``gyrQuat``): the accelerometer averaged over the window after the
gyro has taken out the sway. Gravity is fixed, so when that direction has moved between two
quiet windows the integration drifted, by ``e = integral(R(t) db dt)`` (``R`` the sensor's
orientation): a linear measurement of the bias error over the whole interval between them,
rep motion included. Only the two components perpendicular to gravity are observable.

The windows compared are the latest one and the most recent earlier one with the sensor
within ``max_separation_deg`` of the same orientation: gyro scale and cross-axis errors then
cancel over the closed path (down and up again) and the accelerometer's own bias and scale
errors are the same at both ends. The residual scale error is added to the measurement
noise. The bias state is a 3-vector random walk (``walk_deg_s_rt_s``) with covariance ``P``.

Samples lost between the two windows are bridged by the filter on a guessed rate (linear between the two
samples at the gap's edges): a guess whose error lands in the integration as if it were bias. On a body that
wobbles (soft tissue after a swing's turn) the two edge samples are two draws of the wobble. Taken as exact,
the guesses were learned as bias: in a simulated good-morning set with 3 % lost (seed 35021 of
``benchmarks/real_world_mix.py``) the trunk read 14 deg low after gaps of 0.16-0.21 s in a descent, and then,
the estimator having taken that for a bias, 12 deg high at the next stand and for tens of seconds after. So each
bridged gap adds its variance to the measurement of every pair of windows it lies between
(``gap_turn_err_frac`` x the rate change across the gap x the time missing, squared: the true rate anywhere
between the two edge samples'): such a pair moves the bias as little as its gaps make it uncertain, pairs
without gaps as before. A gap at a rate's smooth peak (the same rate at both edges) adds nothing; the offline
bridge choice (:mod:`~imu_hinge.fusion.gap_bridge`) covers those.

:class:`QuietWindowPlanner` decides, from the raw samples alone, which samples are in a window
and after which sample a window closes (causal; the same for any split of the data into
blocks). :class:`QuietBiasEstimator` accumulates the integration and, when a window closes,
updates the bias. :class:`~imu_hinge.fusion.vqf_filter.VqfFilter` runs both around vqf
(``quiet_bias_est_enabled``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imu_hinge.fusion import _fusion_loops
from imu_hinge.fusion.base import quat_to_matrix


@dataclass(frozen=True)
class QuietBiasParams:
    """Parameters of the quiet-window bias estimator (state lives in the estimator)."""

    walk_deg_s_rt_s: float = 0.015
    """Assumed random walk of the gyro bias, deg/s per sqrt(s): how fast the estimate may follow."""
    window_noise_deg: float = 0.3
    """Error of gravity's direction from one window's mean (sway's linear acceleration, noise), deg."""
    gyr_scale_err: float = 0.02
    """Gyro scale error assumed for the rotation between the two windows compared (noise term)."""
    quiet_gyr_rad_s: float = 0.07
    """Quiet: |mean gyro - stance bias| over ``smooth_s`` below this (sway oscillates, its mean is small)."""
    smooth_s: float = 0.5
    onset_gyr_rad_s: float = 0.35
    """Not quiet once mean |gyro - stance bias| over ``onset_s`` exceeds this (motion onset, fast)."""
    onset_acc_m_s2: float = 0.5
    """Not quiet once mean | |acc| - stance |acc| | over ``onset_s`` exceeds this."""
    onset_s: float = 0.1
    min_window_s: float = 0.6
    """Shorter quiet windows are not used."""
    max_window_s: float = 2.0
    """A longer quiet period is split into windows of this length (long rests, bottom holds)."""
    max_separation_deg: float = 10.0
    """Only windows with the sensor this close to the same orientation are compared."""
    initial_sigma_deg_s: float = 0.1
    """Uncertainty of the starting bias (the stance calibration), deg/s."""
    history: int = 8
    """Earlier windows kept as partners."""
    gap_turn_err_frac: float = 0.5
    """A turn the filter bridged across a gap (samples lost) is a guess: its error is taken as this share of the
    change of rate across the gap times the time missing (the true rate anywhere between the two edge samples'),
    and its variance added to the measurement of two windows with the gap between them (0: the gaps' turns
    taken as exact)."""


# QuietWindowPlanner's state vector: its parameters (stance gyro bias (3), stance |acc|, samples in
# smooth_s, onset_s, max_window_s, the three thresholds, gap interval, nominal period), then the running
# sums (5) of (gyr - ref, |gyr - ref|, | |acc| - g |), samples seen, samples in the open window, position of
# the oldest of the last n sums in the ring, the filter's clock (s); then that ring (n x 5). The same indices
# as the enums of _fusion_loops.c.
(_P_REF, _P_GRAVITY, _P_N, _P_N_ONSET, _P_MAX_N, _P_QUIET, _P_ONSET_GYR, _P_ONSET_ACC, _P_GAP_DT,
 _P_TS) = 0, 3, 4, 5, 6, 7, 8, 9, 10, 11
_S_RING = 21  # the sums (12..16), count (17), open (18), position (19) and clock (20) are the C loop's alone
# columns of the plan (N, 6): time on the filter's clock, span its integration covers, in a window, the
# window closes after it, it ends a gap; and the stretch ends (indices + 1, first rows of the last column)
PLAN_T, PLAN_DT_INT, PLAN_IN, PLAN_CLOSE, PLAN_GAP, PLAN_ENDS = 0, 1, 2, 3, 4, 5


class QuietWindowPlanner:
    """Causal quiet-window detection from raw samples; state carried across blocks.

    ``gyr_ref_rad_s`` (3,) is the stance bias and ``gravity_m_s2`` the stance |acc|; neither
    changes afterwards, so the plan does not depend on any estimate. One loop (``plan_run``, C, in
    ``_fusion_loops.c``) over blocks of any length; it also keeps the filter's clock and cuts the block into stretches
    for the filter (``gap_dt_s``: a longer interval is a gap; ``ts_s`` the nominal period).
    """

    def __init__(self, params: QuietBiasParams, rate_hz: float, gyr_ref_rad_s: np.ndarray,
                 gravity_m_s2: float, gap_dt_s: float = math.inf) -> None:
        self.params = params
        n = max(1, int(round(params.smooth_s * rate_hz)))
        st = self._st = np.zeros(_S_RING + 5 * n)
        st[_P_REF:_P_REF + 3] = np.asarray(gyr_ref_rad_s, dtype=float).reshape(3)
        st[_P_GRAVITY] = float(gravity_m_s2)
        st[_P_N] = n
        st[_P_N_ONSET] = min(n, max(1, int(round(params.onset_s * rate_hz))))
        st[_P_MAX_N] = max(1, int(round(params.max_window_s * rate_hz)))
        st[_P_QUIET] = params.quiet_gyr_rad_s
        st[_P_ONSET_GYR] = params.onset_gyr_rad_s
        st[_P_ONSET_ACC] = params.onset_acc_m_s2
        st[_P_GAP_DT] = gap_dt_s
        st[_P_TS] = 1.0 / rate_hz

    def run(self, gyr: np.ndarray, acc: np.ndarray, dt_s: np.ndarray) -> tuple[np.ndarray, int]:
        """N samples (N, 3), (N, 3) contiguous, intervals (N,) s -> (the plan (N, 6): columns ``PLAN_*``,
        the number k of the filter's stretches: their ends (last sample + 1) are the first k rows of column
        ``PLAN_ENDS``; a stretch is all in a window or all out, starts with a gap or not (its first row) and its
        window closes after it or not (its last row))."""
        out = np.empty((gyr.shape[0], 6))
        return out, _fusion_loops.plan_run(gyr, acc, dt_s, self._st, out)

    def plan(self, gyr: np.ndarray, acc: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(in_window (N,) bool, closes): a window closes after each sample index in ``closes``."""
        gyr = np.ascontiguousarray(gyr, dtype=np.float64).reshape(-1, 3)
        plan, _ = self.run(gyr, np.ascontiguousarray(acc, dtype=np.float64).reshape(-1, 3),
                           np.full(gyr.shape[0], self._st[_P_TS]))
        return plan[:, PLAN_IN] > 0, np.flatnonzero(plan[:, PLAN_CLOSE]).tolist()

    def step(self, gyr: np.ndarray, acc: np.ndarray) -> tuple[bool, bool]:
        """:meth:`plan` for one sample (gyr, acc (3,)): (in window, the window closes after it)."""
        in_window, closes = self.plan(gyr, acc)
        return bool(in_window[0]), bool(closes)


# the estimator's integrals: Phi (3x3), B (3), A (3x3); a window's means: time, gravity (3), acc direction (3),
# Phi (3x3), B (3). The same indices as the enums of _fusion_loops.c.
_E_A, _E_LEN = 12, 21  # (Phi at 0, B at 9: read by the C code only)
_W_LEN = 20  # (time at 0, gravity at 1, acc direction at 4, Phi at 7, B at 16, the gaps' variance at 19: read by
# the C code only)
# the window pairing's state (close_step in _fusion_loops.c): its parameters (min_window_s in samples,
# max_separation_deg in rad, the random walk's variance rate, the window noise's variance, gyr_scale_err,
# history), the time the covariance last grew (NaN: no window yet), the windows kept, then their means
(_K_MIN_N, _K_MAX_SEP, _K_WALK_VAR, _K_NOISE_VAR, _K_SCALE_ERR, _K_HISTORY, _K_T_PRED, _K_COUNT,
 _K_HIST) = range(9)
# the estimator's state (quiet_run in _fusion_loops.c): the integrals (layout _E_*), the bias covariance (3x3),
# F around the open window (quat6D, quat3D before its first sample, then after its
# latest), the means of the window flushed and not yet closed, over how many samples, the open window's samples
# kept, the updates made, the room for samples kept, the variance of the bridged gaps' turns summed so far (rad^2),
# the uncertainty given to vqf at the last update
_Q_E, _Q_COV, _Q_ENDS, _Q_MEAN, _Q_MEAN_N = 0, 21, 30, 46, 66  # (one line each: mutants reach them)
_Q_PEND_N, _Q_UPDATES, _Q_PEND_CAP, _Q_GAP_VAR, _Q_SIGMA, _Q_LEN = 67, 68, 69, 70, 71, 72
_PEND_ROW = 16  # an open window's sample: its plan row (6), quat6D (4), bias (3), acc (3), in four blocks


class QuietBiasEstimator:
    """The bias Kalman filter fed by quiet windows (see the module docstring): its parameters and state.

    ``frame_quat_wxyz`` (4,) the filter's inclination-correction frame ``F`` at the start (vqf: ``accQuat``); the
    bias itself is vqf's (read from it at each close, the stance calibration's at the start). The loop that runs
    it beside vqf is C (``quiet_run`` in _fusion_loops.c, driven by
    :class:`~imu_hinge.fusion.vqf_filter.VqfFilter`): every sample's orientation and the bias vqf used for it go
    into the integrals or, in a quiet window, into the window's samples; where :class:`QuietWindowPlanner` says
    a window closes, the window's means are paired with an earlier window's and the bias is updated.

    The strapdown orientation in a window is ``conj(F) * quat6D``; ``F`` turns slowly (about 1/``tau_acc`` of the
    inclination error per s), so it is read before a window's first sample and after its latest one and
    interpolated over the window when it ends; the result depends only on the samples, never on the blocks.

    A window of ``min_window_s`` or more is paired with the latest of the last ``history`` windows with the
    accelerometer within ``max_separation_deg`` of the same direction, then kept itself. With a partner, the
    Kalman update (``close_step``): gravity moved by ``e x g`` between the two windows; the perpendicular part of
    ``e = dPhi b_true - dB`` (two components, in a basis perpendicular to gravity) measures the bias; the covariance
    first grows by the random walk since the last update, and the measurement's variance is ``window_noise_deg``
    squared plus (``gyr_scale_err`` x the windows' separation) squared.
    """

    def __init__(self, params: QuietBiasParams, rate_hz: float, frame_quat_wxyz: np.ndarray) -> None:
        self.params = params
        if params.history < 1:
            raise ValueError(f"QuietBiasParams.history must be 1 or more (windows kept as partners), "
                             f"got {params.history}")
        # the window pairing: parameters, then state (layout _K_*)
        self._k = np.zeros(_K_HIST + params.history * _W_LEN)
        self._k[:_K_COUNT] = (max(2, int(round(params.min_window_s * rate_hz))),
                              math.radians(params.max_separation_deg), math.radians(params.walk_deg_s_rt_s) ** 2,
                              math.radians(params.window_noise_deg) ** 2, params.gyr_scale_err, params.history,
                              math.nan)
        self._s = st = np.zeros(_Q_LEN)
        # the integrals: Phi = integral of R dt (strapdown frame <- sensor frame), B = integral of R bias_used dt,
        # A = the strapdown frame <- filter's earth frame (vqf: quat6D = accQuat * gyrQuat)
        q = np.asarray(frame_quat_wxyz, float)
        st[_Q_E + _E_A:_Q_E + _E_A + 9] = quat_to_matrix(q.reshape(1, 4))[0].T.reshape(9)
        st[_Q_COV:_Q_COV + 9] = (np.eye(3) * math.radians(params.initial_sigma_deg_s) ** 2).reshape(9)
        st[_Q_SIGMA] = math.radians(params.initial_sigma_deg_s)
        # a window is split at max_window_s (QuietWindowPlanner): never more samples than that open
        cap = max(1, int(round(params.max_window_s * rate_hz)))
        st[_Q_PEND_CAP] = cap
        self._pend = np.zeros(cap * _PEND_ROW)

    @property
    def cov(self) -> np.ndarray:
        """Covariance (3, 3) of the bias estimate, (rad/s)^2."""
        return self._s[_Q_COV:_Q_COV + 9].reshape(3, 3).copy()

    @property
    def updates(self) -> int:
        """Windows that updated the bias."""
        return int(self._s[_Q_UPDATES])

    @property
    def sigma_rad_s(self) -> float:
        """The uncertainty given to vqf with the last updated bias (the largest of the three axes' standard
        deviations), or the starting one, rad/s."""
        return float(self._s[_Q_SIGMA])

    def add_gap(self, rate_change_rad_s: float, missing_s: float) -> None:
        """A gap the filter bridged (``missing_s`` s lost, the rate changed by ``rate_change_rad_s`` across it):
        its turn's variance joins every later window's measurement against a window before it."""
        err_rad = self.params.gap_turn_err_frac * rate_change_rad_s * missing_s
        self._s[_Q_GAP_VAR] += err_rad * err_rad

    def run_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The state arrays ``quiet_run`` (_fusion_loops.c) carries: (the state, the pairing, the open window's
        samples)."""
        return self._s, self._k, self._pend
