"""One causal pipeline, two drivers.

:class:`HingePipeline` is the live form: :meth:`~HingePipeline.push` takes one
:class:`~imu_hinge.samples.ImuSample` at a time (in arrival order) and returns the events it
raises. :meth:`~HingePipeline.analyze` is the replay form over a whole
:class:`~imu_hinge.samples.Recording` (:func:`analyze` is its entry point): the same calibration,
the same filters (their C batch loops), the same sagittal angles, the same stream alignment
(vectorised) and the same detector loop, over all rows at once (live passes blocks of one row).
Both give the same angles, reps and alerts on the same samples fed in time order. Offline,
:meth:`~HingePipeline.analyze` then does what live cannot: after a gap in a stream, it repairs the
angles from the samples that follow (:mod:`imu_hinge.fusion.gap_repair`) and finds the reps on the
repaired angles (and estimates the peaks of a rep the pelvis missed:
:mod:`imu_hinge.detection.rep_estimates`); its alerts stay the causal ones. ``repair=False`` gives
the live result exactly.

Calibration comes in two kinds. Live, the pipeline calibrates as the samples arrive (a quiet
stance, then the first hinge: :meth:`HingePipeline.push` from a fresh pipeline). A recording is
calibrated as a whole before its first sample (:meth:`HingePipeline.prepare`: the stance found
anywhere, the forward axes from every tilt), then runs causally from the first sample;
:func:`pipeline_for` picks the kind (a recording made live replays with the live kind).

    samples -> stance calibration -> per-sensor fusion -> sagittal angle -> rows on one time
            base (P, T, L = T - P) -> rep / fault detector -> events
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.data_quality import recording_quality
from imu_hinge.analysis.stance import StanceDetector, StanceEstimate, StanceResult, gravity_at_first_sample
from imu_hinge.analysis.stance_search import choose_stance, forward_directions, standing_after_arch, standing_after_seat
from imu_hinge.detection.detector import HingeDetector
from imu_hinge.detection.mount_check import sensor_moves, take_out_moves
from imu_hinge.detection.rep_estimates import estimate_unmeasured_peaks
from imu_hinge.detection.rep_events import CalibrationDone, Event, FaultRaised, Rep
from imu_hinge.detection.role_check import SWAP_WARNING, roles_look_swapped
from imu_hinge.detection.session_checks import session_warnings
from imu_hinge.errors import DataCheckError
from imu_hinge.fusion import make_filter
from imu_hinge.fusion.base import GAP_FACTOR, gap_rate, rows_between
from imu_hinge.fusion.gap_bridge import gap_rates
from imu_hinge.fusion.gap_repair import SpanKeeper, repair_spans, repaired_ups
from imu_hinge.fusion.reanchor import Reanchor
from imu_hinge.kinematics.alignment import RowCombiner, combine_batch
from imu_hinge.kinematics.axis_params import AxisSearchParams
from imu_hinge.kinematics.sagittal import AxisSearch, SagittalAngle
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2, ImuSample, Recording, SensorStream
from imu_hinge.sensor_threads import default_threads, per_role

PELVIS, TRUNK = SENSOR_ROLES
_OTHER = {PELVIS: TRUNK, TRUNK: PELVIS}
"""The other sensor of each role."""
BLOCK_SAMPLES = 1 << 18
"""Batch work is done in blocks of this many samples: memory stays bounded on long recordings."""
SHORT_HOLE_S = 0.06
"""A hole in either stream up to this long (a dropped sample or two over BLE) is no gap: the detector goes on
over the rows, and a row still gets the other segment's angle, along the slope of its last two samples; a gap
is longer than this or than 1.5 sample periods. Without it, at 50 Hz a hole of two samples (60 ms) left rows
without the other angle and marked the rep incomplete: 2 of 8 reps of a simulated session with 1 % drops
(arrival_stamps), 0 now, its RMSE and every other guarded family and the dev scorer unchanged."""


class SegmentTracker:
    """Fusion filter + sagittal angle of one sensor's segment."""

    def __init__(self, est: StanceEstimate, params: AnalysisParams) -> None:
        self.role = est.sensor
        self.rate_hz = est.rate_hz
        self.est = est
        self.params = params
        self.filter = make_filter(params.fusion_method, est.rate_hz, **params.filter_options())
        self.filter.reset(est.acc_first_m_s2, est.gyr_bias_rad_s)
        self.gaps = Reanchor(self.filter, est.rate_hz, params.reanchor)
        self._axis_params = params.axis
        self.angle: SagittalAngle | None = None
        self.pin: tuple[float, np.ndarray] | None = None
        """``(time_s, gravity m/s^2 in the sensor frame)``: the filter restarts from that gravity and the stance's gyro
        bias before the first sample at or after ``time_s``, once. A stance later in a recording: the filter runs
        from the first sample, started from the orientation a run back from the stance found there, and through the
        movements before the stance both runs gather error; passing the stance it is put on the gravity measured
        there, the standing reference its angles are read against (:meth:`HingePipeline.prepare`), and on the bias
        measured there (its own estimate after the movements can be off: kept, the trunk drifted 1.6 deg within the
        stance of one simulated session)."""

    def up_batch(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                 gap_gyr: np.ndarray | None = None) -> np.ndarray:
        """"up" in the sensor frame (N, 3) of each sample; NaN while settling after a long gap. ``gap_gyr`` (N, 3)
        rad/s: the bridged gaps' rates where known (offline: :func:`~imu_hinge.fusion.gap_bridge.gap_rates`)."""
        if self.pin is None or not len(t) or t[-1] < self.pin[0]:
            return self.gaps.up_batch(t, acc, gyr, gap_gyr)
        k = int(np.searchsorted(t, self.pin[0], side="left"))
        head = self.gaps.up_batch(t[:k], acc[:k], gyr[:k], rows_between(gap_gyr, None, k))
        self.filter.reset(self.pin[1], self.est.gyr_bias_rad_s)
        self.pin = None
        return np.concatenate([head, self.gaps.up_batch(t[k:], acc[k:], gyr[k:],
                                                        rows_between(gap_gyr, k, None))])

    def unstarted_copy(self) -> SegmentTracker:
        """A tracker in the state this one is in before its first sample (its filter as the calibration started
        it, its standing reference, forward direction and pin): for a second run over the same samples."""
        assert math.isnan(self.gaps.last_t), "the tracker has run over samples already"
        other = SegmentTracker(self.est, self.params)
        other.angle = copy.deepcopy(self.angle)
        other.pin = self.pin
        return other

    def up(self, t: float, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
        """One sample's "up" (3,): :meth:`up_batch` on a block of one."""
        return self.up_batch(np.array((t,)), np.asarray(acc, dtype=np.float64)[None],
                             np.asarray(gyr, dtype=np.float64)[None])[0]

    def set_reference(self, ups: np.ndarray, forward: np.ndarray | None, refine: bool = True) -> None:
        """Standing "up" = mean of the filter's up vectors over the stance samples.

        ``forward`` (3,) or None: the segment's forward direction if known; ``refine``: learn it
        further from the first tilts (a provisional direction from the first hinge) or keep it
        (a direction from the whole recording)."""
        self.angle = SagittalAngle(ups.mean(axis=0), self.rate_hz, self._axis_params, forward, refine=refine)

    def ups_in_blocks(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, keep: SpanKeeper | None = None,
                      cut: int = 0, gap_gyr: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """"up" of every sample (:meth:`up_batch`, with ``gap_gyr`` as there), block by block so memory stays
        bounded; blocks are also cut at ``cut`` and at the ends of ``keep``'s spans, which keeps what their repair
        needs (the same arithmetic either way)."""
        cuts = sorted({*range(0, len(t), BLOCK_SAMPLES), *(keep.cuts() if keep is not None else ()), cut, len(t)})
        for i, j in zip(cuts[:-1], cuts[1:], strict=True):
            ups = self.up_batch(t[i:j], acc[i:j], gyr[i:j], rows_between(gap_gyr, i, j))
            if keep is not None:
                keep.add(i, ups, self.filter.gyr_bias_rad_s)
            yield ups

    def angles_batch(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                     keep: SpanKeeper | None = None, gap_gyr: np.ndarray | None = None) -> np.ndarray:
        """Sagittal angle (deg) of every sample, in blocks so memory stays bounded (``keep``, ``gap_gyr``: as
        :meth:`ups_in_blocks`)."""
        assert self.angle is not None
        parts = [self.angle.update_batch(ups) for ups in self.ups_in_blocks(t, acc, gyr, keep, gap_gyr=gap_gyr)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def repaired_angles(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, angles: np.ndarray,
                        keep: SpanKeeper, gap_gyr: np.ndarray | None = None) -> np.ndarray:
        """``angles`` (deg, from this tracker's run over ``t``, ``acc``, ``gyr`` with ``keep`` and ``gap_gyr``) with
        the spans after gaps repaired offline (:mod:`imu_hinge.fusion.gap_repair`; the run back bridges the gaps on
        ``gap_gyr`` too); the same array if there are none."""
        if not keep.spans:
            return angles
        assert self.angle is not None
        angle = copy.deepcopy(self.angle)  # the direction the causal run ended with; the run itself untouched
        out = angles.copy()
        for (a, b), causal_ups, bias in keep.kept():
            ts, accs, gyrs = t[a:b], acc[a:b], gyr[a:b]
            gaps = rows_between(gap_gyr, a, b)

            def back(up: np.ndarray, ts: np.ndarray = ts, accs: np.ndarray = accs, gyrs: np.ndarray = gyrs,
                     bias: np.ndarray = bias, gaps: np.ndarray | None = gaps) -> np.ndarray:
                return backward_ups(self.est, self.params, ts, accs, gyrs, bias, _gravity(up), gap_gyr=gaps)

            ups = repaired_ups(ts, causal_ups, back, accs[-1], self.params.gap_repair)
            if ups is not None:
                out[a:b] = angle.update_batch(ups)
        return out


def _gravity(up: np.ndarray) -> np.ndarray:
    """``up`` (3,), any length, scaled to standard gravity (m/s^2)."""
    return STANDARD_GRAVITY_M_S2 * up / np.linalg.norm(up)


def backward_ups(est: StanceEstimate, params: AnalysisParams, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                 gyr_bias_rad_s: np.ndarray, up_last_m_s2: np.ndarray, *, at_samples: bool = True,
                 gap_gyr: np.ndarray | None = None) -> np.ndarray:
    """"up" (N, 3) of samples ``t`` (N,) from the segment's filter run backwards in time, from the last sample
    (where "up" is ``up_last_m_s2``, any length) to the first, in time order: the time-reversed motion has the
    rotation rate negated, with the bias taken off first (reversed, a bias would turn the other way).

    A gyro sample is the rate over the interval that ends at it. ``at_samples``: "up" at each sample: the step back
    from sample k + 1 to k turns by sample k + 1's rate and, across a gap between them, by the gap's missing part
    at its rate (``gap_gyr``'s row of sample k + 1 where known, else linear between the two samples, as the forward
    filter bridges it); the last sample does not turn (by sample k's rate the estimate lags a period: 2.3 deg at
    1 rad/s and 25 Hz; measured on a 25 Hz sensor's 0.4 s gap, a run back over a whole shared dev case went from
    0.92 to 1.97 deg RMSE with the gaps bridged a sample late). Until the seventeenth sitting a gap's step turned
    by sample k's own rate instead (the period before sample k) and the step before it by sample k + 1's: in the
    turn of a fast swing 3.9 deg off after a 0.12 s gap even given its exact rate, now 0.00
    (tests/test_gap_bridge.py). False: each step turns by the sample's own rate, so the run ends a period before
    the first sample: where a forward filter starting at the first sample must start (its first update turns by
    that sample's rate for a period; no ``gap_gyr`` then: ValueError).

    ``gap_gyr`` (N, 3) rad/s: the mean rate over the missing part of the gap each sample ends, where known (NaN
    rows elsewhere; offline: :func:`~imu_hinge.fusion.gap_bridge.gap_rates`), run back negated with the bias taken
    off."""
    back = SegmentTracker(replace(est, acc_first_m_s2=up_last_m_s2, gyr_bias_rad_s=np.zeros(3)), params)
    n = len(t)
    rate = gyr_bias_rad_s - gyr
    back_gaps = None
    if at_samples:
        rate = np.concatenate([rate[1:], np.zeros((min(1, n), 3))])  # the rate of the step back to each sample
        gap = np.flatnonzero(np.diff(t) > GAP_FACTOR / est.rate_hz) if n > 1 else np.zeros(0, dtype=np.int64)
        if len(gap):  # the gap between samples k and k + 1 is crossed back from k + 1 to k
            forward = gap_rate(gyr[gap], gyr[gap + 1], (t[gap + 1] - t[gap])[:, None], 1.0 / est.rate_hz)
            if gap_gyr is not None:
                known = np.isfinite(gap_gyr[gap + 1]).all(axis=1)
                forward[known] = gap_gyr[gap + 1][known]
            back_gaps = np.full_like(rate, np.nan)
            back_gaps[gap] = gyr_bias_rad_s - forward
    elif gap_gyr is not None:
        raise ValueError("backward_ups: gap_gyr is for a run with at_samples (the steps of a run without it fall a "
                         "period early, and with them the gaps' missing parts)")
    return back.up_batch(-t[::-1], acc[::-1], rate[::-1], None if back_gaps is None else back_gaps[::-1])[::-1]


@dataclass
class AnalysisResult:
    """Everything one analysis produced. Angles in deg on the output time base (s)."""

    time_s: np.ndarray
    pelvic_tilt_deg: np.ndarray
    trunk_flexion_deg: np.ndarray
    lumbar_flexion_deg: np.ndarray
    reps: list[Rep]
    alerts: list[FaultRaised]
    calibration: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "reps": [r.to_dict() for r in self.reps],
            "alerts": [a.to_dict() for a in self.alerts],
            "calibration": self.calibration,
            "quality": self.quality,
            "warnings": list(self.warnings),
        }


def _merged_order(times: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(role index, sample index) of every sample in arrival order: by time, sacrum first on ties."""
    roles = np.concatenate([np.full(len(times[r]), i) for i, r in enumerate(SENSOR_ROLES)])
    idx = np.concatenate([np.arange(len(times[r])) for r in SENSOR_ROLES])
    t = np.concatenate([times[r] for r in SENSOR_ROLES])
    order = np.lexsort((roles, t))
    return roles[order], idx[order]


class HingePipeline:
    """The live pipeline: push samples one at a time, read events and results."""

    def __init__(self, params: AnalysisParams | None = None) -> None:
        self.params = params or AnalysisParams()
        self._stance = StanceDetector(self.params.stance)
        self.calibration: StanceResult | None = None
        self.trackers: dict[str, SegmentTracker] = {}
        self.base = TRUNK
        self._combiner: RowCombiner | None = None
        self.detector: HingeDetector | None = None
        self._rows: list[tuple[float, float, float, float]] = []
        self._searches: dict[str, AxisSearch] = {}
        self._axis_params = AxisSearchParams()
        self._announce = False

    @property
    def calibration_phase(self) -> str:
        """``"stance"`` (awaiting a quiet stance), ``"axis"`` (awaiting the first hinge) or ``"running"``."""
        return "running" if self.trackers else "stance" if self.calibration is None else "axis"

    @property
    def calibration_restarts(self) -> int:
        """How often the live stance started over because the lifter moved too early."""
        return self._stance.restarts

    @property
    def n_rows(self) -> int:
        return len(self._rows)

    def rows_since(self, start: int) -> list[tuple[float, float, float, float]]:
        """The angle rows ``(time_s, P, T, L)`` (deg) from index ``start`` on."""
        return self._rows[start:]

    # -- calibration: quiet stance, then the onset of the first hinge ------------------
    def _calibrate(self, sensor: str, t: float, acc: np.ndarray, gyr: np.ndarray) -> bool:
        """Feed one sample to the calibration; True once the pipeline can start."""
        if self.calibration is None:
            result = self._stance.push(sensor, t, acc, gyr)
            if result is None:
                return False
            self.calibration = result
            for role, est in result.sensors.items():
                self._searches[role] = AxisSearch(est.acc_mean_m_s2, est.rate_hz, self._axis_params)
            buffered = {r: self._stance.buffered(r) for r in SENSOR_ROLES}
            roles, idx = _merged_order({r: buffered[r][0] for r in SENSOR_ROLES})
            for ri, i in zip(roles, idx, strict=True):
                role = SENSOR_ROLES[ri]
                self._searches[role].push(buffered[role][2][i] - result.sensors[role].gyr_bias_rad_s,
                                          buffered[role][1][i])
        else:
            self._stance.append(sensor, t, acc, gyr)
            self._searches[sensor].push(gyr - self.calibration.sensors[sensor].gyr_bias_rad_s, acc)
        return (self._searches[TRUNK].forward is not None
                or t - self.calibration.end_s > self._axis_params.timeout_s)

    # -- set-up once the stance is known ------------------------------------------------
    def _start(self, data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
               threads: int = 1, keeps: dict[str, SpanKeeper] | None = None) -> dict[str, np.ndarray]:
        """Build trackers from the calibration; return the angles (deg) of the samples in ``data`` (``threads``:
        as :meth:`analyze`; live: the samples so far, in turn; ``keeps``: as :meth:`SegmentTracker.ups_in_blocks`)."""
        result = self.calibration
        assert result is not None

        def start(role: str) -> tuple[StanceEstimate, SegmentTracker, np.ndarray]:
            t, acc, gyr = data[role]
            stop = int(np.searchsorted(t, result.end_s, side="right"))
            est = self._live_filter_start(result, result.sensors[role], t, acc, gyr, stop)
            tracker = SegmentTracker(est, self.params)
            # in blocks: only the angles are kept, so memory does not grow with (N, 4) quaternions; the first
            # blocks, to the end of the stance at least, give the standing reference
            first = max(stop, min(len(t), BLOCK_SAMPLES))
            blocks = tracker.ups_in_blocks(t, acc, gyr, keeps[role] if keeps else None, first)
            head: list[np.ndarray] = []
            while sum(len(u) for u in head) < first:
                head.append(next(blocks))
            ups = np.concatenate(head) if head else np.zeros((0, 3))
            search = self._searches.get(role)
            tracker.set_reference(ups[(t[:first] >= result.start_s) & (t[:first] <= result.end_s)],
                                  search.forward if search is not None else None)
            angle = tracker.angle
            assert angle is not None
            return est, tracker, np.concatenate([angle.update_batch(ups), *(angle.update_batch(u) for u in blocks)])

        started = per_role(start, threads)
        self.trackers.update({role: tracker for role, (_, tracker, _) in started.items()})
        self.calibration = replace(result, sensors={role: est for role, (est, _, _) in started.items()})
        angles = {role: a for role, (_, _, a) in started.items()}
        self._set_up_rows()
        return angles

    def _live_filter_start(self, result: StanceResult, est: StanceEstimate, t: np.ndarray, acc: np.ndarray,
                           gyr: np.ndarray, stop: int) -> StanceEstimate:
        """Where a live-calibrated segment's filter starts (``stop``: the index after the stance). As found: from
        the mean gravity of the first ``edge_s`` of the data. But when those first samples turned (> ``edge_turn_deg``:
        the stance started over after a motion, or began settling), their mean gravity is off by about half the
        turn and the filter, converging over seconds, would carry that into the stance's "up" (the standing
        reference): then, if the stance is still (gyro RMS < ``still_rms_rad_s``: its gravity exact), the filter
        starts from the orientation the first sample had, run back from the stance (as for a later stance of a
        recording). One rule wherever the stance is: a stance at the start whose first samples are still keeps
        their mean (the shared dev cases replayed live: every angle unchanged without the separate test for it)."""
        p = self.params.stance
        edge = t <= t[0] + p.edge_s
        turned_deg = float(np.degrees(np.linalg.norm((gyr[edge] - est.gyr_bias_rad_s).mean(axis=0)))
                           * (t[edge][-1] - t[0]))
        in_stance = (t >= result.start_s) & (t <= result.end_s)
        rms_rad_s = float(np.sqrt(np.mean(np.sum((gyr[in_stance] - est.gyr_bias_rad_s) ** 2, axis=1))))
        if turned_deg <= p.edge_turn_deg or rms_rad_s >= p.still_rms_rad_s:
            return est
        return replace(est, acc_first_m_s2=self._up_at_first_sample(est, t, acc, gyr, stop))

    def prepare(self, recording: Recording, threads: int = 1) -> list[str]:
        """Calibrate from the whole recording before its first sample is pushed (analyze, replay).

        The stance is searched for anywhere (:func:`~.calibration.stance_search.choose_stance`),
        the forward directions come from the whole recording; then every sample, from the first,
        goes causally through the filters, angles and detector. Returns warnings (a fallback zero).
        ``threads``: the two sensors' parts side by side (:func:`~imu_hinge.sensor_threads.per_role`) or in turn.
        """
        choice = choose_stance(recording, self.params.stance_search, threads)
        forwards = forward_directions(recording, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()},
                                      threads=threads)
        seat = standing_after_seat(recording, choice, forwards, self.params.stance_search)
        arch = None if seat is not None else standing_after_arch(recording, choice, forwards,
                                                                 self.params.stance_search)
        stand = seat if seat is not None else arch
        if stand is not None:  # the zero was a seat or an arch: the standing posture the person comes back to instead
            (a, b), pelvis_deg, trunk_deg, count, total_s = stand
            was = choice.result
            looks = (f"seated: {count} quiet stretch(es), {total_s:.1f} s in all, hold the pelvis {pelvis_deg:.0f} deg "
                     f"further forward with the trunk at {trunk_deg:+.0f} deg, as standing does after sitting"
                     if seat is not None else
                     f"arched: {count} quiet stretch(es), {total_s:.1f} s in all, and the start of the recording hold "
                     f"the trunk {trunk_deg - pelvis_deg:.0f} deg further forward of the pelvis (the pelvis at "
                     f"{pelvis_deg:+.0f} deg, the trunk at {trunk_deg:+.0f} deg), as standing does after a lockout "
                     "held arched")
            choice = replace(choose_stance(recording, self.params.stance_search, threads, stance_at=(a, b)),
                             warnings=(f"the zero, the quiet posture at {was.start_s:.2f}-{was.end_s:.2f} s, looks "
                                       f"{looks}; angles are relative to the stand at {a:.2f}-{b:.2f} s instead; start "
                                       "recordings standing still for a second",))
            forwards = forward_directions(recording, {r: e.acc_mean_m_s2 for r, e in choice.result.sensors.items()},
                                          threads=threads)
        result = choice.result

        def start(role: str) -> tuple[StanceEstimate, SegmentTracker]:
            s = recording[role]
            est = result.sensors[role]
            first = int(np.searchsorted(s.time_s, result.end_s, side="right"))
            later = result.start_s > s.time_s[0] + self.params.stance_search.start_s
            if not later:
                # a stance at the start: the filter's own "up" there (it starts aligned with it),
                # from a pass identical to the one that follows
                ups = SegmentTracker(est, self.params).up_batch(
                    s.time_s[:first], s.acc_m_s2[:first], s.gyr_rad_s[:first])[s.time_s[:first] >= result.start_s]
            else:
                # a later stance: gravity as the accelerometer saw it there, exact when still (the
                # filter's up there carries whatever error it gathered since the first sample) ...
                ups = est.acc_mean_m_s2[None, :]
                # ... and the filter starts from the orientation the first sample had, found by
                # running the filter backwards in time from the stance (the first samples may move)
                est = replace(est, acc_first_m_s2=self._up_at_first_sample(est, s.time_s, s.acc_m_s2, s.gyr_rad_s,
                                                                           first))
            tracker = SegmentTracker(est, self.params)
            tracker.set_reference(ups, forwards[role], refine=forwards[role] is None)
            if later:  # the filter put on gravity as it passes the stance's start (its mean posture is the zero;
                # a stance sways a few degrees either side of it, and may settle still)
                i = int(np.searchsorted(s.time_s, result.start_s))
                tracker.pin = (result.start_s, gravity_at_first_sample(s.time_s[i:first], s.acc_m_s2[i:first],
                                                                       s.gyr_rad_s[i:first], est.gyr_bias_rad_s))
            return est, tracker

        started = per_role(start, threads)
        self.trackers.update({role: tracker for role, (_, tracker) in started.items()})
        sensors = {role: est for role, (est, _) in started.items()}
        self.calibration = replace(result, sensors=sensors)
        self._set_up_rows()
        self._announce = True
        return list(choice.warnings)

    def _up_at_first_sample(self, est: StanceEstimate, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                            stop: int) -> np.ndarray:
        """Gravity (m/s^2, sensor frame) at the first sample: the filter run from the stance
        (samples ``stop-1`` down to 0) on the time-reversed motion: the rotation rate negated, with
        the bias taken off first (reversed, a bias would turn the other way). Where that run crossed a gap long
        enough to restart it and had not settled again by the first sample (a sensor lost for 1.3 s five seconds
        in: its "up" there undefined, and the filter's start raised ValueError), the accelerometer's mean over the
        start (``acc_first_m_s2``), as a filter started there would take."""
        ups = backward_ups(est, self.params, t[:stop], acc[:stop], gyr[:stop], est.gyr_bias_rad_s, est.acc_mean_m_s2,
                           at_samples=False)
        if not np.all(np.isfinite(ups[0])):
            return est.acc_first_m_s2
        return float(np.linalg.norm(est.acc_mean_m_s2)) * ups[0]

    def _set_up_rows(self) -> None:
        """Stream alignment and detector, once the trackers exist.

        A row gets the other segment's angle along the secant of that stream's last two samples across any
        gap its filter bridges (``reanchor.gap_s``; after a longer one the filter restarts and its first
        angles are NaN anyway), held only beyond. The secant errs by about a x (gap / 2) x dt on a row dt
        after the last sample (a: angular acceleration), holding by v x dt; after a bridged gap both sit on
        the filter's own bridging error. Measured (a 52 Hz sacrum beside a 208 Hz thoracic sensor): after
        single drops pelvic RMSE 0.21/0.19 deg with the secant, 0.49/0.42 held; after 0.3/0.45 s holes the
        pelvic angle's change on the rows after the return errs by 0.16/0.23 deg RMSE, 0.42/0.38 held
        (tests/test_pipeline.py: dropped_sample, bridged_hole)."""
        rp, rt = self.trackers[PELVIS].rate_hz, self.trackers[TRUNK].rate_hz
        self.base = PELVIS if rp > 1.05 * rt else TRUNK
        other = _OTHER[self.base]
        other_rate = self.trackers[other].rate_hz
        self._max_age_s = max(GAP_FACTOR / other_rate, SHORT_HOLE_S) + 0.5 / self.trackers[self.base].rate_hz
        self._combiner = RowCombiner(self.base, self._max_age_s, self.params.reanchor.gap_s)
        base_rate = self.trackers[self.base].rate_hz
        self.detector = HingeDetector(self.params.detector, max_gap_s=max(GAP_FACTOR / base_rate, SHORT_HOLE_S))

    def _row(self, t: float, base_angle: float, other_angle: float) -> list[Event]:
        by_role = {self.base: base_angle, _OTHER[self.base]: other_angle}
        p, tr = by_role[PELVIS], by_role[TRUNK]
        lum = tr - p
        self._rows.append((t, p, tr, lum))
        assert self.detector is not None
        return self.detector.step(t, p, tr, lum)

    # -- live driver ------------------------------------------------------------------------
    def push(self, sample: ImuSample) -> list[Event]:
        """Process one sample (in arrival order); return the events it raised."""
        acc = np.array(sample.acc_m_s2, dtype=np.float64)
        gyr = np.array(sample.gyr_rad_s, dtype=np.float64)
        if not self.trackers:
            if not self._calibrate(sample.sensor, sample.time_s, acc, gyr):
                return []
            data = {r: self._stance.buffered(r) for r in SENSOR_ROLES}
            angles = self._start(data)
            assert self.calibration is not None
            events: list[Event] = [CalibrationDone(sample.time_s, self.calibration.start_s, self.calibration.end_s)]
            roles, idx = _merged_order({r: data[r][0] for r in SENSOR_ROLES})
            assert self._combiner is not None
            for ri, i in zip(roles, idx, strict=True):
                role = SENSOR_ROLES[ri]
                row = self._combiner.push(role, float(data[role][0][i]), float(angles[role][i]))
                if row is not None:
                    events.extend(self._row(*row))
            return events
        events = []
        if self._announce:  # calibrated from the whole recording before the first sample
            self._announce = False
            assert self.calibration is not None
            events.append(CalibrationDone(sample.time_s, self.calibration.start_s, self.calibration.end_s))
        tracker = self.trackers[sample.sensor]
        up = tracker.up(sample.time_s, acc, gyr)
        assert tracker.angle is not None and self._combiner is not None
        row = self._combiner.push(sample.sensor, sample.time_s, tracker.angle.update(up))
        return events + self._row(*row) if row is not None else events

    # -- batch driver -----------------------------------------------------------------------
    def analyze(self, recording: Recording, threads: int | None = None, repair: bool | None = None) -> AnalysisResult:
        """Batch driver (a fresh pipeline): the live pipeline's result on a whole recording, computed
        fast. Calibrated as :func:`pipeline_for` says; the stages run over whole streams (their
        batch loops), the detector over all rows in one block: the same code :meth:`push` runs.
        ``threads``: the two sensors' filters and angles side by side on two threads (None: when the process
        may use two CPUs, :func:`default_threads`) or in turn (1: a batch runs one recording per process); the
        same results either way. ``repair`` (None: ``params.gap_repair.enabled``): the angles and reps with the
        spans after gaps repaired offline, the alerts the causal pipeline's (see the module docstring); False: the
        live pipeline's result throughout."""
        threads = default_threads() if threads is None else threads
        _require_checked_time(recording)
        streams = {r: recording[r] for r in SENSOR_ROLES}
        data = {r: (s.time_s, s.acc_m_s2, s.gyr_rad_s) for r, s in streams.items()}
        cal_warnings = [] if calibrated_live(recording) else self.prepare(recording, threads)
        repair = self.params.gap_repair.enabled if repair is None else repair
        keeps = {r: SpanKeeper(repair_spans(data[r][0], self.params.gap_repair) if repair else [])
                 for r in SENSOR_ROLES}
        bridges = self._gap_bridges(data) if repair and self.trackers else {}
        trackers = {r: self.trackers[r].unstarted_copy() if r in bridges else self.trackers[r] for r in self.trackers}
        if self.trackers:  # the causal run (its alerts are the live pipeline's) keeps the spans where it is the last
            angles = per_role(lambda r: self.trackers[r].angles_batch(*data[r], None if r in bridges else keeps[r]),
                              threads)
        else:
            self._calibrate_from_start(streams)
            angles = self._start(data, threads, keeps)
            trackers = self.trackers
        bt = streams[self.base].time_s
        p, tr, lum = self._rows_batch(streams, angles)
        assert self.detector is not None
        self.detector.run(bt, p, tr, lum)
        self.finish()
        reps = list(self.detector.reps)
        if bridges:  # offline: a run with the gaps bridged on the rates read from both sides of each
            causal = angles
            angles = per_role(lambda r: trackers[r].angles_batch(*data[r], keeps[r], bridges[r]) if r in bridges
                              else causal[r], threads)
        if bridges or any(k.spans for k in keeps.values()):  # offline: the angles and reps with the spans after
            # gaps repaired
            fixed = per_role(lambda r: trackers[r].repaired_angles(*data[r], angles[r], keeps[r], bridges.get(r)),
                             threads)
            p, tr, lum = self._rows_batch(streams, fixed)
            reps = self._offline_reps(bt, p, tr, lum)
        quality, quality_warnings = recording_quality(recording, threads)
        warnings = [*recording.warnings, *cal_warnings, *quality_warnings]
        result = self._result(bt, p, tr, lum, warnings, reps)
        moves = sensor_moves(result)
        corrected = bool(repair and moves and self.params.correct_sensor_moves)
        if corrected:  # offline: the step a slipped sensor left, taken out of its segment's angle from then on
            p, tr = take_out_moves(bt, p, tr, moves)
            lum = tr - p
            result = self._result(bt, p, tr, lum, warnings, self._offline_reps(bt, p, tr, lum))
        if repair:
            estimate_unmeasured_peaks(result.reps)
        if roles_look_swapped(result.reps):
            result.warnings.append(SWAP_WARNING)
        result.warnings.extend(session_warnings(result, moves, corrected=corrected))
        result.quality = quality
        return result

    def _gap_bridges(self, data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
        """Offline: the rate across each gap a segment's filter bridges, where a model read from both sides of the
        gap predicts samples next to it better than the live bridge's (:mod:`imu_hinge.fusion.gap_bridge`); only
        the roles with such a gap."""
        out = {}
        for role, (t, _, gyr) in data.items():
            rates = gap_rates(t, gyr, self.trackers[role].rate_hz, self.params.gap_repair, self.params.reanchor.gap_s)
            if rates is not None:
                out[role] = rates
        return out

    def _offline_reps(self, bt: np.ndarray, p: np.ndarray, tr: np.ndarray, lum: np.ndarray) -> list[Rep]:
        """The reps of angles repaired offline: a fresh detector over them (its alerts are not kept)."""
        assert self.detector is not None
        detector = HingeDetector(self.params.detector, max_gap_s=self.detector.max_gap_s)
        detector.run(bt, p, tr, lum)
        detector.finish()
        return list(detector.reps)

    def _rows_batch(self, streams: dict[str, SensorStream],
                    angles: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pelvic tilt, trunk flexion and lumbar flexion (deg) on the base stream's samples, from each segment's
        angles on its own samples: the other segment's aligned as :meth:`push` does (:func:`combine_batch`)."""
        base, other = self.base, _OTHER[self.base]
        bt = streams[base].time_s
        other_angle = np.concatenate([  # in blocks: the alignment's temporaries stay small
            combine_batch(bt[i:i + BLOCK_SAMPLES], streams[other].time_s, angles[other],
                          other_first_on_tie=SENSOR_ROLES.index(other) < SENSOR_ROLES.index(base),
                          max_age_s=self._max_age_s, max_slope_gap_s=self.params.reanchor.gap_s)
            for i in range(0, len(bt), BLOCK_SAMPLES)])  # calibrated: the base stream has samples
        by_role = {base: angles[base], other: other_angle}
        p, tr = by_role[PELVIS], by_role[TRUNK]
        return p, tr, tr - p

    def _calibrate_from_start(self, streams: dict[str, SensorStream]) -> None:
        """Live calibration of a recording: its early samples, in arrival order, until it is done."""
        ready = False
        t0 = min(float(s.time_s[0]) for s in streams.values())
        horizon_s, done = 30.0, 0.0
        while not ready:  # arrival order of the early samples only: calibration ends within seconds
            early = {r: s.time_s[s.time_s < t0 + horizon_s] for r, s in streams.items()}
            roles, idx = _merged_order(early)
            for ri, i in zip(roles.tolist(), idx.tolist(), strict=True):
                s = streams[SENSOR_ROLES[ri]]
                if s.time_s[i] < t0 + done:
                    continue
                if self._calibrate(s.sensor, float(s.time_s[i]), s.acc_m_s2[i], s.gyr_rad_s[i]):
                    ready = True
                    break
            if ready or all(len(early[r]) == len(streams[r]) for r in SENSOR_ROLES):
                break
            done, horizon_s = horizon_s, 2 * horizon_s
        if self.calibration is None:
            self.calibration = self._stance.finalize_now()
        if not ready:
            self._searches = {}

    def finish(self) -> list[Event]:
        """End of data: flush reps whose lockout window is still open."""
        return self.detector.finish() if self.detector is not None else []

    def result(self, warnings: list[str] | None = None) -> AnalysisResult:
        rows = np.asarray(self._rows, dtype=float).reshape(-1, 4)
        return self._result(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], warnings or [])

    def _result(self, t: np.ndarray, p: np.ndarray, tr: np.ndarray, lum: np.ndarray,
                warnings: list[str], reps: list[Rep] | None = None) -> AnalysisResult:
        """The result: angles as given, the detector's alerts, and ``reps`` (None: the detector's)."""
        det = self.detector
        cal: dict[str, Any] = {}
        if self.calibration is not None:
            cal = {"stand_start_s": self.calibration.start_s, "stand_end_s": self.calibration.end_s,
                   "base_sensor": self.base, "fusion_method": self.params.fusion_method, "sensors": {}}
            for role, tracker in self.trackers.items():
                est = self.calibration.sensors[role]
                cal["sensors"][role] = {
                    "rate_hz": round(tracker.rate_hz, 4),
                    "gyr_bias_rad_s": [round(float(v), 6) for v in est.gyr_bias_rad_s],
                    "up_standing": [round(float(v), 6) for v in tracker.angle.u0] if tracker.angle else None,
                    "forward": ([round(float(v), 6) for v in tracker.angle.forward]
                                if tracker.angle is not None and tracker.angle.forward is not None else None),
                }
        if reps is None:
            reps = list(det.reps) if det else []
        return AnalysisResult(t, p, tr, lum, reps, list(det.alerts) if det else [], cal, warnings)


LIVE_CALIBRATION = "live"
"""``metadata["calibration"]`` of a recording made by a live session: it was calibrated as it
ran (stance from the start, axis from the first hinge), and replays the same way."""


def _require_checked_time(recording: Recording) -> None:
    """Raise :class:`DataCheckError` unless each sensor's time increases at every sample.

    The input checks (:func:`imu_hinge.recording.checks.checked`, run by every reader, ``imu_hinge.load`` and
    ``imu_hinge.run``) spread stamps shared by a packet's samples and drop repeated rows; a recording built in
    Python and handed to :func:`analyze` directly may not have been through them (a sample rate read from
    repeated stamps is infinite, and the filters would integrate over zero time)."""
    for role in SENSOR_ROLES:
        t = recording[role].time_s
        dt = np.diff(t)
        if dt.size and not bool((dt > 0).all()):
            i = int(np.flatnonzero(~(dt > 0))[0])
            raise DataCheckError(
                f"{role}: time does not increase at sample {i + 2} of {len(t)} ({float(t[i + 1]):.6f} s after "
                f"{float(t[i]):.6f} s): put the recording through the input checks first (imu_hinge.load, "
                f"imu_hinge.run, or imu_hinge.recording.checks.checked), which spread per-packet stamps and drop "
                f"repeated rows", role=role, problem="time_order", path=recording.source or None)


def calibrated_live(recording: Recording) -> bool:
    """Was ``recording`` calibrated live (so analyze and replay must calibrate it the same way)?"""
    return recording.metadata.get("calibration") == LIVE_CALIBRATION


def pipeline_for(recording: Recording, params: AnalysisParams | None = None) -> tuple[HingePipeline, list[str]]:
    """The pipeline that replays ``recording``: calibrated from the whole recording before its
    first sample, or, for a recording of a live session, calibrated as it ran (returns warnings)."""
    _require_checked_time(recording)
    pipe = HingePipeline(params)
    return pipe, ([] if calibrated_live(recording) else pipe.prepare(recording))


def analyze(recording: Recording, params: AnalysisParams | None = None,
            threads: int | None = None) -> AnalysisResult:
    """Batch entry point: :meth:`HingePipeline.analyze` of a fresh pipeline (``threads`` as there)."""
    return HingePipeline(params).analyze(recording, threads)
