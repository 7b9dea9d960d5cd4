"""Rep state machine, fault rules and per-rep metrics over blocks of output rows.

The detector is causal: :meth:`HingeDetector.run` takes a block of rows (time, P, T, L in deg) of
any length and returns the events they raise, in row order. There is one implementation of the
logic, the C loop in ``_detect.c`` (:data:`_detect`): live sessions pass blocks of one row
(:meth:`HingeDetector.step`), batch analysis passes the whole recording; so a replay raises
exactly the alerts a lifter felt, by construction.

Phases: STANDING -> (T > start) REP [descent, bottom, ascent] -> (T < end) LOCKOUT window ->
the rep is reported once its lockout window has closed. Kettlebell swings without a return to
standing are split at the valley between two peaks.

The loop keeps its state in small arrays owned by :class:`HingeDetector` (layouts below, the
same indices as the enums in ``_detect.c``) and writes what happened into an event table, which
:class:`HingeDetector` turns into :mod:`.events` objects (a few per rep).
"""

from __future__ import annotations

import ctypes
import importlib.util
import math
from typing import Any

import numpy as np

from imu_hinge.detection.detector_params import DetectorParams
from imu_hinge.detection.rep_events import Event, FaultRaised, Rep, RepCompleted, RepStarted

# Layouts of the loop's arrays (the full ones are the enums of _detect.c; Python reads these):
_LAST_T, _IDLE_VALLEY_T = 0, 1  # float state ``fs``: time of the last row, lowest T since the last rep
_N_FS = 20
_ROW0, _NROWS, _N_PEND, _N_EV, _N_REC = 6, 7, 9, 10, 11  # int state ``st``: the candidate's rows in
_N_ST = 14  # ``rows`` (a table of (t, P, T, L)), how full the other tables are, gap flags, a T seen yet
EV_STARTED, EV_LUMBAR_LED, EV_LUMBAR_FLEXION, EV_REP, EV_LOCKOUT, EV_WINDOW_CLOSED = range(6)
_FAULT_OF_EVENT = {EV_LUMBAR_LED: "lumbar_led", EV_LUMBAR_FLEXION: "lumbar_flexion"}
"""Event table ``ev`` rows are (kind, time_s, value, index). Kinds: a candidate began (index = its
rep number); an alert (value = L); a candidate became a rep (index = its row in the rep table
``rec``); a lockout alert / its window closed (value = min L, index = rep number). Pending lockout
windows ``pend`` rows are (window end s, min L, hyperextension raised, rep number)."""
(_R_INDEX, _R_START, _R_BOTTOM, _R_END, _R_PEAK_P, _R_PEAK_T, _R_PEAK_L, _R_MIN_L, _R_SHARE, _R_LAG,
 _R_DESCENT, _R_HOLD, _R_ASCENT, _R_ABOVE, _R_INCOMPLETE) = range(15)  # rep table ``rec`` columns
_N_REC_COLS = 15


class _Tables(ctypes.Structure):
    """The loop's view of a detector's arrays (``Det`` in _detect.c): addresses and capacities."""

    _fields_ = [("fs", ctypes.c_void_p), ("st", ctypes.c_void_p), ("rows", ctypes.c_void_p),
                ("rows_cap", ctypes.c_int64), ("pend", ctypes.c_void_p), ("pend_cap", ctypes.c_int64),
                ("ev", ctypes.c_void_p), ("ev_cap", ctypes.c_int64), ("rec", ctypes.c_void_p),
                ("rec_cap", ctypes.c_int64), ("par", ctypes.c_void_p)]


def _load_loop() -> tuple[Any, Any]:
    """The compiled loop of ``_detect.c`` (built by the package install): over a block, over one row."""
    spec = importlib.util.find_spec(f"{__package__}._detect")
    if spec is None or spec.origin is None:
        raise ImportError("the detector's compiled loop (imu_hinge/detection/_detect.c) is not built: "
                          "reinstall imu-hinge (`pip install -e .` builds it; it needs a C compiler)")
    lib = ctypes.CDLL(spec.origin)
    ptr, i64, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
    block, row = lib.hinge_detect, lib.hinge_detect_row
    block.argtypes, block.restype = [ptr, ptr, ptr, ptr, ptr, i64, i64], i64
    row.argtypes, row.restype = [ptr, f64, f64, f64, f64], i64
    return block, row


_detect, _detect_row = _load_loop()
"""``_detect(tables, t, p, tr, lum, n, i0) -> next row``: THE detector, rows ``i0..n-1`` of the four
columns (addresses of C-contiguous float64 arrays) in order, until a table needs room.
``_detect_row(tables, t, p, tr, lum)``: the same loop over a block of one row given as floats."""


class HingeDetector:
    """Causal rep counter and fault detector. Parameters in ``params``; state in the object."""

    def __init__(self, params: DetectorParams | None = None, max_gap_s: float = 0.1) -> None:
        self.params = params or DetectorParams()
        self.max_gap_s = max_gap_s
        rp, f = self.params.reps, self.params.faults
        self._par = np.array([  # in the order of _detect.c's parameter enum
            rp.start_deg, rp.end_deg, rp.settle_deg, rp.standing_deg, rp.min_peak_deg, rp.min_duration_s,
            rp.max_duration_s, rp.valley_fraction, rp.valley_rise_deg, rp.bottom_band_deg,
            f.lumbar_threshold_deg, f.lumbar_flexion_hold_s, f.lockout_extension_deg, f.lockout_window_s[0],
            f.lockout_window_s[1], f.lumbar_led_deg, f.onset_deg, max_gap_s, rp.gap_accel_deg_s2,
            rp.seat_pelvis_deg, rp.seat_max_peak_deg], dtype=float)
        self._fs = np.full(_N_FS, math.nan)
        self._fs[_IDLE_VALLEY_T] = math.inf
        self._st = np.zeros(_N_ST, dtype=np.int64)
        self._rows = np.empty((1024, 4))
        self._pend = np.empty((16, 4))
        self._ev = np.empty((256, 4))
        self._rec = np.empty((64, _N_REC_COLS))
        self._set_args()
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
        status = _detect_row(self._tables_ref, t, p, tr, lum)
        if status == 0:  # nothing raised, room for the next row: the common case
            return []
        events: list[Event] = []
        while status < 0:  # a table needed room first
            self._take_events(events)
            self._make_room()
            status = _detect_row(self._tables_ref, t, p, tr, lum)
        self._take_events(events)
        self._make_room()
        return events

    def run(self, t: np.ndarray, p: np.ndarray, tr: np.ndarray, lum: np.ndarray) -> list[Event]:
        """A block of rows (1-d float arrays of one length, in time order); the events they raise."""
        cols = [np.ascontiguousarray(x, dtype=np.float64) for x in (t, p, tr, lum)]
        n = len(cols[0])
        if any(len(c) != n for c in cols):
            raise ValueError("detector rows: t, p, tr and lum must have one length")
        addresses = [c.ctypes.data for c in cols]
        events: list[Event] = []
        i = 0
        while i < n:
            i = _detect(self._tables_ref, *addresses, n, i)
            self._take_events(events)
            self._make_room()
        return events

    def _make_room(self) -> None:
        st = self._st
        r0, nr = int(st[_ROW0]), int(st[_NROWS])
        if r0 + nr + 2 > len(self._rows):  # the candidate's rows to the front, in a bigger table if needed
            rows = self._rows if 2 * nr + 4 <= len(self._rows) else np.empty((2 * len(self._rows), 4))
            rows[:nr] = self._rows[r0:][:nr]
            self._rows, st[_ROW0] = rows, 0
        if int(st[_N_PEND]) + 2 > len(self._pend):
            self._pend = np.concatenate([self._pend, np.empty_like(self._pend)])
        if int(st[_N_PEND]) + 8 > len(self._ev):
            self._ev = np.empty((2 * len(self._ev), 4))
        self._set_args()

    def _set_args(self) -> None:
        """The loop's state and table arguments (addresses, capacities) after (re)allocation."""
        self._tables = _Tables(self._fs.ctypes.data, self._st.ctypes.data, self._rows.ctypes.data, len(self._rows),
                               self._pend.ctypes.data, len(self._pend), self._ev.ctypes.data, len(self._ev),
                               self._rec.ctypes.data, len(self._rec), self._par.ctypes.data)
        self._tables_ref = ctypes.byref(self._tables)

    def _take_events(self, events: list[Event]) -> None:
        """Turn the loop's event table into event objects (and reps), in order; empty the tables."""
        for kind, t, value, index in self._ev[:int(self._st[_N_EV])].tolist():
            idx = int(index)
            if kind == EV_STARTED:
                self._cand_faults = []
                events.append(RepStarted(t, idx))
            elif kind in _FAULT_OF_EVENT:
                fault = _FAULT_OF_EVENT[kind]
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
