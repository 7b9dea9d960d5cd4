"""What an emulated sensor measures: a per-sensor motion track, from the simulator or a recording.

A :class:`MotionTrack` is one sensor's samples in SI units at a nominal rate, played row after
row by the emulated firmware (looping at the end). :func:`quantise` turns it into the int16 LSB
the firmware would send, with the scale factors it advertises in its info characteristic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..protocol import SensorInfo
from ..samples import SENSOR_ROLES, Recording

RAW_LIMIT = 32767


@dataclass(frozen=True, eq=False)
class MotionTrack:
    """One sensor's motion: ``acc_m_s2`` (N, 3) and ``gyr_rad_s`` (N, 3) at ``rate_hz``.

    ``fixed_rate``: the sensor runs at ``rate_hz`` whatever rate ``start`` asks for (playing a
    recording); otherwise the track is resampled to the rate the sensor picks.
    """

    acc_m_s2: np.ndarray
    gyr_rad_s: np.ndarray
    rate_hz: float
    fixed_rate: bool = False

    def __len__(self) -> int:
        return int(self.acc_m_s2.shape[0])

    def at_rate(self, rate_hz: float) -> MotionTrack:
        """The track resampled (linear interpolation, looping) to ``rate_hz``; itself if the rate matches."""
        if self.fixed_rate or abs(rate_hz - self.rate_hz) < 1e-9:
            return self
        n_out = max(1, round(len(self) * rate_hz / self.rate_hz))
        src = np.arange(n_out) * (self.rate_hz / rate_hz)
        idx = np.arange(len(self))
        acc = np.column_stack([np.interp(src, idx, self.acc_m_s2[:, k]) for k in range(3)])
        gyr = np.column_stack([np.interp(src, idx, self.gyr_rad_s[:, k]) for k in range(3)])
        return MotionTrack(acc, gyr, rate_hz)


def quantise(track: MotionTrack, info: SensorInfo) -> np.ndarray:
    """(N, 6) int16 LSB of a track with ``info``'s scale factors (round to nearest, saturate)."""
    acc = np.rint(track.acc_m_s2 / info.acc_m_s2_per_lsb)
    gyr = np.rint(track.gyr_rad_s / info.gyr_rad_s_per_lsb)
    return np.clip(np.hstack([acc, gyr]), -RAW_LIMIT - 1, RAW_LIMIT).astype(np.int16)


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
        from ..recording import load_recording

        source = load_recording(source)
    return tracks_from_recording(source)


@lru_cache(maxsize=4)
def _simulated(seed: int, duration_s: float, rate_hz: float) -> tuple[tuple[str, MotionTrack], ...]:
    """Simulated hinges (ideal clock, no drops: the emulated link adds those), cached: tests reuse them."""
    from ..simulation import SimConfig, simulate

    cfg = SimConfig(seed=seed, rate_hz=rate_hz, duration_s=duration_s, n_reps=500, clock_ppm=0.0, jitter_s=0.0,
                    drop_fraction=0.0, adc_bits=0, acc_range_g=16.0)
    rec = simulate(cfg).recording
    return tuple((role, MotionTrack(rec[role].acc_m_s2, rec[role].gyr_rad_s, rate_hz)) for role in SENSOR_ROLES)
