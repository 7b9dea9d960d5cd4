"""What a live source hands out: decoded sample batches and link events (plain data, no asyncio).

A :class:`SampleBatch` is one data notification's samples with everything the recording
format keeps (session sample index, device clock, fitted host time, arrival time, flags,
raw LSB and SI values). A :class:`LinkEvent` says what happened to the link: ``gap``
(samples missing, kept missing), ``dropped`` (notifications the host queue had to drop),
``disconnect``, ``reconnect``, ``connected``, ``error``. Event kinds match the recording
format's ``EVENT_KINDS`` where they overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imu_hinge.samples import ImuSample


@dataclass(frozen=True, eq=False, repr=False)
class SampleBatch:
    """The samples of one notification of one sensor (``n`` rows).

    ``seq`` (n,) int64: session sample index, strictly increasing, continuing across
    reconnects (a jump is a gap); ``device_time_us`` (n,) int64: unwrapped device clock at
    each sample (sample 0 as latched, later ones at the estimated sample period);
    ``time_s`` (n,) float64: fitted host-clock sample times, s since the source started;
    ``host_time_s``: arrival of the notification on the same clock; ``flags``: the
    notification's flag bits; ``raw`` (n, 6) int16 LSB; ``acc_m_s2`` / ``gyr_rad_s`` (n, 3).
    ``si_exact``: the sensor sent the SI values themselves (Movesense's float32), so ``raw`` is only
    those values in the chip's LSB and a recording keeps the SI values, not ``raw`` (:meth:`record_columns`).
    """

    sensor: str
    seq: np.ndarray
    device_time_us: np.ndarray
    time_s: np.ndarray
    host_time_s: float
    flags: int
    raw: np.ndarray
    acc_m_s2: np.ndarray
    gyr_rad_s: np.ndarray
    si_exact: bool = False

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    def __repr__(self) -> str:  # short: the arrays would print thousands of characters
        span = f"seq {int(self.seq[0])}..{int(self.seq[-1])}" if len(self) else "empty"
        return f"SampleBatch({self.sensor}, n={len(self)}, {span}, flags={self.flags:#x})"

    def take(self, keep: np.ndarray | slice) -> SampleBatch:
        """The samples selected by a (n,) bool mask or a slice (same arrival and flags)."""
        return SampleBatch(self.sensor, self.seq[keep], self.device_time_us[keep], self.time_s[keep], self.host_time_s,
                           self.flags, self.raw[keep], self.acc_m_s2[keep], self.gyr_rad_s[keep], self.si_exact)

    def record_columns(self) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """What a recording writes for these samples: ``(raw, si)`` for ``write_samples(raw=raw, **si)``. A sensor
        that sends integers: its raw LSB, SI left to raw x scale (bit-exact from the metadata); one that sends
        floats (``si_exact``): no raw, the SI values as sent."""
        if self.si_exact:
            return None, {"acc_m_s2": self.acc_m_s2, "gyr_rad_s": self.gyr_rad_s}
        return self.raw, {}

    def imu_samples(self) -> list[ImuSample]:
        """The samples as :class:`ImuSample` for ``HingePipeline.push``."""
        acc, gyr = self.acc_m_s2.tolist(), self.gyr_rad_s.tolist()
        return [ImuSample(float(t), self.sensor, (a[0], a[1], a[2]), (g[0], g[1], g[2]))
                for t, a, g in zip(self.time_s.tolist(), acc, gyr, strict=True)]


@dataclass(frozen=True)
class LinkEvent:
    """Something that happened to one sensor's link at ``time_s`` (source clock, s).

    ``detail`` holds the numbers (``missing`` samples and ``first_seq`` for a gap,
    ``notifications`` for dropped, ``reason`` for a disconnect, ...); ``message`` is one line.
    """

    kind: str
    sensor: str
    time_s: float
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


LinkItem = SampleBatch | LinkEvent
