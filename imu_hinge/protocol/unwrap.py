"""Wrapped counters -> monotonically increasing integers.

The sample index is 16 bits (wraps every 65536 samples: 10.5 min at 104 Hz, 2.7 min at 400 Hz)
and the device clock 32 bits of microseconds (wraps every 71.6 min). Each new value is placed
at the unwrapped position nearest to the one expected, so any gap shorter than half the
modulus (5.2 min at 104 Hz; a BLE link drops after its 4 s supervision timeout long before)
is measured exactly. The index restarts at 0 on every ``start`` command: call ``reset()`` then.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from imu_hinge.protocol.spec import DEVICE_TIME_MODULUS, INDEX_MODULUS


def unwrap_nearest(raw: int, reference: int, modulus: int) -> int:
    """The integer congruent to ``raw`` (mod ``modulus``) nearest to ``reference`` (ties go forward)."""
    delta = (raw - reference) % modulus
    return reference + delta - (modulus if delta > modulus // 2 else 0)


def unwrap_counter(raw: ArrayLike, modulus: int = INDEX_MODULUS) -> np.ndarray:
    """Vectorised unwrap of a wrapped counter sequence (N,) -> int64 (N,), starting at ``raw[0]``.

    Steps are taken modulo ``modulus`` into ``(-modulus/2, modulus/2]``, as :func:`unwrap_nearest`.
    """
    r = np.asarray(raw, dtype=np.int64)
    if r.size == 0:
        return r.copy()
    d = np.diff(r) % modulus
    d[d > modulus // 2] -= modulus
    return r[0] + np.concatenate(([0], np.cumsum(d)))


class IndexStep(NamedTuple):
    """What :meth:`SampleIndexUnwrapper.update` concluded about one packet.

    ``unwrapped_index``: of the packet's first sample. ``kind``: ``"first"``,
    ``"in_order"``, ``"gap"`` (``missing`` samples were lost just before it), ``"out_of_order"``
    (late, but fills a gap seen earlier: keep it) or ``"duplicate"`` (overlaps samples
    already received, or comes before the first one: drop it).
    """

    unwrapped_index: int
    kind: str
    missing: int = 0

    @property
    def keep(self) -> bool:
        return self.kind != "duplicate"


class SampleIndexUnwrapper:
    """Unwraps the 16-bit first-sample index of successive packets of one sensor.

    ``update(first_index, count)`` returns an :class:`IndexStep`. Counters: ``received``
    (samples kept), ``missing`` (samples currently missing), ``duplicates`` (packets dropped),
    ``out_of_order`` (late packets kept). The most recent ``max_gaps`` gaps are remembered to
    recognise late packets; older ones are forgotten (a later arrival then counts as duplicate).
    """

    def __init__(self, modulus: int = INDEX_MODULUS, max_gaps: int = 64) -> None:
        self.modulus = modulus
        self.max_gaps = max_gaps
        self.reset()

    def reset(self) -> None:
        """Forget everything (the sensor restarted its index, e.g. after ``start``)."""
        self.first_index: int | None = None
        self.next_index: int | None = None
        self.received = 0
        self.missing = 0
        self.duplicates = 0
        self.out_of_order = 0
        self._gaps: list[tuple[int, int]] = []  # [start, stop) ranges of missing unwrapped indices

    def update(self, first_index: int, count: int = 1) -> IndexStep:
        """Place a packet whose first sample has wrapped index ``first_index`` and ``count`` samples."""
        if count < 1:
            raise ValueError("a packet has at least one sample")
        if self.next_index is None or self.first_index is None:
            self.first_index, self.next_index = first_index, first_index + count
            self.received += count
            return IndexStep(first_index, "first")
        idx = unwrap_nearest(first_index, self.next_index, self.modulus)
        if idx >= self.next_index:
            gap = idx - self.next_index
            if gap:
                self._gaps.append((self.next_index, idx))
                del self._gaps[:-self.max_gaps]
                self.missing += gap
            self.next_index = idx + count
            self.received += count
            return IndexStep(idx, "gap" if gap else "in_order", gap)
        stop = idx + count
        for i, (g0, g1) in enumerate(self._gaps):
            if g0 <= idx and stop <= g1:
                self._gaps[i:i + 1] = [r for r in ((g0, idx), (stop, g1)) if r[0] < r[1]]
                self.missing -= count
                self.received += count
                self.out_of_order += 1
                return IndexStep(idx, "out_of_order")
        self.duplicates += 1
        return IndexStep(idx, "duplicate")


class DeviceClockUnwrapper:
    """Unwraps the 32-bit microsecond device clock into a monotonically growing integer.

    ``update(device_time_us)`` returns the unwrapped microseconds; the first value is kept as
    is. Values slightly older than the latest (a late packet) unwrap backwards, not a wrap ahead.
    """

    def __init__(self, modulus: int = DEVICE_TIME_MODULUS) -> None:
        self.modulus = modulus
        self.latest_us: int | None = None

    def reset(self) -> None:
        self.latest_us = None

    def update(self, device_time_us: int) -> int:
        if self.latest_us is None:
            self.latest_us = device_time_us
            return device_time_us
        t = unwrap_nearest(device_time_us, self.latest_us, self.modulus)
        self.latest_us = max(self.latest_us, t)
        return t
