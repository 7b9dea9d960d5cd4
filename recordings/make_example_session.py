"""Make ``example_rdl_session.ihr.csv`` (a session recording) from ``demo_rdl_session.csv``.

Run from the repository root: ``.venv/bin/python recordings/make_example_session.py``.

The demo's first ``END_S`` seconds (4 Romanian deadlifts, the last one rounded) are quantised to
int16 with the scale factors the reference firmware (LSM6DS3TR-C, +-8 g, +-1000 deg/s) reports,
cut into notifications of 4 samples that "arrive" 5-25 ms after their last sample, and written
with :class:`~imu_hinge.recording.SessionWriter` in arrival order, as a live session would. One
thoracic notification is left out to show a gap; the causal pipeline's alerts on the result are
written as ``alert`` + ``haptic`` events where they were raised. The device clock is modelled as
the nominal sample period from an arbitrary start.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.protocol import DataPacket, SensorInfo
from imu_hinge.recording import SessionWriter, build_metadata, read_interchange_csv, sensor_metadata
from imu_hinge.samples import Recording, SensorStream

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "demo_rdl_session.csv"
OUT = HERE / "example_rdl_session.ihr.csv"
END_S = 26.0
PER_PACKET = 4
DROP = ("thoracic", 9.0)  # leave out the thoracic notification holding this time
DEVICE_START_US = {"sacrum": 3_141_592, "thoracic": 27_182_818}


def dropped_first(t: np.ndarray) -> int:
    """Index of the first sample of the left-out notification."""
    return int(np.searchsorted(t, DROP[1]) // PER_PACKET * PER_PACKET)


def quantised(rec: Recording, infos: dict[str, SensorInfo]) -> tuple[Recording, dict[str, np.ndarray]]:
    streams, raws = {}, {}
    for role, s in rec.streams.items():
        keep = s.time_s <= END_S
        info = infos[role]
        raw = np.hstack([s.acc_m_s2[keep] / info.acc_m_s2_per_lsb, s.gyr_rad_s[keep] / info.gyr_rad_s_per_lsb])
        raw = np.clip(np.rint(raw), -32768, 32767).astype(np.int64)
        t = s.time_s[keep]
        mask = np.ones(t.size, bool)
        if role == DROP[0]:
            mask[dropped_first(t):dropped_first(t) + PER_PACKET] = False
        rf = raw.astype(np.float64)
        streams[role] = SensorStream(role, t[mask], rf[mask, :3] * info.acc_m_s2_per_lsb,
                                     rf[mask, 3:] * info.gyr_rad_s_per_lsb)
        raws[role] = raw
    return Recording(streams), raws


def main() -> int:
    rng = np.random.default_rng(5)
    rec = read_interchange_csv(SOURCE)
    infos = {role: SensorInfo.lsm6ds3(role=role, rate_hz=100, acc_range_g=8, gyr_range_dps=1000)
             for role in rec.streams}
    q, raws = quantised(rec, infos)
    alerts = analyze(q).alerts
    meta = build_metadata(
        {role: sensor_metadata(info, sensor_id=f"SIM-{role[0].upper()}-0001", name=f"imu-hinge {role}")
         for role, info in infos.items()},
        subject="demo", exercise="rdl", tags=["example", "simulated"],
        notes="made by recordings/make_example_session.py from demo_rdl_session.csv (simulated, quantised)")
    packets = []  # (arrival_s, role, index of the first sample)
    for role in raws:
        t = rec[role].time_s[rec[role].time_s <= END_S]
        for i in range(0, t.size, PER_PACKET):
            arrival = float(t[min(i + PER_PACKET, t.size) - 1] + rng.uniform(0.005, 0.025))
            packets.append((arrival, role, i))
    packets.sort()
    last_arrival = {role: -1.0 for role in raws}
    OUT.unlink(missing_ok=True)
    with SessionWriter().open(OUT, meta) as w:
        w.write_event("note", 0.0, text="example session; see recordings/README.md")
        pending = list(alerts)
        for arrival, role, i in packets:
            t_all = rec[role].time_s[rec[role].time_s <= END_S]
            t = t_all[i:i + PER_PACKET]
            while pending and pending[0].time_s <= arrival:
                a = pending.pop(0)
                w.write_event("alert", a.time_s, fault=a.fault, value_deg=round(float(a.value_deg), 2))
                w.write_event("haptic", a.time_s, pattern="buzz", on_ms=200, off_ms=100, repeats=2)
            if role == DROP[0] and i == dropped_first(t_all):
                continue
            arrival = max(arrival, last_arrival[role])
            last_arrival[role] = arrival
            pkt = DataPacket.build(i % 65536, DEVICE_START_US[role] + i * 10_000, raws[role][i:i + PER_PACKET])
            w.write_packet(role, pkt, first_seq=i, time_s=t, device_time_us=DEVICE_START_US[role] + i * 10_000,
                           host_time_s=round(arrival, 6))
    print(f"wrote {OUT.name}: {OUT.stat().st_size} bytes, {sum(w.samples_written.values())} samples, "
          f"{w.events_written} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
