"""Range calibration: the person's maximum lumbar flexion ``Lmax`` (and extension ``Lext``) from a recording.

Protocol (detector.md, Calibration 3): stand still 2-5 s, bend forward as far as possible and
hold it for at least 2 s, come back up; optionally lean back into maximum extension and hold
that for 2 s; stand. Bend forward *first*: the forward direction is learnt from the first bend.

The recording goes through the core pipeline (:func:`imu_hinge.analysis.pipeline.analyze`), and the
lumbar angle ``L = T - P`` (deg) is resampled onto a uniform grid. A *hold* is a window of at
least ``hold_s`` over which ``L`` stays within ``band_deg`` (max - min). ``Lmax`` is the
median ``L`` of the deepest flexion hold with the trunk bent forward at least
``min_trunk_deg``; ``Lext`` is minus the median of the deepest extension hold (``L`` below
``-min_extension_deg``), reported as a positive number of degrees. No flexion hold: a
:class:`~imu_hinge.errors.CalibrationError` saying what was seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from imu_hinge.analysis.pipeline import AnalysisResult
from imu_hinge.errors import CalibrationError


@dataclass(frozen=True)
class RangeParams:
    hold_s: float = 2.0
    """Shortest hold that counts, s."""
    band_deg: float = 4.0
    """Largest change of L (max - min) within a hold, deg."""
    min_trunk_deg: float = 30.0
    """The trunk must be bent forward at least this much during the flexion hold, deg."""
    min_lmax_deg: float = 5.0
    """A flexion hold below this lumbar flexion is not a maximum bend, deg."""
    min_extension_deg: float = 3.0
    """An extension hold must reach at least this much lumbar extension, deg."""
    grid_hz: float = 50.0
    """Rate of the uniform grid the search runs on."""
    max_gap_s: float = 0.25
    """Gaps in the angle trace longer than this break a hold."""


@dataclass(frozen=True)
class Hold:
    start_s: float
    end_s: float
    lumbar_deg: float
    """Median lumbar angle over the hold (deg; negative = extension)."""
    trunk_deg: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class RangeResult:
    """``lmax_deg`` and ``lext_deg`` (positive deg, or None) with the holds they come from."""

    lmax_deg: float
    lext_deg: float | None
    flexion_hold: Hold
    extension_hold: Hold | None
    peak_lumbar_deg: float
    """Largest instantaneous L in the recording (deg), for comparison with the held Lmax."""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("lmax_deg", "lext_deg", "peak_lumbar_deg"):
            d[k] = None if d[k] is None else round(float(d[k]), 3)
        return d


def _grid(result: AnalysisResult, rate_hz: float, max_gap_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(result.time_s, dtype=float)
    lum = np.asarray(result.lumbar_flexion_deg, dtype=float)
    trunk = np.asarray(result.trunk_flexion_deg, dtype=float)
    ok = np.isfinite(t) & np.isfinite(lum) & np.isfinite(trunk)
    t, lum, trunk = t[ok], lum[ok], trunk[ok]
    if t.size < 2:
        return np.empty(0), np.empty(0), np.empty(0)
    grid = np.arange(t[0], t[-1], 1.0 / rate_hz)
    gl, gt = np.interp(grid, t, lum), np.interp(grid, t, trunk)
    # grid points inside a long gap of the trace are unknown
    after = np.clip(np.searchsorted(t, grid, side="left"), 1, t.size - 1)
    gap = (t[after] - t[after - 1]) > max_gap_s
    gl[gap] = np.nan
    gt[gap] = np.nan
    return grid, gl, gt


def _holds(grid: np.ndarray, lum: np.ndarray, trunk: np.ndarray, window: int, band_deg: float,
           ok: np.ndarray) -> list[Hold]:
    """Maximal runs of ``window``-sample windows that are steady (L spread <= band) and ``ok``, as holds."""
    if grid.size < window:
        return []
    filled = np.where(np.isfinite(lum), lum, 0.0)
    bad = ~np.isfinite(lum)
    # window starting at i covers i .. i + window - 1
    origin = -(window // 2)
    hi = maximum_filter1d(filled, window, origin=origin, mode="nearest")
    lo = minimum_filter1d(filled, window, origin=origin, mode="nearest")
    any_bad = maximum_filter1d(bad.astype(np.uint8), window, origin=origin, mode="nearest") > 0
    all_ok = minimum_filter1d(ok.astype(np.uint8), window, origin=origin, mode="nearest") > 0
    n_start = grid.size - window + 1
    steady = ((hi - lo) <= band_deg) & ~any_bad & all_ok
    steady[n_start:] = False
    holds: list[Hold] = []
    i = 0
    while i < n_start:
        if not steady[i]:
            i += 1
            continue
        j = i
        while j + 1 < n_start and steady[j + 1]:
            j += 1
        # the run of steady windows may drift by more than the band overall: keep the best window's level
        seg = slice(i, j + window)
        holds.append(Hold(float(grid[i]), float(grid[j + window - 1]), float(np.median(lum[seg])),
                          float(np.median(trunk[seg]))))
        i = j + 1
    return holds


def find_range(result: AnalysisResult, params: RangeParams | None = None) -> RangeResult:
    """``Lmax`` (and ``Lext`` when an extension hold is present) from an analysed range recording."""
    p = params or RangeParams()
    grid, lum, trunk = _grid(result, p.grid_hz, p.max_gap_s)
    window = max(2, int(round(p.hold_s * p.grid_hz)) + 1)
    finite = lum[np.isfinite(lum)]
    peak = float(finite.max()) if finite.size else float("nan")
    flex_ok = np.isfinite(trunk) & (np.nan_to_num(trunk) >= p.min_trunk_deg) & (np.nan_to_num(lum) >= p.min_lmax_deg)
    flex = _holds(grid, lum, trunk, window, p.band_deg, flex_ok)
    if not flex:
        seen = f"deepest lumbar flexion seen {peak:.1f} deg" if finite.size else "no usable angles"
        raise CalibrationError(
            f"no {p.hold_s:g} s hold at maximum forward bend found ({seen}); record: stand still 3 s, bend forward "
            f"as far as you can and hold still at least {p.hold_s:g} s (trunk >= {p.min_trunk_deg:g} deg, "
            f"steady within {p.band_deg:g} deg), then stand up")
    best = max(flex, key=lambda h: h.lumbar_deg)
    ext_ok = np.nan_to_num(lum, nan=0.0) <= -p.min_extension_deg
    ext = _holds(grid, lum, trunk, window, p.band_deg, ext_ok)
    ext_best = min(ext, key=lambda h: h.lumbar_deg) if ext else None
    warnings = []
    if peak - best.lumbar_deg > 2 * p.band_deg:
        warnings.append(f"the hold ({best.lumbar_deg:.1f} deg) is well below the deepest lumbar flexion seen "
                        f"({peak:.1f} deg): was the deepest bend held still for {p.hold_s:g} s?")
    if ext_best is not None and ext_best.start_s < best.start_s:
        warnings.append("the extension hold came before the forward bend: bend forward first so the forward "
                        "direction is learnt from the bend")
    return RangeResult(best.lumbar_deg, -ext_best.lumbar_deg if ext_best else None, best, ext_best, peak, warnings)
