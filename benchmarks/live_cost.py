"""Core cost per sample on the live path: decode + fusion + angles + detector, us/sample.

Usage: ``python benchmarks/live_cost.py [--rate-hz 200] [--reps 8] [--samples-per-packet 10]``

A simulated two-sensor RDL set is encoded into data notifications with the protocol codec, as the
firmware sends them. Each notification is then decoded (``decode_notification`` +
``packet_to_si`` + one :class:`ImuSample` per sample) and timed, amortised per sample; each sample
is pushed through ``HingePipeline.push`` (default VQF fusion, sagittal angles, stream alignment,
detector) and timed one by one after calibration. In the same run, one ``ahrs`` Madgwick
``updateIMU`` call is timed per sample as a reference. Goal: core median <= 0.35 x one Madgwick
update in the same run (a ratio: it holds on a loaded machine, where the microseconds do not).
Prints a table, then as its last line one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from ahrs.filters import Madgwick

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imu_hinge.analysis.pipeline import HingePipeline
from imu_hinge.fusion import quat_from_gravity
from imu_hinge.protocol import DataPacket, SensorInfo, decode_notification, encode_notification, packet_to_si
from imu_hinge.samples import SENSOR_ROLES, ImuSample, Recording
from imu_hinge.simulation import SimConfig, simulate

GOAL_RATIO = 0.35


def encode_streams(rec: Recording, info: SensorInfo, per_packet: int) -> list[tuple[float, str, bytes, np.ndarray]]:
    """Notifications of both sensors in arrival order: (arrival time s, role, bytes, sample times s)."""
    out = []
    for role in SENSOR_ROLES:
        s = rec[role]
        raw = np.concatenate([s.acc_m_s2 / info.acc_m_s2_per_lsb, s.gyr_rad_s / info.gyr_rad_s_per_lsb], axis=1)
        raw = np.clip(np.round(raw), -32768, 32767).astype(np.int16)
        for i in range(0, len(s), per_packet):
            j = min(len(s), i + per_packet)
            pkt = DataPacket.build(i, int(s.time_s[i] * 1e6), raw[i:j])
            out.append((float(s.time_s[j - 1]), role, encode_notification(pkt), s.time_s[i:j]))
    out.sort(key=lambda x: x[0])
    return out


def stats_us(values_ns: np.ndarray) -> dict[str, float]:
    v = values_ns / 1e3
    return {"median": round(float(np.median(v)), 3), "p90": round(float(np.percentile(v, 90)), 3),
            "p99": round(float(np.percentile(v, 99)), 3), "max": round(float(v.max()), 3), "n": int(v.size)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate-hz", type=float, default=200.0)
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--samples-per-packet", type=int, default=10)
    args = ap.parse_args(argv)
    rec = simulate(SimConfig(seed=3, exercise="rdl", n_reps=args.reps, rate_hz=args.rate_hz,
                             rounding_frac=0.3)).recording
    info = SensorInfo.lsm6ds3(rate_hz=args.rate_hz)
    notes = encode_streams(rec, info, args.samples_per_packet)

    # 1. decode, per notification, amortised per sample
    decode_ns: list[float] = []
    samples: list[ImuSample] = []
    clock = time.perf_counter_ns
    for _, role, data, times in notes:
        t0 = clock()
        pkt = decode_notification(data)
        acc, gyr = packet_to_si(pkt, info)
        batch = [ImuSample(t, role, (a[0], a[1], a[2]), (g[0], g[1], g[2]))
                 for t, a, g in zip(times.tolist(), acc.tolist(), gyr.tolist(), strict=True)]
        t1 = clock()
        decode_ns.extend([(t1 - t0) / len(batch)] * len(batch))
        samples.extend(batch)
    samples.sort(key=lambda s: (s.time_s, SENSOR_ROLES.index(s.sensor)))

    # 2. the core, one push at a time
    pipe = HingePipeline()
    push_ns = np.empty(len(samples))
    start_index = -1
    for i, s in enumerate(samples):
        t0 = clock()
        pipe.push(s)
        push_ns[i] = clock() - t0
        if start_index < 0 and pipe.trackers:
            start_index = i
    pipe.finish()
    calib_burst_us = push_ns[start_index] / 1e3
    live_push = push_ns[start_index + 1:]

    # 3. the reference: one ahrs Madgwick update per sample, same run
    thor = [s for s in samples if s.sensor == "thoracic"]
    mad = Madgwick(frequency=args.rate_hz)
    q = quat_from_gravity(np.asarray(thor[0].acc_m_s2))
    mad_ns = np.empty(len(thor))
    for i, s in enumerate(thor):
        g, a = np.asarray(s.gyr_rad_s), np.asarray(s.acc_m_s2)
        t0 = clock()
        q = mad.updateIMU(q, g, a)
        mad_ns[i] = clock() - t0

    core_ns = live_push + np.median(decode_ns)
    rows = {"decode (amortised per sample)": stats_us(np.asarray(decode_ns)),
            "HingePipeline.push": stats_us(live_push),
            "core = decode + push": stats_us(core_ns),
            "ahrs Madgwick.updateIMU (one)": stats_us(mad_ns)}
    res = pipe.result()
    print(f"Live core cost per sample, us ({len(samples)} samples, 2 sensors x {args.rate_hz:g} Hz, "
          f"{args.samples_per_packet} samples/notification, fusion {pipe.params.fusion_method}; "
          f"{len(res.reps)} reps, {len(res.alerts)} alerts)")
    print(f"{'stage':<32}{'median':>9}{'p90':>9}{'p99':>9}{'max':>10}")
    for name, st in rows.items():
        print(f"{name:<32}{st['median']:>9.2f}{st['p90']:>9.2f}{st['p99']:>9.2f}{st['max']:>10.1f}")
    core_median = rows["core = decode + push"]["median"]
    ratio = core_median / rows["ahrs Madgwick.updateIMU (one)"]["median"]
    print(f"calibration burst (one push that replays the stance buffer): {calib_burst_us / 1e3:.1f} ms")
    print(f"core median {core_median:.1f} us = {ratio:.2f} x one Madgwick update; goal <= "
          f"{GOAL_RATIO:g} x: {'PASS' if ratio <= GOAL_RATIO else 'FAIL'}")
    print(json.dumps({"benchmark": "live_cost", "rate_hz": args.rate_hz, "samples": len(samples),
                      "samples_per_packet": args.samples_per_packet, "fusion": pipe.params.fusion_method,
                      "us_per_sample": rows, "calibration_burst_ms": round(calib_burst_us / 1e3, 3),
                      "core_median_us": core_median,
                      "madgwick_median_us": rows["ahrs Madgwick.updateIMU (one)"]["median"],
                      "core_over_madgwick": round(ratio, 3), "goal_ratio": GOAL_RATIO,
                      "pass": bool(ratio <= GOAL_RATIO)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
