"""The live window, offscreen (pytest-qt): traces, flagged stretches, counters, redraw timer, qasync loop."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt starts: no display needed

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from imu_hinge.analysis.pipeline import HingePipeline, analyze
from imu_hinge.detection.rep_events import RepCompleted
from imu_hinge.feedback.live_window import COLOURS, LiveWindow, run_with_window, status_text
from imu_hinge.feedback.policy import FeedbackScheduler
from imu_hinge.feedback.replay_source import ReplaySource, replay_status
from imu_hinge.feedback.session_runner import RowRing, SensorStatus, SessionRunner
from imu_hinge.samples import Recording
from imu_hinge.simulation import SimConfig, simulate


@pytest.fixture(scope="module")
def sim_rec() -> Recording:
    return simulate(SimConfig(seed=11, exercise="rdl", n_reps=6, rounding_frac=0.5, lockout_arch_frac=0.34)).recording


def image_rgb(img: QImage) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a QImage."""
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return arr[:, :img.width(), 2::-1].copy()  # BGRA in memory -> RGB


def near(rgb: np.ndarray, colour: tuple[int, ...], tol: int = 40) -> int:
    """Pixels within ``tol`` of ``colour`` on every channel."""
    return int(np.all(np.abs(rgb.astype(int) - np.array(colour[:3])) <= tol, axis=-1).sum())


def test_screenshot_mid_set_is_not_blank(qtbot: QtBot, sim_rec: Recording, tmp_path: Path) -> None:
    ring = RowRing()
    status = replay_status(sim_rec)
    status["thoracic"].battery_pct = 87.0
    status["thoracic"].clock_offset_ms = 1.3
    window = LiveWindow(ring, status, redraw_hz=30.0)
    qtbot.addWidget(window)
    window.show()
    pipe = HingePipeline()
    runner = SessionRunner(pipe, FeedbackScheduler(None, pipe.params.detector.faults), [window], ring)
    # mid-set: just after the bottom of rep 3 (rounded), reps 1 and 2 completed
    rep3 = analyze(sim_rec).reps[2]
    assert "lumbar_flexion" in rep3.faults
    runner.process([s for s in ReplaySource(sim_rec, None).samples if s.time_s <= rep3.bottom_s + 0.6])
    qtbot.wait(200)  # the timer redraws on its own
    assert window.redraw_count >= 2
    assert window.rep_label.text() == "REPS 2"
    assert window.verdict_label.text() == "ROUNDING"  # rep 3's alert, live
    assert "battery 87%" in window.status_labels["thoracic"].text()
    path = window.save_screenshot(tmp_path / "live_window_mid_set.png")
    img = QImage(str(path))
    assert not img.isNull() and img.width() >= 800 and img.height() >= 500
    rgb = image_rgb(img)
    flat = rgb.reshape(-1, 3)
    assert flat.std(axis=0).max() > 20  # not uniform
    assert len(np.unique(flat[::7] // 16, axis=0)) >= 20  # many distinct colours
    for name in ("P", "T", "L", "flag"):  # the traces and the flagged stretches are drawn
        assert near(rgb, COLOURS[name]) > 500, name
    r, g, b, a = COLOURS["band"]
    band = tuple(round(255 * (1 - a / 255) + c * a / 255) for c in (r, g, b))  # translucent over white
    assert near(rgb, band, tol=6) > 50_000, band
    assert near(rgb, (0, 0, 0), tol=30) > 2000  # big black rep counter letters


def test_redraw_timer_is_bounded_and_independent_of_data(qtbot: QtBot) -> None:
    ring = RowRing()
    window = LiveWindow(ring, {"sacrum": SensorStatus("sacrum", connected=False)}, redraw_hz=60.0)
    qtbot.addWidget(window)
    window.show()
    assert window.timer.interval() >= 1000.0 / 60.0  # <= 60 Hz
    n0 = window.redraw_count
    qtbot.wait(500)  # no data at all: the window still redraws on its timer
    assert 3 <= window.redraw_count - n0 <= 32
    assert 0 < window.redraw_rate_hz <= 61.0
    assert "DISCONNECTED" in window.status_labels["sacrum"].text()
    with pytest.raises(ValueError):
        LiveWindow(ring, redraw_hz=120.0)


def test_qt_and_asyncio_share_one_loop(qtbot: QtBot, sim_rec: Recording) -> None:
    ring = RowRing()
    pipe = HingePipeline()
    runner = SessionRunner(pipe, FeedbackScheduler(None, pipe.params.detector.faults), [], ring)

    async def session(window: LiveWindow) -> int:
        runner.sinks.append(window)
        # 16x real time: the window must keep redrawing while samples flow
        res = await runner.run(ReplaySource(sim_rec, 16.0))
        return len(res.reps)

    n_reps, window = run_with_window(session, ring, replay_status(sim_rec), redraw_hz=30.0)
    qtbot.addWidget(window)
    assert n_reps == 6
    stats = window.redraw_stats()
    assert stats["redraws"] >= 10 and 0 < stats["redraw_rate_hz"] <= 31
    assert window.rep_label.text() == "REPS 6"
    assert ring.total == runner.stats.rows


def test_status_text() -> None:
    s = SensorStatus("thoracic", connected=True, battery_pct=54.0, drop_rate=0.0123, clock_offset_ms=-2.04,
                     source="ble")
    assert status_text(s) == "thoracic: connected (ble) | battery 54% | samples lost 1.2% | clock offset -2.0 ms"
    assert status_text(SensorStatus("sacrum")) == "sacrum: ? | battery - | samples lost -"


def _glyph_height_px(window: LiveWindow, rgb: np.ndarray, label: Any) -> int:
    """Height (px) of the label's drawn glyphs in a screenshot: rows of its rectangle with dark or red ink."""
    top_left = label.mapTo(window, label.rect().topLeft())
    x0, y0, w, h = top_left.x(), top_left.y(), label.width(), label.height()
    crop = rgb[y0:y0 + h, x0:x0 + w].astype(int)
    background = np.median(crop.reshape(-1, 3), axis=0)
    ink = np.abs(crop - background).max(axis=-1) > 100
    rows = np.flatnonzero(ink.sum(axis=1) >= 2)
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def _banner_rows(rgb: np.ndarray, colour: tuple[int, int, int]) -> int:
    """Rows of the screenshot filled with ``colour`` across at least half their width (the rest: its letters)."""
    match = np.all(np.abs(rgb.astype(int) - np.array(colour)) <= 12, axis=-1)
    return int((match.mean(axis=1) >= 0.5).sum())


def test_big_numbers_limits_and_lost_sensor_banner_at_1600x1000(qtbot: QtBot, sim_rec: Recording,
                                                                  tmp_path: Path) -> None:
    status = replay_status(sim_rec)
    ring = RowRing()
    window = LiveWindow(ring, status, threshold_deg=18.0, extension_limit_deg=8.0, redraw_hz=30.0)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    pipe = HingePipeline()
    runner = SessionRunner(pipe, FeedbackScheduler(None, pipe.params.detector.faults), [window], ring)
    rep3 = analyze(sim_rec).reps[2]  # rounded: L beyond the threshold at its bottom
    runner.process([s for s in ReplaySource(sim_rec, None).samples if s.time_s <= rep3.bottom_s])
    window.redraw()
    lum_now = ring.latest()[-1, 3]
    assert lum_now > 18.0 and window.lumbar_beyond  # measured L 30-35 deg at rep 3's bottom
    assert window.lumbar_label.text() == f"L +{round(lum_now)}°"
    assert "lumbar threshold +18°" in window.threshold_line.label.toPlainText()
    assert "lockout extension limit -8°" in window.extension_line.label.toPlainText()
    rgb = image_rgb(QImage(str(window.save_screenshot(tmp_path / "live_1600x1000.png"))))
    assert rgb.shape[:2] == (1000, 1600)
    assert _glyph_height_px(window, rgb, window.lumbar_label) >= 48  # measured 61 px
    assert _glyph_height_px(window, rgb, window.rep_label) >= 48  # measured 61 px
    red_rows = _banner_rows(rgb, COLOURS["flag"])  # the thick red stretches of L: 4 rows
    assert window.banner_kind == "" and red_rows < 10
    # a long verdict never widens the window
    window.on_event(RepCompleted(0.0, replace(rep3, faults=("lumbar_flexion", "lumbar_led", "lockout_extension"))))
    window._verdict += " and much more text than any screen is wide " * 3
    window.redraw()
    qtbot.wait(50)
    assert window.width() == 1600 and window.verdict_label.text().endswith("…")
    # the thoracic sensor is lost: a red banner across the window says so
    status["thoracic"].connected = False
    rgb = image_rgb(QImage(str(window.save_screenshot(tmp_path / "live_lost.png"))))
    assert window.banner_kind == "lost" and "THORACIC SENSOR LOST" in window.banner.text()
    assert _banner_rows(rgb, COLOURS["flag"]) - red_rows >= 30  # measured 65 rows
    # the set ends: a "set finished" banner and the timer stops
    status["thoracic"].connected = True
    window.set_finished("SET FINISHED: 3 reps")
    rgb = image_rgb(QImage(str(window.save_screenshot(tmp_path / "live_finished.png"))))
    assert window.banner_kind == "finished" and not window.timer.isActive()
    assert _banner_rows(rgb, COLOURS["good"]) >= 30  # measured 66 rows


def test_calibration_countdown_instead_of_an_empty_plot(qtbot: QtBot, tmp_path: Path) -> None:
    phase = ["stance"]
    window = LiveWindow(RowRing(), {}, calibration=lambda: phase[0], stance_s=3.0)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    window.redraw()
    assert window.banner_kind == "calibrating" and window.banner.text().endswith(">3</span>")
    assert not window.plot.isVisible()
    window.save_screenshot(tmp_path / "live_calibrating.png")
    phase[0] = "axis"
    window.redraw()
    assert "ONE SLOW HINGE" in window.banner.text()
    phase[0] = "running"
    window.redraw()
    assert window.banner_kind == "" and not window.banner.isVisible() and window.plot.isVisible()
