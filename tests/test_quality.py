"""The per-sensor data-quality report on synthetic streams with known drops, clipping and clock errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import imu_hinge as ih
from imu_hinge.analysis.data_quality import recording_quality, stream_quality
from imu_hinge.samples import Recording, SensorStream
from imu_hinge.simulation import SCENARIOS, simulate

RATE_HZ = 104.0


def session_stream(seconds: float, *, drift_ppm: float = 40.0, offset_s: float = 1234.5, dev0_us: int = 7_000_000,
                   per_packet: int = 3, seed: int = 0, keep: np.ndarray | None = None) -> SensorStream:
    """A stream as the session reader fills it: seq, device clock running ``drift_ppm`` fast, and the
    host arrival of each ``per_packet``-sample notification (3..30 ms after its last sample)."""
    rng = np.random.default_rng(seed)
    k = np.arange(int(seconds * RATE_HZ))
    dev_us = dev0_us + np.rint(k * 1e6 / RATE_HZ).astype(np.int64)
    true_host_s = offset_s + dev0_us * 1e-6 + (dev_us - dev0_us) * 1e-6 / (1 + drift_ppm * 1e-6)
    packet = k // per_packet
    last = np.minimum((packet + 1) * per_packet - 1, k[-1])
    arrival_s = true_host_s[last] + rng.uniform(0.003, 0.030, packet[-1] + 1)[packet]
    s = SensorStream("sacrum", true_host_s - true_host_s[0], np.zeros((k.size, 3)), np.zeros((k.size, 3)),
                     clipped=np.zeros(k.size, bool), seq=k.astype(np.int64), device_time_us=dev_us,
                     host_time_s=np.maximum.accumulate(arrival_s))
    if keep is None:
        return s
    return SensorStream(s.sensor, s.time_s[keep], s.acc_m_s2[keep], s.gyr_rad_s[keep], s.clipped[keep],  # type: ignore[index]
                        s.seq[keep], s.device_time_us[keep], s.host_time_s[keep])  # type: ignore[index]


def no_nan(q: dict) -> bool:
    return not any(isinstance(v, float) and math.isnan(v) for v in q.values())


@pytest.mark.parametrize("drift_ppm", [40.0, -40.0])
def test_clock_offset_and_drift_are_recovered(drift_ppm: float) -> None:
    q = stream_quality(session_stream(600.0, drift_ppm=drift_ppm))
    assert q["clock_drift_ppm"] == pytest.approx(drift_ppm, abs=2.0)
    # the envelope is late by the link's minimum latency (3 ms here), never early
    assert 0.0 <= q["clock_offset_s"] - 1234.5 < 0.006
    assert q["clock_residual_s"] < 0.005
    _, warnings = recording_quality(Recording({"sacrum": session_stream(600.0, drift_ppm=drift_ppm)}))
    assert warnings == []


def test_large_drift_and_a_host_clock_step_are_warned() -> None:
    quality, warnings = recording_quality(Recording({"sacrum": session_stream(120.0, drift_ppm=350.0)}))
    assert quality["sacrum"]["clock_drift_ppm"] == pytest.approx(350.0, abs=5.0)
    assert any("sacrum: device clock drifts +3" in w for w in warnings), warnings
    s = session_stream(120.0)
    s.host_time_s = s.host_time_s + np.where(s.time_s > 80.0, 2.0, 0.0)
    q = stream_quality(s)
    assert q["clock_drift_ppm"] == pytest.approx(40.0, abs=5.0)  # the median fit ignores the stepped third
    assert q["clock_residual_s"] == pytest.approx(2.0, abs=0.05)
    _, warnings = recording_quality(Recording({"sacrum": s}))
    assert any("clocks disagree" in w for w in warnings), warnings


def test_drops_are_counted_exactly_from_seq() -> None:
    n = int(60 * RATE_HZ)
    rng = np.random.default_rng(4)
    keep = np.ones(n, bool)
    keep[rng.choice(np.arange(5, n - 5), size=50, replace=False)] = False  # single drops and short runs
    keep[3000:3007] = False  # a 7-sample burst: 67 ms, too short for the interval estimate to see as 7
    dropped = int((~keep).sum())
    q = stream_quality(session_stream(60.0, keep=keep))
    assert q["drops_from"] == "seq"
    assert q["dropped_samples"] == dropped
    assert q["drop_fraction"] == pytest.approx(dropped / n, abs=1e-5)
    assert q["rate_hz"] == pytest.approx(RATE_HZ, rel=1e-4)
    assert q["longest_gap_s"] == pytest.approx(8 / RATE_HZ, abs=1e-3)


def test_interchange_streams_keep_the_interval_estimate_and_no_clock() -> None:
    s = session_stream(30.0)
    plain = SensorStream("sacrum", s.time_s, s.acc_m_s2, s.gyr_rad_s)
    q = stream_quality(plain)
    assert q["drops_from"] == "time_s" and q["dropped_samples"] == 0
    assert q["clock_offset_s"] is None and q["clock_drift_ppm"] is None and q["clock_residual_s"] is None
    assert q["clipped_samples"] == 0


def test_clipped_samples_are_counted_and_warned() -> None:
    s = session_stream(20.0)
    assert s.clipped is not None
    s.clipped[[100, 101, 102, 900]] = True
    quality, warnings = recording_quality(Recording({"thoracic": s}))
    assert quality["thoracic"]["clipped_samples"] == 4
    (warning,) = [w for w in warnings if "clipped" in w]
    assert warning.startswith("thoracic: 4 clipped (saturated) samples: the sensor's range was exceeded")
    assert "record with a wider range" in warning  # what to do


@pytest.mark.parametrize("seconds", [0.0, 1 / RATE_HZ, 2 / RATE_HZ, 0.5, 1.5])
def test_short_streams_give_every_key_and_no_nan(seconds: float) -> None:
    n = round(seconds * RATE_HZ)
    s = session_stream(2.0)
    short = SensorStream("sacrum", s.time_s[:n], s.acc_m_s2[:n], s.gyr_rad_s[:n], s.clipped[:n],  # type: ignore[index]
                         s.seq[:n], s.device_time_us[:n], s.host_time_s[:n])  # type: ignore[index]
    q = stream_quality(short)
    assert set(q) == set(stream_quality(s)) and q["samples"] == n
    assert no_nan(q)
    assert q["clock_drift_ppm"] is None  # under 2 s of device time: no fit
    _, warnings = recording_quality(Recording({"sacrum": short}))
    assert warnings == []


@pytest.mark.parametrize("family", ["rdl_rounding", "kb_swings", "cheap_sensor", "rate_400hz", "walk_between"])
def test_a_gyroscope_cut_at_its_range_is_told_from_its_flat_tops_and_honest_ones_are_not(family: str) -> None:
    """Exports carry no clip flags: a sensor whose range is exceeded shows flat runs at one level on every fast
    move. Measured: no flat tops on 35 simulated families x 2 seeds (12-bit and 400 Hz included) nor on the 19
    shared dev cases; a cut at 80 % of the peak rate is told on 31 of 35 (the others pass 80 % fewer than 3 times)."""
    sim = simulate(dataclasses.replace(SCENARIOS[family], seed=7000))
    export = {r: dataclasses.replace(s, clipped=None) for r, s in sim.recording.streams.items()}  # no clip flags
    assert not any("sits flat" in w for w in ih.run(Recording(export)).warnings)
    th = export["thoracic"]
    level = 0.8 * float(np.abs(th.gyr_rad_s).max())
    cut = Recording({"sacrum": export["sacrum"],
                     "thoracic": dataclasses.replace(th, gyr_rad_s=np.clip(th.gyr_rad_s, -level, level))})
    told = [w for w in ih.run(cut).warnings if "sits flat" in w]
    assert len(told) == 1 and told[0].startswith(f"thoracic: gyroscope y sits flat at ±{level:.3g} rad/s"), told


def test_the_two_sensors_side_by_side_give_the_same_quality_and_warnings_in_order() -> None:
    """recording_quality(threads=2) runs each sensor's quality on a thread of its own: the same numbers and the
    same warnings, in the sensors' order (a drifting clock on the sacrum, flat tops on the thoracic)."""
    sac = session_stream(120.0, drift_ppm=350.0)
    tho = dataclasses.replace(session_stream(120.0), sensor="thoracic", clipped=None)
    acc = tho.acc_m_s2.copy()
    acc[::50, 0] = 19.6  # flat tops: one axis pinned at the range's end, again and again
    acc[1::50, 0] = 19.6
    acc[2::50, 0] = 19.6
    tho = dataclasses.replace(tho, acc_m_s2=acc)
    rec = Recording({"sacrum": sac, "thoracic": tho})
    one, two = recording_quality(rec), recording_quality(rec, threads=2)
    assert one == two or (json_equal(one[0], two[0]) and one[1] == two[1])
    assert [w.split(":")[0] for w in two[1]] == sorted(w.split(":")[0] for w in two[1]) and len(two[1]) >= 2, two[1]
    assert {w.split(":")[0] for w in two[1]} == {"sacrum", "thoracic"}, two[1]


def json_equal(a: dict, b: dict) -> bool:
    """Equal, NaN equal to NaN (the quality dicts hold NaN for what cannot be told)."""
    import json

    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
