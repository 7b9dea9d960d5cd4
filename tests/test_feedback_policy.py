"""Feedback policy: schedules, bandwidth, hold time, hysteresis, modes.

Synthetic angle rows (100 Hz) go through the real detector, so the scheduler sees the events
it sees live; then through :class:`FeedbackScheduler` with the policy under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from imu_hinge.detection.detector import HingeDetector
from imu_hinge.detection.rep_events import Event, FaultRaised, RepCompleted
from imu_hinge.errors import UsageError
from imu_hinge.feedback.policy import Cue, FeedbackPolicy, FeedbackScheduler, Row

DT_S = 0.01
LFun = Callable[[np.ndarray], np.ndarray]


def bump(peak_deg: float) -> LFun:
    """Lumbar flexion rising and falling with the trunk (phase 0..1 of the rep)."""
    return lambda ph: peak_deg * np.sin(np.pi * ph) ** 2


def session(reps: list[LFun], rep_s: float = 3.0, gap_s: float = 2.0, lockout_ext_deg: list[float] | None = None,
            ) -> list[tuple[Row, list[Event]]]:
    """Rows of standing + ``reps`` hinges (T 0 -> 60 -> 0 deg) and the detector's events per row."""
    t_list: list[np.ndarray] = []
    l_list: list[np.ndarray] = []
    tr_list: list[np.ndarray] = []
    t0 = 0.0
    stand = np.arange(0.0, gap_s, DT_S)
    for k, lfun in enumerate([None, *reps]):
        if lfun is not None:
            tt = np.arange(0.0, rep_s, DT_S)
            ph = tt / rep_s
            t_list.append(t0 + tt)
            tr_list.append(60.0 * np.sin(np.pi * ph) ** 2)
            lum = lfun(ph)
            if lockout_ext_deg and lockout_ext_deg[k - 1] > 0:
                lum = lum - lockout_ext_deg[k - 1] * np.exp(-(((ph - 0.97) / 0.03) ** 2))
            l_list.append(lum)
            t0 += rep_s
        t_list.append(t0 + stand)
        tr_list.append(np.zeros_like(stand))
        l_list.append(np.zeros_like(stand))
        t0 += gap_s
    t, tr, lum = np.concatenate(t_list), np.concatenate(tr_list), np.concatenate(l_list)
    det = HingeDetector(max_gap_s=0.05)
    out = []
    for i in range(len(t)):
        row = (float(t[i]), float(tr[i] - lum[i]), float(tr[i]), float(lum[i]))
        out.append((row, det.step(*row)))
    out.append(((float(t[-1]) + DT_S, 0.0, 0.0, 0.0), det.finish()))
    return out


def run(policy: FeedbackPolicy, data: list[tuple[Row, list[Event]]]) -> tuple[list[Cue], list[Event]]:
    sch = FeedbackScheduler(policy)
    events: list[Event] = []
    for row, evs in data:
        sch.feed([row], evs)
        events.extend(evs)
    sch.finish()
    return sch.cues, events


def alerts(events: list[Event], fault: str = "lumbar_flexion") -> list[FaultRaised]:
    return [e for e in events if isinstance(e, FaultRaised) and e.fault == fault]


def test_every_rep_concurrent_cue_after_hold() -> None:
    data = session([bump(30.0)] * 4)
    cues, events = run(FeedbackPolicy(hold_s=0.15), data)
    al = alerts(events)
    assert len(al) == 4
    assert [c.kind for c in cues] == ["concurrent"] * 4
    assert [c.rep_index for c in cues] == [1, 2, 3, 4]
    rows = np.array([r for r, _ in data])
    for cue, alert in zip(cues, al, strict=True):
        # L first above 20 deg in this rep, then held >= 150 ms; the cue comes after the core's alert
        start = rows[(rows[:, 0] <= cue.time_s) & (rows[:, 3] <= 20.0)][-1, 0]
        assert cue.time_s - start >= 0.15 - 1e-9
        assert cue.time_s - start < 0.15 + 2 * DT_S
        assert cue.time_s >= alert.time_s
        assert cue.value_deg is not None and cue.value_deg > 20.0


def test_clean_reps_give_no_cue() -> None:
    cues, events = run(FeedbackPolicy(), session([bump(10.0)] * 3))
    assert sum(isinstance(e, RepCompleted) for e in events) == 3
    assert cues == []


def test_hold_time_rejects_a_short_excursion() -> None:
    # L above 20 deg for ~0.1 s only: the core alerts (40 ms hold), the policy's 150 ms hold does not cue
    def spike(ph: np.ndarray) -> np.ndarray:
        return np.where(np.abs(ph - 0.5) < 0.05 / 3.0, 24.0, 5.0)
    data = session([spike])
    assert len(alerts(run(FeedbackPolicy(), data)[1])) == 1
    assert run(FeedbackPolicy(hold_s=0.15), data)[0] == []
    short = run(FeedbackPolicy(hold_s=0.05), data)[0]
    assert [c.kind for c in short] == ["concurrent"]


def dip_pattern(dip_deg: float, n_dips: int = 1) -> LFun:
    """Above 25 deg in the middle of the rep, with ``n_dips`` one-sample dips to 20 - dip_deg... ."""
    def f(ph: np.ndarray) -> np.ndarray:
        lum = np.full_like(ph, 5.0)
        mid = (ph > 0.3) & (ph < 0.7)
        lum[mid] = 25.0
        idx = np.flatnonzero(mid)
        for k in range(1, n_dips + 1):
            j = idx[0] + k * len(idx) // (n_dips + 1)
            lum[j:j + 5] = 20.0 - dip_deg
        return lum
    return f


def test_hysteresis_small_dips_do_not_rearm() -> None:
    policy = FeedbackPolicy(hysteresis_deg=3.0, max_cues_per_rep=5, hold_s=0.1)
    cues_small, _ = run(policy, session([dip_pattern(1.0, n_dips=3)]))
    cues_big, _ = run(policy, session([dip_pattern(5.0, n_dips=3)]))
    assert len(cues_small) == 1  # dips of 1 deg below the level stay inside the hysteresis
    assert len(cues_big) == 4  # dips of 5 deg re-arm: a cue per excursion
    assert len(run(FeedbackPolicy(hysteresis_deg=3.0, hold_s=0.1), session([dip_pattern(5.0, 3)]))[0]) == 1


def test_hysteresis_keeps_the_hold_timer_through_a_dip() -> None:
    # above for 0.1 s, a 2-sample dip of 1 deg, above again 0.1 s: held 0.2 s with hysteresis, 0.1 s without
    def f(ph: np.ndarray) -> np.ndarray:
        t = ph * 3.0
        lum = np.where((t > 1.4) & (t < 1.62), 24.0, 5.0)
        lum[(t > 1.5) & (t < 1.52)] = 19.0
        return lum
    data = session([f])
    assert len(run(FeedbackPolicy(hold_s=0.15, hysteresis_deg=3.0), data)[0]) == 1
    assert run(FeedbackPolicy(hold_s=0.15, hysteresis_deg=0.0), data)[0] == []


def test_bandwidth_on_lumbar_flexion() -> None:
    data = session([bump(23.5)] * 2)
    assert len(run(FeedbackPolicy(bandwidth_deg=0.0), data)[0]) == 2
    assert run(FeedbackPolicy(bandwidth_deg=5.0), data)[0] == []
    assert len(run(FeedbackPolicy(bandwidth_deg=2.0), data)[0]) == 2


def test_bandwidth_on_lockout_extension_end_of_rep() -> None:
    data = session([bump(5.0)] * 2, lockout_ext_deg=[10.0, 16.0])
    _, events = run(FeedbackPolicy(), data)
    assert len(alerts(events, "lockout_hyperextension")) == 2
    cues = run(FeedbackPolicy(bandwidth_deg=0.0), data)[0]
    assert [(c.kind, c.rep_index, c.faults) for c in cues] == [("end_of_rep", 1, ("lockout_hyperextension",)),
                                                               ("end_of_rep", 2, ("lockout_hyperextension",))]
    cues = run(FeedbackPolicy(bandwidth_deg=5.0), data)[0]
    assert [c.rep_index for c in cues] == [2]


def test_faded_schedule_every_other_rep() -> None:
    data = session([bump(30.0)] * 6)
    cues, _ = run(FeedbackPolicy(schedule="faded"), data)
    assert [c.rep_index for c in cues] == [1, 3, 5]
    cues, _ = run(FeedbackPolicy(schedule="faded", fade_every_n=3), data)
    assert [c.rep_index for c in cues] == [1, 4]


def test_summary_every_n_reps() -> None:
    data = session([bump(30.0), bump(5.0), bump(5.0), bump(30.0), bump(5.0), bump(5.0), bump(30.0)])
    cues, events = run(FeedbackPolicy(schedule="summary", summary_every_n=5), data)
    assert [c.kind for c in cues] == ["summary", "summary"]
    done5 = next(e for e in events if isinstance(e, RepCompleted) and e.rep.index == 5)
    assert cues[0].time_s == done5.time_s and cues[0].rep_index == 5
    assert cues[0].message == "reps 1-5: 2 rounded"
    assert cues[1].message == "reps 6-7: 1 rounded"  # the unfinished block, at the end of the data
    clean, _ = run(FeedbackPolicy(schedule="summary", summary_every_n=2), session([bump(5.0)] * 2))
    assert [c.message for c in clean] == ["reps 1-2: all within tolerance"] and clean[0].faults == ()


def test_end_of_rep_mode_defers_the_rounding_cue() -> None:
    data = session([bump(30.0), bump(5.0)])
    cues, events = run(FeedbackPolicy(mode="end_of_rep"), data)
    done = [e for e in events if isinstance(e, RepCompleted)]
    assert len(cues) == 1
    assert cues[0].kind == "end_of_rep" and cues[0].faults == ("lumbar_flexion",)
    assert cues[0].time_s == done[0].time_s  # told when the rep completes, not during it
    assert cues[0].time_s > done[0].rep.end_s


def test_concurrent_mode_tells_the_rest_at_the_end_of_the_rep() -> None:
    cues, _ = run(FeedbackPolicy(), session([bump(30.0)], lockout_ext_deg=[12.0]))
    assert [(c.kind, c.faults) for c in cues] == [("concurrent", ("lumbar_flexion",)),
                                                  ("end_of_rep", ("lockout_hyperextension",))]


def test_batch_of_rows_and_events_is_ordered_by_time() -> None:
    data = session([bump(30.0)] * 2)
    one_by_one, _ = run(FeedbackPolicy(), data)
    sch = FeedbackScheduler(FeedbackPolicy())
    for k in range(0, len(data), 50):  # as after calibration: many rows and their events at once
        chunk = data[k:k + 50]
        sch.feed([r for r, _ in chunk], [e for _, evs in chunk for e in evs])
    assert sch.cues == one_by_one


@pytest.mark.parametrize("kwargs", [{"mode": "sometimes"}, {"schedule": "never"}, {"hold_s": -0.1},
                                    {"fade_every_n": 0}, {"bandwidth_deg": float("nan")}])
def test_invalid_policy(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        FeedbackPolicy(**kwargs)  # type: ignore[arg-type]
