"""Faults that are hard to provoke on a real stack, through the fake (pure-Python) bleak backend:
connect timeouts, BlueZ's "Notify acquired", a disconnect mid-stream, no Bluetooth at all."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakDBusError

from imu_hinge.emulation.emulated_clock import EmulationClock
from imu_hinge.emulation.emulated_sensor import SensorFirmware
from imu_hinge.emulation.fake_backend import FakeFaults, FakeWorld
from imu_hinge.emulation.link_testing import Collected, collect
from imu_hinge.emulation.sensor_motion import MotionTrack
from imu_hinge.errors import SensorLinkError
from imu_hinge.sources.ble import BleSource
from imu_hinge.sources.discovery import scan
from imu_hinge.sources.sensor_link import LinkOptions

FAST = LinkOptions(connect_timeout_s=0.2, command_timeout_s=1.0, scan_timeout_s=2.0, rescan_s=0.5,
                   backoff_s=(0.02, 0.1))


def _world(**kwargs: object) -> FakeWorld:
    rng = np.random.default_rng(0)
    track = MotionTrack(rng.normal(0, 1, (2000, 3)) + [0, 0, 9.81], rng.normal(0, 0.1, (2000, 3)), 104.0)
    firmwares = [SensorFirmware(role, track, device_clock_offset_us=1_000_000 * (k + 1))
                 for k, role in enumerate(("sacrum", "thoracic"))]
    return FakeWorld(firmwares, clock=EmulationClock(10.0), **kwargs)  # type: ignore[arg-type]


async def _run(world: FakeWorld, until_s: float) -> tuple[Collected, dict]:
    async with BleSource(backend=world.backend(), clock=world.clock, options=FAST) as src:
        got = await collect(src, until_s)
        return got, src.stats()


def test_connect_timeout_is_retried() -> None:
    world = _world(faults={"thoracic": FakeFaults(connect_timeouts=2)})
    got, stats = asyncio.run(_run(world, 2.0))
    thoracic = world.by_role("thoracic").address
    assert [c for c in world.calls if c == (thoracic, "connect")] == [(thoracic, "connect")] * 3
    assert got.count("thoracic") > 150 and stats["thoracic"]["connects"] == 1


def test_connect_timeouts_beyond_the_attempts_end_in_one_clear_error() -> None:
    world = _world(faults={"sacrum": FakeFaults(connect_timeouts=5)})
    with pytest.raises(SensorLinkError, match=r"could not set up the sacrum sensor after 3 attempts") as exc:
        asyncio.run(_run(world, 1.0))
    assert "\n" not in str(exc.value)


def test_notify_acquired_is_released_then_retried() -> None:
    world = _world(faults={"sacrum": FakeFaults(notify_acquired=1)})
    got, stats = asyncio.run(_run(world, 2.0))
    sacrum = world.by_role("sacrum").address
    calls = [what for addr, what in world.calls if addr == sacrum]
    first_fail = calls.index("start_notify 0003")  # control first: it raises "Notify acquired"
    assert calls[first_fail + 1:first_fail + 4] == ["stop_notify 0003", "stop_notify 0002", "disconnect"]
    assert calls.count("connect") == 2 and got.count("sacrum") > 150 and stats["sacrum"]["connects"] == 1


def test_disconnect_mid_stream_reconnects_and_keeps_the_gap() -> None:
    world = _world(faults={"thoracic": FakeFaults(disconnect_after_notifications=60)})
    got, stats = asyncio.run(_run(world, 4.0))
    assert got.kinds("disconnect", "thoracic") and got.kinds("reconnect", "thoracic")
    assert stats["thoracic"]["connects"] == 2
    seq = got.cat("thoracic", "seq")
    assert np.all(np.diff(seq) > 0) and len(got.kinds("gap", "thoracic")) == 1
    gap = got.kinds("gap", "thoracic")[0].detail["missing"]
    assert gap == int(seq[-1] + 1 - len(seq)) > 0  # the samples lost while the link was down, counted
    np.testing.assert_array_equal(got.cat("sacrum", "seq"), np.arange(got.count("sacrum")))


@pytest.mark.parametrize("error, words", [
    (FileNotFoundError(2, "No such file or directory"), "no Bluetooth on this machine"),
    (BleakBluetoothNotAvailableError("No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH),
     "Bluetooth is not available on this machine (no bluetooth"),
    (BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", ["The name org.bluez was not provided"]),
     "check that bluetoothd runs"),
])
def test_no_bluetooth_is_one_clear_line(error: BaseException, words: str) -> None:
    world = _world(no_bluetooth=error)
    with pytest.raises(SensorLinkError) as exc:
        asyncio.run(scan(1.0, backend=world.backend()))
    msg = str(exc.value)
    assert words in msg and "--emulate" in msg and "\n" not in msg and exc.value.exit_code == 5
    with pytest.raises(SensorLinkError):
        asyncio.run(_run(world, 1.0))


def test_stop_then_start_on_one_connection_resumes_with_the_pause_as_a_gap() -> None:
    from imu_hinge.protocol import StopCommand

    async def run() -> Collected:
        world = _world()
        async with BleSource(backend=world.backend(), clock=world.clock, options=FAST) as src:
            got = await collect(src, 1.0)
            await src.links["sacrum"].command(StopCommand())
            await world.clock.sleep(0.5)
            await src.links["sacrum"].start_streaming()
            return await collect(src, 2.5, got)

    got = asyncio.run(run())
    seq = got.cat("sacrum", "seq")
    assert np.all(np.diff(seq) > 0) and len(got.kinds("gap", "sacrum")) == 1
    assert 0.4 * 104 < got.kinds("gap", "sacrum")[0].detail["missing"] < 1.0 * 104
    assert got.count("sacrum") > 1.5 * 104


def _found(role: str, address: str) -> object:
    from bleak.backends.device import BLEDevice

    from imu_hinge.sources.discovery import FoundSensor

    return FoundSensor(BLEDevice(address, None, None), role, 90, False, -50)


def test_role_problems_at_discovery_are_one_clear_line() -> None:
    from imu_hinge.sources.discovery import pick_roles

    roles = ("sacrum", "thoracic")
    ok = pick_roles([_found("sacrum", "A"), _found("thoracic", "B"), _found("unassigned", "C")], roles)
    assert {r: f.address for r, f in ok.items()} == {"sacrum": "A", "thoracic": "B"}
    cases = {
        "only one": ([_found("sacrum", "A")], "no thoracic sensor found"),
        "unknown role": ([_found("sacrum", "A"), _found("unassigned", "C")], "unassigned (C)"),
        "same role twice": ([_found("sacrum", "A"), _found("sacrum", "D"), _found("thoracic", "B")],
                            "two sensors advertise the sacrum role"),
    }
    for name, (found, words) in cases.items():
        with pytest.raises(SensorLinkError) as exc:
            pick_roles(found, roles)
        assert words in str(exc.value) and "\n" not in str(exc.value), name
