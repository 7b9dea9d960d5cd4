"""Rep state machine, fault rules and per-rep metrics, one output row at a time.

The detector is causal: :meth:`HingeDetector.step` sees one row (time, P, T, L in deg) and
returns the events it raises at that row. Live sessions and batch analysis both drive it
row by row, so a replay raises exactly the alerts a lifter felt.

Phases: STANDING -> (T > start) REP [descent, bottom, ascent] -> (T < end) LOCKOUT window ->
the rep is reported once its lockout window has closed. Kettlebell swings without a return to
standing are split at the valley between two peaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .events import Event, FaultRaised, Rep, RepCompleted, RepStarted
from .params import DetectorParams


@dataclass
class _Candidate:
    start_s: float
    rows_t: list[float] = field(default_factory=list)
    rows_p: list[float] = field(default_factory=list)
    rows_tr: list[float] = field(default_factory=list)
    rows_l: list[float] = field(default_factory=list)
    peak_t: float = -math.inf
    peak_t_time: float = math.nan
    p_at_peak: float = math.nan
    valley_t: float = math.inf
    valley_time: float = math.nan
    valley_index: int = -1
    l_cross: dict[float, float] = field(default_factory=dict)
    p_cross: dict[float, float] = field(default_factory=dict)
    above_since: float | None = None
    alerted: bool = False
    led: bool = False
    faults: list[str] = field(default_factory=list)
    incomplete: bool = False

    def add_row(self, t: float, p: float, tr: float, lum: float) -> bool:
        """Keep one row; True when it is a new peak of T (the valley after the old peak is forgotten)."""
        self.rows_t.append(t)
        self.rows_p.append(p)
        self.rows_tr.append(tr)
        self.rows_l.append(lum)
        if tr > self.peak_t:
            self.peak_t, self.peak_t_time, self.p_at_peak = tr, t, p
            self.valley_t, self.valley_time, self.valley_index = math.inf, math.nan, -1
            return True
        return False


@dataclass
class _Pending:
    rep: Rep
    window_end_s: float
    min_l: float


class HingeDetector:
    """Causal rep counter and fault detector. Parameters in ``params``; state in the object."""

    def __init__(self, params: DetectorParams | None = None, max_gap_s: float = 0.1) -> None:
        self.params = params or DetectorParams()
        self.max_gap_s = max_gap_s
        self._cand: _Candidate | None = None
        self._pending: list[_Pending] = []
        self._n_reps = 0
        self._last_t = math.nan
        self._valley_t = math.inf
        self._valley_time = math.nan
        self._gap_open = False
        """A gap (no rows, or NaN trunk rows: a sensor away or settling) since T was last at standing:
        a rep that starts before T is seen standing again began unseen, and is incomplete."""
        self._p_above: dict[float, float] = {}
        self._l_above: dict[float, float] = {}
        self.reps: list[Rep] = []
        self.alerts: list[FaultRaised] = []

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _track_above(store: dict[float, float], level: float, value: float, t: float) -> None:
        if value >= level:
            store.setdefault(level, t)
        elif value < level - 1.0:
            store.pop(level, None)

    def _new_candidate(self, start_s: float) -> _Candidate:
        c = _Candidate(start_s=start_s)
        f = self.params.faults
        for level in (f.lumbar_led_deg, f.onset_deg):
            if level in self._p_above:
                c.p_cross[level] = self._p_above[level]
            if level in self._l_above:
                c.l_cross[level] = self._l_above[level]
        return c

    # -- the step ------------------------------------------------------------------------
    def step(self, t: float, p: float, tr: float, lum: float) -> list[Event]:
        """Process one row: time (s), pelvic tilt, trunk flexion, lumbar flexion (deg; NaN = gap)."""
        events: list[Event] = []
        gap = (not math.isnan(self._last_t)) and (t - self._last_t > self.max_gap_s)
        self._last_t = t
        if self._pending:
            self._update_pending(t, lum, events)
        if math.isnan(tr):
            if self._cand is not None:
                self._cand.incomplete = True
            else:
                self._gap_open = True
            return events
        if gap and self._cand is None:
            self._gap_open = True
        f = self.params.faults
        if not math.isnan(p):
            for level in (f.lumbar_led_deg, f.onset_deg):
                self._track_above(self._p_above, level, p, t)
        if not math.isnan(lum):
            for level in (f.lumbar_led_deg, f.onset_deg):
                self._track_above(self._l_above, level, lum, t)
        c = self._cand
        if c is None:
            if tr <= self.params.reps.standing_deg:
                self._gap_open = False
            if tr < self._valley_t:
                self._valley_t = tr
            if tr <= max(self._valley_t + self.params.reps.settle_deg, self.params.reps.standing_deg):
                self._valley_time = t
            if tr > self.params.reps.start_deg:
                start = self._valley_time if not math.isnan(self._valley_time) else t
                c = self._cand = self._new_candidate(start)
                c.incomplete = self._gap_open
                events.append(RepStarted(t, self._n_reps + 1))
            else:
                return events
        if gap or math.isnan(p) or math.isnan(lum):
            c.incomplete = True
        self._in_rep(c, t, p, tr, lum, events)
        return events

    def _in_rep(self, c: _Candidate, t: float, p: float, tr: float, lum: float, events: list[Event]) -> None:
        rp, f = self.params.reps, self.params.faults
        c.add_row(t, p, tr, lum)
        descending = math.isnan(c.peak_t_time) or t <= c.peak_t_time
        if not math.isnan(lum):
            for level in (f.lumbar_led_deg, f.onset_deg):
                if lum >= level:
                    c.l_cross.setdefault(level, t)
        if not math.isnan(p):
            for level in (f.lumbar_led_deg, f.onset_deg):
                if p >= level:
                    c.p_cross.setdefault(level, t)
        if (descending and not c.led and f.lumbar_led_deg in c.l_cross
                and f.lumbar_led_deg not in c.p_cross):
            c.led = True
            c.faults.append("lumbar_led")
            self._alert(events, t, "lumbar_led", lum)
        thr = f.lumbar_threshold_deg
        if not math.isnan(lum) and lum > thr:
            if c.above_since is None:
                c.above_since = t
            if not c.alerted and t - c.above_since >= f.lumbar_flexion_hold_s - 1e-9:
                c.alerted = True
                c.faults.append("lumbar_flexion")
                self._alert(events, t, "lumbar_flexion", lum)
        else:
            c.above_since = None
        # end of the rep: back to standing, or a valley between two swings
        if tr < rp.end_deg:
            self._close(c, t, t, events, restart=False)
            return
        if c.peak_t >= rp.min_peak_deg and t > c.peak_t_time:
            if tr < c.valley_t:
                c.valley_t, c.valley_time, c.valley_index = tr, t, len(c.rows_t) - 1
            elif (c.valley_t < rp.valley_fraction * c.peak_t and tr > c.valley_t + rp.valley_rise_deg):
                self._close(c, c.valley_time, t, events, restart=True)

    def _alert(self, events: list[Event], t: float, fault: str, value: float) -> None:
        a = FaultRaised(t, fault, value, self._n_reps + 1)
        self.alerts.append(a)
        events.append(a)

    # -- closing a rep -------------------------------------------------------------------
    def _close(self, c: _Candidate, end_s: float, t_now: float, events: list[Event], restart: bool) -> None:
        rp = self.params.reps
        self._cand = None
        self._valley_t, self._valley_time = math.inf, math.nan
        n_rows = (c.valley_index + 1) if restart else len(c.rows_t)
        duration = end_s - c.start_s
        # a gap may hide the bottom: such a candidate is reported (incomplete), never silently dropped
        deep_enough = c.peak_t >= rp.min_peak_deg or (c.incomplete and c.peak_t >= 2 * rp.start_deg)
        is_rep = deep_enough and rp.min_duration_s <= duration <= rp.max_duration_s
        if is_rep:
            self._n_reps += 1
            rep = self._make_rep(c, end_s, n_rows)
            self._pending.append(_Pending(rep, end_s + self.params.faults.lockout_window_s[1],
                                          self._window_min(c, end_s, n_rows)))
        if restart:
            tail = slice(c.valley_index, None)
            nc = self._new_candidate(c.valley_time)
            for row in zip(c.rows_t[tail], c.rows_p[tail], c.rows_tr[tail], c.rows_l[tail], strict=True):
                nc.add_row(*row)
            self._cand = nc
            events.append(RepStarted(t_now, self._n_reps + 1))

    def _window_min(self, c: _Candidate, end_s: float, n_rows: int) -> float:
        lo = end_s + self.params.faults.lockout_window_s[0]
        vals = [v for tt, v in zip(c.rows_t, c.rows_l, strict=True) if tt >= lo and not math.isnan(v)]
        return min(vals) if vals else math.inf

    def _make_rep(self, c: _Candidate, end_s: float, n_rows: int) -> Rep:
        f, rp = self.params.faults, self.params.reps
        ts, ps, trs, ls = c.rows_t[:n_rows], c.rows_p[:n_rows], c.rows_tr[:n_rows], c.rows_l[:n_rows]
        finite_l = [v for v in ls if not math.isnan(v)]
        finite_p = [v for v in ps if not math.isnan(v)]
        thr = f.lumbar_threshold_deg
        above = 0.0
        hold = 0.0
        for i in range(1, len(ts)):
            dt = ts[i] - ts[i - 1]
            if dt > self.max_gap_s:
                continue
            if ls[i] > thr:
                above += dt
            if trs[i] >= c.peak_t - rp.bottom_band_deg:
                hold += dt
        onset = f.onset_deg
        lag = None
        if onset in c.l_cross:
            lag = c.l_cross[onset] - c.p_cross.get(onset, math.inf)
            lag = None if math.isinf(lag) else lag
        peak_l = max(finite_l) if finite_l else math.nan
        rep = Rep(
            index=self._n_reps, start_s=c.start_s, bottom_s=c.peak_t_time, end_s=end_s,
            peak_pelvic_tilt_deg=max(finite_p) if finite_p else math.nan,
            peak_trunk_flexion_deg=c.peak_t, peak_lumbar_flexion_deg=peak_l,
            min_lumbar_flexion_deg=min(finite_l) if finite_l else math.nan,
            hinge_share=(c.p_at_peak / c.peak_t) if c.peak_t > 0 else math.nan,
            onset_lag_s=lag, descent_s=c.peak_t_time - c.start_s, bottom_hold_s=hold,
            ascent_s=end_s - c.peak_t_time, time_above_threshold_s=above,
            peak_lumbar_pct_lmax=(100.0 * peak_l / f.lmax_deg) if f.lmax_deg else None,
            faults=list(c.faults), complete=not c.incomplete,
        )
        if c.incomplete:
            rep.notes.append("a sensor gap overlaps this rep: its numbers are incomplete")
            if c.peak_t < self.params.reps.min_peak_deg:
                rep.notes.append("its bottom fell in the gap: depth not measured")
        return rep

    def _update_pending(self, t: float, lum: float, events: list[Event]) -> None:
        f = self.params.faults
        keep: list[_Pending] = []
        for pend in self._pending:
            if t <= pend.window_end_s:
                if not math.isnan(lum):
                    pend.min_l = min(pend.min_l, lum)
                if pend.min_l < -f.lockout_extension_deg and "lockout_hyperextension" not in pend.rep.faults:
                    pend.rep.faults.append("lockout_hyperextension")
                    a = FaultRaised(t, "lockout_hyperextension", pend.min_l, pend.rep.index)
                    self.alerts.append(a)
                    events.append(a)
                keep.append(pend)
            else:
                self._finalize(pend, events, t)
        self._pending = keep

    def _finalize(self, pend: _Pending, events: list[Event], t: float) -> None:
        if math.isfinite(pend.min_l):
            pend.rep.lockout_extension_deg = max(0.0, -pend.min_l)
        self.reps.append(pend.rep)
        events.append(RepCompleted(t, pend.rep))

    # -- batch fast path -----------------------------------------------------------------
    def idle_run(self, t: np.ndarray, p: np.ndarray, tr: np.ndarray, lum: np.ndarray, i: int) -> int:
        """Consume rows ``i..`` while nothing can happen (no rep under way, no lockout window
        open, T not above the start level) with the state changes :meth:`step` would make;
        return the first row not consumed. Exact, only faster; used by the batch driver."""
        if self._cand is not None or self._pending or i >= len(t):
            return i
        above = np.flatnonzero(tr[i:] > self.params.reps.start_deg)
        j = i + int(above[0]) if above.size else len(t)
        if j == i:
            return i
        block = tr[i:j]
        finite = ~np.isnan(block)
        gap_rows = np.diff(t[i:j], prepend=t[i] if math.isnan(self._last_t) else self._last_t) > self.max_gap_s
        opened = np.flatnonzero(~finite | gap_rows)
        closed = np.flatnonzero(finite & (block <= self.params.reps.standing_deg))
        if opened.size or closed.size:  # as step: a row's gap opens first, its standing T closes
            self._gap_open = bool(opened.size) and (not closed.size or opened[-1] > closed[-1])
        self._last_t = float(t[j - 1])
        if finite.any():
            run_min = np.minimum.accumulate(np.where(finite, block, np.inf))
            run_min = np.minimum(run_min, self._valley_t)
            settle = np.maximum(run_min + self.params.reps.settle_deg, self.params.reps.standing_deg)
            low = np.flatnonzero(finite & (block <= settle))
            self._valley_t = float(run_min[-1])
            if low.size:
                self._valley_time = float(t[i + int(low[-1])])
        f = self.params.faults
        # as step: a row without T (a gap) tracks neither P nor L
        for store, values in ((self._p_above, np.where(finite, p[i:j], np.nan)),
                              (self._l_above, np.where(finite, lum[i:j], np.nan))):
            for level in (f.lumbar_led_deg, f.onset_deg):
                below = np.flatnonzero(values < level - 1.0)
                start = 0
                if below.size:
                    store.pop(level, None)
                    start = int(below[-1]) + 1
                if level not in store:
                    hit = np.flatnonzero(values[start:] >= level)
                    if hit.size:
                        store[level] = float(t[i + start + int(hit[0])])
        return j

    def finish(self) -> list[Event]:
        """End of data: report reps whose lockout window is still open (it is cut short)."""
        events: list[Event] = []
        for pend in self._pending:
            pend.rep.notes.append("recording ended inside the lockout window")
            self._finalize(pend, events, self._last_t)
        self._pending = []
        return events
