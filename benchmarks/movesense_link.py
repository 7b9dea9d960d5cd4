"""The Movesense link's numbers: an emulated Movesense (GATT SensorData app on bumble) at the thoracic
role beside one of the project's own sensors, through the unmodified bleak client (no radio).

Usage: ``python benchmarks/movesense_link.py [--seconds 60] [--seeds 12]``

- lossless: a played 104 Hz recording for ``--seconds``: samples sent / received / lost, indices intact,
  the largest difference from the recording in float32 LSB of each value (acc m/s^2; gyro in deg/s, as sent);
- drops: 2 % injected sample drops in bursts of 3: injected vs counted missing from the timestamps;
- reconnect: the Movesense disappears for ~2 s and returns (real-time link, 4x): resume delay, gap;
- clock fit: the Movesense's clock 50 ppm fast, 0..45 ms delay per notification (its 15..45 ms connection
  interval), no time pings: the worst error of fitted sample times after 10 s, per seed (``--seeds``,
  seed 4 + i); the same for a Polar Verity Sense at thoracic (52 Hz, same delays, same seeds).

Prints a table, then as its last line one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imu_hinge.emulation.emulated_sensor import SensorFaults
from imu_hinge.emulation.link_testing import collect
from imu_hinge.emulation.movesense_emulator import movesense_session
from imu_hinge.simulation import SimConfig, simulate
from imu_hinge.sources.movesense_protocol import DEG
from imu_hinge.sources.sensor_link import LinkOptions


def _lsb_error(got: Any, sensor: Any) -> tuple[float, float]:
    fw = sensor.firmware
    seq = got.cat("thoracic", "seq")
    rows = np.rint((fw._sample_times_s(seq) - fw.motion_origin.time_s) * fw.motion.rate_hz).astype(np.int64)
    rows %= len(fw.motion)
    acc = np.concatenate([b.acc_m_s2 for b in got.batches["thoracic"]])
    gyr = np.concatenate([b.gyr_rad_s for b in got.batches["thoracic"]]) / DEG
    acc_true, gyr_true = fw.motion.acc_m_s2[rows], fw.motion.gyr_rad_s[rows] / DEG
    lsb = lambda x: np.spacing(np.abs(x).astype(np.float32)).astype(np.float64)  # noqa: E731
    return float(np.max(np.abs(acc - acc_true) / lsb(acc_true))), float(np.max(np.abs(gyr - gyr_true) / lsb(gyr_true)))


async def main(seconds: float, seeds: int) -> dict[str, Any]:
    rec = simulate(SimConfig(seed=5, rate_hz=104.0, duration_s=seconds + 2, clock_ppm=0.0, jitter_s=0.0,
                             drop_fraction=0.0, adc_bits=0)).recording
    out: dict[str, Any] = {}
    r = await movesense_session(rec, seconds)
    got, st, sensor = r["got"], r["stats"]["thoracic"], r["sensor"]
    seq = got.cat("thoracic", "seq")
    acc_lsb, gyr_lsb = _lsb_error(got, sensor)
    out["lossless"] = {"sent": sensor.firmware.sent_samples, "received": len(seq), "missing": st["missing"],
                       "indices_intact": bool(np.array_equal(seq, np.arange(len(seq)))), "max_acc_err_lsb": acc_lsb,
                       "max_gyr_err_lsb": gyr_lsb, "notifications": st["packets"] + st["parts"]}
    r = await movesense_session(rec, 20.0, faults=SensorFaults(drop_fraction=0.02, drop_burst=3, seed=7))
    last = int(r["got"].cat("thoracic", "seq")[-1])  # drops after the last sample that came are seen by nobody
    out["drops"] = {"injected": sum(k < last for k in r["sensor"].firmware.dropped_indices),
                    "counted": r["stats"]["thoracic"]["missing"]}

    async def away_and_back(emu: Any, src: Any, ms: Any) -> Any:
        got = await collect(src, 2.0)
        await ms.disappear()
        await collect(src, 4.0, got)
        got.back_at = emu.clock.now() - src.t0_s
        await ms.reappear()
        return await collect(src, 7.0, got)

    r = await movesense_session(rec, 7.0, speed=4.0, drain_s=None, during=away_and_back,
                                options=LinkOptions(rescan_s=1.0, backoff_s=(0.05, 0.5)))
    t = r["got"].cat("thoracic", "time_s")
    back = r["got"].back_at
    gap = r["got"].kinds("gap", "thoracic")
    out["reconnect"] = {"resume_after_return_s": float(t[np.searchsorted(t, back)] - back),
                        "gap_samples": gap[0].detail["missing"] if gap else None}
    errs = []
    for seed in range(seeds):
        r = await movesense_session(rec, seconds, clock_ppm=50.0,
                                    faults=SensorFaults(notify_delay_s=(0.0, 0.045), seed=4 + seed))
        got, fw = r["got"], r["sensor"].firmware
        seq, t = got.cat("thoracic", "seq"), got.cat("thoracic", "time_s")
        truth = fw._sample_times_s(seq) - r["t0_s"]
        late = t > 10.0
        errs.append(1e3 * float(np.max(np.abs(t[late] - truth[late]))))
    out["clock_fit_max_err_ms_after_10_s"] = errs
    out["polar_clock_fit_max_err_ms_after_10_s"] = [await _polar_clock_err(seconds, 4 + seed) for seed in range(seeds)]
    return out


async def _polar_clock_err(seconds: float, seed: int) -> float:
    """The worst error (ms) after 10 s of a Polar's fitted sample times: 50 ppm, 0..45 ms delays, seed ``seed``."""
    from imu_hinge.emulation.emulator import Emulator
    from imu_hinge.emulation.link_testing import collect
    from imu_hinge.emulation.polar_emulated import PolarFaults
    from imu_hinge.sources.ble import BleSource

    rec = simulate(SimConfig(seed=5, rate_hz=104.0, duration_s=seconds + 2, clock_ppm=0.0, jitter_s=0.0,
                             drop_fraction=0.0, adc_bits=0)).recording
    async with Emulator(rec, speed=None, kinds={"thoracic": "polar"}, clock_ppm={"thoracic": 50.0},
                        faults={"thoracic": PolarFaults(notify_delay_s=(0.0, 0.045), seed=seed)}) as emu:  # type: ignore[dict-item]
        async with BleSource(backend=emu.backend, clock=emu.clock, assignments=emu.assignments) as src:
            got = await collect(src, seconds)
            fw = emu.sensors["thoracic"].firmware
            t = got.cat("thoracic", "time_s")
            truth = fw.host_time_s(got.cat("thoracic", "device_time_us") * 1000.0 + 500.0) - src.t0_s  # type: ignore[attr-defined]
            late = t > 10.0
            return 1e3 * float(np.max(np.abs(t[late] - truth[late])))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seeds", type=int, default=12)
    args = ap.parse_args()
    res = asyncio.run(main(args.seconds, args.seeds))
    ll = res["lossless"]
    print(f"lossless   {ll['sent']} sent, {ll['received']} received, {ll['missing']} missing, indices intact: "
          f"{ll['indices_intact']}, max error {ll['max_acc_err_lsb']:.2f} / {ll['max_gyr_err_lsb']:.2f} float32 LSB "
          f"(acc / gyro), {ll['notifications']} notifications")
    print(f"drops      injected {res['drops']['injected']}, counted {res['drops']['counted']}")
    rc = res["reconnect"]
    print(f"reconnect  resumed {rc['resume_after_return_s']:.2f} s after the return, gap {rc['gap_samples']} samples")
    errs = res["clock_fit_max_err_ms_after_10_s"]
    print("clock fit  max error after 10 s (ms): " + ", ".join(f"{e:.2f}" for e in errs))
    polar = res["polar_clock_fit_max_err_ms_after_10_s"]
    print("  Polar    max error after 10 s (ms): " + ", ".join(f"{e:.2f}" for e in polar))
    print(json.dumps(res))
