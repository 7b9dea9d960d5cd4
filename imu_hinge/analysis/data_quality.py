"""Data quality of a recording, per sensor: rate, drops, gaps, clipping, device clock offset and drift.

Drops are counted exactly from the sample index ``seq`` when a stream has one (session recordings),
else estimated from intervals longer than ``GAP_FACTOR`` periods (plain interchange CSVs). With
``device_time_us`` and ``host_time_s`` (arrival of the carrying notification) the device clock is
fitted against the host clock (:func:`clock_fit`); without them the clock fields are ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imu_hinge.fusion.base import GAP_FACTOR
from imu_hinge.samples import Recording, SensorStream
from imu_hinge.sensor_threads import per_role
from imu_hinge.sources.clock_fit import envelope_fit

DROP_WARN_FRACTION = 0.05
GAP_WARN_S = 0.5
CLOCK_DRIFT_WARN_PPM = 200.0
"""Crystals stay within about ±50 ppm; beyond this the device clock (or the host's) is suspect."""
CLOCK_RESIDUAL_WARN_S = 0.05
"""Device and host clocks disagreeing by more than this after the drift fit: a host clock step or long stalls."""
CLOCK_MIN_SPAN_S = 2.0
"""Device time a clock fit needs; shorter streams report ``None``."""
CLOCK_DRIFT_MIN_SPAN_S = 30.0
"""Device time a drift estimate needs: arrival jitter of a few ms over a few seconds is hundreds of ppm, so
shorter streams report the offset but ``clock_drift_ppm`` None (no drift warning from a 3 s recording)."""
CLOCK_MAX_BINS = 500
FLAT_TOP_REL = 1e-3
"""Samples within this fraction of an axis's largest magnitude are at its extreme."""
FLAT_TOP_RUN = 3
"""Consecutive samples at the extreme that make a flat run."""
FLAT_TOP_RUNS = 3
"""Flat runs at the extreme that tell saturation."""
REFINE_PPM = 50
"""Slopes the envelope refinement tries around the repeated median (1 ppm steps)."""


def clock_fit(device_time_us: np.ndarray, host_time_s: np.ndarray) -> dict[str, float | None] | None:
    """Fit ``host ≈ offset + device + drift`` on the lower envelope of the arrivals; None without enough data.

    Arrivals are late by a varying link delay, so only the earliest arrival (relative to device
    time) per device-time bin (1 s, or span/500 when longer) is kept. A repeated-median line picks the
    bins within ``CLOCK_RESIDUAL_WARN_S`` of it (robust to a minority of stalled or stepped bins); the
    line through them is the live fit's envelope (:func:`imu_hinge.sources.clock_fit.envelope_fit`, the
    highest line under them), its slope searched in 1 ppm steps within ``REFINE_PPM`` of the median's.
    Returns ``clock_offset_s``: host minus device time (s) at the first sample, late by the link's
    minimum latency; ``clock_drift_ppm``: how much faster the device clock runs than the host's
    (device seconds per host second - 1, ppm); ``clock_residual_s``: 95th percentile of the bins'
    absolute distance from the line (s). Only the longest stretch where device time increases is used
    (a device clock restart begins a new one).
    """
    dev = np.asarray(device_time_us, dtype=np.float64)
    host = np.asarray(host_time_s, dtype=np.float64)
    ok = np.isfinite(dev) & np.isfinite(host)
    dev, host = dev[ok], host[ok]
    if dev.size < 2:
        return None
    breaks = np.flatnonzero(np.diff(dev) <= 0) + 1
    edges = np.concatenate([[0], breaks, [dev.size]])
    longest = int(np.argmax(np.diff(edges)))
    dev, host = dev[edges[longest]:edges[longest + 1]], host[edges[longest]:edges[longest + 1]]
    if dev.size < 2 or (dev[-1] - dev[0]) * 1e-6 < CLOCK_MIN_SPAN_S:
        return None
    x = (dev - dev[0]) * 1e-6  # device s since the first sample
    r = (host - host[0]) - x  # host minus device, relative to the first sample (s)
    bin_s = max(1.0, float(x[-1]) / CLOCK_MAX_BINS)
    key = np.floor(x / bin_s).astype(np.int64)
    order = np.lexsort((r, key))  # per bin, the earliest arrival first
    first = order[np.concatenate([[True], np.diff(key[order]) != 0])]
    bx, br = x[first], r[first]
    if bx.size < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):  # the diagonal
        pair = (br[None, :] - br[:, None]) / (bx[None, :] - bx[:, None])
    np.fill_diagonal(pair, np.nan)
    d = float(np.median(np.nanmedian(pair, axis=1)))  # repeated median: robust to up to half the bins
    a = float(np.median(br - d * bx))
    inlier = np.abs(br - (a + d * bx)) < CLOCK_RESIDUAL_WARN_S
    if inlier.sum() >= 2:  # refine on the consistent bins: the live fit's envelope, within 50 ppm of the median
        ix = bx[inlier]
        slopes = 1.0 + d + np.linspace(-REFINE_PPM * 1e-6, REFINE_PPM * 1e-6, 2 * REFINE_PPM + 1)
        a, b, _ = envelope_fit(ix, br[inlier] + ix, slopes)
        d = b - 1.0
    residual = np.abs(br - (a + d * bx))
    return {
        "clock_offset_s": round(float(host[0]) - float(dev[0]) * 1e-6 + a, 6),
        "clock_drift_ppm": round((1.0 / (1.0 + d) - 1.0) * 1e6, 2) if x[-1] >= CLOCK_DRIFT_MIN_SPAN_S else None,
        "clock_residual_s": round(float(np.percentile(residual, 95)), 6),
    }


def _seq_ok(s: SensorStream) -> bool:
    return s.seq is not None and s.seq.shape == s.time_s.shape and bool(np.all(np.diff(s.seq) > 0))


def stream_quality(s: SensorStream) -> dict[str, Any]:
    """Nominal rate, dropped samples (``seq`` jumps, else intervals > ``GAP_FACTOR`` periods), longest gap,
    clipping and the device clock fit. Every key is always present; undefined values are ``None``, never NaN."""
    clipped = int(np.count_nonzero(s.clipped)) if s.clipped is not None else 0
    out: dict[str, Any] = {"samples": len(s), "rate_hz": None, "dropped_samples": 0, "drop_fraction": 0.0,
                           "drops_from": "seq" if _seq_ok(s) else "time_s", "gaps": 0, "longest_gap_s": None,
                           "clipped_samples": clipped, "clock_offset_s": None, "clock_drift_ppm": None,
                           "clock_residual_s": None}
    if len(s) < 2:
        return out
    dt = np.diff(s.time_s)
    if out["drops_from"] == "seq":
        assert s.seq is not None
        steps = np.diff(s.seq)
        missing = int((steps - 1).sum())
        n_gaps = int(np.count_nonzero(steps > 1))
        span_s = float(s.time_s[-1] - s.time_s[0])
        period = span_s / float(s.seq[-1] - s.seq[0]) if span_s > 0 else float(np.median(dt))
    else:
        period = s.median_interval_s  # np.median(dt), remembered by the stream
        gaps = dt > GAP_FACTOR * period
        missing = int(np.round(dt[gaps] / period).sum() - gaps.sum()) if gaps.any() else 0
        n_gaps = int(gaps.sum())
    expected = len(s) + missing
    out.update({
        "rate_hz": round(1.0 / period, 3) if period > 0 else None,
        "dropped_samples": missing,
        "drop_fraction": round(missing / expected, 5) if expected else 0.0,
        "gaps": n_gaps,
        "longest_gap_s": round(float(dt.max()), 4),
    })
    if s.device_time_us is not None and s.host_time_s is not None and s.device_time_us.shape == s.host_time_s.shape:
        out.update(clock_fit(s.device_time_us, s.host_time_s) or {})
    return out


def flat_tops(values: np.ndarray) -> list[tuple[int, float, int, int]]:
    """Saturation without clip flags: per axis ``(axis, level, runs, samples)`` where the signal sits flat at its
    extreme (within ``FLAT_TOP_REL``) for ``FLAT_TOP_RUN`` samples or more, ``FLAT_TOP_RUNS`` times or more.

    A smooth peak touches its level once (the largest peak of a recording is one peak); a sensor whose range
    is exceeded cuts every fast move at the same level, in flat runs."""
    out = []
    level = np.array([np.abs(values[:, j]).max() for j in range(values.shape[1])])  # column by column: numpy
    # reduces across a short axis slowly, and a maximum is the same in any order
    for axis in range(values.shape[1]):
        if not level[axis] > 0:
            continue
        at = np.flatnonzero(np.abs(values[:, axis]) >= level[axis] * (1.0 - FLAT_TOP_REL))
        if at.size < FLAT_TOP_RUN * FLAT_TOP_RUNS:
            continue
        breaks = np.flatnonzero(np.diff(at) > 1)
        lengths = np.diff(np.concatenate([[0], breaks + 1, [at.size]]))
        long = lengths[lengths >= FLAT_TOP_RUN]
        if long.size >= FLAT_TOP_RUNS:
            out.append((axis, float(level[axis]), int(long.size), int(long.sum())))
    return out


def recording_quality(rec: Recording, threads: int = 1) -> tuple[dict[str, Any], list[str]]:
    """Per-sensor quality and the warnings that make results less reliable (``threads`` > 1: the two sensors'
    side by side, :func:`~imu_hinge.sensor_threads.per_role`; the same result)."""

    def one(role: str) -> tuple[dict[str, Any], list[str]]:
        return _stream_findings(role, rec.streams[role])

    found = per_role(one, threads, list(rec.streams))  # in the streams' order
    return {r: q for r, (q, _) in found.items()}, [w for _, notes in found.values() for w in notes]


def _stream_findings(role: str, s: SensorStream) -> tuple[dict[str, Any], list[str]]:
    """One sensor's quality and warnings."""
    q = stream_quality(s)
    warnings = []
    if q.get("drop_fraction", 0.0) > DROP_WARN_FRACTION:
        warnings.append(f"{role}: {100 * q['drop_fraction']:.1f}% of samples dropped; reps overlapping gaps "
                        "are marked incomplete")
    if (q.get("longest_gap_s") or 0.0) > GAP_WARN_S:
        warnings.append(f"{role}: longest gap {q['longest_gap_s']:.2f} s (angles are NaN there)")
    if q.get("clipped_samples", 0):
        warnings.append(f"{role}: {q['clipped_samples']} clipped (saturated) samples: the sensor's range was "
                        "exceeded, so angles in the fastest moves and after them are off; record with a wider "
                        "range (e.g. ±2000 deg/s, ±8 g)")
    elif s.clipped is None:  # no clip flags (an export): look for flat tops
        for name, unit, values in (("accelerometer", "m/s^2", s.acc_m_s2), ("gyroscope", "rad/s", s.gyr_rad_s)):
            for axis, level, runs, n in flat_tops(values):
                warnings.append(
                    f"{role}: {name} {'xyz'[axis]} sits flat at ±{level:.3g} {unit} in {runs} runs ({n} samples): "
                    "its range looks exceeded (saturation), so angles in the fastest moves are off; record with "
                    "a wider range (e.g. ±2000 deg/s, ±8 g)")
    drift = q.get("clock_drift_ppm")
    if drift is not None and abs(drift) > CLOCK_DRIFT_WARN_PPM:
        warnings.append(f"{role}: device clock drifts {drift:+.0f} ppm against the host (crystals stay within "
                        f"±50 ppm); sample times and rate are suspect")
    residual = q.get("clock_residual_s")
    if residual is not None and residual > CLOCK_RESIDUAL_WARN_S:
        warnings.append(f"{role}: device and host clocks disagree by up to {residual:.3f} s after the drift fit "
                        "(host clock step or long link stalls); sample times may be off by that much")
    return q, warnings
