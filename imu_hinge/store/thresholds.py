"""Which lumbar-flexion threshold applies to a person doing an exercise, as analysis-parameter overrides.

Precedence, lowest first: the defaults, the exercise catalogue's thresholds, the person's
setting for every exercise (``'*'``), the person's setting for this exercise, then whatever
the user states explicitly on the command line (``keep``). ``lmax_deg`` comes from the
person's latest range calibration. Overrides go through :func:`imu_hinge.analysis.analysis_params.with_overrides`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from imu_hinge.store.people_store import ALL_EXERCISES, RangeCalibration, Setting

THRESHOLD_FIELDS = ("lumbar_flexion_deg", "lumbar_flexion_pct_lmax")


@dataclass(frozen=True)
class PersonThresholds:
    """The person's calibrated range and the threshold setting that applies to ``exercise``."""

    person: str
    exercise: str
    range: RangeCalibration | None
    setting: Setting | None
    warnings: list[str] = field(default_factory=list)

    @property
    def lmax_deg(self) -> float | None:
        return self.range.lmax_deg if self.range else None

    def overrides(self, keep: Collection[str] = ()) -> dict[str, float]:
        """Keyword arguments for ``with_overrides``; fields in ``keep`` (set by the user) are left alone."""
        out: dict[str, float] = {}
        if self.lmax_deg is not None and "lmax_deg" not in keep:
            out["lmax_deg"] = self.lmax_deg
        if self.setting is None or any(f in keep for f in THRESHOLD_FIELDS):
            return out
        if self.setting.threshold_pct_lmax is not None:
            out["lumbar_flexion_pct_lmax"] = self.setting.threshold_pct_lmax
        elif self.setting.threshold_deg is not None:
            out["lumbar_flexion_deg"] = self.setting.threshold_deg
        return out

    def describe(self) -> str:
        """One line: where the threshold comes from."""
        parts = []
        if self.range is not None:
            parts.append(f"Lmax {self.range.lmax_deg:.1f} deg (range calibration {self.range.created_utc[:10]})")
        if self.setting is not None:
            scope = "every exercise" if self.setting.exercise == ALL_EXERCISES else self.setting.exercise
            parts.append(f"threshold {self.setting.describe()} ({scope})")
        return f"{self.person}: " + ("; ".join(parts) if parts else "no personal settings (exercise defaults)")


def resolve(person: str, exercise: str, range_cal: RangeCalibration | None,
            settings: list[Setting]) -> PersonThresholds:
    by_exercise = {s.exercise: s for s in settings}
    setting = by_exercise.get(exercise) or by_exercise.get(ALL_EXERCISES)
    warnings = []
    if setting is not None and setting.threshold_pct_lmax is not None and range_cal is None:
        warnings.append(f"{person}'s threshold is {setting.threshold_pct_lmax:g}% of Lmax but there is no range "
                        "calibration yet (`imu-hinge calibrate range`); the deg threshold applies")
    return PersonThresholds(person, exercise, range_cal, setting, warnings)
