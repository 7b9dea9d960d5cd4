"""Do a sensor's accelerometer and gyroscope share one frame? (part of :mod:`.checks`)

At rest or moving slowly the accelerometer points along gravity ``u``, an earth-fixed direction, so in
the sensor's frame it turns as ``du/dt = u x w`` (``w`` the gyroscope, rad/s; the convention of
:mod:`imu_hinge.fusion` and the simulator). Over CHUNK_S stretches with little linear acceleration
the observed turn of ``u`` is compared with the gyroscope's prediction, under 288 hypotheses: the
accelerometer's axes permuted and sign-flipped (48), the gyroscope inverted or not, and a gyroscope
scaled by pi/180 or 180/pi (deg/s labelled rad/s, or the reverse). When the data as given do not fit
and another hypothesis does, the likely mistake is named in the error (a gyroscope in deg/s labelled
rad/s is converted with a warning instead, unless the unit was stated).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from imu_hinge.errors import DataCheckError
from imu_hinge.recording.sampling import blocks, cut, step_s
from imu_hinge.samples import SensorStream

CHUNK_S, SMOOTH_S, GATE = 0.25, 0.08, 0.15
"""Gravity's turn over CHUNK_S stretches, acc smoothed over SMOOTH_S, only stretches whose |acc| stays
within GATE x g (little linear acceleration)."""
MIN_CHUNKS, FIT_BAD, FIT_GOOD = 12, 0.6, 0.25
"""Verdict: with >= MIN_CHUNKS stretches, misfit as given > FIT_BAD and another hypothesis < FIT_GOOD is
an error. Misfit = median over stretches of |obs - pred|^2 / (|obs|^2 + |pred|^2): 0 perfect, ~1
unrelated, 2 opposite. Measured as given: honest data <= 0.19 (kettlebell swings, 16 stretches; <= 0.07
on 80 simulated sessions), wrong frames >= 0.92; corrected <= 0.02 (0.19 for swings)."""
BIG_TURN = 0.1
"""A verdict against the data as given stands only where the stretches in which gravity turns by this much or more
(|du|, about 6 deg; at least MIN_CHUNKS of them) misfit as given by more than FIT_GOOD too. The small turns
include a twist's horizontal acceleration, which tilts the accelerometer by 3-6 deg without changing its length
(the GATE) while gravity does not turn: an RDL set with twists between the reps misfit 0.61 as given over all its
stretches, and a mirrored frame happened to fit them at 0.17 (refused: 1 of 1,040 random simulated sessions);
over its 37 big turns, 0.05 as given. Of the wrong frames and units planted in a third of those sessions (axes
swapped, flipped or turned, the gyroscope inverted or in deg/s: 2,531 told), 4 fit their big turns under FIT_GOOD
as given (0.08-0.20: a turned or swapped pair of axes the hinges barely use) and are no longer told."""
DEG = np.pi / 180.0
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
    rate = 1.0 / step_s(s) if len(s) > 1 else float("nan")
    if not rate > 0:
        return np.zeros((0, 3)), np.zeros((0, 3, 3))
    k, n = max(1, round(SMOOTH_S * rate)), max(2, round(CHUNK_S * rate))
    kernel = np.ones(k) / k
    obs, mats = [], []
    for a, b in blocks(float(s.time_s[0]), float(s.time_s[-1])):
        sl = cut(s, a, b)
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


def _misfit_table(du: np.ndarray, mats: np.ndarray, perms: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Misfit (len(factors), len(perms)) of each gyroscope factor (sign x scale) and accelerometer
    permutation, from :func:`_turns`' ``du`` and ``mats``. Each entry is computed on its own (the
    permutations' and the cross product's sums have one non-zero term per output, up to sign): a
    subset of the hypotheses gives the very same numbers as all of them."""
    base = np.einsum("ijl,pcjl->pci", _EPS, np.einsum("pij,cjl->pcil", perms, mats))  # (P, n, 3)
    obs = np.einsum("pij,cj->pci", perms, du)
    pred = factors[:, None, None, None] * base  # (F, P, n, 3)
    err = ((obs - pred) ** 2).sum(axis=-1) / ((obs ** 2).sum(axis=-1) + (pred ** 2).sum(axis=-1))
    return np.median(err, axis=-1)


_FACTORS = np.array([sign * scale for sign in (1.0, -1.0) for scale in GYRO_SCALES])
_AS_GIVEN = np.array([p for p in PERMUTATIONS if abs(np.trace(p)) == 3])
"""The accelerometer as given (I and -I: they fit alike)."""


def _misfit_as_given(du: np.ndarray, mats: np.ndarray) -> float:
    """The misfit of the data as given (:func:`_misfit_table` of that hypothesis alone: the same number)."""
    return float(_misfit_table(du, mats, _AS_GIVEN, _FACTORS[:1]).min())


def frame_misfits(s: SensorStream, turns: tuple[np.ndarray, np.ndarray] | None = None,
                  ) -> tuple[int, list[tuple[float, np.ndarray, float, float]]]:
    """(stretches used, [(misfit, P, gyro sign, gyro scale)] best first) for the hypothesis that the
    true accelerometer is ``P @ acc`` and the true gyroscope ``sign * scale * gyr``; ``turns``:
    :func:`_turns` of ``s`` if already computed."""
    du, mats = _turns(s) if turns is None else turns
    if not len(du):
        return 0, []
    perms = np.array(PERMUTATIONS)  # (48, 3, 3)
    misfit = _misfit_table(du, mats, perms, _FACTORS)  # (6, 48)
    out = [(float(misfit[f, i]), perms[i], sign, scale)
           for f, (sign, scale) in enumerate((sign, scale) for sign in (1.0, -1.0) for scale in GYRO_SCALES)
           for i in range(len(perms))]
    out.sort(key=lambda x: x[0])
    return len(du), out


def _canonical(p: np.ndarray) -> np.ndarray:
    return -p if (p < 0).sum() > (p > 0).sum() else p


def _single(p: np.ndarray, sign: float, scale: float) -> tuple[str, str] | None:
    """A hypothesis that is one mistake: ("swap", "xz"), ("flip", "y"), ("gyro_sign", "") or ("unit", "");
    None for combinations."""
    p = _canonical(p)
    perm = np.abs(p).argmax(axis=1)
    moved = "".join(_AXES[i] for i in range(3) if perm[i] != i)
    flips = [_AXES[i] for i in range(3) if p[i, perm[i]] < 0]
    changes = [kind for kind, present in (("swap", len(moved) == 2), ("rotation", len(moved) == 3),
                                          ("flip", bool(flips)), ("gyro_sign", sign < 0), ("unit", scale != 1.0))
               if present]
    if len(changes) != 1 or changes[0] == "rotation" or len(flips) > 1:
        return None
    return changes[0], {"swap": moved, "flip": "".join(flips)}.get(changes[0], "")


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
    hypothesis (a hinge in one plane cannot tell a swap of two in-plane axes from an inverted one,
    or from an inverted gyroscope), else the best hypothesis."""
    best = fits[0][0]
    near = [f for f in fits if f[0] <= 2 * best + 0.05]
    single = {k for f in near if (k := _single(*f[1:])) is not None}
    if not single or any(kind == "unit" for kind, _ in single):
        return describe(*next(f for f in near if _single(*f[1:]) is not None or f is fits[0])[1:])
    swaps = sorted(axes for kind, axes in single if kind == "swap")
    flips = sorted(axes for kind, axes in single if kind == "flip")
    words = []
    if swaps:
        words.append("the accelerometer's " + " or ".join(f"{pair[0]} and {pair[1]}" for pair in swaps)
                     + " axes swapped relative to the gyroscope")
    if flips:
        words.append(("its " if swaps else "the accelerometer's ") + " or ".join(flips) + " axis inverted")
    if ("gyro_sign", "") in single:
        words.append("the gyroscope's sign inverted")
    ambiguous = len(swaps) + len(flips) + (("gyro_sign", "") in single) > 1
    return ", or ".join(words) + (" (this motion cannot tell which)" if ambiguous else "")


def check_frames(s: SensorStream, gyr_unit: str, warnings: list[str], path: str | None) -> SensorStream:
    """``s`` (its gyroscope converted to rad/s, with a warning, when it is plainly deg/s and
    ``gyr_unit`` is "auto"); raises :class:`DataCheckError` when the frames disagree."""
    turns = _turns(s)
    if len(turns[0]) < MIN_CHUNKS:
        return s
    # the usual case, data that fit as given: only that hypothesis (the same number as in the full table)
    if _misfit_as_given(*turns) <= FIT_BAD:
        return s
    used, fits = frame_misfits(s, turns)
    ident = next(f for f in fits if f[2] > 0 and f[3] == 1.0 and abs(np.trace(f[1])) == 3)
    if ident[0] <= FIT_BAD or fits[0][0] >= FIT_GOOD:
        return s
    big = np.linalg.norm(turns[0], axis=1) >= BIG_TURN
    if big.sum() >= MIN_CHUNKS and _misfit_as_given(turns[0][big], turns[1][big]) <= FIT_GOOD:
        return s  # gravity's big turns fit as given: the small ones' misfit is the body's acceleration (twists)
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
