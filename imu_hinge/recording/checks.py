"""Checks on a loaded recording that catch input which reads fine but is silently wrong.

:func:`checked` is called on every recording the analysis sees (``load_recording``, hence
``analyze``, ``replay``, batch and ``imu_hinge.load``; ``imu_hinge.run`` on a Recording object):

* **not finite**: samples with NaN or infinite values are dropped with a warning (refused above 20 %);
* **time order** (:mod:`.time_order`): time going backwards is an error; stamps shared per packet are
  spread, a few repeated rows dropped, with a warning;
* **time unit**: ``time_s`` in ms, µs or ns is recognised from the sample interval, converted to
  seconds with a warning; an interval that gives no plausible rate in any unit is an error;
* **jittered stamps** (:mod:`.sample_clock`): stamps that scatter around the sensor's regular
  clock (stamped on arrival) are put back on that clock, with a warning;
* **flat-lined sensor**: an accelerometer or gyroscope whose every sample is the same;
* **too short**: less than :data:`MIN_DURATION_S` recorded by both sensors together;
* **the same stream under both roles**: the thoracic data equal the sacrum data (also with a
  little noise added or shifted in time);
* **accelerometer and gyroscope in different frames** (:mod:`.frame_check`): the direction of
  gravity the accelerometer sees must turn as the gyroscope says; the likely mistake is named.

Problems raise :class:`~imu_hinge.errors.DataCheckError` (``role``, ``problem``, ``path``).
The content checks look at a bounded sample of the recording (:func:`.sampling.blocks`): a few
ms on a short session, about 70 ms on a one-hour two-sensor 100 Hz recording.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from imu_hinge.errors import DataCheckError
from imu_hinge.recording.frame_check import check_frames
from imu_hinge.recording.sample_clock import MAX_JITTER_SHARE, MIN_JITTER_SHARE, jitter_share, regular_times
from imu_hinge.recording.sampling import blocks, bounds, sample, step_s
from imu_hinge.recording.time_order import bounded_times, increasing_times
from imu_hinge.samples import SENSOR_ROLES, Recording, SensorStream
from imu_hinge.sensor_threads import per_role

MIN_RATE_HZ, MAX_RATE_HZ = 5.0, 2000.0
"""Plausible sample rates; the bands of s, ms, µs and ns do not overlap."""
TIME_UNITS: tuple[tuple[str, float], ...] = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))
MAX_BAD_SHARE = 0.2
"""More than this share of a stream's samples not finite: refused (the CSV reader's rule for bad rows)."""
MIN_DURATION_S = 1.0
"""The shortest recording worth analysing: a 0.5 s stance and the start of a movement."""
SAME_REL = 0.08
"""Same-stream test: thoracic minus sacrum, relative to the sacrum's own variation, below this on
both the accelerometer and the gyroscope (honest pairs: max of the two >= 0.24 measured on the dev
cases and simulator sessions; a copy with sensor-like noise: ~0.02)."""


def checked(rec: Recording, *, gyr_unit: str = "auto", analysis: bool = True, threads: int = 1) -> Recording:
    """``rec`` with its time in seconds (and, with ``gyr_unit="auto"``, a gyroscope in deg/s labelled
    rad/s converted), warnings appended; raises :class:`DataCheckError` for input that cannot be right.
    ``analysis=False`` (export) applies only the time unit. ``rec`` itself is left as it is: a changed
    recording is a new object. ``threads`` > 1: the two sensors' frame checks side by side (the same
    result)."""
    path = rec.source or None
    streams, warnings = dict(rec.streams), list(rec.warnings)
    for role, s in list(streams.items()):  # samples with a NaN or inf (a reader drops such rows; an API caller may not)
        if np.isfinite(s.time_s).all() and np.isfinite(s.acc_m_s2).all() and np.isfinite(s.gyr_rad_s).all():
            continue  # the usual case, told by whole-array reductions (numpy reduces rows of 3 slowly)
        finite = np.isfinite(s.time_s) & np.isfinite(s.acc_m_s2).all(axis=1) & np.isfinite(s.gyr_rad_s).all(axis=1)
        n_bad = len(s) - int(finite.sum())
        if n_bad > MAX_BAD_SHARE * len(s):
            raise DataCheckError(f"{role}: {n_bad} of {len(s)} samples have NaN or infinite values; check the data",
                                 role=role, problem="not_finite", path=path)
        if n_bad:
            streams[role] = s.rows(finite)
            warnings.append(f"{role}: {n_bad} sample(s) with NaN or infinite values: dropped")
    for role, s in list(streams.items()):  # time must increase; per-packet stamps spread, repeated rows dropped
        t, keep, note = increasing_times(role, s.time_s, path, values=(s.acc_m_s2, s.gyr_rad_s))
        if note is not None:
            streams[role] = replace(s if keep is None else s.rows(keep), time_s=t)
            warnings.append(note)
    _time_unit(streams, warnings, path)
    if analysis:
        for role in SENSOR_ROLES:
            n = len(streams[role]) if role in streams else 0
            if n < 10:
                raise DataCheckError(f"the {role} sensor has {n} sample(s); analysis needs both sensors (sacrum and "
                                     "thoracic)", role=role, problem="missing_sensor", path=path)
        for role in list(streams):
            _dejitter(role, streams, warnings)
        for s in streams.values():
            _flat(s, path)
        _duration(streams, path)
        _same_stream(streams, path)
        def frames(role: str) -> tuple[SensorStream, list[str]]:
            notes: list[str] = []
            return check_frames(streams[role], gyr_unit, notes, path), notes

        for role, (stream, notes) in per_role(frames, threads, list(streams)).items():  # the streams' order
            streams[role] = stream
            warnings.extend(notes)
    if warnings == rec.warnings and all(streams[r] is rec.streams[r] for r in streams):
        return rec
    return Recording(streams=streams, metadata=rec.metadata, warnings=warnings, source=rec.source)


# -- time unit -------------------------------------------------------------------------------
def _time_unit(streams: dict[str, SensorStream], warnings: list[str], path: str | None) -> None:
    units: dict[str, tuple[str, float, float]] = {}
    for role, s in streams.items():
        if len(s) < 2:
            continue
        step = step_s(s)
        fits = [(name, f) for name, f in TIME_UNITS if MIN_RATE_HZ <= 1.0 / (step * f) <= MAX_RATE_HZ]
        if not fits:
            raise DataCheckError(
                f"{role}: samples are {step:.6g} time units apart (median), a rate of {1.0 / step:.4g} Hz if "
                f"time_s is in seconds, and no plausible rate ({MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz) in ms, us or ns "
                "either; check the time column", role=role, problem="sample_rate", path=path)
        units[role] = (fits[0][0], fits[0][1], step)
    names = {u[0] for u in units.values()}
    if len(names) > 1:
        said = ", ".join(f"{role} in {u[0]}" for role, u in units.items())
        raise DataCheckError(f"the sensors' time columns look like different units ({said}); both sensors must be "
                             "stamped on one clock in seconds", problem="time_unit", path=path)
    if names and names != {"s"}:
        name, f, step = next(iter(units.values()))
        for role in units:
            s = streams[role]
            streams[role] = replace(s, time_s=s.time_s * f)
        warnings.append(f"time_s looks like {name} (median step {step:.4g}, {1.0 / (step * f):.0f} Hz); "
                        "converted to seconds")


# -- jittered stamps ---------------------------------------------------------------------------
def _dejitter(role: str, streams: dict[str, SensorStream], warnings: list[str]) -> None:
    s = streams[role]
    fitted = regular_times(s.time_s)
    if fitted is None:
        share = jitter_share(s.time_s)
        bounded = bounded_times(s.time_s) if share >= MIN_JITTER_SHARE else None
        if bounded is not None:
            streams[role] = replace(s, time_s=bounded)
            why = "too much to tell the samples apart" if share > MAX_JITTER_SHARE else "and fit no regular clock"
            warnings.append(f"{role}: timestamps scatter by about {share * 100:.0f}% of a sample period, {why} "
                            "(stamped on arrival?): each timed by the fastest arrivals after it and put on the "
                            "sensor's regular clock (times uncertain by about the link's latency)")
        return
    t, share = fitted
    period_s = float(np.median(np.diff(t)))  # the fitted clock's period
    streams[role] = replace(s, time_s=t)
    warnings.append(f"{role}: timestamps scatter by about {1e3 * share * period_s:.1f} ms ({100 * share:.0f}% of a "
                    f"sample period; stamped on arrival?): put back on the sensor's regular {1.0 / period_s:.2f} Hz "
                    "clock")


# -- flat line, duration ---------------------------------------------------------------------
def _flat(s: SensorStream, path: str | None) -> None:
    if len(s) < 2:
        return
    for what, data in (("accelerometer", s.acc_m_s2), ("gyroscope", s.gyr_rad_s)):
        if not (np.any(data[:64] != data[0]) or np.any(data != data[0])):  # live data differs at once
            raise DataCheckError(
                f"{s.sensor}: the {what} reads the same value in all {len(s)} samples (flat-lined): the sensor "
                "was not streaming real data; check it and record again", role=s.sensor, problem="flat", path=path)


def _duration(streams: dict[str, SensorStream], path: str | None) -> None:
    lo = max(float(s.time_s[0]) for s in streams.values())
    hi = min(float(s.time_s[-1]) for s in streams.values())
    if hi <= lo:
        spans = ", ".join(f"{r} {s.time_s[0]:.2f}-{s.time_s[-1]:.2f} s" for r, s in streams.items())
        raise DataCheckError(f"the two sensors' recordings do not overlap in time ({spans}); both must be stamped "
                             "on one clock", problem="no_overlap", path=path)
    if hi - lo < MIN_DURATION_S:
        raise DataCheckError(f"the recording is too short: both sensors together cover {hi - lo:.2f} s, analysis "
                             f"needs at least {MIN_DURATION_S:g} s (a quiet stance, then the movement); record "
                             "longer", problem="too_short", path=path)


# -- the same stream under both roles --------------------------------------------------------
def _same_stream(streams: dict[str, SensorStream], path: str | None) -> None:
    lag, rel_acc, rel_gyr = stream_difference(streams[SENSOR_ROLES[0]], streams[SENSOR_ROLES[1]])
    if max(rel_acc, rel_gyr) < SAME_REL:
        shift = f", shifted by {lag:+.2f} s" if abs(lag) >= 0.05 else ""
        raise DataCheckError(
            f"the sacrum and thoracic data are the same stream{shift} (they differ by {100 * rel_acc:.1f}% (acc) "
            f"and {100 * rel_gyr:.1f}% (gyro) of their variation): one sensor's data is under both roles (or the two "
            "sensors moved as one body); export each sensor to its own role", problem="same_stream", path=path)


def stream_difference(a: SensorStream, b: SensorStream) -> tuple[float, float, float]:
    """How far ``b`` is from a copy of ``a``: (time shift s, rel_acc, rel_gyr) where rel is the RMS of
    ``b - a`` after the best shift (within 1 s) relative to ``a``'s RMS variation; inf when unknown."""
    lo, hi = max(a.time_s[0], b.time_s[0]), min(a.time_s[-1], b.time_s[-1])
    fs = min(50.0, 1.0 / step_s(a), 1.0 / step_s(b))
    if not (hi > lo and fs > 0):
        return 0.0, np.inf, np.inf
    max_lag = int(fs)  # shifts up to 1 s, in grid steps
    parts = []  # per block: grid (n,), a there (n, 6), b on the grid widened by max_lag steps each side
    errs = np.zeros(2 * max_lag + 1)
    for t0, t1 in blocks(float(lo), float(hi)):
        g = np.arange(t0, t1, 1.0 / fs)
        if g.size < 4:
            continue
        ext = g[0] + (np.arange(g.size + 2 * max_lag) - max_lag) / fs
        va, vb = sample(a, g), sample(b, ext)
        windows = np.lib.stride_tricks.sliding_window_view(np.linalg.norm(vb[:, 3:], axis=1), g.size)
        errs += ((windows - np.linalg.norm(va[:, 3:], axis=1)) ** 2).sum(axis=1)  # rows: lag -max..max
        parts.append((g, va, b.slice(*bounds(b, ext[0] - 1.0 / fs, ext[-1] + 1.0 / fs))))
    if not parts:
        return 0.0, np.inf, np.inf
    coarse = (int(np.argmin(errs)) - max_lag) / fs
    base = np.concatenate([p[1] for p in parts])
    spread = np.mean((base - base.mean(axis=0)) ** 2, axis=0)
    best = (0.0, np.inf, np.inf)
    for lag in coarse + np.linspace(-0.5, 0.5, 5) / fs:
        other = np.concatenate([sample(sb, g + lag) for g, _, sb in parts])
        diff2 = np.mean((other - base) ** 2, axis=0)
        rel = [float(np.sqrt(diff2[c].sum() / max(spread[c].sum(), 1e-18))) for c in (slice(0, 3), slice(3, 6))]
        if max(rel) < max(best[1:]):
            best = (round(float(lag), 3), rel[0], rel[1])
    return best
