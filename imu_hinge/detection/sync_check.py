"""Are both sensors on one clock? Told from the hinges themselves.

In a hinge the thorax rides on the pelvis: trunk flexion ``T`` and pelvic tilt ``P`` turn together,
and their rates ``dT/dt`` and ``dP/dt`` correlate best at a lag of 0.00-0.02 s (our simulator's 33
families, the 19 shared dev cases; a lumbar-led "back first" rep moves the peak by 0.01 s). Two
sensors logged on separate clocks (two phones, two loggers, a CSV whose columns were aligned by
hand) shift that peak by their offset. A shift of at least ``min_lag_s`` is told, with the
import option that aligns the files; nothing is corrected, since real lumbopelvic rhythm can lead
or lag a little and only the user knows how the files were stamped.

Only the reps (with ``margin_s`` either side) count: walking between sets rocks the pelvis and
trunk out of step (peaks at up to 0.13 s in our simulator). And only where the sensors measured: across a
gap in the angles (an outage) the interpolated straight line is no motion (two rows alone used to be
"told" as an offset with a correlation of 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

GRID_HZ = 50.0
"""The angles are compared on a uniform grid at this rate."""


@dataclass(frozen=True)
class SyncCheckParams:
    min_lag_s: float = 0.25
    """A peak this far from zero is told (the honest peaks lie within ±0.02 s; clock offsets of separate loggers
    are typically tenths of a second to seconds)."""
    max_lag_s: float = 2.0
    """Lags searched, ± s."""
    min_correlation: float = 0.7
    """The peak must be this clear (normalised cross-correlation; hinge sessions measure 0.86-1.00)."""
    min_reps: int = 3
    """Fewer reps never give a verdict."""
    margin_s: float = 0.5
    """Samples this long before a rep's start and after its end count with it, s."""
    max_gap_s: float = 0.2
    """Where consecutive rows of angles lie further apart than this (a sensor lost, a cut), nothing is compared:
    the straight line drawn across a gap is not motion, s."""


@dataclass(frozen=True)
class ClockLag:
    lag_s: float
    """How much later the thoracic sensor's motion is stamped than the sacrum's, s (negative: earlier)."""
    correlation: float

    def message(self) -> str:
        way = "after" if self.lag_s > 0 else "before"
        return (f"the thoracic sensor's motion is stamped {abs(self.lag_s):.2f} s {way} the sacrum's through every "
                f"hinge (they move together in a hinge): the two sensors do not look stamped on one clock; if the "
                f"files come from separate loggers, align them (imu-hinge import ... --thoracic-offset-s "
                f"{-self.lag_s:+.2f})")


def _fast_len(m: int) -> int:
    """The smallest length >= ``m`` with no prime factors but 2, 3 and 5."""
    best = 1 << max(0, (m - 1).bit_length())  # the power of two
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:  # p35 = 3^b 5^c, times the smallest power of two reaching m
            best = min(best, p35 << max(0, (-(-m // p35) - 1).bit_length()))
            p35 *= 3
        p5 *= 5
    return best


def clock_lag(result: Any, params: SyncCheckParams | None = None) -> ClockLag | None:
    """The lag at which the hinges' ``dT/dt`` best matches ``dP/dt``, when it is clear and at least ``min_lag_s``."""
    params = params or SyncCheckParams()
    reps = [r for r in result.reps if np.isfinite(r.start_s) and np.isfinite(r.end_s)]
    t = np.asarray(result.time_s, dtype=float)
    p = np.asarray(result.pelvic_tilt_deg, dtype=float)
    tr = np.asarray(result.trunk_flexion_deg, dtype=float)
    ok = np.isfinite(t) & np.isfinite(p) & np.isfinite(tr)
    if len(reps) < params.min_reps or int(ok.sum()) < 2:
        return None
    t_ok = t[ok]
    grid = np.arange(t_ok[0], t_ok[-1], 1.0 / GRID_HZ)
    if grid.size < 2:  # finite rows within one grid step: no rate to compare (np.gradient needs two points)
        return None
    # the rows either side of each grid time (arange's last time can round up to t_ok[-1]: the last interval)
    after = np.minimum(np.searchsorted(t_ok, grid, side="right"), t_ok.size - 1)
    measured = (t_ok[after] - t_ok[after - 1]) <= params.max_gap_s  # not inside a gap between the rows
    in_reps = np.zeros(grid.size, bool)
    # grid >= start - margin and grid <= end + margin, per rep: a slice of the sorted grid (not a pass over it)
    lo = np.searchsorted(grid, [r.start_s - params.margin_s for r in reps], side="left")
    hi = np.searchsorted(grid, [r.end_s + params.margin_s for r in reps], side="right")
    for i0, i1 in zip(lo.tolist(), hi.tolist(), strict=True):
        in_reps[i0:i1] = True
    in_reps &= measured
    dp = np.gradient(np.interp(grid, t_ok, p[ok])) * in_reps  # the pelvis in the reps ...
    dt = np.gradient(np.interp(grid, t_ok, tr[ok])) * measured  # ... against the trunk wherever its clock puts it
    n = grid.size
    k_max = min(int(params.max_lag_s * GRID_HZ), n - 1)
    # zero-padded to n + k_max: the circular correlation is the linear one at every lag searched (|k| <= k_max);
    # a length with factors 2, 3, 5 only (pocketfft's fast sizes; a power of two >= 2n was up to 3x longer)
    size = _fast_len(n + k_max)

    def xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # [k] = sum_i a[i + k] * b[i]
        return np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)

    lags = np.arange(-k_max, k_max + 1)
    energy_dt = xcorr(dt * dt, in_reps.astype(float))[lags % size]  # the trunk's energy in each shifted window
    energy_dp = float(np.dot(dp, dp))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = xcorr(dt, dp)[lags % size] / np.sqrt(energy_dp * np.maximum(energy_dt, 0.0))
    values = np.where(np.isfinite(values), values, -1.0)
    best = int(np.argmax(values))
    lag_s, c = float(lags[best] / GRID_HZ), float(values[best])
    if c < params.min_correlation or abs(lag_s) < params.min_lag_s:
        return None
    return ClockLag(lag_s, c)


__all__ = ["GRID_HZ", "ClockLag", "SyncCheckParams", "clock_lag"]
