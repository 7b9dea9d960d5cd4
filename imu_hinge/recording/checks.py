"""Checks on a loaded recording that catch input which reads fine but is silently wrong.

:func:`checked` is called on every recording the analysis sees (``load_recording``, hence
``analyze``, ``replay``, batch and ``imu_hinge.load``; ``imu_hinge.run`` on a Recording object):

* **time unit**: ``time_s`` in ms, µs or ns is recognised from the sample interval, converted to
  seconds with a warning; an interval that gives no plausible rate in any unit is an error;
* **flat-lined sensor**: an accelerometer or gyroscope whose every sample is the same;
* **too short**: less than :data:`MIN_DURATION_S` recorded by both sensors together;
* **the same stream under both roles**: the thoracic data equal the sacrum data (also with a
  little noise added or shifted in time);
* **accelerometer and gyroscope in different frames**: the direction of gravity the
  accelerometer sees must turn as the gyroscope says (in the sensor frame ``du/dt = u x w``).
  Axis swaps and sign flips of the accelerometer relative to the gyroscope, an inverted
  gyroscope and a gyroscope in deg/s labelled rad/s are tested; the one that fits is named.

Problems raise :class:`~imu_hinge.errors.DataCheckError` (``role``, ``problem``, ``path``).
The checks look at a bounded sample of the recording (:data:`MAX_BLOCKS` blocks of
:data:`BLOCK_S`): a few ms on a short session, tens of ms on an hour.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from ..errors import DataCheckError
from ..samples import SENSOR_ROLES, Recording, SensorStream

MIN_RATE_HZ, MAX_RATE_HZ = 5.0, 2000.0
"""Plausible sample rates; the bands of s, ms, µs and ns do not overlap."""
TIME_UNITS: tuple[tuple[str, float], ...] = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))
MIN_DURATION_S = 1.0
"""The shortest recording worth analysing: a 0.5 s stance and the start of a movement."""
BLOCK_S, MAX_BLOCKS = 10.0, 24
"""The content checks look at up to MAX_BLOCKS stretches of BLOCK_S spread over the recording."""
SAME_REL = 0.08
"""Same-stream test: thoracic minus sacrum, relative to the sacrum's own variation, below this on
both the accelerometer and the gyroscope (honest pairs: max of the two >= 0.24 measured on the dev
cases and simulator sessions; a copy with sensor-like noise: ~0.02)."""
CHUNK_S, SMOOTH_S, GATE = 0.25, 0.08, 0.15
"""Frame test: gravity's turn over CHUNK_S stretches, acc smoothed over SMOOTH_S, only stretches whose
|acc| stays within GATE x g (little linear acceleration)."""
MIN_CHUNKS, FIT_BAD, FIT_GOOD = 12, 0.6, 0.25
"""Frame test verdict: with >= MIN_CHUNKS stretches, identity misfit > FIT_BAD and another hypothesis
< FIT_GOOD is an error. Misfit = median of |obs - pred|^2 / (|obs|^2 + |pred|^2): 0 perfect, ~1 unrelated,
2 opposite; honest data <= 0.22 (kettlebell swings), wrong frames >= 0.96 (measured on the dev cases)."""
DEG = np.pi / 180.0


def checked(rec: Recording, *, gyr_unit: str = "auto", analysis: bool = True) -> Recording:
    """``rec`` with its time in seconds (and, with ``gyr_unit="auto"``, a gyroscope in deg/s labelled
    rad/s converted), warnings appended; raises :class:`DataCheckError` for input that cannot be right.
    ``analysis=False`` (export) applies only the time unit. ``rec`` itself is left as it is: a changed
    recording is a new object."""
    path = rec.source or None
    streams, warnings = dict(rec.streams), list(rec.warnings)
    _time_unit(streams, warnings, path)
    if analysis:
        for role in SENSOR_ROLES:
            n = len(streams[role]) if role in streams else 0
            if n < 10:
                raise DataCheckError(f"the {role} sensor has {n} sample(s); analysis needs both sensors (sacrum and "
                                     "thoracic)", role=role, problem="missing_sensor", path=path)
        for s in streams.values():
            _flat(s, path)
        _duration(streams, path)
        _same_stream(streams, path)
        for role, s in list(streams.items()):
            streams[role] = _frames(s, gyr_unit, warnings, path)
    if warnings == rec.warnings and all(streams[r] is rec.streams[r] for r in streams):
        return rec
    return Recording(streams=streams, metadata=rec.metadata, warnings=warnings, source=rec.source)


# -- time unit -------------------------------------------------------------------------------
def _time_unit(streams: dict[str, SensorStream], warnings: list[str], path: str | None) -> None:
    units: dict[str, tuple[str, float, float]] = {}
    for role, s in streams.items():
        if len(s) < 2:
            continue
        step = _step_s(s)
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


# -- flat line, duration ---------------------------------------------------------------------
def _flat(s: SensorStream, path: str | None) -> None:
    if len(s) < 2:
        return
    for what, data in (("accelerometer", s.acc_m_s2), ("gyroscope", s.gyr_rad_s)):
        if not np.any(data != data[0]):
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


def _blocks(t0: float, t1: float) -> list[tuple[float, float]]:
    """Up to MAX_BLOCKS stretches of BLOCK_S evenly spread over [t0, t1] (the whole span when short)."""
    if t1 - t0 <= BLOCK_S * MAX_BLOCKS:
        edges = np.arange(t0, t1, BLOCK_S)
        return [(float(a), min(float(a) + BLOCK_S, t1)) for a in edges]
    starts = np.linspace(t0, t1 - BLOCK_S, MAX_BLOCKS)
    return [(float(a), float(a) + BLOCK_S) for a in starts]


def _step_s(s: SensorStream) -> float:
    """Median sample interval from up to three stretches of 5000 samples (start, middle, end)."""
    n, k = len(s), 5000
    if n <= 3 * k:
        return float(np.median(np.diff(s.time_s)))
    parts = [np.diff(s.time_s[i:i + k]) for i in (0, n // 2, n - k)]
    return float(np.median(np.concatenate(parts)))


def _cut(s: SensorStream, a: float, b: float) -> slice:
    return slice(int(np.searchsorted(s.time_s, a)), int(np.searchsorted(s.time_s, b, side="right")))


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
    fs = min(50.0, 1.0 / _step_s(a), 1.0 / _step_s(b))
    if not (hi > lo and fs > 0):
        return 0.0, np.inf, np.inf
    max_lag = int(fs)  # shifts up to 1 s, in grid steps
    parts = []  # per block: grid (n,), a there (n, 6), b on the grid widened by max_lag steps each side
    errs = np.zeros(2 * max_lag + 1)
    for t0, t1 in _blocks(float(lo), float(hi)):
        g = np.arange(t0, t1, 1.0 / fs)
        if g.size < 4:
            continue
        ext = g[0] + (np.arange(g.size + 2 * max_lag) - max_lag) / fs
        va, vb = _sample(a, g), _sample(b, ext)
        windows = np.lib.stride_tricks.sliding_window_view(np.linalg.norm(vb[:, 3:], axis=1), g.size)
        errs += ((windows - np.linalg.norm(va[:, 3:], axis=1)) ** 2).sum(axis=1)  # rows: lag -max..max
        parts.append((g, va, b.slice(*_bounds(b, ext[0] - 1.0 / fs, ext[-1] + 1.0 / fs))))
    if not parts:
        return 0.0, np.inf, np.inf
    coarse = (int(np.argmin(errs)) - max_lag) / fs
    base = np.concatenate([p[1] for p in parts])
    spread = np.mean((base - base.mean(axis=0)) ** 2, axis=0)
    best = (0.0, np.inf, np.inf)
    for lag in coarse + np.linspace(-0.5, 0.5, 5) / fs:
        other = np.concatenate([_sample(sb, g + lag) for g, _, sb in parts])
        diff2 = np.mean((other - base) ** 2, axis=0)
        rel = [float(np.sqrt(diff2[c].sum() / max(spread[c].sum(), 1e-18))) for c in (slice(0, 3), slice(3, 6))]
        if max(rel) < max(best[1:]):
            best = (round(float(lag), 3), rel[0], rel[1])
    return best


def _bounds(s: SensorStream, a: float, b: float) -> tuple[int, int]:
    """Sample indices covering [a, b], one more each side (for interpolation at the edges)."""
    return (max(int(np.searchsorted(s.time_s, a)) - 1, 0),
            min(int(np.searchsorted(s.time_s, b, side="right")) + 1, len(s)))


def _sample(s: SensorStream, t: np.ndarray) -> np.ndarray:
    """acc and gyr (N, 6) linearly interpolated at ``t`` (held at the ends); only the samples around
    ``t`` are touched."""
    i, j = _bounds(s, float(t[0]), float(t[-1]))
    st, data = s.time_s[i:j], np.concatenate([s.acc_m_s2[i:j], s.gyr_rad_s[i:j]], axis=1)
    return np.column_stack([np.interp(t, st, data[:, c]) for c in range(6)])


# -- accelerometer and gyroscope in one frame --------------------------------------------------
_AXES = "xyz"
_EPS = np.zeros((3, 3, 3))
_EPS[0, 1, 2] = _EPS[1, 2, 0] = _EPS[2, 0, 1] = 1.0
_EPS[0, 2, 1] = _EPS[2, 1, 0] = _EPS[1, 0, 2] = -1.0


def _signed_permutations() -> list[np.ndarray]:
    """The 48 axis permutations with sign flips; P and -P fit alike (the test is linear in the acc)."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            p = np.zeros((3, 3))
            p[range(3), perm] = signs
            out.append(p)
    return out


PERMUTATIONS = _signed_permutations()
GYRO_SCALES = (1.0, DEG, 1.0 / DEG)
"""The gyroscope as given, deg/s labelled rad/s (true = given x pi/180), rad/s converted as if deg/s."""


def _turns(s: SensorStream) -> tuple[np.ndarray, np.ndarray]:
    """Per CHUNK_S stretch with little linear acceleration and a clear tilt change: the observed change
    of gravity's direction ``du`` (n, 3) and ``M = sum(u w^T dt)`` (n, 3, 3), so that the gyroscope
    predicts ``du_i = eps_ijl M_jl``."""
    rate = 1.0 / _step_s(s) if len(s) > 1 else float("nan")
    if not rate > 0:
        return np.zeros((0, 3)), np.zeros((0, 3, 3))
    k, n = max(1, round(SMOOTH_S * rate)), max(2, round(CHUNK_S * rate))
    kernel = np.ones(k) / k
    obs, mats = [], []
    for a, b in _blocks(float(s.time_s[0]), float(s.time_s[-1])):
        sl = _cut(s, a, b)
        t, acc, gyr = s.time_s[sl], s.acc_m_s2[sl], s.gyr_rad_s[sl]
        if len(t) < 2 * k + n + 2:
            continue
        acc_lp = np.column_stack([np.convolve(acc[:, j], kernel, mode="same") for j in range(3)])
        norm = np.linalg.norm(acc_lp, axis=1)
        if not np.all(norm > 0):
            continue
        u = acc_lp / norm[:, None]
        dt = np.diff(t, append=t[-1] + 1.0 / rate)
        cum = np.cumsum(np.einsum("ni,nj->nij", u, gyr * dt[:, None]), axis=0)
        starts = np.arange(k, len(t) - n - k, n)
        bad = np.cumsum(np.abs(norm - np.median(norm)) > GATE * np.median(norm))
        du = u[starts + n] - u[starts]
        keep = ((np.linalg.norm(du, axis=1) > 0.05) & (bad[starts + n] == bad[starts])
                & (t[starts + n] - t[starts] < 1.5 * CHUNK_S))
        obs.append(du[keep])
        mats.append((cum[starts + n - 1] - cum[starts - 1])[keep])
    if not obs:
        return np.zeros((0, 3)), np.zeros((0, 3, 3))
    return np.concatenate(obs), np.concatenate(mats)


def frame_misfits(s: SensorStream) -> tuple[int, list[tuple[float, np.ndarray, float, float]]]:
    """(stretches used, [(misfit, P, gyro sign, gyro scale)] best first) for the hypothesis that the
    true accelerometer is ``P @ acc`` and the true gyroscope ``sign * scale * gyr``."""
    du, mats = _turns(s)
    if not len(du):
        return 0, []
    perms = np.array(PERMUTATIONS)  # (48, 3, 3)
    base = np.einsum("ijl,pcjl->pci", _EPS, np.einsum("pij,cjl->pcil", perms, mats))  # (48, n, 3)
    obs = np.einsum("pij,cj->pci", perms, du)
    factors = np.array([sign * scale for sign in (1.0, -1.0) for scale in GYRO_SCALES])
    pred = factors[:, None, None, None] * base  # (6, 48, n, 3)
    err = ((obs - pred) ** 2).sum(axis=-1) / ((obs ** 2).sum(axis=-1) + (pred ** 2).sum(axis=-1))
    misfit = np.median(err, axis=-1)  # (6, 48)
    out = [(float(misfit[f, i]), perms[i], sign, scale)
           for f, (sign, scale) in enumerate((sign, scale) for sign in (1.0, -1.0) for scale in GYRO_SCALES)
           for i in range(len(perms))]
    out.sort(key=lambda x: x[0])
    return len(du), out


def _canonical(p: np.ndarray) -> np.ndarray:
    return -p if (p < 0).sum() > (p > 0).sum() else p


def _kind(p: np.ndarray, sign: float, scale: float) -> tuple[int, str] | None:
    """(cost, words) for a single mistake: one swap, one inverted axis, an inverted gyroscope or a unit
    slip; None for combinations (they are named by :func:`describe`)."""
    p = _canonical(p)
    perm = np.abs(p).argmax(axis=1)
    moved = [i for i in range(3) if perm[i] != i]
    flips = [i for i in range(3) if p[i, perm[i]] < 0]
    changes = (len(moved) > 0) + len(flips) + (sign < 0) + (scale != 1.0)
    if changes != 1 or len(moved) == 3:
        return None
    if moved:
        return 0, f"x{_AXES[moved[0]]}{_AXES[moved[1]]}"
    if flips:
        return 1, f"f{_AXES[flips[0]]}"
    return (2, "g") if sign < 0 else (3, "u")


def describe(p: np.ndarray, sign: float, scale: float) -> str:
    """Words for a hypothesis: what looks wrong with the accelerometer relative to the gyroscope."""
    p = _canonical(p)
    parts = []
    perm = np.abs(p).argmax(axis=1)
    moved = [i for i in range(3) if perm[i] != i]
    if len(moved) == 2:
        parts.append(f"the accelerometer's {_AXES[moved[0]]} and {_AXES[moved[1]]} axes swapped relative to the "
                     "gyroscope")
    elif len(moved) == 3:
        parts.append("the accelerometer's axes rotated relative to the gyroscope's")
    flips = [_AXES[i] for i in range(3) if p[i, perm[i]] < 0]
    if flips:
        parts.append(f"the accelerometer's {' and '.join(flips)} axis{'es' if len(flips) > 1 else ''} inverted")
    if sign < 0:
        parts.append("the gyroscope's sign inverted")
    if scale == DEG:
        parts.append("the gyroscope in deg/s given as rad/s (it turns 57x more than the accelerometer shows)")
    elif scale != 1.0:
        parts.append("the gyroscope in rad/s converted as if it were deg/s (it turns 57x less than the "
                     "accelerometer shows)")
    text = " and ".join(parts)
    if moved or flips:
        mapping = ", ".join(("-" if p[i, perm[i]] < 0 else "") + f"acc_{_AXES[perm[i]]}" for i in range(3))
        text += f" (x, y, z = {mapping} fits)"
    return text


def _likely(fits: list[tuple[float, np.ndarray, float, float]]) -> str:
    """The likely mistake in words: every single mistake that fits about as well as the best
    hypothesis (a hinge in one plane cannot tell a swap of two in-plane axes from an inverted one),
    else the best hypothesis."""
    best = fits[0][0]
    near = [f for f in fits if f[0] <= 2 * best + 0.05]
    single = sorted({k for f in near if (k := _kind(f[1], f[2], f[3])) is not None})
    if not single:
        return describe(*fits[0][1:])
    swaps = [c[1][1:] for c in single if c[1][0] == "x"]
    flips = [c[1][1:] for c in single if c[1][0] == "f"]
    words = []
    if swaps:
        words.append("the accelerometer's " + " or ".join(f"{pair[0]} and {pair[1]}" for pair in swaps)
                     + " axes swapped relative to the gyroscope")
    if flips:
        words.append(("its " if swaps else "the accelerometer's ") + " or ".join(flips) + " axis inverted")
    if any(c[1] == "g" for c in single):
        words.append("the gyroscope's sign inverted")
    if any(c[1] == "u" for c in single):
        words.append(describe(np.eye(3), 1.0, DEG))
    text = ", or ".join(words)
    return text + (" (this motion cannot tell which)" if len(words) > 1 or len(swaps) + len(flips) > 1 else "")


def _frames(s: SensorStream, gyr_unit: str, warnings: list[str], path: str | None) -> SensorStream:
    used, fits = frame_misfits(s)
    if used < MIN_CHUNKS:
        return s
    ident = next(f for f in fits if f[2] > 0 and f[3] == 1.0 and abs(np.trace(f[1])) == 3)
    if ident[0] <= FIT_BAD or fits[0][0] >= FIT_GOOD:
        return s
    best = fits[0][0]
    units = {f[3] for f in fits if f[0] <= 2 * best + 0.05 and abs(np.trace(f[1])) == 3 and f[2] > 0}
    unit_only = bool(units)
    if units == {DEG} and gyr_unit == "auto":
        warnings.append(f"{s.sensor}: the gyroscope turns 57x more than the accelerometer shows: it looks like deg/s "
                        "given as rad/s; converted to rad/s (pass --gyr-unit si or deg/s to state it)")
        return replace(s, gyr_rad_s=s.gyr_rad_s * DEG)
    todo = ("state the gyroscope's unit (--gyr-unit)" if unit_only else
            "both must be in the sensor's own axes: fix the export's axis mapping and load it again")
    raise DataCheckError(
        f"{s.sensor}: accelerometer and gyroscope disagree (gravity does not turn as the gyroscope says: misfit "
        f"{ident[0]:.2f} as given, {best:.2f} corrected); likely {_likely(fits)}; {todo}",
        role=s.sensor, problem="frames", path=path)
