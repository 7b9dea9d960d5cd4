"""Bounded looks at long recordings for the input checks: a few stretches, interpolation near them only."""

from __future__ import annotations

import numpy as np

from imu_hinge.samples import SensorStream

BLOCK_S, MAX_BLOCKS = 10.0, 24
"""The content checks look at up to MAX_BLOCKS stretches of BLOCK_S spread over the recording."""


def blocks(t0: float, t1: float) -> list[tuple[float, float]]:
    """Up to MAX_BLOCKS stretches of BLOCK_S evenly spread over [t0, t1] (the whole span when short)."""
    if t1 - t0 <= BLOCK_S * MAX_BLOCKS:
        edges = np.arange(t0, t1, BLOCK_S)
        return [(float(a), min(float(a) + BLOCK_S, t1)) for a in edges]
    starts = np.linspace(t0, t1 - BLOCK_S, MAX_BLOCKS)
    return [(float(a), float(a) + BLOCK_S) for a in starts]


def step_s(s: SensorStream) -> float:
    """Median sample interval from up to three stretches of 5000 samples (start, middle, end)."""
    n, k = len(s), 5000
    if n <= 3 * k:
        return float(np.median(np.diff(s.time_s)))
    parts = [np.diff(s.time_s[i:i + k]) for i in (0, n // 2, n - k)]
    return float(np.median(np.concatenate(parts)))


def cut(s: SensorStream, a: float, b: float) -> slice:
    return slice(int(np.searchsorted(s.time_s, a)), int(np.searchsorted(s.time_s, b, side="right")))


def bounds(s: SensorStream, a: float, b: float) -> tuple[int, int]:
    """Sample indices covering [a, b], one more each side (for interpolation at the edges)."""
    return (max(int(np.searchsorted(s.time_s, a)) - 1, 0),
            min(int(np.searchsorted(s.time_s, b, side="right")) + 1, len(s)))


def sample(s: SensorStream, t: np.ndarray) -> np.ndarray:
    """acc and gyr (N, 6) linearly interpolated at ``t`` (held at the ends); only the samples around
    ``t`` are touched."""
    i, j = bounds(s, float(t[0]), float(t[-1]))
    st, data = s.time_s[i:j], np.concatenate([s.acc_m_s2[i:j], s.gyr_rad_s[i:j]], axis=1)
    return np.column_stack([np.interp(t, st, data[:, c]) for c in range(6)])
