"""Live window under load: 2 sensors x 200 Hz for 60 s, offscreen, on one Qt + asyncio loop.

Usage: ``QT_QPA_PLATFORM=offscreen python benchmarks/live_gui.py [--duration-s 60] [--redraw-hz 30]``

A simulated two-sensor session is encoded into data notifications (protocol codec, 10 samples
each, i.e. 20 notifications/s per sensor). A producer task releases them in real time into a
bounded queue with ``put_nowait`` (what the BLE notify callback does; a full queue drops and
counts). The consumer decodes each notification and feeds the session runner (core, feedback
policy, haptic dry run, live window ring). The window redraws on its own timer. Reported:
queue depth (max vs bound), drops, lag from arrival to processed (p50/p99/max), redraw rate,
redraw cost, CPU share. "Keeps up" = no drop and lag p99 < 100 ms. Table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imu_hinge.analysis.pipeline import HingePipeline
from imu_hinge.feedback.haptic import HapticSink
from imu_hinge.feedback.live_window import LiveWindow, run_with_window
from imu_hinge.feedback.policy import FeedbackScheduler
from imu_hinge.feedback.session_runner import RowRing, SensorStatus, SessionRunner, TimeOrderMerger
from imu_hinge.protocol import DataPacket, SensorInfo, decode_notification, encode_notification, packet_to_si
from imu_hinge.samples import SENSOR_ROLES, ImuSample
from imu_hinge.simulation import SimConfig, simulate

QUEUE_BOUND = 256
"""Notifications the queue holds (6.4 s of both sensors at 20 notifications/s each)."""
Note = tuple[float, str, bytes, np.ndarray]


def notifications(duration_s: float, rate_hz: float, info: SensorInfo, per_packet: int) -> list[Note]:
    rec = simulate(SimConfig(seed=5, exercise="rdl", n_reps=8, n_sets=3, rest_s=6.0, rate_hz=rate_hz,
                             rounding_frac=0.3, duration_s=duration_s)).recording
    out: list[Note] = []
    for role in SENSOR_ROLES:
        s = rec[role]
        raw = np.concatenate([s.acc_m_s2 / info.acc_m_s2_per_lsb, s.gyr_rad_s / info.gyr_rad_s_per_lsb], axis=1)
        raw = np.clip(np.round(raw), -32768, 32767).astype(np.int16)
        for i in range(0, len(s) - per_packet + 1, per_packet):
            pkt = DataPacket.build(i, int(s.time_s[i] * 1e6), raw[i:i + per_packet])
            out.append((float(s.time_s[i + per_packet - 1]), role, encode_notification(pkt),
                        s.time_s[i:i + per_packet]))
    out.sort(key=lambda x: x[0])
    return out


class Feed:
    """Producer (real-time release into a bounded queue) and consumer (decode -> sample batches)."""

    def __init__(self, notes: list[Note], info: SensorInfo) -> None:
        self.notes, self.info = notes, info
        self.queue: asyncio.Queue[tuple[float, Note] | None] = asyncio.Queue(QUEUE_BOUND)
        self.dropped = 0
        self.max_depth = 0
        self.lags_s: list[float] = []
        self.status = {r: SensorStatus(r, connected=True, battery_pct=90.0, drop_rate=0.0, clock_offset_ms=0.0,
                                       source="bench") for r in SENSOR_ROLES}

    async def produce(self) -> None:
        wall0, t0 = time.perf_counter(), self.notes[0][0]
        for note in self.notes:
            delay = (note[0] - t0) - (time.perf_counter() - wall0)
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                self.queue.put_nowait((time.perf_counter(), note))
            except asyncio.QueueFull:
                self.dropped += 1
            self.max_depth = max(self.max_depth, self.queue.qsize())
        await self.queue.put(None)

    async def batches(self) -> AsyncIterator[Sequence[ImuSample]]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            arrived, (_, role, data, times) = item
            acc, gyr = packet_to_si(decode_notification(data), self.info)
            yield [ImuSample(t, role, (a[0], a[1], a[2]), (g[0], g[1], g[2]))
                   for t, a, g in zip(times.tolist(), acc.tolist(), gyr.tolist(), strict=True)]
            self.lags_s.append(time.perf_counter() - arrived)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--rate-hz", type=float, default=200.0)
    ap.add_argument("--redraw-hz", type=float, default=30.0)
    ap.add_argument("--screenshot", metavar="PNG", help="save the window at the end")
    args = ap.parse_args(argv)
    info = SensorInfo.lsm6ds3(rate_hz=args.rate_hz)
    notes = notifications(args.duration_s, args.rate_hz, info, per_packet=10)
    feed = Feed(notes, info)
    ring = RowRing()
    pipe = HingePipeline()
    haptic = HapticSink(None)
    runner = SessionRunner(pipe, FeedbackScheduler(None, pipe.params.detector.faults), [haptic], ring,
                           merger=TimeOrderMerger())

    stalls_s: list[float] = []

    async def probe(period_s: float = 0.005) -> None:
        """How late the loop wakes a 5 ms sleeper: what paint and the core cost everyone else."""
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(period_s)
            stalls_s.append(time.perf_counter() - t0 - period_s)

    async def session(window: LiveWindow) -> dict[str, float]:
        runner.sinks.append(window)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        producer = asyncio.ensure_future(feed.produce())
        prober = asyncio.ensure_future(probe())
        await runner.run(feed.batches())
        await producer
        prober.cancel()
        wall = time.perf_counter() - wall0
        if args.screenshot:
            window.save_screenshot(args.screenshot)
        return {"wall_s": wall, "cpu_s": time.process_time() - cpu0}

    times, window = run_with_window(session, ring, feed.status, redraw_hz=args.redraw_hz,
                                    title="imu-hinge live_gui benchmark")
    redraw = window.redraw_stats()
    window.close()
    lags_ms = 1e3 * np.asarray(feed.lags_s)
    res = pipe.result()
    n_samples = runner.stats.samples
    overall_redraw_hz = redraw["redraws"] / times["wall_s"]
    keeps_up = feed.dropped == 0 and float(np.percentile(lags_ms, 99)) < 100.0
    table = {
        "duration (s)": f"{times['wall_s']:.1f} wall for {notes[-1][0] - notes[0][0]:.1f} s of data",
        "samples processed": f"{n_samples} ({n_samples / times['wall_s']:.0f}/s)",
        "notifications": f"{len(notes)}, dropped {feed.dropped}",
        "queue depth": f"max {feed.max_depth} of {QUEUE_BOUND}",
        "lag arrival->processed (ms)": f"p50 {np.median(lags_ms):.2f}, p99 {np.percentile(lags_ms, 99):.2f}, "
                                       f"max {lags_ms.max():.1f}",
        "redraw rate (Hz)": f"{overall_redraw_hz:.1f} overall, {redraw['redraw_rate_hz']:.1f} last 120 "
                            f"(timer {redraw['timer_hz']:.1f})",
        "redraw cost (ms)": f"median {redraw['redraw_ms_median']:.2f}, max {redraw['redraw_ms_max']:.1f} "
                            "(data + labels; painting comes after)",
        "loop stall (ms)": f"p50 {1e3 * np.median(stalls_s):.2f}, p99 {1e3 * np.percentile(stalls_s, 99):.2f}, "
                           f"max {1e3 * max(stalls_s):.1f} (5 ms sleeper woken late by)",
        "CPU": f"{100 * times['cpu_s'] / times['wall_s']:.0f}% of one core",
        "reps / alerts / haptic": f"{len(res.reps)} / {len(res.alerts)} / {len(haptic.log)}",
        "keeps up": "yes" if keeps_up else "NO",
    }
    print(f"Live window benchmark: 2 sensors x {args.rate_hz:g} Hz, offscreen ({os.environ['QT_QPA_PLATFORM']})")
    for k, v in table.items():
        print(f"  {k:<30}{v}")
    print(json.dumps({
        "benchmark": "live_gui", "rate_hz": args.rate_hz, "duration_s": round(times["wall_s"], 3),
        "samples": n_samples, "notifications": len(notes), "dropped": feed.dropped, "queue_max_depth": feed.max_depth,
        "queue_bound": QUEUE_BOUND, "lag_ms": {"p50": round(float(np.median(lags_ms)), 3),
                                               "p99": round(float(np.percentile(lags_ms, 99)), 3),
                                               "max": round(float(lags_ms.max()), 3)},
        "redraw_rate_hz": round(overall_redraw_hz, 2), **{f"window_{k}": v for k, v in redraw.items()},
        "loop_stall_ms": {"p50": round(1e3 * float(np.median(stalls_s)), 3),
                          "p99": round(1e3 * float(np.percentile(stalls_s, 99)), 3),
                          "max": round(1e3 * max(stalls_s), 3)},
        "cpu_share": round(times["cpu_s"] / times["wall_s"], 3), "reps": len(res.reps), "alerts": len(res.alerts),
        "keeps_up": keeps_up}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
