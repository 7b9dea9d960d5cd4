"""Recording a guided six-pose session over BLE: a real sensor, or an emulated one with known errors.

:func:`capture_guided` streams one role through :class:`~imu_hinge.sources.ble.BleSource` and
says each step of the procedure when its time comes (on the source's clock, from the first
sample). :func:`emulated_six_pose` does it on a bumble-emulated sensor (the BLE helper's
:class:`~imu_hinge.emulation.emulator.Emulator`) that plays a simulated six-pose session
corrupted by :class:`~imu_hinge.emulation.six_pose_session.InjectedErrors`: the bytes go through the firmware codec,
the emulated GATT link and the real decoder, int16 quantisation included. asyncio lives here only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from imu_hinge.samples import SENSOR_ROLES, SensorStream
from imu_hinge.sensor_calibration.procedure import GUIDE, TRANSITION_S, GuideStep, describe, timeline

if TYPE_CHECKING:
    from imu_hinge.emulation.six_pose_session import InjectedErrors

Say = Callable[[str], None]


def _step_line(k: int, n: int, step: GuideStep) -> str:
    return f"step {k}/{n} ({describe(step.pose)}, hold {step.hold_s:g} s): {step.text}"


async def capture_guided(role: str, *, backend: Any = None, clock: Any = None, say: Say = print,
                         steps: tuple[GuideStep, ...] = GUIDE, transition_s: float = TRANSITION_S,
                         extra_s: float = 1.5) -> tuple[SensorStream, dict[str, Any]]:
    """Stream ``role`` for the whole procedure, saying each step; the samples (uncalibrated SI) and the
    source's stats for the role. ``backend`` / ``clock``: as :class:`BleSource` takes them (None: real BLE)."""
    from imu_hinge.sources.ble import BleSource
    from imu_hinge.sources.link_events import SampleBatch

    plan = timeline(steps, transition_s)
    times: list[np.ndarray] = []
    acc: list[np.ndarray] = []
    gyr: list[np.ndarray] = []
    seq: list[np.ndarray] = []
    said = 0
    first_s: float | None = None
    async with BleSource((role,), backend=backend, clock=clock) as source:
        say(f"{role}: streaming; follow the steps as they come")
        async for item in source.items(plan[-1].hold_to_s + extra_s):
            if not isinstance(item, SampleBatch):
                if item.kind not in ("connected",):
                    say(f"  ({item.message})")
                continue
            if first_s is None:
                first_s = float(item.time_s[0])
            while said < len(plan) and float(item.time_s[-1]) - first_s >= plan[said].start_s:
                say(_step_line(said + 1, len(plan), plan[said].step))
                said += 1
            times.append(item.time_s)
            acc.append(item.acc_m_s2)
            gyr.append(item.gyr_rad_s)
            seq.append(item.seq)
        stats = source.stats().get(role, {})
    say("done: put the sensor down")
    if not times:
        return SensorStream(role, np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))), stats
    return SensorStream(role, np.concatenate(times), np.concatenate(acc), np.concatenate(gyr),
                        seq=np.concatenate(seq)), stats


def emulated_track(errors: InjectedErrors, *, rate_hz: float = 104.0, acc_noise_m_s2: float = 0.02,
                   gyr_noise_rad_s: float = 0.003, face_tilt_deg: float = 0.3, seed: int = 0) -> Any:
    """The :class:`~imu_hinge.emulation.sensor_motion.MotionTrack` an emulated sensor plays: the guided session
    as the erroneous sensor measures it (white noise added; the firmware quantises)."""
    from imu_hinge.emulation.sensor_motion import MotionTrack
    from imu_hinge.emulation.six_pose_session import six_pose_motion

    _, acc_true, gyr_true = six_pose_motion(rate_hz, face_tilt_deg=face_tilt_deg, seed=seed)
    acc, gyr = errors.corrupt(acc_true, gyr_true)
    rng = np.random.default_rng(seed + 11)
    acc = acc + rng.normal(0.0, acc_noise_m_s2, acc.shape)
    gyr = gyr + rng.normal(0.0, gyr_noise_rad_s, gyr.shape)
    return MotionTrack(acc, gyr, rate_hz)


async def _emulated(role: str, errors: InjectedErrors, speed: float | None, seed: int,
                    say: Say) -> tuple[SensorStream, dict[str, Any]]:
    from imu_hinge.emulation.emulator import Emulator

    track = emulated_track(errors, seed=seed)
    async with Emulator({r: track for r in SENSOR_ROLES}, speed=speed, seed=seed) as emu:
        return await capture_guided(role, backend=emu.backend, clock=emu.clock, say=say)


def emulated_six_pose(role: str, errors: InjectedErrors, *, speed: float | None = 20.0, seed: int = 0,
                      say: Say = print) -> tuple[SensorStream, dict[str, Any]]:
    """Run the guided procedure on an emulated ``role`` sensor with ``errors`` (``speed`` x real time; ``None``:
    discrete events, as fast as the link takes them, the same samples however busy the machine is)."""
    return asyncio.run(_emulated(role, errors, speed, seed, say))


def live_six_pose(role: str, *, say: Say = print) -> tuple[SensorStream, dict[str, Any]]:
    """Run the guided procedure on the real ``role`` sensor over Bluetooth."""
    return asyncio.run(capture_guided(role, say=say))
