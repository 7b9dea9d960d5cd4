"""The live window, offscreen (pytest-qt): traces, flagged stretches, counters, redraw timer, qasync loop."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt starts: no display needed

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from imu_hinge.feedback.live_window import COLOURS, LiveWindow, run_with_window, status_text
from imu_hinge.feedback.policy import FeedbackScheduler
from imu_hinge.feedback.replay_source import ReplaySource, replay_status
from imu_hinge.feedback.session_runner import RowRing, SensorStatus, SessionRunner
from imu_hinge.pipeline import HingePipeline, analyze
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
    assert status_text(s) == "thoracic: connected (ble) | battery 54% | drops 1.2% | offset -2.0 ms"
    assert status_text(SensorStatus("sacrum")) == "sacrum: ? | battery - | drops - | offset -"
