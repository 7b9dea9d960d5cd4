"""Device clock -> host clock, per sensor: ``host_time_s ≈ a + b · device_time_s``.

Two kinds of evidence, both kept over the last ``window_s`` seconds of device time:

- **Data arrivals**: each notification gives (device time of its first sample, host arrival).
  Arrival is always *late* by a varying delay, so only the **lower envelope** says anything:
  for a slope ``b`` the envelope line is the highest line under every point; its height at the
  points' mean device time, ``E(b)``, is largest for the slope of the envelope (the linear
  programme ``max Σ(a + b·x_i)`` subject to ``a + b·x_i <= y_i``).
- **Time pings**: the host notes ``send_s`` before writing a ping and ``recv_s`` when the answer
  arrives; the device latched its clock in between, so the true line passes through
  ``[send_s, recv_s]`` at that device time. For a slope ``b`` the intercepts that satisfy every
  ping form a band of width ``W(b)`` (negative when none does); the right slope makes it widest.

The fit takes the slope maximising ``E(b) + W(b)`` over ``1 ± max_drift_ppm`` (a 1 ppm grid;
crystals drift ±50 ppm), then the intercept in the middle of the ping band (equal minimum
latency both ways), never after the data envelope. Without pings the line is the envelope
itself, late by the link's minimum latency. Until ``min_span_s`` of history the slope is 1.

**Without pings, the posterior mean** (``no_ping_fit="posterior"``, sensors that have no time ping:
Movesense, Polar): the envelope's slope is the mode of a likelihood that is nearly flat when, by chance,
no recent notification came quickly, and the mode then tilts toward where the points are high (an
extrapolation error of ~0.1 ms per s for 10-20 s). Model the delays near zero as exponential with the
rate ``λ`` the data show (``λ = m / (n · r_m)``, ``r_m`` the residual ``m = posterior_quantile · n``
from the envelope); integrating the intercept out leaves ``p(b) ∝ exp(λ n E(b))`` over the slope
grid, and given ``b`` the intercept is ``envelope(b) − Exp(λ n)``. The fitted line is the mean of
that posterior: slope ``Σ p(b) b``, intercept ``Σ p(b) envelope(b) − 1 / (λ n)``. Measured on synthetic
arrivals (13 notifications/s, 0..45 ms uniform delays, 50 ppm; ``tests/test_ble_clock.py`` runs 16): the
worst error after 10 s exceeds 2 ms on 2 of 150 seeds (the envelope: 15 of 150), median 0.77 ms (1.26).
The limit is information, not the estimator: when, by chance, no notification of the first 10 s came
within 2 ms of its sample (0.3 % of seeds at these delays), nothing that sees only arrivals can know.

**Host clock steps** (the host clock jumped, e.g. an NTP step on a clock that is not monotonic): an
arrival more than ``step_s`` *before* the fitted time of its own sample is impossible, so the host
clock stepped back; arrivals all more than ``step_s`` late for ``step_confirm_s`` of both device and
host time mean it stepped forward (a link stall delivers its backlog in a burst of host time and then
catches up, so it does not qualify). Either way the history is forgotten (``host_steps_`` counts
the steps) and the fit starts again on the new host timeline, as at a start: the fitted times jump
by the step there (backward for a backward step; keeping each sensor's times increasing is the
decoder's job) and are within the usual few ms again once ``min_span_s`` plus a few seconds of new
evidence are in. Until a forward step is confirmed the fit stays on the old timeline (pings after
the step may move it by up to half the step).

Points are kept per ``bin_s`` of device time (the earliest arrival of each bin only), so memory
and refit cost stay bounded in a session of hours. Plain synchronous numpy, used by the BLE
source and tested with synthetic arrivals.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.typing import ArrayLike


def posterior_line(x: np.ndarray, y: np.ndarray, slopes: np.ndarray, quantile: float = 0.1) -> tuple[float, float]:
    """The posterior-mean line ``(a, b)`` of arrivals alone (module docstring), ``y ≈ a + b·x``."""
    envelope = np.min(y[None, :] - slopes[:, None] * x[None, :], axis=1)
    score = envelope + slopes * float(np.mean(x))
    k = int(np.argmax(score))
    n = len(x)
    if n < 4:
        return float(envelope[k]), float(slopes[k])
    m = min(n - 1, max(2, round(quantile * n)))
    r_m = float(np.partition(y - envelope[k] - slopes[k] * x, m)[m])
    lam_n = m / max(r_m, 1e-6)  # λ n: the delays' density at 0 (per s) times n
    w = np.exp(lam_n * (score - score[k]))
    w /= w.sum()
    return float(np.sum(w * envelope)) - 1.0 / lam_n, float(np.sum(w * slopes))


def envelope_fit(x: np.ndarray, y: np.ndarray, slopes: np.ndarray, pings: np.ndarray | None = None,
                 ping_weight: float = 1.0) -> tuple[float, float, float]:
    """The device -> host line ``y ≈ a + b·x (+ c)`` of the module docstring, for one set of evidence.

    ``x``, ``y``: device and host times (s) of the earliest arrival per bin; ``slopes``: the candidate
    ``b`` values; ``pings``: (N, 3) rows of (device s, send s, receive s) on the same axes, or None.
    Returns ``(a, b, c)``: ``a`` the envelope's intercept for the chosen slope ``b`` (the highest line
    under every arrival), ``c`` the ping offset to add (0 without pings). Used live by :class:`ClockFit`
    and on a whole recording by :func:`imu_hinge.analysis.data_quality.clock_fit`.
    """
    envelope = np.min(y[None, :] - slopes[:, None] * x[None, :], axis=1)  # intercepts under all points
    score = envelope + slopes * float(np.mean(x))
    if pings is not None:
        hi = np.min(pings[:, 2][None, :] - slopes[:, None] * pings[None, :, 0], axis=1)
        hi = np.minimum(hi, envelope)  # the data are upper bounds too
        lo = np.max(pings[:, 1][None, :] - slopes[:, None] * pings[None, :, 0], axis=1)
        score = score + ping_weight * (hi - lo)
    k = int(np.argmax(score))
    a = float(envelope[k])
    c = 0.5 * float(hi[k] + lo[k]) - a if pings is not None else 0.0
    return a, float(slopes[k]), c


class ClockFit:
    """Online fit of one sensor's device clock to the host clock.

    Parameters (kept apart from state): ``window_s`` device seconds of history used,
    ``bin_s`` envelope bin width in device seconds, ``max_drift_ppm`` bound on the slope's
    distance from 1, ``min_span_s`` history needed before the slope is fitted (until then
    ``b`` = 1), ``refit_s`` most device seconds between refits, ``ping_weight`` weight of the ping
    band's width against the envelope's height when choosing the slope, ``step_s`` and
    ``step_confirm_s`` the host-clock step detection (module docstring), ``no_ping_fit`` the line
while there are no pings (``"envelope"``, or ``"posterior"``: its mean, module docstring) and
``posterior_quantile`` the residual quantile that estimates the delays' density there.

    Feed it with :meth:`add_arrival` / :meth:`add_ping`; read with :meth:`host_time_s`.
    Results: ``offset_s_`` (``a + c`` at device time 0 of the internal origin), ``slope_``,
    ``ping_offset_s_`` (``c``), ``n_arrivals_``, ``n_pings_``, ``host_steps_`` (host clock steps detected).
    """

    def __init__(self, *, window_s: float = 120.0, bin_s: float = 0.05, max_drift_ppm: float = 100.0,
                 min_span_s: float = 2.0, refit_s: float = 1.0, max_pings: int = 512,
                 ping_weight: float = 1.0, step_s: float = 0.5, step_confirm_s: float = 5.0,
                 no_ping_fit: str = "envelope", posterior_quantile: float = 0.1) -> None:
        if no_ping_fit not in ("envelope", "posterior") or not 0 < posterior_quantile < 1:
            raise ValueError("no_ping_fit: 'envelope' or 'posterior'; posterior_quantile in (0, 1)")
        if not (window_s > 0 and bin_s > 0 and min_span_s >= 0 and refit_s >= 0 and 0 < max_drift_ppm <= 1e4
                and step_s > 0 and step_confirm_s >= 0):
            raise ValueError("window_s, bin_s, step_s > 0; min_span_s, refit_s, step_confirm_s >= 0; "
                             "max_drift_ppm in (0, 1e4]")
        self.window_s = window_s
        self.bin_s = bin_s
        self.max_drift_ppm = max_drift_ppm
        self.min_span_s = min_span_s
        self.refit_s = refit_s
        self.max_pings = max_pings
        self.ping_weight = ping_weight
        self.step_s = step_s
        self.step_confirm_s = step_confirm_s
        self.no_ping_fit = no_ping_fit
        self.posterior_quantile = posterior_quantile
        self.reset()

    def reset(self) -> None:
        """Forget everything (the device clock restarted)."""
        self._origin_us: int | None = None
        self._latest_x = -math.inf
        self.n_arrivals_ = 0
        self.n_pings_ = 0
        self.host_steps_ = 0
        self._forget()

    def _forget(self) -> None:
        """Drop the evidence and the fit, keep the device-time origin and the counters (a host clock step)."""
        self._bins: dict[int, tuple[float, float]] = {}  # bin -> (x_s, y_s) of the earliest arrival
        self._pings: deque[tuple[float, float, float]] = deque(maxlen=self.max_pings)  # (x_s, send_s, recv_s)
        self._fitted_at_x = -math.inf
        self._dirty = False
        self._late_since: tuple[float, float] | None = None  # (x_s, host_s) of the first of a run of late arrivals
        self.offset_s_ = math.nan
        self.slope_ = 1.0
        self.ping_offset_s_ = 0.0

    @property
    def ready(self) -> bool:
        """True once at least one arrival was added."""
        return bool(self._bins)

    def _x(self, device_time_us: int) -> float:
        if self._origin_us is None:
            self._origin_us = int(device_time_us)
        return (int(device_time_us) - self._origin_us) * 1e-6

    def add_arrival(self, device_time_us: int, host_time_s: float) -> None:
        """A notification whose first sample was taken at ``device_time_us`` (unwrapped) arrived at ``host_time_s``."""
        x = self._x(device_time_us)
        self._check_host_step(x, host_time_s)
        self._latest_x = max(self._latest_x, x)
        key = math.floor(x / self.bin_s)
        old = self._bins.get(key)
        if old is None or host_time_s - x < old[1] - old[0]:
            self._bins[key] = (x, host_time_s)
            self._dirty = True
            if old is None:
                self._prune()
        self.n_arrivals_ += 1

    def _check_host_step(self, x: float, host_time_s: float) -> None:
        """Forget the history when this arrival shows a host clock step (module docstring)."""
        if math.isnan(self.offset_s_):
            return
        late_s = host_time_s - (self.offset_s_ + self.slope_ * x)
        if late_s <= self.step_s:
            self._late_since = None
            if late_s < -self.step_s:  # arrived before its sample was taken: the host clock went back
                self._forget()
                self.host_steps_ += 1
        elif self._late_since is None:
            self._late_since = (x, host_time_s)
        elif min(x - self._late_since[0], host_time_s - self._late_since[1]) >= self.step_confirm_s:
            self._forget()
            self.host_steps_ += 1

    def add_ping(self, device_time_us: int, send_s: float, recv_s: float) -> None:
        """A time ping written at ``send_s`` was answered with ``device_time_us``, received at ``recv_s``."""
        if not recv_s >= send_s:
            raise ValueError(f"ping received ({recv_s}) before it was sent ({send_s})")
        self._pings.append((self._x(device_time_us), send_s, recv_s))
        self.n_pings_ += 1
        self._dirty = True

    def _prune(self) -> None:
        latest = self._latest_x
        oldest = math.floor((latest - self.window_s) / self.bin_s)
        if self._bins and min(self._bins) < oldest:
            self._bins = {k: v for k, v in self._bins.items() if k >= oldest}
        while self._pings and self._pings[0][0] < latest - self.window_s:
            self._pings.popleft()

    def refit(self) -> None:
        """Fit now (normally done lazily by :meth:`host_time_s`)."""
        if not self._bins:
            raise ValueError("no arrivals to fit yet")
        pts = np.array([self._bins[k] for k in sorted(self._bins)], dtype=np.float64)
        x, y = pts[:, 0], pts[:, 1]
        y0 = float(y[0])  # fit on small numbers: host times may be large
        y = y - y0
        if x[-1] - x[0] >= self.min_span_s:
            half = self.max_drift_ppm * 1e-6
            slopes = 1.0 + np.linspace(-half, half, 2 * math.ceil(self.max_drift_ppm) + 1)
        else:
            slopes = np.ones(1)
        pings = np.array(self._pings, dtype=np.float64) - [0.0, y0, y0] if self._pings else None
        if pings is None and self.no_ping_fit == "posterior":
            a, self.slope_ = posterior_line(x, y, slopes, self.posterior_quantile)
            self.ping_offset_s_ = 0.0
        else:
            a, self.slope_, self.ping_offset_s_ = envelope_fit(x, y, slopes, pings, self.ping_weight)
        self.offset_s_ = a + self.ping_offset_s_ + y0
        self._fitted_at_x = self._latest_x
        self._dirty = False

    def _refit_interval_s(self) -> float:
        """Refit often while the history is short, every ``refit_s`` once it spans 20 x that."""
        span = min(self._latest_x, self.window_s)  # x is 0 at the first arrival
        return min(self.refit_s, max(0.25, 0.05 * span))

    def host_time_s(self, device_time_us: ArrayLike) -> np.ndarray:
        """Fitted host times (s) of device times (µs, unwrapped), float64 of the input's shape."""
        if self._dirty and (self._latest_x - self._fitted_at_x >= self._refit_interval_s()
                            or math.isnan(self.offset_s_) or len(self._bins) < 8):
            self.refit()
        if math.isnan(self.offset_s_):
            raise ValueError("no arrivals to fit yet")
        assert self._origin_us is not None
        x = (np.asarray(device_time_us, dtype=np.int64) - self._origin_us) * 1e-6
        return self.offset_s_ + self.slope_ * x
