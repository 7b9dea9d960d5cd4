"""A host clock step (e.g. an NTP step) mid-stream: the device->host clock fit detects it, starts again on
the new host timeline and is back within a few ms; a link stall is not taken for a step."""

from __future__ import annotations

import numpy as np
import pytest

from imu_hinge.protocol import DataPacket, SensorInfo
from imu_hinge.sources.clock_fit import ClockFit
from imu_hinge.sources.decoder import PacketDecoder

RATE_HZ = 104.0
STEP_AT_S = 60.0


def run(step_s: float, *, stall_s: float = 0.0, seed: int = 0, duration_s: float = 100.0):
    """Arrivals (5..40 ms late, in order) and 4 Hz pings of a 40 ppm device clock; the host clock steps by
    ``step_s`` at ``STEP_AT_S``, or the link stalls for ``stall_s`` there. Returns (fit, truth on the
    host's own timeline, fitted times, arrivals), per sample."""
    rng = np.random.default_rng(seed)
    fit = ClockFit()
    dev0_us, host0_s, ppm = 7_000_000, 1000.0, 40.0
    k = np.arange(int(duration_s * RATE_HZ))
    true_s = host0_s + k / RATE_HZ / (1 + ppm * 1e-6)
    dev_us = dev0_us + np.rint(k * 1e6 / RATE_HZ).astype(np.int64)
    arrival_s = true_s + rng.uniform(0.005, 0.040, k.size)
    stalled = (true_s - host0_s >= STEP_AT_S) & (true_s - host0_s < STEP_AT_S + stall_s)
    arrival_s[stalled] = host0_s + STEP_AT_S + stall_s + 0.01  # the backlog arrives in one burst
    arrival_s = np.maximum.accumulate(arrival_s)
    step = lambda t: np.where(np.asarray(t) - host0_s >= STEP_AT_S, step_s, 0.0)  # noqa: E731
    fitted = np.empty(k.size)
    next_ping = host0_s
    for i in range(k.size):
        fit.add_arrival(int(dev_us[i]), float(arrival_s[i] + step(arrival_s[i])))
        while next_ping <= arrival_s[i]:
            up, down = rng.uniform(0.005, 0.040, 2)
            latched_us = dev0_us + (next_ping + up - host0_s) * 1e6 * (1 + ppm * 1e-6)
            fit.add_ping(int(latched_us), float(next_ping + step(next_ping)), float(next_ping + up + down
                                                                                   + step(next_ping)))
            next_ping += 0.25
        fitted[i] = float(fit.host_time_s(dev_us[i]))
    return fit, true_s + step(true_s), fitted, true_s - host0_s


@pytest.mark.parametrize("step_s", [2.0, -2.0, 30.0, -0.8])
def test_host_clock_step_is_detected_and_the_fit_recovers(step_s: float) -> None:
    fit, truth, fitted, t = run(step_s)
    assert fit.host_steps_ == 1
    before = t < STEP_AT_S - 0.05  # arrived before the step
    assert np.max(np.abs(fitted[before & (t > 10)] - truth[before & (t > 10)])) < 0.002
    assert np.all(np.diff(fitted[before]) > 0)
    # a backward step is seen at the first arrival after it; a forward one after 5 s of late arrivals
    settled = t > STEP_AT_S + (0.0 if step_s < 0 else fit.step_confirm_s) + 10.0
    assert np.max(np.abs(fitted[settled] - truth[settled])) < 0.003
    assert np.all(np.diff(fitted[settled]) > 0)
    # in between, the fitted times never lie before the old timeline nor beyond the new one
    between = ~before & ~settled
    lo, hi = sorted((0.0, step_s))
    old_timeline = truth - np.where(t >= STEP_AT_S, step_s, 0.0)
    err = fitted[between] - old_timeline[between]
    assert np.all((err > lo - 0.05) & (err < hi + 0.05))


def test_no_step_and_a_link_stall_are_not_taken_for_steps() -> None:
    fit, truth, fitted, t = run(0.0)
    assert fit.host_steps_ == 0
    fit, truth, fitted, t = run(0.0, stall_s=4.0)  # 4 s of samples arrive late, in one burst
    assert fit.host_steps_ == 0
    late = t > STEP_AT_S + 10.0
    assert np.max(np.abs(fitted[late] - truth[late])) < 0.002


def test_decoder_times_stay_strictly_increasing_across_a_backward_step() -> None:
    dec = PacketDecoder("sacrum", SensorInfo.lsm6ds3(role="sacrum", rate_hz=100))
    times = []
    for i in range(3000):  # 30 s at 100 Hz; the host clock steps back 2 s at 15 s
        arrival_s = 10.0 + i * 0.01 + 0.015 - (2.0 if i >= 1500 else 0.0)
        batch, _ = dec.feed_packet(DataPacket.build(i % 65536, 5_000_000 + i * 10_000, np.zeros((1, 6))), arrival_s)
        assert batch is not None
        times.append(float(batch.time_s[0]))
    assert dec.clock_fit.host_steps_ == 1
    assert np.all(np.diff(times) > 0)
