"""Sample containers shared by every source and the numerical core.

Units are SI and live in the names: ``time_s`` (s), ``acc_m_s2`` (m/s^2, reads about
+9.81 along "up" at rest), ``gyr_rad_s`` (rad/s), each in the sensor's own axes.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

STANDARD_GRAVITY_M_S2 = 9.80665
"""|acc| of a sensor at rest (m/s^2)."""

SENSOR_ROLES: tuple[str, str] = ("sacrum", "thoracic")
"""The two sensor roles, in the order the core uses: pelvis first, trunk second."""


def row_norms(x: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Length of each row of (N, 3) ``x`` (less ``center`` (3,) if given): ``np.linalg.norm(x - center, axis=1)``
    to the bit (the same sum, ``(x0^2 + x1^2) + x2^2``), about 6x faster (numpy reduces a length-3 axis slowly)
    and a column at a time: no (N, 3) temporary (ten hours of samples make it 86 MB)."""
    if center is None:
        out = x[:, 0] * x[:, 0]
        out += x[:, 1] * x[:, 1]
        out += x[:, 2] * x[:, 2]
        return np.sqrt(out, out=out)
    out = x[:, 0] - center[0]
    out *= out
    for j in (1, 2):
        d = x[:, j] - center[j]
        d *= d
        out += d
    return np.sqrt(out, out=out)


class ImuSample(NamedTuple):
    """One sample of one sensor, as the live path hands it to the core."""

    time_s: float
    sensor: str
    acc_m_s2: tuple[float, float, float]
    gyr_rad_s: tuple[float, float, float]


@dataclass
class SensorStream:
    """All samples of one sensor: ``time_s`` (N,), ``acc_m_s2`` (N, 3), ``gyr_rad_s`` (N, 3).

    ``time_s`` is strictly increasing; gaps (dropped samples) are simply missing rows.
    ``clipped`` (N,) marks samples the sensor reported as saturated, when known.
    Session recordings also fill (else None): ``seq`` (N,) int64 unwrapped sample index (a jump
    is a gap), ``device_time_us`` (N,) int64 device clock (float64 with NaN where unknown),
    ``host_time_s`` (N,) float64 arrival time of the carrying notification, ``flags`` (N,) int64.
    """

    sensor: str
    time_s: np.ndarray
    acc_m_s2: np.ndarray
    gyr_rad_s: np.ndarray
    clipped: np.ndarray | None = None
    seq: np.ndarray | None = None
    device_time_us: np.ndarray | None = None
    host_time_s: np.ndarray | None = None
    flags: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    def slice(self, start: int, stop: int) -> SensorStream:
        """Samples ``start:stop``, the optional per-sample arrays cut alike."""
        return self.rows(slice(start, stop))

    def rows(self, index: builtins.slice | np.ndarray) -> SensorStream:
        """The samples ``index`` picks (a slice, a boolean mask or indices), the optional per-sample arrays alike."""
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]
        return SensorStream(self.sensor, self.time_s[index], self.acc_m_s2[index], self.gyr_rad_s[index],
                            cut(self.clipped), seq=cut(self.seq), device_time_us=cut(self.device_time_us),
                            host_time_s=cut(self.host_time_s), flags=cut(self.flags))

    @property
    def median_interval_s(self) -> float:
        """The median sample interval, s (NaN under two samples). Remembered for this ``time_s`` array
        (a median over an hour of samples costs 8 ms; the analysis asks nine times)."""
        memo = self.__dict__.get("_rate_memo")
        if memo is not None and memo[0] is self.time_s and memo[1] == len(self):
            return float(memo[2])
        step = float("nan") if len(self) < 2 else float(np.median(np.diff(self.time_s)))
        self.__dict__["_rate_memo"] = (self.time_s, len(self), step)
        return step

    @property
    def nominal_rate_hz(self) -> float:
        """Sample rate from the median interval (robust to jitter and gaps)."""
        return float(1.0 / np.float64(self.median_interval_s))


@dataclass
class Recording:
    """A two-sensor session: one :class:`SensorStream` per role plus free-form metadata."""

    streams: dict[str, SensorStream]
    metadata: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    def __getitem__(self, role: str) -> SensorStream:
        return self.streams[role]

    def merged_samples(self) -> list[ImuSample]:
        """All samples of both sensors in arrival (time) order, as a live session sees them."""
        out: list[ImuSample] = []
        for role, s in self.streams.items():
            for i in range(len(s)):
                a, g = s.acc_m_s2[i], s.gyr_rad_s[i]
                out.append(ImuSample(float(s.time_s[i]), role, (float(a[0]), float(a[1]), float(a[2])),
                                     (float(g[0]), float(g[1]), float(g[2]))))
        out.sort(key=lambda x: (x.time_s, SENSOR_ROLES.index(x.sensor) if x.sensor in SENSOR_ROLES else 9))
        return out
