"""The BLE link's numbers, on emulated sensors through the unmodified bleak client path (no radio).

Usage: ``python benchmarks/ble_link.py [--seconds 60] [--seeds 20]``

- lossless: two sensors at 104 Hz for ``--seconds`` at MTU 23 and 247 (discrete-event clock: as fast
  as the link takes it): samples sent / received / lost, whether every value and index came back
  bit for bit, notifications per wall second;
- drops: 2 % injected sample drops in bursts of 3: injected vs counted as missing;
- reconnect: the thoracic sensor disappears for 2 s and returns (real-time link, 4x): how long after
  its return streaming resumed, and the gap recorded;
- clock fit: +-50 ppm drift, 5..40 ms random delay per notification and per ping leg: the worst
  host-time error of fitted sample times after 10 s, on synthetic arrivals (independent delays, and
  in-order delivery as on BLE) over ``--seeds`` seeds, and end to end through the emulated link.

LocalLink has no radio timing: throughput here is the host's decode + emulation cost, not BLE's.
Prints a table, then as its last line one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imu_hinge.emulation.emulated_sensor import SensorFaults
from imu_hinge.emulation.emulator import Emulator
from imu_hinge.emulation.link_testing import Collected, collect, drain, end_to_end_time_errors, synthetic_clock_run
from imu_hinge.sources.ble import BleSource
from imu_hinge.sources.sensor_link import LinkOptions

ROLES = ("sacrum", "thoracic")


async def lossless(mtu: int, seconds: float, faults: SensorFaults | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    async with Emulator(mtu=mtu, speed=None, faults=faults) as emu:
        async with BleSource(backend=emu.backend, clock=emu.clock) as src:
            got = await collect(src, seconds)
            await drain(src, emu, got)
            stats = src.stats()
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {"mtu": mtu, "seconds": seconds, "wall_s": round(wall, 2)}
    for role in ROLES:
        fw = emu.sensors[role].firmware
        seq = got.cat(role, "seq")
        raw = np.concatenate([b.raw for b in got.batches[role]])
        out[role] = {"sent": fw.sent_samples, "received": len(seq), "missing_by_index": int(seq[-1] + 1 - len(seq)),
                     "injected_drops": fw.injected_drops, "counted_missing": stats[role]["missing"],
                     "bit_exact": bool(np.array_equal(raw, fw.raw_at(seq))),
                     "notifications": stats[role]["packets"], "host_dropped": stats[role]["dropped_notifications"]}
    out["notifications_per_wall_s"] = round(sum(out[r]["notifications"] for r in ROLES) / wall, 1)
    return out


async def reconnect() -> dict[str, Any]:
    opts = LinkOptions(rescan_s=1.0, backoff_s=(0.05, 0.5))
    async with Emulator(mtu=247, speed=4.0) as emu:
        async with BleSource(backend=emu.backend, clock=emu.clock, options=opts) as src:
            got: Collected = await collect(src, 2.0)
            await emu.sensors["thoracic"].disappear()
            await collect(src, 4.0, got)
            back_at = emu.clock.now() - src.t0_s
            await emu.sensors["thoracic"].reappear()
            await collect(src, 7.0, got)
    t = got.cat("thoracic", "time_s")
    gaps = got.kinds("gap", "thoracic")
    return {"resume_after_return_s": round(float(t[np.searchsorted(t, back_at)] - back_at), 3),
            "gap_samples": gaps[0].detail["missing"] if gaps else None, "gaps": len(gaps)}


async def clock_end_to_end() -> dict[str, float]:
    errors = await end_to_end_time_errors(14.0, after_s=10.0)
    return {f"{role}_max_error_ms": round(err * 1e3, 3) for role, (err, _) in errors.items()}


def synthetic(seeds: int, in_order: bool, per_packet: int) -> dict[str, float]:
    runs = np.array([synthetic_clock_run(s, in_order=in_order, per_packet=per_packet)[:2] for s in range(seeds)])
    worst_ms = runs[:, 0] * 1e3
    return {"median_ms": round(float(np.median(worst_ms)), 3), "max_ms": round(float(worst_ms.max()), 3),
            "slope_rms_ppm": round(float(np.sqrt(np.mean(runs[:, 1] ** 2))), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args(argv)
    res: dict[str, Any] = {"benchmark": "ble_link"}
    res["lossless"] = [asyncio.run(lossless(mtu, args.seconds)) for mtu in (23, 247)]
    res["drops"] = asyncio.run(lossless(247, 20.0, SensorFaults(drop_fraction=0.02, drop_burst=3, seed=7)))
    res["reconnect"] = asyncio.run(reconnect())
    res["clock_fit"] = {
        "synthetic_independent_delays": synthetic(args.seeds, False, 1),
        "synthetic_in_order_mtu23": synthetic(args.seeds, True, 1),
        "synthetic_in_order_mtu247": synthetic(args.seeds, True, 3),
        "end_to_end": asyncio.run(clock_end_to_end()),
    }

    print(f"BLE link on emulated sensors (bumble LocalLink, unmodified BleakClient); {args.seconds:g} s at 104 Hz")
    print(f"{'case':<34}{'sent':>8}{'received':>10}{'lost':>6}{'bit-exact':>11}{'notif/wall s':>14}{'wall s':>8}")
    for case in [*res["lossless"], res["drops"]]:
        name = f"MTU {case['mtu']}, {case['seconds']:g} s" + (", 2% drops" if case is res["drops"] else "")
        for role in ROLES:
            r = case[role]
            print(f"{name + ' ' + role:<34}{r['sent']:>8}{r['received']:>10}{r['missing_by_index']:>6}"
                  f"{str(r['bit_exact']):>11}{case['notifications_per_wall_s']:>14}{case['wall_s']:>8}")
    d = res["drops"]
    print("drops injected / counted: " + ", ".join(f"{r} {d[r]['injected_drops']}/{d[r]['counted_missing']}"
                                                    for r in ROLES))
    rc = res["reconnect"]
    print(f"reconnect: streaming resumed {rc['resume_after_return_s']} s after the sensor returned; "
          f"gap of {rc['gap_samples']} samples recorded ({rc['gaps']} gap)")
    print(f"{'clock fit, error after 10 s':<34}{'median ms':>10}{'max ms':>8}{'slope rms ppm':>15}")
    for name, c in res["clock_fit"].items():
        if name != "end_to_end":
            print(f"{name:<34}{c['median_ms']:>10}{c['max_ms']:>8}{c['slope_rms_ppm']:>15}")
    e = res["clock_fit"]["end_to_end"]
    print(f"{'end to end (emulated link)':<34}{'':>10}{max(e.values()):>8}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
