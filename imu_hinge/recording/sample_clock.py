"""Jittered timestamps back onto the sensor's own regular sample clock.

A sensor samples on its own crystal: its samples are evenly spaced (with a drift of some ppm)
and a dropped sample leaves a hole of one whole period. The stamps in a file need not show
that: a phone app or BLE bridge that stamps each sample (or packet) with the time it *arrived*
adds the radio's latency, which varies by milliseconds from packet to packet. At 100 Hz a
stamp jitter of 2-3 ms makes many intervals look 1.5 periods long, and the fusion bridges each
such "gap" by integrating the gyro over a period that never passed (measured on the shared dev
cases: lumbar RMSE median 0.76 -> 1.8 deg with ±5 ms of jitter).

:func:`regular_times` finds the sample clock behind the stamps and puts each sample on it:

1. **Phase.** With the period ``T`` (median interval), every sample's stamp in periods,
   ``t / T``, has the same fractional part up to its jitter. Its circular mean over a window of
   samples gives the clock's phase there; the phases of successive windows, unwrapped, follow the
   clock's drift (and correct ``T``; two passes, short windows then long ones).
2. **Index.** Each sample's index on that clock is its position in the stream plus the samples
   dropped before it, a count that never falls; its stamp in periods minus the phase and its
   position is that count plus jitter. The closest count that never falls (isotonic regression),
   rounded, gives every index: a sample so late that it alone would round onto its neighbour's
   index stays beside it.
3. **Times.** Each sample's time is its index on the fitted clock. Stamps that were regular
   already (jitter below :data:`MIN_JITTER_SHARE` of a period) are returned as they are; stamps that
   do not fit any regular clock (a sensor that really samples unevenly) too, with no change.

Long gaps (a sensor lost for a while may come back on a new phase) split the stream into parts
fitted on their own.
"""

from __future__ import annotations

import math

import numpy as np

MIN_JITTER_SHARE = 0.05
"""Stamps with a jitter (std) below this share of a period are left as they are (a sensor's own
clock: the shared dev cases have 0.02)."""
MAX_JITTER_SHARE = 0.35
"""Above this share of a period the jitter hides which sample is which: stamps are left as they are."""
SPLIT_PERIODS = 50
"""An interval longer than this many periods splits the stream (a sensor may come back on a new phase)."""
WINDOWS = (32, 128, 512)
"""Samples per phase window: a first pass with short windows (tolerates a period off by ~1 %), then long ones."""
MIN_PART = 16
"""Parts with fewer samples keep their stamps."""
CENTRE_PASSES = 2
"""Times the clock's phase is re-centred on the stamps' mean offset from their indices."""
COARSE_SPAN, COARSE_RANGE = 256, (0.9, 1.1)
"""The first guess of the period: how well four stretches of this many stamps line up, for periods
within this range of the median interval (in steps that move a stretch's end by a quarter period)."""


def jitter_share(t: np.ndarray, span: int = 5000) -> float:
    """A robust estimate of the stamps' jitter (std) as a share of the period, from the intervals:
    half-normal median of ``|dt - T|`` over intervals shorter than 1.5 periods (gaps left out), on
    up to three stretches of ``span`` stamps (start, middle, end: a long recording costs no more)."""
    n = len(t)
    dt = np.diff(t) if n <= 3 * span else np.concatenate([np.diff(t[i:i + span]) for i in (0, n // 2, n - span)])
    if dt.size < 2:
        return 0.0
    period = float(np.median(dt))
    if not period > 0:
        return 0.0
    dev = np.abs(dt[dt < 1.5 * period] - period)
    # an interval is the difference of two stamps' jitters: std sqrt(2) sigma, |.| median 0.674 of that
    return float(np.median(dev) / (0.674 * math.sqrt(2.0)) / period) if dev.size else 0.0


def _phase_track(t: np.ndarray, period: float, window: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Window centre times (s), the clock's unwrapped phase there (periods) and the mean resultant
    length (0..1: how tightly the stamps sit on one clock)."""
    n = len(t)
    z = np.exp(2j * math.pi * ((t - t[0]) / period))
    n_win = max(1, n // window)
    edges = np.linspace(0, n, n_win + 1).astype(int)
    sums = np.add.reduceat(z, edges[:-1])
    counts = np.diff(edges)
    means = sums / counts
    centres = np.add.reduceat(t, edges[:-1]) / counts
    phase = np.unwrap(np.angle(means)) / (2.0 * math.pi)
    r = float(np.abs(means).mean())
    return centres, phase, r


def _coarse_period(t: np.ndarray, guess: float) -> float:
    """The period (s) near ``guess`` on which stretches of the stamps line up best: the median interval
    can be several % off when late stamps bunch up (a held-up radio delivers a burst), and drops do not
    move this one."""
    spans = [t[a:a + COARSE_SPAN] for a in np.linspace(0, max(0, len(t) - COARSE_SPAN), 4).astype(int)]
    steps = np.arange(*COARSE_RANGE, 0.25 / COARSE_SPAN)
    score = np.zeros(steps.size)
    for x in spans:
        u = np.outer(1.0 / (guess * steps), x - x[0])  # (candidates, samples): stamps in periods
        score += np.abs(np.exp(2j * math.pi * u).mean(axis=1))
    return float(guess * steps[int(np.argmax(score))])


def _fit_part(t: np.ndarray, period: float) -> np.ndarray | None:
    """Times of one part's samples on its fitted regular clock, or None when there is no such clock."""
    from scipy.optimize import isotonic_regression  # here: scipy.optimize costs 0.3 s to import, and
    # most recordings never come here
    t0 = float(t[0])
    period = _coarse_period(t, period)
    r = 0.0
    centres = phase = np.empty(0)
    for window in WINDOWS:
        centres, phase, r = _phase_track(t, period, window)
        if len(centres) >= 2:  # the phase's trend is the period's error: refine it
            slope = float(np.polyfit(centres - t0, phase, 1)[0])  # periods per second
            if abs(slope * period) < 0.02:
                period = period / (1.0 - slope * period)
                centres, phase, r = _phase_track(t, period, window)
    if r < math.exp(-2.0 * math.pi ** 2 * MAX_JITTER_SHARE ** 2):  # resultant length of that jitter
        return None
    p = np.interp(t, centres, phase)  # clock phase (periods) at each sample
    u = (t - t0) / period
    # sample i's index is i + the holes (dropped samples) before it: a count that never falls. Its
    # stamp in periods, less the phase and i, is that count plus the jitter: the closest count that
    # never falls (isotonic regression), rounded, puts a late or early sample back beside its neighbours
    i = np.arange(len(t), dtype=float)
    edges = np.linspace(0, len(t), len(centres) + 1).astype(int)[:-1]
    for _ in range(CENTRE_PASSES):
        k = i + np.rint(isotonic_regression(u - p - i).x)
        # a skewed latency (a long tail of late stamps) puts the circular mean off the middle of the
        # stamps' spread, and the rounding above slips by one on long stretches: centre on the mean
        resid = u - p - k
        p = p + np.interp(t, centres, np.add.reduceat(resid, edges) / np.diff(np.r_[edges, len(t)]))
    k = i + np.rint(isotonic_regression(u - p - i).x)
    return t0 + (k + p) * period


def regular_times(t: np.ndarray, min_share: float = MIN_JITTER_SHARE) -> tuple[np.ndarray, float] | None:
    """``(times on the sensor's regular clock, jitter share of a period)`` for increasing stamps ``t`` (s),
    or None when they need nothing (regular already: jitter below ``min_share``; too few) or fit no
    regular clock."""
    if len(t) < MIN_PART:
        return None
    share = jitter_share(t)
    if share < min_share:
        return None
    period = float(np.median(np.diff(t)))
    if not period > 0:  # most stamps shared (packets bunched by a held-up radio): no period to fit
        return None
    cuts = np.flatnonzero(np.diff(t) > SPLIT_PERIODS * period) + 1
    out = t.astype(float, copy=True)
    changed = False
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(t)], strict=True):
        if b - a < MIN_PART:
            continue
        fitted = _fit_part(t[a:b], period)
        if fitted is None:
            return None
        out[a:b] = fitted
        changed = True
    if not changed or np.any(np.diff(out) <= 0):
        return None
    return out, share


__all__ = ["MIN_JITTER_SHARE", "jitter_share", "regular_times"]
