"""Rep state machine, fault rules and per-rep metrics over blocks of output rows.

The detector is causal: :meth:`HingeDetector.run` takes a block of rows (time, P, T, L in deg) of
any length and returns the events they raise, in row order. There is one implementation of the
logic, the compiled loop :func:`_detect`: live sessions pass blocks of one row
(:meth:`HingeDetector.step`), batch analysis passes the whole recording; so a replay raises
exactly the alerts a lifter felt, by construction.

Phases: STANDING -> (T > start) REP [descent, bottom, ascent] -> (T < end) LOCKOUT window ->
the rep is reported once its lockout window has closed. Kettlebell swings without a return to
standing are split at the valley between two peaks.

The loop keeps its state in small arrays (layouts below) and writes what happened into an event
table; :class:`HingeDetector` turns those records into :mod:`.events` objects (a few per rep).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .events import Event, FaultRaised, Rep, RepCompleted, RepStarted
from .params import DetectorParams

# -- float state ``fs`` ------------------------------------------------------------------
_LAST_T = 0  # time of the last row (NaN before the first)
_IDLE_VALLEY_T, _IDLE_VALLEY_TIME = 1, 2  # lowest T since the last rep, and when T was last near it
_P_ABOVE, _L_ABOVE = 3, 5  # 2 each: since when P / L is above the lumbar_led and onset levels (NaN: not)
_C_START, _C_PEAK_T, _C_PEAK_TIME, _C_P_AT_PEAK, _C_VALLEY_T, _C_VALLEY_TIME = 7, 8, 9, 10, 11, 12
_C_L_CROSS, _C_P_CROSS = 13, 15  # 2 each: when the candidate's L / P first reached each level (NaN: not)
_C_ABOVE_SINCE = 17  # since when L is above the threshold (NaN: it is not)
_N_FS = 18
# -- int state ``st`` ----------------------------------------------------------------------
_HAS_CAND, _GAP_OPEN, _C_INCOMPLETE, _C_ALERTED, _C_LED, _C_VALLEY_INDEX = 0, 1, 2, 3, 4, 5
_ROW0, _NROWS, _N_REPS, _N_PEND, _N_EV, _N_REC = 6, 7, 8, 9, 10, 11
_N_ST = 12
# -- parameters ``par`` ----------------------------------------------------------------------
(_START_DEG, _END_DEG, _SETTLE_DEG, _STANDING_DEG, _MIN_PEAK_DEG, _MIN_DUR_S, _MAX_DUR_S, _VALLEY_FRAC,
 _VALLEY_RISE_DEG, _BOTTOM_BAND_DEG, _THRESHOLD_DEG, _HOLD_S, _LOCKOUT_EXT_DEG, _WIN0_S, _WIN1_S,
 _LED_DEG, _ONSET_DEG, _MAX_GAP_S) = range(18)
# -- event table ``ev`` rows: (kind, time_s, value, index) ----------------------------------
EV_STARTED, EV_LUMBAR_LED, EV_LUMBAR_FLEXION, EV_REP, EV_LOCKOUT, EV_WINDOW_CLOSED = range(6)
"""Kinds: a candidate began (index = its rep number); an alert (value = L); a candidate became a
rep (index = its row in the rep table); a lockout alert / its window closed (value = min L, index
= rep number)."""
# -- rep table ``rec`` columns ----------------------------------------------------------------
(_R_INDEX, _R_START, _R_BOTTOM, _R_END, _R_PEAK_P, _R_PEAK_T, _R_PEAK_L, _R_MIN_L, _R_SHARE, _R_LAG,
 _R_DESCENT, _R_HOLD, _R_ASCENT, _R_ABOVE, _R_INCOMPLETE) = range(15)
_N_REC_COLS = 15
# -- pending lockout windows ``pend`` rows: (window end s, min L, hyperextension raised, rep number)


@njit(cache=True)
def _event(ev: np.ndarray, st: np.ndarray, kind: int, t: float, value: float, index: float) -> None:
    k = st[_N_EV]
    ev[k, 0], ev[k, 1], ev[k, 2], ev[k, 3] = kind, t, value, index
    st[_N_EV] = k + 1


@njit(cache=True)
def _add_row(fs: np.ndarray, st: np.ndarray, rows: np.ndarray, t: float, p: float, tr: float, lum: float) -> None:
    """Keep one row in the candidate; a new peak of T forgets the valley after the old peak."""
    k = st[_ROW0] + st[_NROWS]
    rows[k, 0], rows[k, 1], rows[k, 2], rows[k, 3] = t, p, tr, lum
    st[_NROWS] += 1
    if tr > fs[_C_PEAK_T]:
        fs[_C_PEAK_T], fs[_C_PEAK_TIME], fs[_C_P_AT_PEAK] = tr, t, p
        fs[_C_VALLEY_T], fs[_C_VALLEY_TIME], st[_C_VALLEY_INDEX] = math.inf, math.nan, -1


@njit(cache=True)
def _new_candidate(fs: np.ndarray, st: np.ndarray, start_s: float, row0: int) -> None:
    """A fresh candidate; its crossings are those already under way (P or L above a level)."""
    st[_HAS_CAND], st[_ROW0], st[_NROWS] = 1, row0, 0
    st[_C_INCOMPLETE], st[_C_ALERTED], st[_C_LED], st[_C_VALLEY_INDEX] = 0, 0, 0, -1
    fs[_C_START], fs[_C_PEAK_T], fs[_C_PEAK_TIME], fs[_C_P_AT_PEAK] = start_s, -math.inf, math.nan, math.nan
    fs[_C_VALLEY_T], fs[_C_VALLEY_TIME], fs[_C_ABOVE_SINCE] = math.inf, math.nan, math.nan
    for k in range(2):
        fs[_C_P_CROSS + k] = fs[_P_ABOVE + k]
        fs[_C_L_CROSS + k] = fs[_L_ABOVE + k]


@njit(cache=True)
def _make_rep(fs: np.ndarray, st: np.ndarray, rows: np.ndarray, rec: np.ndarray, par: np.ndarray,
              end_s: float, n_rows: int) -> None:
    """The metrics of the candidate's first ``n_rows`` rows as a new row of the rep table."""
    r0 = st[_ROW0]
    peak_t = fs[_C_PEAK_T]
    peak_p, peak_l, min_l = -math.inf, -math.inf, math.inf
    above, hold = 0.0, 0.0
    for i in range(r0, r0 + n_rows):
        p, lum = rows[i, 1], rows[i, 3]
        if not math.isnan(p) and p > peak_p:
            peak_p = p
        if not math.isnan(lum):
            peak_l, min_l = max(peak_l, lum), min(min_l, lum)
        if i > r0:
            dt = rows[i, 0] - rows[i - 1, 0]
            if dt > par[_MAX_GAP_S]:
                continue
            if lum > par[_THRESHOLD_DEG]:
                above += dt
            if rows[i, 2] >= peak_t - par[_BOTTOM_BAND_DEG]:
                hold += dt
    lag = fs[_C_L_CROSS + 1] - fs[_C_P_CROSS + 1]  # NaN when L never crossed the onset level ...
    if math.isnan(fs[_C_P_CROSS + 1]):  # ... or P did not (an infinite lag: none)
        lag = math.nan
    k = st[_N_REC]
    rec[k, _R_INDEX], rec[k, _R_START], rec[k, _R_BOTTOM], rec[k, _R_END] = (
        st[_N_REPS], fs[_C_START], fs[_C_PEAK_TIME], end_s)
    rec[k, _R_PEAK_P] = peak_p if peak_p > -math.inf else math.nan
    rec[k, _R_PEAK_T] = peak_t
    rec[k, _R_PEAK_L] = peak_l if peak_l > -math.inf else math.nan
    rec[k, _R_MIN_L] = min_l if min_l < math.inf else math.nan
    rec[k, _R_SHARE] = fs[_C_P_AT_PEAK] / peak_t if peak_t > 0 else math.nan
    rec[k, _R_LAG] = lag
    rec[k, _R_DESCENT] = fs[_C_PEAK_TIME] - fs[_C_START]
    rec[k, _R_HOLD], rec[k, _R_ASCENT], rec[k, _R_ABOVE] = hold, end_s - fs[_C_PEAK_TIME], above
    rec[k, _R_INCOMPLETE] = st[_C_INCOMPLETE]
    st[_N_REC] = k + 1


@njit(cache=True)
def _close(fs: np.ndarray, st: np.ndarray, rows: np.ndarray, pend: np.ndarray, ev: np.ndarray,
           rec: np.ndarray, par: np.ndarray, end_s: float, t_now: float, restart: bool) -> None:
    """End the candidate at ``end_s``: a rep (its lockout window opens) or nothing; at a valley
    between two swings a new candidate starts there with the rows after it."""
    st[_HAS_CAND] = 0
    fs[_IDLE_VALLEY_T], fs[_IDLE_VALLEY_TIME] = math.inf, math.nan
    r0, nr = st[_ROW0], st[_NROWS]
    n_rows = st[_C_VALLEY_INDEX] + 1 if restart else nr
    duration = end_s - fs[_C_START]
    peak_t = fs[_C_PEAK_T]
    # a gap may hide the bottom: such a candidate is reported (incomplete), never silently dropped
    deep_enough = peak_t >= par[_MIN_PEAK_DEG] or (st[_C_INCOMPLETE] == 1 and peak_t >= 2 * par[_START_DEG])
    if deep_enough and par[_MIN_DUR_S] <= duration <= par[_MAX_DUR_S]:
        st[_N_REPS] += 1
        _event(ev, st, EV_REP, end_s, 0.0, st[_N_REC])
        _make_rep(fs, st, rows, rec, par, end_s, n_rows)
        lo = end_s + par[_WIN0_S]
        min_l = math.inf
        for i in range(r0, r0 + nr):  # every row kept, past the valley too
            if rows[i, 0] >= lo and not math.isnan(rows[i, 3]) and rows[i, 3] < min_l:
                min_l = rows[i, 3]
        k = st[_N_PEND]
        pend[k, 0], pend[k, 1], pend[k, 2], pend[k, 3] = end_s + par[_WIN1_S], min_l, 0.0, st[_N_REPS]
        st[_N_PEND] = k + 1
    if restart:
        tail = r0 + st[_C_VALLEY_INDEX]
        _new_candidate(fs, st, fs[_C_VALLEY_TIME], tail)
        for i in range(tail, r0 + nr):
            _add_row(fs, st, rows, rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3])  # in place
        _event(ev, st, EV_STARTED, t_now, 0.0, st[_N_REPS] + 1)
    else:
        st[_ROW0], st[_NROWS] = 0, 0


@njit(cache=True)
def _update_pending(st: np.ndarray, pend: np.ndarray, ev: np.ndarray, par: np.ndarray, t: float,
                    lum: float) -> None:
    keep = 0
    for j in range(st[_N_PEND]):
        if t <= pend[j, 0]:
            if not math.isnan(lum):
                pend[j, 1] = min(pend[j, 1], lum)
            if pend[j, 1] < -par[_LOCKOUT_EXT_DEG] and pend[j, 2] == 0.0:
                pend[j, 2] = 1.0
                _event(ev, st, EV_LOCKOUT, t, pend[j, 1], pend[j, 3])
            pend[keep, :] = pend[j, :]
            keep += 1
        else:
            _event(ev, st, EV_WINDOW_CLOSED, t, pend[j, 1], pend[j, 3])
    st[_N_PEND] = keep


@njit(cache=True)
def _detect(t: np.ndarray, p: np.ndarray, tr: np.ndarray, lum: np.ndarray, i0: int, fs: np.ndarray,
            st: np.ndarray, rows: np.ndarray, pend: np.ndarray, ev: np.ndarray, rec: np.ndarray,
            par: np.ndarray) -> int:
    """THE detector: rows ``i0..`` in order, until the tables need room; returns the next row."""
    levels = (par[_LED_DEG], par[_ONSET_DEG])
    n = len(t)
    i = i0
    while i < n:
        if (st[_N_EV] + st[_N_PEND] + 8 > ev.shape[0] or st[_N_PEND] + 2 > pend.shape[0]
                or st[_N_REC] + 2 > rec.shape[0] or st[_ROW0] + st[_NROWS] + 2 > rows.shape[0]):
            return i
        ti, pi, tri, li = t[i], p[i], tr[i], lum[i]
        i += 1
        gap = (not math.isnan(fs[_LAST_T])) and (ti - fs[_LAST_T] > par[_MAX_GAP_S])
        fs[_LAST_T] = ti
        if st[_N_PEND] > 0:
            _update_pending(st, pend, ev, par, ti, li)
        if math.isnan(tri):
            if st[_HAS_CAND] == 1:
                st[_C_INCOMPLETE] = 1
            else:
                st[_GAP_OPEN] = 1
            continue
        if gap and st[_HAS_CAND] == 0:
            st[_GAP_OPEN] = 1
        for k in range(2):  # since when P and L are above each level (1 deg of hysteresis)
            if not math.isnan(pi):
                if pi >= levels[k]:
                    if math.isnan(fs[_P_ABOVE + k]):
                        fs[_P_ABOVE + k] = ti
                elif pi < levels[k] - 1.0:
                    fs[_P_ABOVE + k] = math.nan
            if not math.isnan(li):
                if li >= levels[k]:
                    if math.isnan(fs[_L_ABOVE + k]):
                        fs[_L_ABOVE + k] = ti
                elif li < levels[k] - 1.0:
                    fs[_L_ABOVE + k] = math.nan
        if st[_HAS_CAND] == 0:
            if tri <= par[_STANDING_DEG]:
                st[_GAP_OPEN] = 0
            if tri < fs[_IDLE_VALLEY_T]:
                fs[_IDLE_VALLEY_T] = tri
            if tri <= max(fs[_IDLE_VALLEY_T] + par[_SETTLE_DEG], par[_STANDING_DEG]):
                fs[_IDLE_VALLEY_TIME] = ti
            if tri <= par[_START_DEG]:
                continue
            start = fs[_IDLE_VALLEY_TIME] if not math.isnan(fs[_IDLE_VALLEY_TIME]) else ti
            _new_candidate(fs, st, start, 0)
            st[_C_INCOMPLETE] = st[_GAP_OPEN]
            _event(ev, st, EV_STARTED, ti, 0.0, st[_N_REPS] + 1)
        if gap or math.isnan(pi) or math.isnan(li):
            st[_C_INCOMPLETE] = 1
        # -- in a rep
        _add_row(fs, st, rows, ti, pi, tri, li)
        descending = math.isnan(fs[_C_PEAK_TIME]) or ti <= fs[_C_PEAK_TIME]
        for k in range(2):
            if not math.isnan(li) and li >= levels[k] and math.isnan(fs[_C_L_CROSS + k]):
                fs[_C_L_CROSS + k] = ti
            if not math.isnan(pi) and pi >= levels[k] and math.isnan(fs[_C_P_CROSS + k]):
                fs[_C_P_CROSS + k] = ti
        if (descending and st[_C_LED] == 0 and not math.isnan(fs[_C_L_CROSS])
                and math.isnan(fs[_C_P_CROSS])):
            st[_C_LED] = 1
            _event(ev, st, EV_LUMBAR_LED, ti, li, st[_N_REPS] + 1)
        if not math.isnan(li) and li > par[_THRESHOLD_DEG]:
            if math.isnan(fs[_C_ABOVE_SINCE]):
                fs[_C_ABOVE_SINCE] = ti
            if st[_C_ALERTED] == 0 and ti - fs[_C_ABOVE_SINCE] >= par[_HOLD_S] - 1e-9:
                st[_C_ALERTED] = 1
                _event(ev, st, EV_LUMBAR_FLEXION, ti, li, st[_N_REPS] + 1)
        else:
            fs[_C_ABOVE_SINCE] = math.nan
        # end of the rep: back to standing, or a valley between two swings
        if tri < par[_END_DEG]:
            _close(fs, st, rows, pend, ev, rec, par, ti, ti, False)
        elif fs[_C_PEAK_T] >= par[_MIN_PEAK_DEG] and ti > fs[_C_PEAK_TIME]:
            if tri < fs[_C_VALLEY_T]:
                fs[_C_VALLEY_T], fs[_C_VALLEY_TIME], st[_C_VALLEY_INDEX] = tri, ti, st[_NROWS] - 1
            elif (fs[_C_VALLEY_T] < par[_VALLEY_FRAC] * fs[_C_PEAK_T]
                  and tri > fs[_C_VALLEY_T] + par[_VALLEY_RISE_DEG]):
                _close(fs, st, rows, pend, ev, rec, par, fs[_C_VALLEY_TIME], ti, True)
    return i


class HingeDetector:
    """Causal rep counter and fault detector. Parameters in ``params``; state in the object."""

    def __init__(self, params: DetectorParams | None = None, max_gap_s: float = 0.1) -> None:
        self.params = params or DetectorParams()
        self.max_gap_s = max_gap_s
        rp, f = self.params.reps, self.params.faults
        self._par = np.array([
            rp.start_deg, rp.end_deg, rp.settle_deg, rp.standing_deg, rp.min_peak_deg, rp.min_duration_s,
            rp.max_duration_s, rp.valley_fraction, rp.valley_rise_deg, rp.bottom_band_deg,
            f.lumbar_threshold_deg, f.lumbar_flexion_hold_s, f.lockout_extension_deg, f.lockout_window_s[0],
            f.lockout_window_s[1], f.lumbar_led_deg, f.onset_deg, max_gap_s], dtype=float)
        self._fs = np.full(_N_FS, math.nan)
        self._fs[_IDLE_VALLEY_T] = math.inf
        self._st = np.zeros(_N_ST, dtype=np.int64)
        self._rows = np.empty((1024, 4))
        self._pend = np.empty((16, 4))
        self._ev = np.empty((256, 4))
        self._rec = np.empty((64, _N_REC_COLS))
        self._one = np.empty((4, 1))
        self._one_rows = tuple(self._one)
        self._cand_faults: list[str] = []
        self._pending: dict[int, Rep] = {}
        self.reps: list[Rep] = []
        self.alerts: list[FaultRaised] = []

    @property
    def last_time_s(self) -> float:
        """Time of the last row seen (NaN before the first)."""
        return float(self._fs[_LAST_T])

    def step(self, t: float, p: float, tr: float, lum: float) -> list[Event]:
        """One row: time (s), pelvic tilt, trunk flexion, lumbar flexion (deg; NaN = gap): a block of one."""
        one = self._one
        one[0, 0], one[1, 0], one[2, 0], one[3, 0] = t, p, tr, lum
        return self.run(*self._one_rows)

    def run(self, t: np.ndarray, p: np.ndarray, tr: np.ndarray, lum: np.ndarray) -> list[Event]:
        """A block of rows (1-d float arrays of one length, in time order); the events they raise."""
        events: list[Event] = []
        i, n = 0, len(t)
        while i < n:
            i = _detect(t, p, tr, lum, i, self._fs, self._st, self._rows, self._pend, self._ev, self._rec,
                        self._par)
            self._take_events(events)
            self._make_room()
        return events

    def _make_room(self) -> None:
        st = self._st
        r0, nr = int(st[_ROW0]), int(st[_NROWS])
        if r0 + nr + 2 > len(self._rows):  # the candidate's rows to the front, in a bigger table if needed
            rows = self._rows if 2 * nr + 4 <= len(self._rows) else np.empty((2 * len(self._rows), 4))
            rows[:nr] = self._rows[r0:r0 + nr]
            self._rows, st[_ROW0] = rows, 0
        if int(st[_N_PEND]) + 2 > len(self._pend):
            self._pend = np.concatenate([self._pend, np.empty_like(self._pend)])
        if int(st[_N_PEND]) + 8 > len(self._ev):
            self._ev = np.empty((2 * len(self._ev), 4))

    def _take_events(self, events: list[Event]) -> None:
        """Turn the loop's event table into event objects (and reps), in order; empty the tables."""
        n_ev = int(self._st[_N_EV])
        if n_ev == 0:
            return
        for kind, t, value, index in self._ev[:n_ev].tolist():
            idx = int(index)
            if kind == EV_STARTED:
                self._cand_faults = []
                events.append(RepStarted(t, idx))
            elif kind in (EV_LUMBAR_LED, EV_LUMBAR_FLEXION):
                fault = "lumbar_led" if kind == EV_LUMBAR_LED else "lumbar_flexion"
                self._cand_faults.append(fault)
                self._alert(events, FaultRaised(t, fault, value, idx))
            elif kind == EV_REP:
                rep = self._rep(self._rec[idx].tolist())
                self._pending[rep.index] = rep
            elif kind == EV_LOCKOUT:
                self._pending[idx].faults.append("lockout_hyperextension")
                self._alert(events, FaultRaised(t, "lockout_hyperextension", value, idx))
            else:
                self._finalize(self._pending.pop(idx), value, t, events)
        self._st[_N_EV] = 0
        self._st[_N_REC] = 0

    def _alert(self, events: list[Event], alert: FaultRaised) -> None:
        self.alerts.append(alert)
        events.append(alert)

    def _rep(self, r: list[float]) -> Rep:
        lmax = self.params.faults.lmax_deg
        incomplete = r[_R_INCOMPLETE] != 0.0
        rep = Rep(
            index=int(r[_R_INDEX]), start_s=r[_R_START], bottom_s=r[_R_BOTTOM], end_s=r[_R_END],
            peak_pelvic_tilt_deg=r[_R_PEAK_P], peak_trunk_flexion_deg=r[_R_PEAK_T],
            peak_lumbar_flexion_deg=r[_R_PEAK_L], min_lumbar_flexion_deg=r[_R_MIN_L], hinge_share=r[_R_SHARE],
            onset_lag_s=None if math.isnan(r[_R_LAG]) else r[_R_LAG], descent_s=r[_R_DESCENT],
            bottom_hold_s=r[_R_HOLD], ascent_s=r[_R_ASCENT], time_above_threshold_s=r[_R_ABOVE],
            peak_lumbar_pct_lmax=(100.0 * r[_R_PEAK_L] / lmax) if lmax else None,
            faults=list(self._cand_faults), complete=not incomplete,
        )
        if incomplete:
            rep.notes.append("a sensor gap overlaps this rep: its numbers are incomplete")
            if r[_R_PEAK_T] < self.params.reps.min_peak_deg:
                rep.notes.append("its bottom fell in the gap: depth not measured")
        return rep

    def _finalize(self, rep: Rep, min_l: float, t: float, events: list[Event]) -> None:
        if math.isfinite(min_l):
            rep.lockout_extension_deg = max(0.0, -min_l)
        self.reps.append(rep)
        events.append(RepCompleted(t, rep))

    def finish(self) -> list[Event]:
        """End of data: report reps whose lockout window is still open (it is cut short)."""
        events: list[Event] = []
        for _, min_l, _, index in self._pend[:int(self._st[_N_PEND])].tolist():
            rep = self._pending.pop(int(index))
            rep.notes.append("recording ended inside the lockout window")
            self._finalize(rep, min_l, self.last_time_s, events)
        self._st[_N_PEND] = 0
        return events
