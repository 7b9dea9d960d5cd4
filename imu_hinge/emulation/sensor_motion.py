"""What an emulated sensor measures: a per-sensor motion track, from the simulator or a recording.

A :class:`MotionTrack` is one sensor's samples in SI units at a nominal rate: the motion as time
goes on (looping at the end). The emulated firmware takes each sample at its true time
(:class:`~.emulated_sensor.MotionOrigin`), so two sensors started apart still measure one motion.
:func:`quantise_values` turns values into the int16 LSB the firmware sends, with the scale
factors it advertises in its info characteristic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from imu_hinge.samples import SENSOR_ROLES, Recording


@dataclass(frozen=True, eq=False)
class MotionTrack:
    """One sensor's motion: ``acc_m_s2`` (N, 3) and ``gyr_rad_s`` (N, 3) at ``rate_hz``.

    ``fixed_rate``: the sensor runs at ``rate_hz`` whatever rate ``start`` asks for (playing a
    recording); otherwise the sensor samples the track (between rows, :meth:`at_rows`) at the rate it picks.
    """

    acc_m_s2: np.ndarray
    gyr_rad_s: np.ndarray
    rate_hz: float
    fixed_rate: bool = False

    def __len__(self) -> int:
        return int(self.acc_m_s2.shape[0])

    def at_rows(self, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(acc, gyr), each (n, 3), at fractional row positions (looping at the end).

        A played recording (``fixed_rate``) gives the nearest row as recorded; a simulated track is
        linear between rows. A position within 1e-6 of a whole row gives that row exactly. A position
        before the first row (a sensor whose clock starts a little before the motion) gives the first
        row: the motion has not started yet, it does not wrap to the recording's end.
        """
        n = len(self)
        row = np.asarray(row, dtype=np.float64)
        pos = np.where(row < 0.0, 0.0, np.mod(row, n))
        whole = np.rint(pos)
        pos = np.where(self.fixed_rate | (np.abs(pos - whole) < 1e-6), whole, pos)
        i0 = np.floor(pos).astype(np.int64) % n
        frac = (pos - np.floor(pos))[:, None]
        i1 = (i0 + 1) % n
        acc = self.acc_m_s2[i0] + frac * (self.acc_m_s2[i1] - self.acc_m_s2[i0])
        gyr = self.gyr_rad_s[i0] + frac * (self.gyr_rad_s[i1] - self.gyr_rad_s[i0])
        return acc, gyr


def tracks_from_recording(rec: Recording) -> dict[str, MotionTrack]:
    """One fixed-rate track per role of a recording (rows in order; its own gaps are not replayed)."""
    out = {}
    for role in SENSOR_ROLES:
        s = rec[role]
        rate = s.nominal_rate_hz
        if not np.isfinite(rate) or rate <= 0:
            raise ValueError(f"the {role} stream has too few samples to play")
        rate = float(round(rate)) if abs(rate - round(rate)) < 0.005 * rate else round(rate, 3)  # clock drift, jitter
        out[role] = MotionTrack(np.ascontiguousarray(s.acc_m_s2), np.ascontiguousarray(s.gyr_rad_s), rate,
                                fixed_rate=True)
    return out


def load_motion(source: str | Path | Recording | None, *, seed: int = 0, duration_s: float = 120.0,
                rate_hz: float = 104.0) -> dict[str, MotionTrack]:
    """Motion for both roles: a recording (path to an interchange CSV or session recording, or a
    ``Recording``) played as recorded, or (``None``) simulated hinges of ``duration_s`` at ``rate_hz``
    from ``seed``."""
    if source is None:
        return dict(_simulated(seed, duration_s, rate_hz))
    if not isinstance(source, Recording):
        from imu_hinge.recording import load_recording

        source = load_recording(source)
    return tracks_from_recording(source)


@lru_cache(maxsize=4)
def _simulated(seed: int, duration_s: float, rate_hz: float) -> tuple[tuple[str, MotionTrack], ...]:
    """Simulated hinges (ideal clock, no drops: the emulated link adds those), cached: tests reuse them."""
    from imu_hinge.simulation import SimConfig, simulate

    cfg = SimConfig(seed=seed, rate_hz=rate_hz, duration_s=duration_s, n_reps=500, clock_ppm=0.0, jitter_s=0.0,
                    drop_fraction=0.0, adc_bits=0, acc_range_g=16.0)
    rec = simulate(cfg).recording
    return tuple((role, MotionTrack(rec[role].acc_m_s2, rec[role].gyr_rad_s, rate_hz)) for role in SENSOR_ROLES)
