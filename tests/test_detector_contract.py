"""The detector's default rules at their documented boundaries (../shared/docs/contracts.md §4: a rep
flexes the trunk at least 30 deg and lasts 0.4 to 20 s; lumbar_flexion above 20 deg, or a % of the
calibrated maximum; lockout_hyperextension beyond 8 deg around lockout; lumbar_led at 10 deg before
the pelvis). Each rule is driven just below and just above its boundary with synthetic angle signals
whose values are the truth, through HingeDetector's public API with its default parameters."""

from __future__ import annotations

import numpy as np
import pytest

from imu_hinge.detection.detector import HingeDetector
from imu_hinge.detection.detector_params import DetectorParams, FaultParams

RATE_HZ = 100.0


def bend(peak_deg: float, hold_s: float = 0.5, ramp_s: float = 1.0) -> np.ndarray:
    """Trunk flexion T (deg): 2 s standing, a smooth rise to ``peak_deg``, a hold, the way back, 3 s standing."""
    n_ramp = int(ramp_s * RATE_HZ)
    up = peak_deg * np.sin(np.linspace(0.0, np.pi / 2, n_ramp)) ** 2
    return np.concatenate([np.zeros(200), up, np.full(int(hold_s * RATE_HZ), peak_deg), up[::-1], np.zeros(300)])


def run(tr: np.ndarray, lum: np.ndarray | None = None, p: np.ndarray | None = None,
        params: DetectorParams | None = None) -> HingeDetector:
    lum = np.zeros_like(tr) if lum is None else lum
    p = tr - lum if p is None else p
    det = HingeDetector(params)
    for i in range(len(tr)):
        det.step(i / RATE_HZ, float(p[i]), float(tr[i]), float(lum[i]))
    det.finish()
    return det


def duration_s(tr: np.ndarray) -> float:
    """The rep's length by the contract's words: from the last row at standing (T <= 3 deg) before the
    peak to the first row back below 10 deg after it."""
    k = int(np.argmax(tr))
    start = np.flatnonzero(tr[:k] <= 3.0)[-1]
    end = k + np.flatnonzero(tr[k:] < 10.0)[0]
    return float(end - start) / RATE_HZ


@pytest.mark.parametrize(("peak_deg", "reps"), [(29.5, 0), (30.5, 1)])
def test_a_rep_flexes_the_trunk_at_least_30_deg(peak_deg: float, reps: int) -> None:
    assert len(run(bend(peak_deg)).reps) == reps


@pytest.mark.parametrize(("target_s", "reps"), [(19.5, 1), (20.5, 0)])
def test_a_rep_lasts_at_most_20_s(target_s: float, reps: int) -> None:
    tr = bend(45.0, hold_s=1.0)
    tr = bend(45.0, hold_s=1.0 + target_s - duration_s(tr))
    assert duration_s(tr) == pytest.approx(target_s, abs=0.02)
    assert len(run(tr).reps) == reps


@pytest.mark.parametrize(("ramp_s", "reps"), [(0.12, 0), (0.5, 1)])
def test_a_rep_lasts_at_least_0_4_s(ramp_s: float, reps: int) -> None:
    tr = bend(45.0, hold_s=0.0, ramp_s=ramp_s)
    assert (duration_s(tr) < 0.4) == (reps == 0)  # 0.19 s and 0.83 s
    assert len(run(tr).reps) == reps


def lumbar_plateau(level_deg: float, tr: np.ndarray) -> np.ndarray:
    """L at ``level_deg`` while the trunk is within 5 deg of its peak (0.5 s and more), 0 elsewhere."""
    return np.where(tr >= tr.max() - 5.0, level_deg, 0.0)


@pytest.mark.parametrize(("level_deg", "alerts"), [(19.5, 0), (20.5, 1)])
def test_lumbar_flexion_alert_above_20_deg(level_deg: float, alerts: int) -> None:
    tr = bend(60.0)
    det = run(tr, lumbar_plateau(level_deg, tr))
    assert [a.fault for a in det.alerts] == ["lumbar_flexion"] * alerts
    assert [r.faults for r in det.reps] == [["lumbar_flexion"] * alerts]


@pytest.mark.parametrize(("level_deg", "alerts"), [(14.9, 0), (15.1, 1)])
def test_lumbar_flexion_threshold_as_a_share_of_the_maximum(level_deg: float, alerts: int) -> None:
    """50 % of a calibrated 30 deg maximum: the alert at 15 deg (100 -> 101 in the share moves it to 14.85)."""
    tr = bend(60.0)
    params = DetectorParams(faults=FaultParams(lumbar_flexion_pct_lmax=50.0, lmax_deg=30.0))
    assert len(run(tr, lumbar_plateau(level_deg, tr), params=params).alerts) == alerts


def test_a_share_without_a_maximum_keeps_the_20_deg_threshold() -> None:
    tr = bend(60.0)
    params = DetectorParams(faults=FaultParams(lumbar_flexion_pct_lmax=50.0))
    assert len(run(tr, lumbar_plateau(19.5, tr), params=params).alerts) == 0
    assert len(run(tr, lumbar_plateau(20.5, tr), params=params).alerts) == 1


@pytest.mark.parametrize(("arch_deg", "faults"), [(7.5, []), (8.5, ["lockout_hyperextension"])])
def test_lockout_extension_beyond_8_deg(arch_deg: float, faults: list[str]) -> None:
    """A lumbar arch (L < 0) 0.5 s after the trunk is back below 10 deg, inside the lockout window."""
    tr = bend(50.0)
    end = int(np.argmax(tr)) + int(np.flatnonzero(tr[int(np.argmax(tr)):] < 10.0)[0])
    lum = np.zeros_like(tr)
    lum[end + 40:end + 60] = -arch_deg
    det = run(tr, lum)
    assert len(det.reps) == 1
    assert det.reps[0].faults == faults
    assert det.reps[0].lockout_extension_deg == pytest.approx(arch_deg, abs=1e-9)


@pytest.mark.parametrize(("lead_deg", "faults"), [(9.5, []), (10.5, ["lumbar_led"])])
def test_lumbar_led_when_the_back_reaches_10_deg_before_the_pelvis(lead_deg: float, faults: list[str]) -> None:
    """In the descent the back does all of the first ``lead_deg`` of trunk flexion (P stays 0), then the
    pelvis all of it until T is 30 deg (P 20 deg), then L rises to 15 deg: it passes 10 deg before P only
    in the 10.5 deg case."""
    tr = bend(60.0)
    k = int(np.argmax(tr))
    lum = np.zeros_like(tr)
    lum[:k] = np.minimum(tr[:k], lead_deg)
    late = np.flatnonzero(tr[:k] > 30.0)[0]
    lum[late:k] = 15.0
    det = run(tr, lum)
    assert len(det.reps) == 1
    assert det.reps[0].faults == faults
