"""Data quality of a recording, per sensor: rate, drops, gaps, clipping."""

from __future__ import annotations

from typing import Any

import numpy as np

from .fusion.base import GAP_FACTOR
from .samples import Recording, SensorStream

DROP_WARN_FRACTION = 0.05
GAP_WARN_S = 0.5


def stream_quality(s: SensorStream) -> dict[str, Any]:
    """Nominal rate, estimated dropped samples (from intervals > 1.5 periods), longest gap, clipping."""
    if len(s) < 2:
        return {"samples": len(s)}
    dt = np.diff(s.time_s)
    period = float(np.median(dt))
    gaps = dt > GAP_FACTOR * period
    missing = int(np.round(dt[gaps] / period).sum() - gaps.sum()) if gaps.any() else 0
    expected = len(s) + missing
    return {
        "samples": len(s),
        "rate_hz": round(1.0 / period, 3),
        "dropped_samples": missing,
        "drop_fraction": round(missing / expected, 5) if expected else 0.0,
        "gaps": int(gaps.sum()),
        "longest_gap_s": round(float(dt.max()), 4),
        "clipped_samples": int(np.count_nonzero(s.clipped)) if s.clipped is not None else 0,
    }


def recording_quality(rec: Recording) -> tuple[dict[str, Any], list[str]]:
    """Per-sensor quality and the warnings that make results less reliable."""
    quality = {role: stream_quality(s) for role, s in rec.streams.items()}
    warnings = []
    for role, q in quality.items():
        if q.get("drop_fraction", 0.0) > DROP_WARN_FRACTION:
            warnings.append(f"{role}: {100 * q['drop_fraction']:.1f}% of samples dropped; reps overlapping gaps "
                            "are marked incomplete")
        if q.get("longest_gap_s", 0.0) > GAP_WARN_S:
            warnings.append(f"{role}: longest gap {q['longest_gap_s']:.2f} s (angles are NaN there)")
        if q.get("clipped_samples", 0):
            warnings.append(f"{role}: {q['clipped_samples']} clipped (saturated) samples")
    return quality, warnings
