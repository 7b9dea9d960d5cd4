"""The BLE link end to end: unmodified BleakClient/BleakScanner -> our bumble backend -> LocalLink ->
emulated sensors (bumble GATT servers speaking the firmware protocol). Faster than real time: the
emulated world's clock (device clocks, delays, host stamps) jumps from event to event as soon as the
link is idle (``speed=None``), or runs ``speed`` x real time where link timing matters (reconnect)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from imu_hinge.emulation.emulated_sensor import MotionOrigin, SensorFaults, SensorFirmware
from imu_hinge.emulation.emulator import Emulator
from imu_hinge.emulation.link_testing import Collected, collect, collect_until_back, drain
from imu_hinge.emulation.sensor_motion import MotionTrack
from imu_hinge.protocol import HapticCommand, StartCommand, encode_command
from imu_hinge.protocol.spec import GYR_MDPS_PER_LSB
from imu_hinge.sources.ble import BleSource, SampleBatch
from imu_hinge.sources.sensor_link import LinkOptions

ROLES = ("sacrum", "thoracic")


async def _stream(mtu: int, duration_s: float, speed: float | None, faults: SensorFaults | None = None,
                  **emu_kwargs: object) -> tuple[Collected, dict, dict]:
    async with Emulator(mtu=mtu, speed=speed, faults=faults, **emu_kwargs) as emu:  # type: ignore[arg-type]
        async with BleSource(backend=emu.backend, clock=emu.clock) as src:
            got = await collect(src, duration_s)
            await drain(src, emu, got)
            stats = src.stats()
            fw = {r: s.firmware for r, s in emu.sensors.items()}
    return got, stats, fw


@pytest.mark.parametrize("mtu, per_packet", [(23, 1), (247, 3)])
def test_60_s_two_sensors_lossless_and_bit_exact(mtu: int, per_packet: int) -> None:
    got, stats, fw = asyncio.run(_stream(mtu, 60.0, speed=None))  # discrete events: as fast as the link goes
    for role in ROLES:
        seq = got.cat(role, "seq")
        n = fw[role].sent_samples
        assert n >= 60 * 104
        np.testing.assert_array_equal(seq, np.arange(n))  # zero samples lost, indices intact
        assert fw[role].injected_drops == 0 and not got.kinds("gap") and not got.kinds("dropped")
        raw = np.concatenate([b.raw for b in got.batches[role]])
        np.testing.assert_array_equal(raw, fw[role].raw_at(seq))  # values identical after the round trip
        info = fw[role].info
        acc = np.concatenate([b.acc_m_s2 for b in got.batches[role]])
        np.testing.assert_array_equal(acc, raw[:, :3] * np.float64(info.acc_m_s2_per_lsb))
        assert stats[role]["mtu"] == mtu and stats[role]["dropped_notifications"] == 0
        assert max(len(b) for b in got.batches[role]) <= per_packet  # batched to the negotiated MTU
        assert np.all(np.diff(got.cat(role, "time_s")) > 0)


def test_injected_drops_are_counted_exactly_and_kept_as_gaps() -> None:
    faults = SensorFaults(drop_fraction=0.02, drop_burst=3, seed=7)
    got, stats, fw = asyncio.run(_stream(247, 20.0, speed=None, faults=faults))
    for role in ROLES:
        seq = got.cat(role, "seq")
        dropped = fw[role].injected_drops
        assert dropped > 10
        missing_by_index = int(seq[-1] + 1 - len(seq))
        assert missing_by_index == dropped == stats[role]["missing"]
        assert sum(e.detail["missing"] for e in got.kinds("gap", role)) == dropped
        assert all(e.detail["tx_overflow"] for e in got.kinds("gap", role))  # the sensor said why
        np.testing.assert_array_equal(np.concatenate([b.raw for b in got.batches[role]]), fw[role].raw_at(seq))


def test_haptic_battery_and_info_through_the_real_client_path() -> None:
    async def run() -> tuple[list, int | None, dict]:
        async with Emulator(mtu=185, speed=None, battery_percent=64) as emu:
            async with BleSource(backend=emu.backend, clock=emu.clock) as src:
                await collect(src, 1.0)
                for _ in range(3):
                    await src.haptic("thoracic", HapticCommand(200, 150, 100, 3))
                await src.write_control("thoracic", encode_command(HapticCommand(90, 50)))  # HapticSink's writer
                await collect(src, 1.5)
                battery = await src.read_battery("sacrum")
                stats = src.stats()
            return emu.sensors["thoracic"].firmware.haptic_log, battery, stats

    log, battery, stats = asyncio.run(run())
    assert len(log) == 4 and log[0][1] == HapticCommand(200, 150, 100, 3) and log[3][1] == HapticCommand(90, 50)
    assert [t for t, _ in log] == sorted(t for t, _ in log)  # received with their (emulated) times
    assert battery == 64 and stats["sacrum"]["firmware"] == "1.0.0" and stats["thoracic"]["rate_hz"] == 104.0
    assert stats["sacrum"]["mtu"] == 185


def test_sensor_disappears_and_returns_resumes_and_records_the_gap() -> None:
    opts = LinkOptions(rescan_s=1.0, backoff_s=(0.05, 0.5))

    async def run() -> tuple[Collected, float, dict]:
        async with Emulator(mtu=247, speed=4.0) as emu:
            async with BleSource(backend=emu.backend, clock=emu.clock, options=opts) as src:
                got = await collect(src, 2.0)
                await emu.sensors["thoracic"].disappear()
                await collect(src, 4.0, got)
                back_at = emu.clock.now() - src.t0_s
                await emu.sensors["thoracic"].reappear()
                await collect_until_back(src, "thoracic", back_at, 7.0, got)
                return got, back_at, src.stats()

    got, back_at, stats = asyncio.run(run())
    seq = got.cat("thoracic", "seq")
    t = got.cat("thoracic", "time_s")
    back = int(np.searchsorted(t, back_at))
    assert back < len(t), "the sensor never streamed again"  # waited for (a hang guard of 60 s)
    # how soon: benchmarks/ble_link.py (emulated time here includes real-time scanning, which load stretches)
    gaps = got.kinds("gap", "thoracic")
    assert len(gaps) == 1 and gaps[0].detail["missing"] == int(np.max(np.diff(seq)) - 1)
    # the gap counted is the time it was away: from the last sample before it to the first after
    assert abs(gaps[0].detail["missing"] - ((t[back] - t[back - 1]) * 104.0 - 1)) < 2
    assert gaps[0].detail["missing"] > 2.0 * 104  # away from 2 s to 4 s at least, in samples
    assert np.all(np.diff(seq) > 0) and np.all(np.diff(t) > 0)
    assert got.kinds("disconnect", "thoracic") and got.kinds("reconnect", "thoracic")
    assert stats["thoracic"]["connects"] == 2 and stats["sacrum"]["connects"] == 1
    np.testing.assert_array_equal(got.cat("sacrum", "seq"), np.arange(got.count("sacrum")))  # undisturbed


def test_live_samples_drive_the_synchronous_pipeline() -> None:
    from imu_hinge.analysis.pipeline import HingePipeline
    from imu_hinge.detection.rep_events import RepCompleted

    async def run() -> list[object]:
        pipeline = HingePipeline()
        events: list[object] = []
        async with Emulator(mtu=247, speed=None, seed=2) as emu:  # simulated hinges
            async with BleSource(backend=emu.backend, clock=emu.clock) as src:
                async for item in src.items(30.0):
                    if isinstance(item, SampleBatch):
                        for sample in item.imu_samples():
                            events += pipeline.push(sample)
        return events

    events = asyncio.run(run())
    assert sum(isinstance(e, RepCompleted) for e in events) >= 2


def test_bumble_is_the_version_the_backend_is_written_for() -> None:
    import bumble

    from imu_hinge.emulation.bumble_backend import BUMBLE_VERSION

    assert bumble.__version__ == BUMBLE_VERSION, "bumble's API moves: check the backend, then update the pin"


@pytest.mark.parametrize("fixed_rate", [True, False])
def test_two_sensors_started_apart_measure_one_motion(fixed_rate: bool) -> None:
    """The emulated world has one motion: a sensor started 37 ms after the other measures, at the same
    true time, what the other measures (a played recording's rows; a simulated track between rows)."""
    rate = 104.0
    t = np.arange(2000) / rate
    gyr = np.column_stack([np.sin(2 * np.pi * 0.5 * t), np.cos(2 * np.pi * 0.3 * t), 0.2 * t]) * 3.0
    track = MotionTrack(np.tile([0.0, 0.0, 9.81], (len(t), 1)), gyr, rate, fixed_rate=fixed_rate)
    origin = MotionOrigin()
    first, second = (SensorFirmware(r, track, motion_origin=origin) for r in ("sacrum", "thoracic"))
    start = encode_command(StartCommand(rate_hz=104))
    first.handle_command(start, 0.5)
    second.handle_command(start, 0.537)
    k = np.arange(200)
    t1, t2 = first._sample_times_s(k), second._sample_times_s(k)
    raw1, raw2 = first.raw_at(k), second.raw_at(k)
    lsb = GYR_MDPS_PER_LSB[first.info.gyr_range_dps] * 1e-3 * np.pi / 180
    if fixed_rate:  # the later sensor samples on the recording's rows: the first one's samples, shifted
        m0 = int(round((t2[0] - t1[0]) * rate))
        assert m0 == 4 and np.allclose(t2[:-m0], t1[m0:], atol=1e-9)
        np.testing.assert_array_equal(raw2[:-m0], raw1[m0:])
    else:  # between rows: the motion at its own sample times
        assert not np.allclose((t2[0] - t1[0]) * rate, round((t2[0] - t1[0]) * rate))
        assert origin.time_s is not None
        expected = np.column_stack([np.interp(t2 - origin.time_s, t, gyr[:, j]) for j in range(3)])
        np.testing.assert_allclose(raw2[:, 3:] * lsb, expected, atol=lsb)


@pytest.mark.parametrize("fixed_rate", [True, False])
def test_a_sample_before_the_motion_starts_measures_its_first_row_not_its_last(fixed_rate: bool) -> None:
    """A sensor whose clock runs a little ahead samples before the motion's origin: the body stands as at
    the first row (the motion has not started); past the end the played motion loops."""
    rate = 104.0
    gyr = np.column_stack([np.arange(100.0), np.zeros(100), np.zeros(100)])
    track = MotionTrack(np.tile([0.0, 0.0, 9.81], (100, 1)), gyr, rate, fixed_rate=fixed_rate)
    _, g = track.at_rows(np.array([-0.4, -3.0, 0.0, 2.0, 101.0]))
    assert list(g[:, 0]) == [0.0, 0.0, 0.0, 2.0, 1.0]  # the wrap gave rows 99.6 (or 100 -> 0) and 97 before
