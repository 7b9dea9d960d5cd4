"""The live window (pyqtgraph on PySide6): the only module of imu-hinge that imports Qt.

Three traces scroll over the last ``window_s`` s: pelvic tilt P, trunk flexion T and lumbar
flexion L (deg), over the band where L is within range (lockout extension limit .. flexion
threshold); stretches of L beyond the threshold are drawn thick red. Above the plot a rep
counter and the last verdict in letters readable from two metres; below it one status line
per sensor (connected, battery, drop rate, clock offset) and the measured redraw rate.

The window is a sink (``on_event`` / ``on_cue`` only store what to show) and reads the angle
rows from a :class:`~imu_hinge.feedback.session_runner.RowRing` the data side fills: it redraws
on its own ``QTimer`` at ``redraw_hz`` (<= 60), whatever the data rate. Qt and asyncio share
one loop through ``qasync`` (:func:`run_with_window`): PySide6-Essentials ships no QtAsyncio
module, and qasync's ``QEventLoop`` runs the offscreen platform unchanged.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyqtgraph as pg
import qasync
from PySide6.QtCore import QMessageLogContext, Qt, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from ..detection.events import Event, FaultRaised, RepCompleted, RepStarted
from .policy import Cue, rep_verdict
from .session_runner import RowRing, SensorStatus

T = TypeVar("T")
log = logging.getLogger(__name__)


def _pin_singletons() -> bool:
    """Work around a PySide6 binding bug on Python < 3.12: Qt calls that return void drop one
    reference to ``None`` (6.12) or ``True`` (6.9, through pyqtgraph's paint paths). These start with
    a few thousand references, so a window redrawing at 30 Hz dies within seconds ("Fatal Python
    error: none_dealloc", or a segfault). Python 3.12+ makes them immortal; here each gets 2**40
    extra references once, the same effect. Applied only where CPython's release build keeps the
    refcount at the object's start (checked against ``sys.getrefcount``). True if applied."""
    if sys.version_info >= (3, 12):
        return False
    fields = [(ctypes.c_ssize_t.from_address(id(obj)), obj) for obj in (None, True, False)]
    if any(abs(f.value - sys.getrefcount(obj)) > 16 for f, obj in fields):  # not a refcount: leave it
        return False
    for f, _ in fields:
        f.value += 1 << 40
    return True


SINGLETONS_PINNED = _pin_singletons()
MAX_REDRAW_HZ = 60.0
MAX_POINTS = 600
"""Points drawn per trace (60 per second over a 10 s window: far above hinge motion frequencies)."""
COLOURS = {"P": (31, 119, 180), "T": (255, 127, 14), "L": (40, 40, 40), "flag": (214, 39, 40),
           "good": (30, 140, 60), "band": (44, 160, 44, 45)}


def _label(text: str, px: int, bold: bool = True) -> QLabel:
    lab = QLabel(text)
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    lab.setFont(font)
    return lab


def status_text(s: SensorStatus) -> str:
    """One status-bar line: ``sacrum: connected | battery 87% | drops 0.2% | offset +1.3 ms``."""
    conn = {None: "?", True: "connected", False: "DISCONNECTED"}[s.connected]
    batt = "-" if s.battery_pct is None else f"{s.battery_pct:.0f}%"
    drops = "-" if s.drop_rate is None else f"{100 * s.drop_rate:.1f}%"
    off = "-" if s.clock_offset_ms is None else f"{s.clock_offset_ms:+.1f} ms"
    src = f" ({s.source})" if s.source else ""
    return f"{s.role}: {conn}{src} | battery {batt} | drops {drops} | offset {off}"


class LiveWindow(QMainWindow):
    """Scrolling P/T/L traces, threshold band, flagged stretches, rep counter, verdict, sensor status."""

    name = "visual"

    def __init__(self, ring: RowRing, status: Mapping[str, SensorStatus] | None = None, *,
                 threshold_deg: float = 20.0, extension_limit_deg: float = 8.0, window_s: float = 10.0,
                 redraw_hz: float = 30.0, title: str = "imu-hinge") -> None:
        super().__init__()
        if not 0 < redraw_hz <= MAX_REDRAW_HZ:
            raise ValueError(f"redraw_hz must be in (0, {MAX_REDRAW_HZ:g}], got {redraw_hz}")
        self.ring, self.status = ring, status or {}
        self.threshold_deg, self.window_s = threshold_deg, window_s
        self.setWindowTitle(title)
        self.resize(1280, 800)
        self._reps_done = 0
        self._verdict, self._verdict_bad = "waiting for standing calibration", False
        self._cue_text = ""
        self._dirty = True
        self._redraw_times: deque[float] = deque(maxlen=121)
        self.redraw_count = 0
        self.redraw_cost_s: deque[float] = deque(maxlen=600)
        self._build(extension_limit_deg)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, math.ceil(1000.0 / redraw_hz)))
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        self._closed: asyncio.Future[None] | None = None

    def _build(self, ext_deg: float) -> None:
        central = QWidget()
        root = QVBoxLayout(central)
        top = QHBoxLayout()
        self.rep_label = _label("REPS 0", 72)
        self.verdict_label = _label(self._verdict, 56)
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.rep_label)
        top.addStretch(1)
        top.addWidget(self.verdict_label)
        root.addLayout(top)
        self.cue_label = _label("", 24, bold=False)
        root.addWidget(self.cue_label)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("left", "angle (deg)", **{"font-size": "16pt", "color": "#000"})
        self.plot.setLabel("bottom", "time (s)", **{"font-size": "16pt", "color": "#000"})
        for y_deg in range(-20, 100, 20):  # static grid lines: pyqtgraph's axis grid repaints slowly when scrolling
            self.plot.addItem(pg.InfiniteLine(y_deg, angle=0, pen=pg.mkPen(200, 200, 200, width=1)))
        self.plot.setYRange(-25.0, 95.0, padding=0)
        self.plot.setMouseEnabled(x=False, y=False)
        for axis in ("left", "bottom"):
            ax = self.plot.getAxis(axis)
            ax.setStyle(tickFont=QFont("", 16))
            ax.setTextPen("k")
        band = pg.LinearRegionItem((-ext_deg, self.threshold_deg), orientation="horizontal", movable=False,
                                   brush=pg.mkBrush(*COLOURS["band"]), pen=pg.mkPen(None))
        self.plot.addItem(band)
        self.plot.addItem(pg.InfiniteLine(self.threshold_deg, angle=0,
                                          pen=pg.mkPen(COLOURS["flag"], width=2, style=Qt.PenStyle.DashLine)))
        legend = self.plot.addLegend(offset=(10, 10), labelTextSize="16pt", labelTextColor="k")
        self.curves = {
            "P": self.plot.plot(pen=pg.mkPen(COLOURS["P"], width=3), name="pelvic tilt P", connect="finite"),
            "T": self.plot.plot(pen=pg.mkPen(COLOURS["T"], width=3), name="trunk flexion T", connect="finite"),
            "L": self.plot.plot(pen=pg.mkPen(COLOURS["L"], width=4), name="lumbar flexion L", connect="finite"),
            "flag": self.plot.plot(pen=pg.mkPen(COLOURS["flag"], width=7), name="L beyond threshold",
                                   connect="finite"),
        }
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        root.addWidget(self.plot, stretch=1)
        self.status_labels = {role: _label("", 20, bold=False) for role in self.status}
        for lab in self.status_labels.values():
            root.addWidget(lab)
        self.rate_label = _label("", 14, bold=False)
        root.addWidget(self.rate_label)
        self.setCentralWidget(central)

    # -- sink interface: store, show on the next redraw --------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, RepCompleted):
            self._reps_done = event.rep.index
            self._verdict = f"rep {event.rep.index}: {rep_verdict(event.rep)}"
            self._verdict_bad = bool(event.rep.faults)
        elif isinstance(event, FaultRaised) and event.fault == "lumbar_flexion":
            self._verdict, self._verdict_bad = "ROUNDING", True
        elif isinstance(event, RepStarted) and self._verdict.startswith("waiting"):
            self._verdict = ""
        self._dirty = True

    def on_cue(self, cue: Cue) -> None:
        self._cue_text = f"feedback at {cue.time_s:.1f} s: {cue.message}"
        self._dirty = True

    async def aclose(self) -> None:
        self.redraw()

    # -- drawing ----------------------------------------------------------------------
    def redraw(self) -> None:
        """Pull the latest rows from the ring and repaint (the timer's slot)."""
        t0 = time.perf_counter()
        data = self.ring.latest(self.window_s)
        if len(data) > MAX_POINTS:  # thick lines cost per point: keep <= MAX_POINTS, newest row included
            data = data[::-1][::math.ceil(len(data) / MAX_POINTS)][::-1]
        if len(data):
            t, p, tr, lum = data[:, 0], data[:, 1], data[:, 2], data[:, 3]
            self.curves["P"].setData(t, p)
            self.curves["T"].setData(t, tr)
            self.curves["L"].setData(t, lum)
            with np.errstate(invalid="ignore"):
                self.curves["flag"].setData(t, np.where(lum > self.threshold_deg, lum, np.nan))
            self.plot.setXRange(t[-1] - self.window_s, t[-1], padding=0)
        if self._dirty:
            self.rep_label.setText(f"REPS {self._reps_done}")
            colour = COLOURS["flag"] if self._verdict_bad else COLOURS["good"]
            self.verdict_label.setStyleSheet("color: rgb({},{},{})".format(*colour))
            self.verdict_label.setText(self._verdict)
            self.cue_label.setText(self._cue_text)
            self._dirty = False
        for role, lab in self.status_labels.items():
            lab.setText(status_text(self.status[role]))
        now = time.perf_counter()
        self._redraw_times.append(now)
        self.redraw_count += 1
        self.redraw_cost_s.append(now - t0)
        if self.redraw_count % 15 == 0:
            self.rate_label.setText(f"redraw {self.redraw_rate_hz:.0f} Hz, {len(self.ring)} rows buffered")

    @property
    def redraw_rate_hz(self) -> float:
        """Redraws per second over the last (up to) 120 redraws."""
        ts = self._redraw_times
        return (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 and ts[-1] > ts[0] else 0.0

    def redraw_stats(self) -> dict[str, float]:
        costs = sorted(self.redraw_cost_s)
        return {"redraws": self.redraw_count, "redraw_rate_hz": round(self.redraw_rate_hz, 2),
                "timer_hz": round(1000.0 / self.timer.interval(), 2),
                "redraw_ms_median": round(1e3 * costs[len(costs) // 2], 3) if costs else math.nan,
                "redraw_ms_max": round(1e3 * costs[-1], 3) if costs else math.nan}

    def save_screenshot(self, path: str | Path) -> Path:
        """Repaint now and save the window as PNG."""
        self.redraw()
        path = Path(path)
        if not self.grab().save(str(path)):
            raise OSError(f"could not write screenshot {path}")
        return path

    # -- closing -----------------------------------------------------------------------
    async def wait_closed(self) -> None:
        """Until the user closes the window."""
        if self.isVisible():
            self._closed = asyncio.get_running_loop().create_future()
            await self._closed

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt names the handler
        self.timer.stop()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        super().closeEvent(event)


_QT_NOISE = ("propagateSizeHints",)
"""Qt messages that say nothing to a user (the offscreen platform's missing window features)."""


def _qt_message(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    if any(n in message for n in _QT_NOISE):
        return
    level = logging.WARNING if mode in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) \
        else logging.DEBUG
    log.log(level, "Qt: %s", message)


def headless_platform() -> bool:
    """True on Qt's offscreen/minimal platforms (nobody can close the window there)."""
    app = QApplication.instance()
    return app is None or QApplication.platformName() in ("offscreen", "minimal")


def run_with_window(make_coro: Callable[[LiveWindow], Coroutine[Any, Any, T]], ring: RowRing,
                    status: Mapping[str, SensorStatus] | None = None, **window_options: Any) -> tuple[T, LiveWindow]:
    """Show a :class:`LiveWindow` and run ``make_coro(window)`` on a qasync loop shared with Qt.

    Returns the coroutine's result and the window (closed by the caller)."""
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication([])
    window = LiveWindow(ring, status, **window_options)
    window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(make_coro(window))
    finally:
        window.timer.stop()
        loop.close()
        asyncio.set_event_loop(None)
    return result, window


__all__ = ["MAX_POINTS", "MAX_REDRAW_HZ", "LiveWindow", "headless_platform", "run_with_window", "status_text"]
