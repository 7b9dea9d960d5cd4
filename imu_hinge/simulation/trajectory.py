"""Smooth scalar trajectories: quintic Hermite knot curves and band-limited random signals.

A :class:`KnotCurve` passes through knots ``(time_s, value, rate, accel)`` with a quintic
polynomial between each pair, so value, first and second derivative are continuous (C2):
a knot with zero rate and zero acceleration at both ends of a segment gives a
minimum-jerk move. Before the first knot and after the last the curve is held constant.
"""

from __future__ import annotations

import numpy as np

# Quintic Hermite basis on s in [0, 1]: coefficients of s^0..s^5 for
# x0, D*v0, D^2*a0, D^2*a1, D*v1, x1 (D = segment duration).
_BASIS = np.array([
    [1.0, 0.0, 0.0, -10.0, 15.0, -6.0],
    [0.0, 1.0, 0.0, -6.0, 8.0, -3.0],
    [0.0, 0.0, 0.5, -1.5, 1.5, -0.5],
    [0.0, 0.0, 0.0, 0.5, -1.0, 0.5],
    [0.0, 0.0, 0.0, -4.0, 7.0, -3.0],
    [0.0, 0.0, 0.0, 10.0, -15.0, 6.0],
])


def min_jerk_fraction(level: float) -> float:
    """Fraction ``s`` of a minimum-jerk move's duration at which it has covered ``level`` (0..1) of it."""
    s = np.linspace(0.0, 1.0, 2001)
    covered = 10 * s**3 - 15 * s**4 + 6 * s**5
    return float(np.interp(min(max(level, 0.0), 1.0), covered, s))


class KnotCurve:
    """A C2 scalar trajectory built knot by knot (times strictly increasing).

    ``add(time_s, value, rate=0, accel=0)`` appends a knot (rate per s, accel per s^2);
    ``hold(time_s)`` repeats the last value with zero rate and acceleration.
    """

    def __init__(self, value: float = 0.0, time_s: float = 0.0) -> None:
        self._t: list[float] = [time_s]
        self._x: list[float] = [value]
        self._v: list[float] = [0.0]
        self._a: list[float] = [0.0]

    @property
    def last_time_s(self) -> float:
        return self._t[-1]

    @property
    def last_value(self) -> float:
        return self._x[-1]

    def add(self, time_s: float, value: float, rate: float = 0.0, accel: float = 0.0) -> KnotCurve:
        if time_s <= self._t[-1] + 1e-6:
            raise ValueError(f"knot at {time_s:.4f} s is not after the previous one at {self._t[-1]:.4f} s")
        self._t.append(float(time_s))
        self._x.append(float(value))
        self._v.append(float(rate))
        self._a.append(float(accel))
        return self

    def hold(self, time_s: float) -> KnotCurve:
        if time_s > self._t[-1] + 1e-6:
            self.add(time_s, self._x[-1])
        return self

    def value_at(self, time_s: float) -> float:
        return float(self.evaluate(np.array([time_s]))[0])

    def evaluate(self, time_s: np.ndarray, order: int = 0) -> np.ndarray:
        """Value (``order`` 0), rate (1) or acceleration (2) at ``time_s`` (N,) -> (N,)."""
        t = np.asarray(time_s, dtype=float)
        kt = np.asarray(self._t)
        if len(kt) < 2:
            return np.full(t.shape, self._x[0] if order == 0 else 0.0)
        i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
        dur = kt[i + 1] - kt[i]
        s = np.clip((t - kt[i]) / dur, 0.0, 1.0)
        x, v, a = np.asarray(self._x), np.asarray(self._v), np.asarray(self._a)
        coef = np.stack([x[i], dur * v[i], dur**2 * a[i], dur**2 * a[i + 1], dur * v[i + 1], x[i + 1]])
        poly = _BASIS.T @ coef  # (6, N): coefficients of s^0..s^5
        powers = np.arange(6)
        for _ in range(order):
            poly = poly[1:] * powers[1:len(poly), None]
            powers = np.arange(len(poly))
        sp = s[None, :] ** np.arange(len(poly))[:, None]
        out = np.sum(poly * sp, axis=0) / dur**order
        if order:
            out = np.where((t < kt[0]) | (t > kt[-1]), 0.0, out)
        return out


def smooth_noise(rng: np.random.Generator, time_s: np.ndarray, rms: float,
                 band_hz: tuple[float, float] = (0.05, 0.5), n_tones: int = 6) -> np.ndarray:
    """Band-limited random signal (N,) with RMS about ``rms``: a sum of ``n_tones`` random sinusoids.

    Analytic, so infinitely smooth: safe to differentiate twice.
    """
    freq_hz = rng.uniform(band_hz[0], band_hz[1], n_tones)
    phase = rng.uniform(0.0, 2 * np.pi, n_tones)
    weight = rng.uniform(0.5, 1.0, n_tones)
    weight *= rms * np.sqrt(2.0) / np.sqrt(np.sum(weight**2))
    out = np.zeros_like(time_s, dtype=float)
    for f, p, w in zip(freq_hz, phase, weight, strict=True):
        out += w * np.sin(2 * np.pi * f * time_s + p)
    return out


def smoothstep_envelope(time_s: np.ndarray, start_s: float, end_s: float, ramp_s: float) -> np.ndarray:
    """0 outside [start, end], 1 inside with C2 (minimum-jerk) ramps of ``ramp_s`` at both ends."""
    ramp_s = max(min(ramp_s, 0.5 * (end_s - start_s)), 1e-3)
    up = np.clip((time_s - start_s) / ramp_s, 0.0, 1.0)
    down = np.clip((end_s - time_s) / ramp_s, 0.0, 1.0)
    s = np.minimum(up, down)
    return 10 * s**3 - 15 * s**4 + 6 * s**5
