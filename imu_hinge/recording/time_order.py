"""Each sensor's time must increase: one rule for every reader (interchange CSV, import).

Time going backwards is an error (the clock or the row order is wrong; nothing to guess). Equal
stamps are of two kinds. Many loggers (phone apps, BLE bridges) stamp every sample of a
notification with the packet's one time: then most samples share a stamp, they are distinct
samples, and they are spread evenly from their stamp up to the next one (:func:`spread_packet_times`).
A few equal stamps are repeated rows: the first of each is kept. Either way a warning says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imu_hinge.errors import RecordingFormatError

PACKET_SHARE = 0.3
"""More than this share of a stream's samples repeating the previous stamp: stamps are per packet."""


def spread_packet_times(t: np.ndarray) -> np.ndarray:
    """Samples sharing one (packet) stamp -> evenly spaced from that stamp up to the next one (s)."""
    stamps, first, counts = np.unique(t, return_index=True, return_counts=True)
    steps = np.diff(stamps) / counts[:-1]
    steps = np.append(steps, np.median(steps) if steps.size else 0.0)
    within = np.arange(len(t)) - np.repeat(first, counts)
    return np.repeat(stamps, counts) + within * np.repeat(steps, counts)


def increasing_times(role: str, t: np.ndarray, path: str | Path | None,
                     fix: str = "fix the clock or sort the rows") -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """``(time_s, rows to keep or None for all, warning or None)`` for one sensor's times in file order.

    Raises :class:`RecordingFormatError` when time goes backwards (``fix`` says what to do)."""
    dt = np.diff(t)
    back = np.flatnonzero(dt < 0)
    if back.size:
        i = int(back[0])
        raise RecordingFormatError(
            f"time goes backwards for the {role} sensor ({t[i + 1]:.6f} s after {t[i]:.6f} s, sample {i + 2} of "
            f"its {len(t)}; {back.size} place(s)); each sensor's time must increase: {fix}",
            path=None if path is None else str(path))
    dup = np.flatnonzero(dt == 0)
    if not dup.size:
        return t, None, None
    if dup.size > PACKET_SHARE * len(t):
        return spread_packet_times(t), None, (
            f"{role}: timestamps are per packet ({len(t) / (len(t) - dup.size):.1f} samples share each): "
            "spread evenly between consecutive stamps")
    keep = np.ones(len(t), bool)
    keep[dup + 1] = False
    return t[keep], keep, f"{role}: {dup.size} duplicate timestamp(s): kept the first of each"


__all__ = ["PACKET_SHARE", "increasing_times", "spread_packet_times"]
