"""Test helpers for the BLE link, shipped with the package (tests and ``benchmarks/ble_link.py`` use them).

- :class:`Collected`, :func:`collect`, :func:`drain`: run a :class:`~.ble.BleSource` on emulated sensors
  and gather what it hands out.
- :func:`synthetic_clock_run`: feed a :class:`~.clock_fit.ClockFit` the arrivals and pings a link with
  drift and random delays would give, and measure its error against the truth.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from imu_hinge.emulation.emulator import Emulator
from imu_hinge.sources.ble import BleSource
from imu_hinge.sources.clock_fit import ClockFit
from imu_hinge.sources.link_events import LinkEvent, SampleBatch

RATE_HZ = 104.0


@dataclass(repr=False)
class Collected:
    """Everything a source handed out, per sensor, concatenated."""

    batches: dict[str, list[SampleBatch]] = field(default_factory=lambda: {"sacrum": [], "thoracic": []})
    events: list[LinkEvent] = field(default_factory=list)

    def add(self, item: SampleBatch | LinkEvent) -> None:
        if isinstance(item, SampleBatch):
            self.batches[item.sensor].append(item)
        else:
            self.events.append(item)

    def count(self, role: str) -> int:
        return sum(len(b) for b in self.batches[role])

    def cat(self, role: str, name: str) -> np.ndarray:
        parts = [getattr(b, name) for b in self.batches[role]]
        return np.concatenate(parts) if parts else np.zeros(0)

    def kinds(self, kind: str, role: str | None = None) -> list[LinkEvent]:
        return [e for e in self.events if e.kind == kind and (role is None or e.sensor == role)]


async def collect(source: BleSource, until_s: float, out: Collected | None = None) -> Collected:
    """Read ``source`` until ``until_s`` host-clock seconds after its streams started."""
    out = out or Collected()
    async for item in source.items(until_s):
        out.add(item)
    return out


async def collect_until_back(source: BleSource, role: str, after_s: float, until_s: float, out: Collected,
                             guard_s: float = 60.0) -> Collected:
    """Read ``source`` until ``until_s`` (host-clock s), and on, half a second at a time, until ``role`` has a sample
    stamped after ``after_s`` (its sensor came back and streams again) or ``guard_s`` more passed (a hang guard).
    Waits for the event, not for a time: the scan and connect of a return run partly in real time, so on a
    loaded host they take more of the emulated clock."""
    await collect(source, until_s, out)
    end_s = until_s
    while end_s < until_s + guard_s:
        t = out.cat(role, "time_s")
        if len(t) and t[-1] > after_s:
            break
        end_s += 0.5
        await collect(source, end_s, out)
    return out


async def drain(source: BleSource, emu: Emulator, out: Collected, timeout_s: float = 20.0) -> Collected:
    """Stop the emulated streams, then read until every sample they sent has come out (or time out, real s)."""
    for sensor in emu.sensors.values():
        sensor.firmware.stop()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    want = {role: s.firmware.sent_samples for role, s in emu.sensors.items()}
    gen = source.items(None)
    try:
        while any(out.count(r) + source.links[r].decoder.duplicates < n for r, n in want.items()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                out.add(await asyncio.wait_for(gen.__anext__(), remaining))
            except TimeoutError:
                break
    finally:
        await gen.aclose()
    return out


def synthetic_clock_run(seed: int, *, in_order: bool, per_packet: int = 1, duration_s: float = 14.0,
                        ping_interval_s: float | None = 0.25) -> tuple[float, float, float]:
    """Feed a ClockFit as the link would: +-50 ppm, 5..40 ms random delay per notification (``in_order``:
    a notification never overtakes the previous one, as on BLE) and per ping leg. Returns the worst
    error (s) of the fitted sample times after 10 s, the slope error (ppm) and the drift (ppm)."""
    rng = np.random.default_rng(seed)
    ppm = float(rng.choice([-50.0, 50.0]))
    dev0_us, host0_s = 7_000_000, 1234.5
    fit = ClockFit()
    k = np.arange(0, int(duration_s * RATE_HZ), per_packet)
    true_s = host0_s + k / RATE_HZ / (1 + ppm * 1e-6)  # host time at which sample k was taken
    dev_us = dev0_us + np.rint(k * 1e6 / RATE_HZ).astype(np.int64)
    ready_s = true_s + (per_packet - 1) / RATE_HZ
    arrival_s = ready_s + rng.uniform(0.005, 0.040, k.size)
    if in_order:
        arrival_s = np.maximum.accumulate(arrival_s)
    errors: list[float] = []
    next_ping = host0_s
    for i in range(k.size):
        fit.add_arrival(int(dev_us[i]), float(arrival_s[i]))
        while ping_interval_s and next_ping <= arrival_s[i]:
            up, down = rng.uniform(0.005, 0.040, 2)
            latched_us = dev0_us + (next_ping + up - host0_s) * 1e6 * (1 + ppm * 1e-6)
            fit.add_ping(int(latched_us), next_ping, next_ping + up + down)
            next_ping += ping_interval_s
        if true_s[i] - host0_s > 10.0:
            errors.append(abs(float(fit.host_time_s(dev_us[i])) - true_s[i]))
    slope_err_ppm = (fit.slope_ - 1.0 / (1 + ppm * 1e-6)) * 1e6
    return max(errors), slope_err_ppm, ppm


async def end_to_end_time_errors(run_s: float = 14.0, after_s: float = 10.0
                                 ) -> dict[str, tuple[float, int]]:
    """Fitted sample times against the emulated truth through the real link: two sensors at +-50 ppm,
    5-40 ms delay on every message. Per role: (max |error| in s over samples later than ``after_s``,
    how many such samples). Used by the clock test and the link benchmark alike."""
    from imu_hinge.emulation.emulated_sensor import SensorFaults

    faults = SensorFaults(notify_delay_s=(0.005, 0.040), seed=3)  # data, responses and commands alike
    async with Emulator(mtu=247, speed=None, faults=faults, clock_ppm={"sacrum": 50, "thoracic": -50}) as emu:
        async with BleSource(backend=emu.backend, clock=emu.clock) as src:
            got = await collect(src, run_s)
            out = {}
            for role, sensor in emu.sensors.items():
                t = got.cat(role, "time_s")
                truth = sensor.firmware.host_time_s(got.cat(role, "device_time_us")) - src.t0_s
                late = t > after_s
                out[role] = (float(np.max(np.abs(t[late] - truth[late]))) if late.any() else float("nan"),
                             int(late.sum()))
            return out
