"""Cost of every fusion method: per-sample ``update`` (live) and ``update_batch`` (replay), us/sample.

Usage: ``python benchmarks/fusion_speed.py [--rate-hz 100]``

Synthetic smooth motion, one sensor. Peers: the plain ``vqf`` library (``VQF.update`` +
``getQuat6D`` per sample, ``VQF.updateBatch``) and plain ahrs Madgwick (``updateIMU`` per
sample, i.e. what ``Madgwick(gyr=..., acc=...)`` loops over). Best of 3 runs. Prints a
table, then as its last line one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import vqf
from ahrs.filters import Madgwick

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imu_hinge.fusion import METHODS, make_filter, quat_from_gravity, up_in_sensor
from imu_hinge.fusion.base import integrate_gyr


def motion(rate_hz: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gyro (n, 3) rad/s and acc (n, 3) m/s^2 of a smoothly wobbling sensor with noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / rate_hz
    gyr = np.stack([0.5 * np.sin(1.3 * t), np.sin(1.9 * t), 0.3 * np.cos(0.6 * t)], axis=1)
    q = quat_from_gravity(np.array([0.3, 0.2, 1.0]))
    acc = np.empty((n, 3))
    for k in range(n):
        q = integrate_gyr(q, gyr[k], 1.0 / rate_hz)
        acc[k] = 9.81 * up_in_sensor(q)
    return gyr + 0.005 * rng.standard_normal((n, 3)), acc + 0.02 * rng.standard_normal((n, 3))


def best_us(fn: Callable[[], object], n: int, repeats: int = 3) -> float:
    """Best wall time of ``fn`` over ``repeats`` runs, per sample, us."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-hz", type=float, default=100.0)
    args = parser.parse_args(argv)
    rate = args.rate_hz
    n_fast, n_slow = 50_000, 2_000
    gyr, acc = motion(rate, n_fast)
    rows: dict[str, dict[str, float | None]] = {}

    for method in METHODS:
        n = n_fast if method.startswith("vqf") else n_slow
        g, a = gyr[:n], acc[:n]
        filt = make_filter(method, rate)

        def per_sample(filt=filt, g=g, a=a, n=n) -> None:
            filt.reset()
            for i in range(n):
                filt.update(g[i], a[i])

        def batch(filt=filt, g=g, a=a) -> None:
            filt.reset()
            filt.update_batch(g, a)

        rows[method] = {"update": None if method == "vqf_offline" else best_us(per_sample, n),
                        "update_batch": best_us(batch, n)}

    def lib_vqf_per_sample() -> None:
        v = vqf.VQF(1.0 / rate)
        for i in range(n_fast):
            v.update(gyr[i], acc[i])
            v.getQuat6D()

    rows["vqf library"] = {"update": best_us(lib_vqf_per_sample, n_fast),
                           "update_batch": best_us(lambda: vqf.VQF(1.0 / rate).updateBatch(gyr, acc), n_fast)}

    def lib_madgwick() -> None:
        m = Madgwick(frequency=rate)
        q = quat_from_gravity(acc[0])
        for i in range(n_slow):
            q = m.updateIMU(q, gyr[i], acc[i])

    lib_m = best_us(lib_madgwick, n_slow)
    rows["ahrs Madgwick (peer)"] = {"update": lib_m, "update_batch": lib_m}

    print(f"Fusion cost, us/sample ({rate:g} Hz synthetic; vqf {n_fast} samples, ahrs {n_slow}; best of 3)")
    print(f"{'method':<22}{'update':>12}{'update_batch':>14}")
    for name, row in rows.items():
        per = "-" if row["update"] is None else f"{row['update']:.2f}"
        print(f"{name:<22}{per:>12}{row['update_batch']:>14.2f}")
    print(json.dumps({"benchmark": "fusion_speed", "rate_hz": rate, "us_per_sample": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
