"""Test helpers shared by the suite (shipped with the tests, like httpx/trio do)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from imu_hinge.samples import Recording, SensorStream

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``imu-hinge ARGS`` in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "imu_hinge", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def first_sample_s(stream: SensorStream, period_s: float) -> float:
    """When a live stream's first sample was taken (session clock), from all its samples: the first
    ones are stamped before the clock fit has settled."""
    assert stream.seq is not None
    k = stream.seq - stream.seq[0]
    return float(np.median(stream.time_s - k * period_s))


def joined_rows(rec: Recording, period_s: float) -> dict[str, int]:
    """Row of the played recording at each live stream's first sample: the emulated world plays row 0 at
    the first sample of the sensor that started first; the other joins the motion where it is by then."""
    starts = {role: first_sample_s(rec[role], period_s) for role in rec.streams}
    t0 = min(starts.values())
    return {role: round((t - t0) / period_s) for role, t in starts.items()}


def write_rows(path: Path, rows: list[str], header: str = "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def standing_rows(duration_s: float = 6.0, rate_hz: float = 100.0, acc_scale: float = 1.0, seed: int = 0,
                  moving: bool = False) -> list[str]:
    """Two sensors standing still (or, with ``moving``, tumbling from the first sample)."""
    rng = np.random.default_rng(seed)
    rows = []
    n = int(duration_s * rate_hz)
    for i in range(n):
        for k, sensor in enumerate(("sacrum", "thoracic")):
            t = i / rate_hz + k * 0.003
            acc = np.array([9.81, 0.0, 0.0]) + rng.normal(0, 0.02, 3)
            gyr = rng.normal(0, 0.003, 3)
            if moving:
                ang = 1.2 * np.sin(2 * np.pi * 0.7 * t + k)
                acc = 9.81 * np.array([np.cos(ang), np.sin(ang), 0.0]) + rng.normal(0, 0.5, 3)
                # gravity turns as the gyroscope says (du/dt = u x w): w_z = -d(ang)/dt
                gyr = np.array([0.0, 0.0, -1.2 * 2 * np.pi * 0.7 * np.cos(2 * np.pi * 0.7 * t + k)])
            acc = acc * acc_scale
            rows.append(f"{t:.6f},{sensor}," + ",".join(f"{v:.5f}" for v in (*acc, *gyr)))
    return rows
