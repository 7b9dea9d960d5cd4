"""Each sensor's time must increase: one rule for every reader (interchange CSV, import).

Time going backwards is an error (the clock or the row order is wrong; nothing to guess), unless it
steps back rarely and by at most ``MAX_BACK_PERIODS`` sample periods around a regular clock: stamps
computed back from arrival times (packets overlap when the latency falls), put back on the sensor's clock. Equal
stamps are of two kinds. Many loggers (phone apps, BLE bridges) stamp every sample of a
notification with the packet's one time: then most samples share a stamp, they are distinct
samples, and they are spread evenly from their stamp up to the next one (:func:`spread_packet_times`);
packets of one size go back on the sensor's clock, and single samples that the radio delivers bunched
(groups of every size) are timed from the fastest arrivals after them (:func:`arrival_bound`), stepping back by
the sensor's period as the stamps' phase shows it (:func:`clock_period`: samples lost one at a time make the
stamps' own period too long).
A few equal stamps are either repeated rows (the same values again: the first of each is kept) or
distinct samples that arrived together (spread like a packet's). Either way a warning says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imu_hinge.errors import RecordingFormatError
from imu_hinge.recording.sample_clock import SPLIT_PERIODS, regular_times

MAX_BACK_SHARE, MAX_BACK_PERIODS = 0.1, 20.0
"""Stamps that step back at most this share of the time, by at most this many sample periods, and fit
a regular clock are scattered arrival stamps (put back on the clock); anything else is an error."""
MIN_BACK_STEPS = 3
"""... and at least this many times: a pair of rows out of order in regular stamps is an error (the file's
order is in question, not the stamps' scatter)."""
WHOLE_PACKETS = 0.95
"""Per-packet stamps are fitted per packet when at least this share of the stamps hold whole packets
(the rest: packets cut short, where the link was lost)."""
PACKET_SHARE = 0.3
"""More than this share of a stream's samples repeating the previous stamp: stamps are per packet."""
ENVELOPE_S = 1.0
"""Stamps of notifications that the radio bunches (groups of every size): each sample's time is bounded by the
stamps of the samples that follow within this long (:func:`arrival_bound`)."""
PERIOD_SPAN_S = 10.0
"""... with the period read from the stamps over stretches this long (their median)."""
LOSS_EVIDENCE = 0.005
"""Stamps taken on arrival: the stretch that lost fewest samples sets the bound's period when its span per sample,
read between the fastest arrivals at its ends, is this share below the stretches' median (some stretches lost
more than others; the latency's own spread moves them by ~0.1 %). Samples lost make a stretch's span per
sample longer by their share; a period read from the stretches' median kept that share, and the bound, stepping
back by it from later arrivals, ran early by up to its one-second window times it (3 % lost: 30 ms). Measured
over benchmarks/arrival_grid.py: lumbar RMSE mean 1.61 -> 1.30 deg (the lossy half's sum 43.3 -> 31.3; worst
change 2.9 -> 6.2 deg, 60 ms in packets of 4 at 50 Hz: the bound's clock now wins the comparison with the packet
fit and is the worse of the two there)."""
MIN_BOUND_SAMPLES = 32
"""Fewer samples than this: no bound (too few stretches to read a period from)."""
LOST_MARGIN = 0.05
"""A whole-packet fit that says at most this share of the samples were lost is taken as it is. Above it, the
samples may really have been lost (the bound cannot see losses), or a latency above a packet's length made
the fit pair the wrong packets (measured: 13 % to two samples in three "lost" where none were): the fit is
kept when it leaves the stamps' lags no more spread than the bound's clock does (:func:`_lag_spread`) and says
at most ``MAX_LOST_SHARE`` were lost."""
MAX_LOST_SHARE = 0.5
"""A packet fit that says more than half the samples were lost in short holes gives way to the bound."""
CLOCK_RANGE = (0.9, 1.005)
"""The sensor's period is sought within this range of the stamps' (which samples lost make longer; 10 % lost
at most): :func:`clock_period`."""
CLOCK_STRETCH, CLOCK_STRETCHES, CLOCK_MIN_SAMPLES = 2048, 4, 256
"""Samples per stretch of :func:`clock_period` (its resolution: an eighth of a period over the stretch), at most
how many stretches (apart from each other), and the fewest samples it reads a period from."""
CLOCK_FALSE_ALARM = 1e-3
"""The chance that stamps with no clock in them show one (:func:`clock_period`)..."""
CLOCK_PEAK_RATIO, CLOCK_PEAK_BINS = 2.5, 8
"""... and the clock's peak must stand this many times above the band's highest power more than this many
bins (two peak widths) from it: bunched stamps raise bumps of their own (measured over the 36 simulated links of
benchmarks/arrival_grid.py: where the noise test passed, the clock's peak stood 2.7-33 times above the next; the one
bump that passed it, 0.5 % off the period, 1.55 times)."""
TIMED_BY = {"packets": "the packets' stamps put back on the sensor's regular clock (they scatter by the link's "
                       "latency), their samples one period apart",
            "bounded": "the samples arrive bunched (held up by the radio): each timed by the fastest arrivals "
                       "after it and put on the sensor's regular clock (times uncertain by about the link's "
                       "latency; a sensor's own sample clock or counter is better)",
            "even": "spread evenly between consecutive stamps"}
"""The input checks' words for how stamps shared by several samples were timed (:func:`_spread`'s methods)."""
LAG_FLOOR_QUANTILE = 0.002
"""The fastest arrivals: this quantile of the stamps' lags behind a clock (a robust minimum)."""


def spread_packet_times(t: np.ndarray) -> np.ndarray:
    """Samples sharing one (packet) stamp -> evenly spaced from that stamp up to the next one (s).

    When the stamps hold whole packets of one size (a radio that was held up delivers two at once; a
    few packets may be cut short where the link was lost), the packets left the sensor on its regular
    clock: their stamps are put back on it first (:func:`~.sample_clock.regular_times`: arrival stamps
    scatter by the radio's latency) and a packet's samples are one sample period apart (a lost packet
    leaves a hole after the packet before it instead of stretching that packet's samples)."""
    return _spread(t)[0]


Spread = tuple[np.ndarray, str]
"""Times and how they were made: ``"packets"`` (whole packets put back on the clock), ``"bounded"``
(:func:`arrival_bound`, then the clock), ``"even"`` (evenly between consecutive stamps)."""


def arrival_bound(t: np.ndarray, span_s: float = ENVELOPE_S) -> np.ndarray | None:
    """Stamps taken on arrival (non-decreasing, many shared) -> for each sample the latest time it can have
    been taken on a regular clock, up to a constant: ``min(t[j] - (j - k) * T)`` over the samples ``j`` of
    the next ``span_s`` (``T``: the period). A sample is taken before any later sample arrives, less the
    sample periods between them (one more for each sample lost in between: the bound only loosens), so
    the lowest of these bounds, set by the one sample of that stretch that came through fastest, is
    off the true time by that sample's latency alone (the link's best case, nearly the same all along).
    None when the stamps give no period."""
    n = len(t)
    if n < MIN_BOUND_SAMPLES or not t[-1] > t[0]:
        return None
    k = np.arange(n, dtype=float)
    m = max(MIN_BOUND_SAMPLES // 2, int(round(PERIOD_SPAN_S * (n - 1) / float(t[-1] - t[0]))))
    m = min(m, n // 2)
    starts = np.arange(0, n - m, m)
    period = float(np.median((t[starts + m] - t[starts]) / m))  # long by the share of the samples lost
    if not period > 0:
        return None
    from scipy.ndimage import minimum_filter1d

    def envelope(period_s: float) -> np.ndarray:
        w = max(2, int(round(span_s / period_s)))
        return k * period_s + minimum_filter1d(t - k * period_s, size=w, origin=-(w // 2), mode="nearest")

    # the stretch that lost fewest comes closest to the sensor's period: its span read between the fastest
    # arrivals at its ends (the envelope: the latency's spread left out, only losses lengthen it)
    e = envelope(period)
    rates = (e[starts + m] - e[starts]) / m
    fewest, typical = float(np.min(rates)), float(np.median(rates))
    if 0.0 < fewest < (1.0 - LOSS_EVIDENCE) * typical:  # some stretches lost more than others: losses, not noise
        period = fewest
    return envelope(clock_period(t, period) or period)


def clock_period(t: np.ndarray, guess_s: float) -> float | None:
    """The sensor's sample period (s) from the phase of its arrival stamps, or None when they show none.

    Samples lost one at a time do not show in stamps that scatter by about a period, but each makes the
    stamps' period (span / samples) longer: 3 % lost, 3 % long, and the bound, which steps back from later
    arrivals by that period, up to 30 ms early at the end of its one-second window (timing errors of 20 ms
    RMS at 100 Hz). The sensor's clock does not skip: every stamp, late by its latency, keeps the clock's
    phase, so the stamps' phasors ``exp(2 pi i t / T)`` add up at the true period ``T`` whatever was lost
    (their latency, exponential with a mean below a period or so, only shrinks the sum). The period is
    sought within :data:`CLOCK_RANGE` of ``guess_s`` (the stamps' period) on up to four separate stretches of
    :data:`CLOCK_STRETCH` samples (a periodogram of the stamps binned at an eighth of a period), and taken
    when the stretches' summed power stands out of the band's noise (the chance of noise reaching it:
    :data:`CLOCK_FALSE_ALARM`) and above anything else in it (:data:`CLOCK_PEAK_RATIO`); a link whose latency
    spans more than a period or two shows no clock (the stamps' period is kept)."""
    n = len(t)
    size = min(n, CLOCK_STRETCH)
    if size < CLOCK_MIN_SAMPLES or not guess_s > 0:
        return None
    step = guess_s / 8.0
    count = max(1, min(CLOCK_STRETCHES, n // size))  # apart: overlapping stretches would share their noise
    parts = [t[a:a + size] - t[a] for a in np.linspace(0, n - size, count).astype(int)]
    parts = [x for x in parts if x[-1] <= 2.0 * size * guess_s]  # an outage inside: its stretch left out
    if not parts:
        return None
    nfft = 1 << (4 * (int(max(x[-1] for x in parts) / step) + 2) - 1).bit_length()  # 4x oversampled
    freq = np.fft.rfftfreq(nfft, step)
    band = (freq >= 1.0 / (CLOCK_RANGE[1] * guess_s)) & (freq <= 1.0 / (CLOCK_RANGE[0] * guess_s))
    if not band.any():
        return None
    power = np.zeros(int(band.sum()))
    for x in parts:
        counts = np.bincount(np.rint(x / step).astype(np.int64))
        power += np.abs(np.fft.rfft(counts, nfft)[band]) ** 2 / size
    k = len(parts)
    # noise: a sum of k exponentials per frequency, ~(band width x stretch span) independent ones in the band;
    # clumped stamps raise the floor, read from the band's median
    independent = max(1.0, float(band.sum()) / 4.0)
    floor = max(1.0, float(np.median(power)) / _gamma_isf(0.5, k))
    peak = int(np.argmax(power))
    elsewhere = np.abs(np.arange(power.size) - peak) > CLOCK_PEAK_BINS
    if (power[peak] < floor * _gamma_isf(CLOCK_FALSE_ALARM / independent, k)
            or (elsewhere.any() and power[peak] < CLOCK_PEAK_RATIO * float(power[elsewhere].max()))):
        return None
    return float(1.0 / freq[band][peak])


def _gamma_isf(p: float, k: int) -> float:
    """The x with P(X > x) = p for X, a sum of k unit exponentials (Gamma(k, 1); no scipy.stats: 0.5 s to import)."""
    lo, hi = 0.0, 50.0 + 10.0 * k
    for _ in range(60):
        x = 0.5 * (lo + hi)
        tail = math.exp(-x) * sum(x**j / math.factorial(j) for j in range(k))
        lo, hi = (x, hi) if tail > p else (lo, x)
    return 0.5 * (lo + hi)


def _spread(t: np.ndarray, bounded: bool = False) -> Spread:
    """:func:`spread_packet_times`, and how. ``bounded``: when the stamps hold no whole packets (single
    samples the radio delivers bunched, a group of any size at each connection event), the times that
    :func:`arrival_bound` allows, put on the sensor's clock, before the even spread (which reads such a
    stream's rate wrong: between two bunches it packs a bunch's samples into the gap to the next)."""
    places = _packet_places(t)
    packets = _whole_packets(t, places)
    if packets is not None and (not bounded or _lost_share(packets) <= LOST_MARGIN):
        return packets, "packets"  # the usual case: the bound is not needed to judge it
    other = bounded_times(t, None if places is None else np.flatnonzero(places[2] == 0)) if bounded else None
    if packets is not None and (other is None or (_lost_share(packets) <= MAX_LOST_SHARE
                                                  and _lag_spread(t, packets) <= _lag_spread(t, other))):
        return packets, "packets"  # real losses: the bound cannot see them, and its clock leaves the stamps spread
    if other is not None:
        return other, "bounded"
    stamps, first, counts = np.unique(t, return_index=True, return_counts=True)
    steps = np.diff(stamps) / counts[:-1]
    steps = np.append(steps, np.median(steps) if steps.size else 0.0)
    within = np.arange(len(t)) - np.repeat(first, counts)
    return np.repeat(stamps, counts) + within * np.repeat(steps, counts), "even"


def _lag_spread(stamps: np.ndarray, times: np.ndarray) -> float:
    """How far the typical sample's stamp lies behind the fastest arrivals' (s): on the right clock only the
    link's latency; a clock that pairs the wrong packets, or misses lost ones, adds its own error."""
    lag = stamps - times
    return float(np.median(lag) - np.quantile(lag, LAG_FLOOR_QUANTILE))


def _lost_share(times: np.ndarray) -> float:
    """The share of samples a fitted clock says were lost in short holes: 1 - samples x period / span, less
    the gaps longer than the clock fit's split (an outage shows in the stamps whatever the clock)."""
    dt = np.diff(times)
    period = float(np.median(dt))
    span = float(dt[dt <= SPLIT_PERIODS * period].sum())
    return 1.0 - len(dt) * period / span if span > 0 else 0.0


def bounded_times(t: np.ndarray, firsts: np.ndarray | None = None) -> np.ndarray | None:
    """:func:`arrival_bound` put on the sensor's regular clock (None when either finds none). ``firsts``: where the
    stamps hold whole packets, the indices of the samples that start one; the times are then shifted to the level
    of the whole-packet fit (:func:`_whole_packets`), the packets' stamps on average at their first samples.

    The bound sits at the fastest arrivals, less the samples that followed in the same notification (the first
    sample of a packet of four is bounded by its fourth's stamp, three periods back): earlier than the packet fit
    by the link's mean latency beyond its fastest and by a packet's depth. A constant delay of both sensors is no
    error, but where a packet fit passed on one sensor's stream and the bound timed the other's, the two sat
    apart by all of it: 67 ms in packets of 4 at 50 Hz (benchmarks/arrival_grid.py's worst session, lumbar RMSE
    6.3 deg; a random kettlebell set of benchmarks/real_world_mix.py, 8.1). Samples sent one per notification
    keep the bound's level (nearer the sampling instants: the stamps' mean carries every hold-up of the radio)."""
    bound = arrival_bound(t)
    fitted = None if bound is None else regular_times(bound, min_share=0.0)
    if fitted is None:
        return None
    if firsts is None:
        return fitted[0]
    return fitted[0] + float(np.mean(t[firsts] - fitted[0][firsts]))


def _packet_places(t: np.ndarray) -> tuple[int, np.ndarray, np.ndarray] | None:
    """Stamps that hold whole packets of one size: ``(size, each sample's packet (N,), its place in the packet
    (N,))``, packets numbered from 0 in time order; None when they hold no such packets."""
    stamps, first, counts = np.unique(t, return_index=True, return_counts=True)
    sizes, seen = np.unique(counts, return_counts=True)
    size = int(sizes[np.argmax(seen)])  # the usual packet; a stamp may hold several (a burst) or one cut short
    if not (size >= 2 and counts.size > 2 and np.mean(counts % size == 0) >= WHOLE_PACKETS):
        return None
    n_packets = -(-counts // size)
    j = np.arange(len(t)) - np.repeat(first, counts)  # a sample's place in its stamp's group
    return size, np.repeat(np.cumsum(n_packets) - n_packets, counts) + j // size, j % size


def _whole_packets(t: np.ndarray, places: tuple[int, np.ndarray, np.ndarray] | None) -> np.ndarray | None:
    """Stamps of whole packets of one size (``places``: :func:`_packet_places` of ``t``): the packets put back on the
    clock, a packet's samples one period apart (None when the stamps hold no such packets or fit no clock)."""
    if places is None:
        return None
    size, packet, place = places
    starts = place == 0
    fitted = regular_times(t[starts], min_share=0.0)  # each packet's stamp; even a small jitter: a burst shares
    if fitted is None:
        return None
    return fitted[0][packet] + place * (float(np.median(np.diff(fitted[0]))) / size)


def _scattered_back(t: np.ndarray, dt: np.ndarray, back: np.ndarray) -> np.ndarray | None:
    """Stamps that step back only a little and rarely, around a regular clock (a logger that stamps a
    packet's samples back from its arrival: packets overlap when the latency falls) -> the times on
    that clock, in file order; None for anything else (rows out of order, a clock reset)."""
    period = float(np.median(dt))
    if (not period > 0 or back.size > MAX_BACK_SHARE * dt.size or back.size < MIN_BACK_STEPS
            or -float(dt[back].min()) > MAX_BACK_PERIODS * period):
        return None
    fitted = regular_times(t, min_share=0.0)
    if fitted is None or float(np.max(np.abs(fitted[0] - t))) > MAX_BACK_PERIODS * period:
        return None
    return fitted[0]


def increasing_times(role: str, t: np.ndarray, path: str | Path | None,
                     fix: str = "fix the clock or sort the rows",
                     values: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """``(time_s, rows to keep or None for all, warning or None)`` for one sensor's times in file order.

    ``values``: the rows' data (arrays of N rows): a row equal to the one before it in time and in
    every value is a repeated row (dropped); one with other values is a distinct sample stamped at
    the same time (spread, as per-packet stamps are). Without ``values`` every repeat is a repeated row.
    Raises :class:`RecordingFormatError` when time goes backwards (``fix`` says what to do)."""
    dt = np.diff(t)
    back = np.flatnonzero(dt < 0)
    if back.size:
        scattered = _scattered_back(t, dt, back)
        if scattered is not None:
            return scattered, None, (
                f"{role}: time steps back {back.size} time(s), by up to {-float(dt[back].min()) / np.median(dt):.1f} "
                "sample periods (stamps computed from arrival times scatter around the sensor's clock): put back "
                "on the sensor's regular clock")
        i = int(back[0])
        raise RecordingFormatError(
            f"time goes backwards for the {role} sensor ({t[i + 1]:.6f} s after {t[i]:.6f} s, sample {i + 2} of "
            f"its {len(t)}; {back.size} place(s)); each sensor's time must increase: {fix}",
            path=None if path is None else str(path))
    dup = np.flatnonzero(dt == 0)
    if not dup.size:
        return t, None, None
    if dup.size > PACKET_SHARE * len(t):
        spread, method = _spread(t, bounded=True)
        return spread, None, (f"{role}: timestamps are per packet ({len(t) / (len(t) - dup.size):.1f} samples share "
                              f"each): {TIMED_BY[method]}")
    same = np.ones(dup.size, bool)
    for v in values:
        same &= np.all((v[dup] == v[dup + 1]).reshape(dup.size, -1), axis=1)
    keep = np.ones(len(t), bool)
    keep[dup[same] + 1] = False
    notes = [f"{int(same.sum())} duplicate row(s) (same time, same values): kept the first of each"] * bool(same.any())
    if same.all():
        return t[keep], keep, f"{role}: {notes[0]}"
    notes.append(f"{int((~same).sum())} sample(s) stamped at the same time as the one before (stamped on arrival?): "
                 "spread evenly up to the next stamp")
    return spread_packet_times(t[keep]), None if same.sum() == 0 else keep, f"{role}: " + "; ".join(notes)


__all__ = ["PACKET_SHARE", "arrival_bound", "bounded_times", "increasing_times", "spread_packet_times"]
