"""Polar Verity Sense (PMD) end to end: unmodified BleakClient/BleakScanner -> the bumble backend -> emulated
Verity Senses (GATT layout, control point answers and errors, delta frames, drifting ns clocks, dropped and
broken frames) -> :class:`PolarLink` / :class:`PolarDecoder` -> the BLE source's batches. Truth comes from
the played recording and the emulated device clocks, never from the decoder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from imu_hinge.emulation.emulator import Emulator
from imu_hinge.emulation.link_testing import Collected, collect, collect_until_back, drain
from imu_hinge.emulation.polar_emulated import GYRO_FACTOR, PolarFaults
from imu_hinge.errors import SensorLinkError
from imu_hinge.sources import polar_pmd as pmd
from imu_hinge.sources.ble import BleSource
from imu_hinge.sources.sensor_link import LinkOptions

DEMO = Path(__file__).resolve().parents[1] / "recordings" / "demo_rdl_session.csv"
POLARS = {"sacrum": "polar", "thoracic": "polar"}
MG = pmd.G_M_S2 * 1e-3


# --- the codec, from the SDK's description ------------------------------------------------------
def test_delta_frames_round_trip_and_match_a_hand_built_frame() -> None:
    rng = np.random.default_rng(1)
    values = np.cumsum(rng.integers(-300, 300, (9, 3)), axis=0) + 1000
    frame = pmd.decode_frame(pmd.encode_frame(pmd.ACC, 123_456_789, 0x81, values))
    assert frame.compressed and frame.timestamp_ns == 123_456_789
    np.testing.assert_array_equal(frame.values, values)
    # by hand: reference (1, -2, 3) int16 LE, then one block of 2 samples of 3-bit deltas (+1, 0, -1), (-4, 3, 0)
    bits = [1, 0, 0, 0, 0, 0, 1, 1, 1] + [0, 0, 1, 1, 1, 0, 0, 0, 0]  # each value LSB first
    packed = sum(b << i for i, b in enumerate(bits)).to_bytes(3, "little")
    data = bytes([pmd.GYRO]) + (5).to_bytes(8, "little") + bytes([0x80]) + b"\x01\x00\xfe\xff\x03\x00" + \
        bytes([3, 2]) + packed
    np.testing.assert_array_equal(pmd.decode_frame(data).values, [[1, -2, 3], [2, -2, 2], [-2, 1, 2]])
    raw = pmd.decode_frame(pmd.encode_frame(pmd.ACC, 7, 0x01, values))
    np.testing.assert_array_equal(raw.values, values)


@pytest.mark.parametrize("data, kind", [
    (bytes([pmd.ACC]) + bytes(8) + bytes([0x7E]) + bytes(6), "unknown_frame_type"),
    (bytes([pmd.ACC]) + bytes(8) + bytes([0x81, 1, 0]), "truncated"),
    (bytes([pmd.ACC]) + bytes(8) + bytes([0x81]) + bytes(6) + bytes([16, 9, 1, 2]), "truncated"),
    (bytes([pmd.ACC]) + bytes(8) + bytes([0x01]) + bytes(7), "malformed"),
    (bytes(4), "truncated"),
])
def test_bad_frames_are_one_decode_error_each(data: bytes, kind: str) -> None:
    with pytest.raises(pmd.PmdFrameError) as err:
        pmd.decode_frame(data)
    assert err.value.kind == kind and "\n" not in str(err.value)


def test_settings_and_answers_round_trip() -> None:
    settings = {pmd.SAMPLE_RATE: (52,), pmd.RESOLUTION: (16,), pmd.RANGE: (8,), pmd.CHANNELS: (3,)}
    assert pmd.decode_settings(pmd.encode_settings(settings)) == settings
    factor = pmd.decode_settings(pmd.encode_settings({pmd.FACTOR: (GYRO_FACTOR,)}))[pmd.FACTOR][0]
    assert factor == GYRO_FACTOR
    resp = pmd.decode_response(pmd.encode_response(pmd.PmdResponse(pmd.START, pmd.ACC, 8)))
    assert not resp.ok and resp.error == "invalid sample rate"
    assert pmd.decode_features(pmd.encode_features({pmd.ACC, pmd.GYRO})) == {pmd.ACC, pmd.GYRO}


# --- through the real client path ---------------------------------------------------------------
async def _run(until_s: float, **emu: object) -> tuple[Collected, dict, Emulator, float]:
    async with Emulator(DEMO, mtu=247, speed=None, kinds=POLARS, **emu) as e:  # type: ignore[arg-type]
        async with BleSource(backend=e.backend, clock=e.clock, assignments=e.assignments) as src:
            got = await collect(src, until_s)
            await drain(src, e, got)
            return got, src.stats(), e, src.t0_s


def test_60_s_two_polars_lossless_exact_drops_values_within_one_lsb_clock_within_2_ms() -> None:
    drops = frozenset({(pmd.ACC, 40), (pmd.GYRO, 41), (pmd.GYRO, 200), (pmd.ACC, 201), (pmd.GYRO, 201)})
    faults = {"sacrum": PolarFaults(notify_delay_s=(0.0005, 0.003), seed=1),
              "thoracic": PolarFaults(notify_delay_s=(0.0005, 0.003), seed=2, drop_frames=drops)}
    got, stats, emu, t0_s = asyncio.run(_run(60.0, faults=faults, clock_ppm={"sacrum": 50.0, "thoracic": -50.0}))
    for role in ("sacrum", "thoracic"):
        fw = emu.sensors[role].firmware
        seq = got.cat(role, "seq")
        assert len(seq) == fw.sent_samples >= 59 * 52  # every row both streams sent came out (measured 3077, 3121)
        lost = fw.missing_slots()  # type: ignore[attr-defined]
        assert seq[-1] + 1 - len(seq) == len(lost) == stats[role]["missing"]
        assert sum(e.detail["missing"] for e in got.kinds("gap", role)) == len(lost)
        if role == "sacrum":
            np.testing.assert_array_equal(seq, np.arange(len(seq)))
            assert not got.kinds("gap", role)
        else:
            assert len(lost) == 4 * 9 and len(got.kinds("gap", role)) == 3  # frames 40/41 and 200/201 overlap
        # values: the played recording at each sample's true time, within one LSB of the device format
        dev_us = got.cat(role, "device_time_us")
        true_s = fw.host_time_s(dev_us * 1000.0 + 500.0)  # type: ignore[attr-defined]
        track = emu.motion[role]
        rows = (true_s - emu.motion_origin.time_s) * track.rate_hz
        acc, gyr = track.at_rows(rows)
        assert np.max(np.abs(got.cat(role, "acc_m_s2") - acc)) <= MG  # measured 0.500 LSB (rounding)
        gyr_lsb = np.radians(GYRO_FACTOR)
        assert np.max(np.abs(got.cat(role, "gyr_rad_s") - gyr)) <= gyr_lsb  # measured 0.005 LSB (the demo's grid)
        # clock: fitted sample times against the device clock's truth (+-50 ppm), after 10 s
        t = got.cat(role, "time_s")
        late = t > 10.0
        err_s = np.max(np.abs(t[late] - (true_s[late] - t0_s)))
        assert err_s <= 0.002, f"{role}: clock fit error {err_s * 1e3:.2f} ms"  # measured 0.62, 0.57 ms
        assert stats[role]["brand"] == "polar" and stats[role]["rate_hz"] == 52.0
        assert abs(stats[role]["clock_slope_ppm"] + (50 if role == "sacrum" else -50)) < 5


def test_polar_out_of_range_resumes_and_the_gap_is_counted() -> None:
    opts = LinkOptions(rescan_s=1.0, backoff_s=(0.05, 0.5))

    async def run() -> tuple[Collected, float, dict]:
        async with Emulator(speed=4.0, kinds=POLARS) as emu:
            async with BleSource(backend=emu.backend, clock=emu.clock, options=opts,
                                 assignments=emu.assignments) as src:
                got = await collect(src, 2.0)
                await emu.sensors["thoracic"].disappear()
                await collect(src, 4.0, got)
                back_at = emu.clock.now() - src.t0_s
                await emu.sensors["thoracic"].reappear()
                await collect_until_back(src, "thoracic", back_at, 7.0, got)
                return got, back_at, src.stats()

    got, back_at, stats = asyncio.run(run())
    seq, t = got.cat("thoracic", "seq"), got.cat("thoracic", "time_s")
    back = int(np.searchsorted(t, back_at))
    assert back < len(t), "the sensor never streamed again"  # waited for (a hang guard of 60 s)
    # how soon: benchmarks/ble_link.py (emulated time here includes real-time scanning, which load stretches)
    gaps = got.kinds("gap", "thoracic")
    assert len(gaps) == 1 and gaps[0].detail["missing"] == int(np.max(np.diff(seq)) - 1)
    # the gap counted is the time it was away: from the last sample before it to the first after
    assert abs(gaps[0].detail["missing"] - ((t[back] - t[back - 1]) * 52.0 - 1)) < 2
    away_s = gaps[0].detail["missing"] / 52.0  # measured 2.3 s idle
    assert away_s > 2.0  # out of range from 2 s to 4 s at least
    assert np.all(np.diff(seq) > 0) and np.all(np.diff(t) > 0)
    assert stats["thoracic"]["connects"] == 2 and stats["sacrum"]["connects"] == 1


def test_broken_frames_are_one_line_each_and_the_stream_goes_on() -> None:
    faults = {"thoracic": PolarFaults(corrupt_frames=(((pmd.ACC, 5), "unknown_type"), ((pmd.GYRO, 9), "truncated")))}
    got, stats, emu, _ = asyncio.run(_run(4.0, faults=faults))
    errors = got.kinds("error", "thoracic")
    assert len(errors) == 2 and stats["thoracic"]["decode_errors"] == 2
    assert "unknown PMD frame type 0x7e" in errors[0].message and "Polar Sense" in errors[0].message
    assert all("\n" not in e.message for e in errors)
    assert stats["thoracic"]["missing"] == 18 == len(emu.sensors["thoracic"].firmware.missing_slots())  # type: ignore[attr-defined]
    assert got.count("thoracic") == emu.sensors["thoracic"].firmware.sent_samples > 3 * 52


@pytest.mark.parametrize("faults, words", [
    (PolarFaults(gyro=False), "does not stream the gyroscope"),
    (PolarFaults(pmd=False), "is not an IMU"),
    (PolarFaults(refuse_rates=frozenset({52})), "refused to stream its accelerometer at 52 Hz (invalid sample rate)"),
])
def test_a_polar_that_cannot_serve_is_one_line_naming_it(faults: PolarFaults, words: str) -> None:
    async def run() -> None:
        async with Emulator(speed=None, kinds=POLARS, faults={"thoracic": faults}) as emu:
            async with BleSource(backend=emu.backend, clock=emu.clock, assignments=emu.assignments):
                pass

    with pytest.raises(SensorLinkError) as err:
        asyncio.run(run())
    message = str(err.value)
    assert words in message and "Polar Sense" in message and "\n" not in message


def test_a_polar_that_comes_back_refusing_the_rate_is_one_line_and_the_other_sensor_goes_on() -> None:
    opts = LinkOptions(rescan_s=1.0, backoff_s=(0.05, 0.5))

    async def run() -> Collected:
        async with Emulator(speed=4.0, kinds=POLARS) as emu:
            async with BleSource(backend=emu.backend, clock=emu.clock, options=opts,
                                 assignments=emu.assignments) as src:
                got = await collect(src, 1.0)
                thoracic = emu.sensors["thoracic"]
                await thoracic.disappear()
                await collect(src, 2.0, got)
                thoracic.firmware.faults = PolarFaults(refuse_rates=frozenset({52}))  # type: ignore[assignment]
                await thoracic.reappear()
                return await collect(src, 5.0, got)

    got = asyncio.run(run())
    errors = got.kinds("error", "thoracic")
    assert len(errors) == 1 and "refused to stream its accelerometer at 52 Hz" in errors[0].message
    assert "the set goes on without this sensor" in errors[0].message and "\n" not in errors[0].message
    seq = got.cat("sacrum", "seq")
    np.testing.assert_array_equal(seq, np.arange(len(seq)))
    assert got.cat("sacrum", "time_s")[-1] > 4.5  # the sacrum kept streaming to the end
