"""The live window (pyqtgraph on PySide6): the only module of imu-hinge that imports Qt.

Three traces scroll over the last ``window_s`` s: pelvic tilt P, trunk flexion T and lumbar
flexion L (deg), over the band where L is within range (lockout extension limit .. flexion
threshold, both lines labelled); stretches of L beyond either limit are drawn thick red. Above
the plot, in letters readable from two metres: the rep counter, the current lumbar flexion L
(red beyond a limit) and the last verdict; under them a banner for what matters most now: the
calibration countdown (instead of an empty plot), a lost sensor, or the set finished. Below the
plot one status line per sensor (connected, battery, drop rate, clock offset when measured).

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
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyqtgraph as pg
import qasync
from PySide6.QtCore import QMessageLogContext, QSocketNotifier, Qt, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QMainWindow, QSizePolicy, QVBoxLayout, QWidget

from imu_hinge.detection.rep_events import Event, FaultRaised, RepCompleted
from imu_hinge.feedback.policy import Cue, rep_verdict
from imu_hinge.feedback.session_runner import RowRing, SensorStatus

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
BIG_PX = 80
"""Pixel height of the rep counter and the live L number (readable from two metres)."""
BANNER_STYLES = {"calibrating": "background: rgb(31,119,180); color: white",
                 "lost": "background: rgb(214,39,40); color: white",
                 "finished": "background: rgb(30,140,60); color: white"}


def _label(text: str, px: int, bold: bool = True) -> QLabel:
    lab = QLabel(text)
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    lab.setFont(font)
    return lab


def status_text(s: SensorStatus) -> str:
    """One status-bar line: ``sacrum: connected | battery 87% | samples lost 0.2% | clock offset +1.3 ms``
    (the sensor clock's offset from the host's, shown once measured)."""
    conn = {None: "?", True: "connected", False: "DISCONNECTED"}[s.connected]
    batt = "-" if s.battery_pct is None else f"{s.battery_pct:.0f}%"
    drops = "-" if s.drop_rate is None else f"{100 * s.drop_rate:.1f}%"
    off = "" if s.clock_offset_ms is None else f" | clock offset {s.clock_offset_ms:+.1f} ms"
    src = f" ({s.source})" if s.source else ""
    return f"{s.role}: {conn}{src} | battery {batt} | samples lost {drops}{off}"


def _deg(v: float) -> str:
    """Signed whole degrees without a "-0"."""
    r = round(v)
    return f"{r:+d}°" if r else "0°"


class LiveWindow(QMainWindow):
    """Scrolling P/T/L traces, limits, flagged stretches, rep counter, live L, verdict, banner, sensor status.

    ``calibration`` (optional) returns the pipeline's calibration phase (``"stance"``, ``"axis"``,
    ``"running"``: :attr:`HingePipeline.calibration_phase`); while it is ``"stance"`` the plot gives way
    to a countdown of ``stance_s`` s, while ``"axis"`` to the one-hinge instruction."""

    name = "visual"

    def __init__(self, ring: RowRing, status: Mapping[str, SensorStatus] | None = None, *,
                 threshold_deg: float = 20.0, extension_limit_deg: float = 8.0, window_s: float = 10.0,
                 redraw_hz: float = 30.0, title: str = "imu-hinge",
                 calibration: Callable[[], str] | None = None, stance_s: float = 3.0) -> None:
        super().__init__()
        if not 0 < redraw_hz <= MAX_REDRAW_HZ:
            raise ValueError(f"redraw_hz must be in (0, {MAX_REDRAW_HZ:g}], got {redraw_hz}")
        self.ring, self.status = ring, status or {}
        self.threshold_deg, self.extension_limit_deg, self.window_s = threshold_deg, extension_limit_deg, window_s
        self.calibration, self.stance_s = calibration, stance_s
        self._stance_since: float | None = None
        self.setWindowTitle(title)
        self.resize(1280, 800)
        self._reps_done = 0
        self._verdict, self._verdict_bad = "", False
        self._cue_text = ""
        self._dirty = True
        self.finished_text: str | None = None
        """Set by :meth:`set_finished`: the set is over (banner shown, redraw timer stopped)."""
        self.lumbar_beyond = False
        """The live L is beyond the threshold or the lockout extension limit (the number is red)."""
        self.banner_kind = ""
        """What the banner shows now: "", "calibrating", "lost" or "finished"."""
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
        root = self.root_layout = QVBoxLayout(central)
        top = QHBoxLayout()
        self.rep_label = _label("REPS 0", BIG_PX)
        self.lumbar_label = _label("L –", BIG_PX)
        self.lumbar_label.setToolTip("lumbar flexion now (deg)")
        self.lumbar_label.setMinimumWidth(self.lumbar_label.fontMetrics().horizontalAdvance("L +188°"))
        self.verdict_label = _label(self._verdict, 56)
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # a long verdict is cut at the window's edge, never widens the window
        self.verdict_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top.addWidget(self.rep_label)
        top.addSpacing(60)
        top.addWidget(self.lumbar_label)
        top.addSpacing(30)
        top.addWidget(self.verdict_label, stretch=1)
        root.addLayout(top)
        self.banner = _label("", 56)
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.banner.hide()
        root.addWidget(self.banner)
        self.cue_label = _label("", 24, bold=False)
        self.cue_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        root.addWidget(self.cue_label)
        # the legend above the plot, never over the traces
        swatch = '<span style="color: rgb({},{},{})">&#9644;&#9644; {}</span>'
        self.legend_label = _label("&nbsp;&nbsp;&nbsp;".join(swatch.format(*COLOURS[k], name) for k, name in (
            ("P", "pelvic tilt P"), ("T", "trunk flexion T"), ("L", "lumbar flexion L"),
            ("flag", "L beyond a limit"))) + '&nbsp;&nbsp;&nbsp;<span style="color: rgb(44,160,44)">'
            '&#9632; L within range</span>', 18)
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        root.addWidget(self.legend_label)
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
        line_pen = pg.mkPen(COLOURS["flag"], width=2, style=Qt.PenStyle.DashLine)
        label_opts = {"color": COLOURS["flag"], "fill": pg.mkBrush(255, 255, 255, 220), "movable": False}
        self.threshold_line = pg.InfiniteLine(
            self.threshold_deg, angle=0, pen=line_pen, label=f"lumbar threshold {_deg(self.threshold_deg)}",
            labelOpts={**label_opts, "position": 0.02, "anchors": [(0, 1), (0, 1)]})
        self.extension_line = pg.InfiniteLine(
            -ext_deg, angle=0, pen=line_pen, label=f"lockout extension limit {_deg(-ext_deg)}",
            labelOpts={**label_opts, "position": 0.02, "anchors": [(0, 0), (0, 0)]})
        for line in (self.threshold_line, self.extension_line):
            line.label.setFont(QFont("", 14))
            self.plot.addItem(line)
        self.curves = {
            "P": self.plot.plot(pen=pg.mkPen(COLOURS["P"], width=3), connect="finite"),
            "T": self.plot.plot(pen=pg.mkPen(COLOURS["T"], width=3), connect="finite"),
            "L": self.plot.plot(pen=pg.mkPen(COLOURS["L"], width=4), connect="finite"),
            "flag": self.plot.plot(pen=pg.mkPen(COLOURS["flag"], width=7), connect="finite"),
        }
        root.addWidget(self.plot, stretch=1)
        self.status_labels = {role: _label("", 20, bold=False) for role in self.status}
        for lab in self.status_labels.values():
            root.addWidget(lab)
        self.setCentralWidget(central)

    # -- sink interface: store, show on the next redraw --------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, RepCompleted):
            self._reps_done = event.rep.index
            self._verdict = f"rep {event.rep.index}: {rep_verdict(event.rep)}"
            self._verdict_bad = bool(event.rep.faults)
        elif isinstance(event, FaultRaised) and event.fault == "lumbar_flexion":
            self._verdict, self._verdict_bad = "ROUNDING", True
        self._dirty = True

    def on_cue(self, cue: Cue) -> None:
        self._cue_text = f"feedback at {cue.time_s:.1f} s: {cue.message}"
        self._dirty = True

    async def aclose(self) -> None:
        self.redraw()

    def set_finished(self, text: str | None = None) -> None:
        """The set is over: a "set finished" banner, one last repaint, and the redraw timer stops (an idle
        window costs nothing)."""
        self.finished_text = text or f"SET FINISHED: {self._reps_done} reps"
        self._dirty = True
        self.redraw()
        self.timer.stop()

    def _banner_state(self) -> tuple[str, str]:
        """(kind, text) of the banner now."""
        if self.finished_text is not None:
            return "finished", self.finished_text
        lost = [role for role, st in self.status.items() if st.connected is False]
        if lost:
            return "lost", f"{' and '.join(lost).upper()} SENSOR LOST: reconnecting…"
        phase = self.calibration() if self.calibration is not None else "running"
        if phase == "stance":
            now = time.monotonic()
            if self._stance_since is None:
                self._stance_since = now
            left = math.ceil(self.stance_s - (now - self._stance_since))
            count = f"{left}" if left > 0 else "hold…"
            return "calibrating", f"STAND STILL, UPRIGHT: calibrating<br><span style='font-size: 240px'>{count}</span>"
        self._stance_since = None
        if phase == "axis":
            return "calibrating", "NOW ONE SLOW HINGE: finding your forward axis"
        return "", ""

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
                beyond = (lum > self.threshold_deg) | (lum < -self.extension_limit_deg)
            self.curves["flag"].setData(t, np.where(beyond, lum, np.nan))
            self.plot.setXRange(t[-1] - self.window_s, t[-1], padding=0)
            self._set_lumbar(float(lum[-1]))
        kind, text = self._banner_state()
        if kind != self.banner_kind or text != self.banner.text():
            self.banner_kind = kind
            self.banner.setText(text)
            self.banner.setStyleSheet(BANNER_STYLES.get(kind, ""))
            self.banner.setVisible(bool(kind))
            # while calibrating there is nothing to plot yet: the countdown takes the plot's place
            calibrating = kind == "calibrating" and not len(data)
            self.plot.setVisible(not calibrating)
            self.legend_label.setVisible(not calibrating)
            self.root_layout.setStretchFactor(self.banner, 1 if calibrating else 0)
        if self._dirty:
            self.rep_label.setText(f"REPS {self._reps_done}")
            colour = COLOURS["flag"] if self._verdict_bad else COLOURS["good"]
            self.verdict_label.setStyleSheet("color: rgb({},{},{})".format(*colour))
            width = self.verdict_label.width()  # cut a long verdict with "…" rather than let it widen anything
            self.verdict_label.setText(self.verdict_label.fontMetrics().elidedText(
                self._verdict, Qt.TextElideMode.ElideRight, width) if width > 50 else self._verdict)
            self.verdict_label.setToolTip(self._verdict)
            self.cue_label.setText(self._cue_text)
            self._dirty = False
        for role, lab in self.status_labels.items():
            lab.setText(status_text(self.status[role]))
        self._redraw_times.append(t0)  # when the timer fired: the rate of the timer, not of how long paints took
        self.redraw_count += 1
        self.redraw_cost_s.append(time.perf_counter() - t0)

    def _set_lumbar(self, lum_deg: float) -> None:
        if not math.isfinite(lum_deg):
            self.lumbar_label.setText("L –")
            return
        beyond = lum_deg > self.threshold_deg or lum_deg < -self.extension_limit_deg
        self.lumbar_label.setText(f"L {_deg(lum_deg)}")
        if beyond != self.lumbar_beyond:  # a style sheet change re-polishes: only on a change
            self.lumbar_beyond = beyond
            self.lumbar_label.setStyleSheet("color: rgb({},{},{})".format(*(COLOURS["flag"] if beyond else (0, 0, 0))))

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


class SigintNotifier:
    """Ctrl-C on a Qt loop: ``callback`` runs on the loop, promptly, with no ``KeyboardInterrupt``.

    Python runs a signal handler only when the interpreter gets control, which under Qt's C++ loop
    may be never (an idle window) or inside any slot (the traceback from ``QObject::timerEvent``).
    Here the C-level handler writes to a socket (``signal.set_wakeup_fd``) that a
    :class:`QSocketNotifier` watches: the loop wakes at once, and the Python handler only records
    the signal. :meth:`close` restores the previous handler and wake-up fd."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback, self.count = callback, 0
        self._rsock, self._wsock = socket.socketpair()
        for sock in (self._rsock, self._wsock):
            sock.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._wsock.fileno())
        self._old_handler = signal.signal(signal.SIGINT, self._handler)
        self._notifier = QSocketNotifier(self._rsock.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)

    def _handler(self, signum: int, frame: Any) -> None:
        self.count += 1
        QTimer.singleShot(0, self.callback)

    def _drain(self) -> None:
        try:
            while self._rsock.recv(64):
                pass
        except OSError:  # drained (BlockingIOError) or closed
            pass

    def close(self) -> None:
        self._notifier.setEnabled(False)
        signal.signal(signal.SIGINT, self._old_handler)
        signal.set_wakeup_fd(self._old_fd)
        self._rsock.close()
        self._wsock.close()


def run_with_window(make_coro: Callable[[LiveWindow], Coroutine[Any, Any, T]], ring: RowRing,
                    status: Mapping[str, SensorStatus] | None = None, *,
                    on_sigint: Callable[[LiveWindow], None] | None = None,
                    **window_options: Any) -> tuple[T, LiveWindow]:
    """Show a :class:`LiveWindow` and run ``make_coro(window)`` on a qasync loop shared with Qt.

    ``on_sigint(window)``, when given, handles Ctrl-C (on the loop, no ``KeyboardInterrupt``).
    Returns the coroutine's result and the window (closed by the caller)."""
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication([])
    window = LiveWindow(ring, status, **window_options)
    window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    sigint = SigintNotifier(lambda: on_sigint(window)) if on_sigint is not None else None
    try:
        result = loop.run_until_complete(make_coro(window))
    finally:
        if sigint is not None:
            sigint.close()
        window.timer.stop()
        loop.close()
        asyncio.set_event_loop(None)
    return result, window


__all__ = ["BIG_PX", "MAX_POINTS", "MAX_REDRAW_HZ", "LiveWindow", "SigintNotifier", "headless_platform",
           "run_with_window", "status_text"]
