"""The session recording format: writer -> reader -> export round trip, bit for bit; gaps, clipping,
torn lines, metadata, events; `analyze` and `export` on session files through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imu_hinge.errors import RecordingFormatError, RecordingWriteError, UsageError
from imu_hinge.protocol import DataPacket, SensorInfo, decode_notification, encode_notification, packet_to_si
from imu_hinge.recording import (
    SessionWriter,
    build_metadata,
    load_recording,
    read_interchange_csv,
    read_session,
    sensor_metadata,
    session_version,
)
from imu_hinge.recording.format import COLUMNS, INTERCHANGE_COLUMNS, SAMPLE_CLIPPED
from imu_hinge.recording.interchange import REQUIRED_COLUMNS

from .helpers import REPO, run_cli
from .test_cli_bad_input import assert_one_line_error

EXAMPLE = REPO / "recordings" / "example_rdl_session.ihr.csv"
ROLES = ("sacrum", "thoracic")
RATE_HZ = {"sacrum": 104.0, "thoracic": 208.0}


def _infos() -> dict[str, SensorInfo]:
    return {"sacrum": SensorInfo.lsm6ds3(role="sacrum", rate_hz=104, acc_range_g=4, gyr_range_dps=500),
            "thoracic": SensorInfo.lsm6ds3(role="thoracic", rate_hz=208, acc_range_g=16, gyr_range_dps=2000)}


def _meta(infos: dict[str, SensorInfo]) -> dict:
    return build_metadata({r: sensor_metadata(i, sensor_id=f"id-{r}", address=f"AA:BB:{k}", calibration=None)
                           for k, (r, i) in enumerate(infos.items())},
                          subject="p07", exercise="rdl", tags=["unit", "round-trip"], notes="line1\nline2, with comma")


def _write_session(path: Path, *, n_packets: int = 60, skip: dict[str, set[int]] | None = None,
                   clip_at: tuple[str, int] | None = None, seed: int = 0) -> dict[str, dict[str, list]]:
    """Packets of random raw samples through encode -> decode -> writer; returns what went in per sensor."""
    rng = np.random.default_rng(seed)
    infos = _infos()
    sent: dict[str, dict[str, list]] = {r: {"si": [], "seq": [], "flags": []} for r in ROLES}
    skip = skip or {}
    with SessionWriter(fsync=False).open(path, _meta(infos)) as w:
        w.write_event("note", 0.0, text="start, \"quoted\" # not a comment")
        for k in range(n_packets):
            for j, role in enumerate(ROLES):
                count = 3 + j
                first = k * count
                raw = rng.integers(-20000, 20000, (count, 6))
                if clip_at and clip_at[0] == role and first <= clip_at[1] < first + count:
                    raw[clip_at[1] - first, 2] = 32767
                wire = encode_notification(DataPacket.build(first, 1_000_000 + first * 4807, raw, haptic_active=k == 5))
                pkt = decode_notification(wire)
                if k in skip.get(role, set()):
                    continue
                t = (first + np.arange(count)) / RATE_HZ[role] + 0.0123 * j
                w.write_packet(role, pkt, first_seq=first, time_s=t, device_time_us=1_000_000 + first * 4807,
                               host_time_s=float(t[-1]) + 0.011)
                acc, gyr = packet_to_si(pkt, infos[role])
                sent[role]["si"].append(np.hstack([acc, gyr]))
                sent[role]["seq"].append(first + np.arange(count))
                sent[role]["flags"].append(np.full(count, pkt.flags))
            if k == 20:
                w.write_event("alert", 1.5, fault="lumbar_flexion", value_deg=20.6)
    return sent


def test_round_trip_writer_reader_export_is_bit_exact(tmp_path: Path) -> None:
    path = tmp_path / "s.ihr.csv"
    sent = _write_session(path, clip_at=("thoracic", 77))
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert session_version(path) == 1
    rec = read_session(path)
    assert rec.warnings == []
    meta = rec.metadata
    assert meta["subject"] == "p07" and meta["tags"] == ["unit", "round-trip"] and meta["notes"].endswith("comma")
    for role, info in _infos().items():
        s = meta["sensors"][role]
        assert s["acc_m_s2_per_lsb"] == info.acc_m_s2_per_lsb and s["gyr_rad_s_per_lsb"] == info.gyr_rad_s_per_lsb
        assert s["rate_hz"] == RATE_HZ[role] and s["firmware"] == "1.0.0" and s["protocol_version"] == 1
    assert [e["kind"] for e in meta["events"]] == ["note", "alert"]
    assert meta["events"][1] == {"time_s": 1.5, "kind": "alert", "fault": "lumbar_flexion", "value_deg": 20.6}
    assert meta["end"]["status"] == "ok" and meta["end"]["samples"] == {r: len(rec[r]) for r in ROLES}
    out = tmp_path / "out.csv"
    proc = run_cli("export", path, "--csv", out)
    assert proc.returncode == 0, proc.stderr
    exported = pd.read_csv(out, comment="#")
    assert list(exported.columns[:8]) == list(REQUIRED_COLUMNS)
    assert (np.diff(exported["time_s"].to_numpy()) >= 0).all()
    for role in ROLES:
        si = np.vstack(sent[role]["si"])
        seq = np.concatenate(sent[role]["seq"])
        st = rec[role]
        assert np.array_equal(np.hstack([st.acc_m_s2, st.gyr_rad_s]), si)  # SI == raw * scale, bit for bit
        assert np.array_equal(st.seq, seq)
        assert np.array_equal(st.flags & 0x0F, np.concatenate(sent[role]["flags"]))
        assert st.device_time_us is not None and st.device_time_us.dtype == np.int64
        assert st.host_time_s is not None and np.all(st.host_time_s >= st.time_s)
        rows = exported[exported["sensor"] == role]
        assert np.array_equal(rows[list(INTERCHANGE_COLUMNS[2:])].to_numpy(), si)
        assert np.array_equal(rows["time_s"].to_numpy(), st.time_s)
        assert np.array_equal(rows["seq"].to_numpy(), seq)
        assert np.array_equal(rows["clipped"].to_numpy().astype(bool), st.clipped)
    assert rec["thoracic"].clipped is not None and np.flatnonzero(rec["thoracic"].clipped).tolist() == [77]
    assert not rec["sacrum"].clipped.any()  # type: ignore[union-attr]
    assert rec["thoracic"].flags[77] & SAMPLE_CLIPPED  # type: ignore[index]
    plain = tmp_path / "plain.csv"
    assert run_cli("export", path, "--csv", plain, "--plain").returncode == 0
    assert plain.read_text().splitlines()[0] == ",".join(REQUIRED_COLUMNS) and "#" not in plain.read_text()
    again = read_interchange_csv(plain, acc_unit="si", gyr_unit="si")
    assert np.array_equal(again["thoracic"].gyr_rad_s, rec["thoracic"].gyr_rad_s)


def test_the_session_file_is_an_interchange_csv_for_other_tools(tmp_path: Path) -> None:
    path = tmp_path / "s.ihr.csv"
    _write_session(path)
    rec = read_session(path)
    plain = read_interchange_csv(path, acc_unit="si", gyr_unit="si")  # the contract reader, as is
    arr = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")  # header must be line 1
    for role in ROLES:
        assert np.array_equal(plain[role].acc_m_s2, rec[role].acc_m_s2)
        assert np.array_equal(plain[role].time_s, rec[role].time_s)
        mine = arr[arr["sensor"] == role]
        assert np.array_equal(mine["gyr_z"], rec[role].gyr_rad_s[:, 2])
        assert np.array_equal(mine["seq"], rec[role].seq)


def test_gaps_stay_gaps(tmp_path: Path) -> None:
    path = tmp_path / "g.ihr.csv"
    sent = _write_session(path, skip={"sacrum": {10, 11}, "thoracic": {30}})
    rec = read_session(path)
    gaps = [e for e in rec.metadata["events"] if e["kind"] == "gap"]
    assert [(g["sensor"], g["first_missing_seq"], g["missing"]) for g in gaps] == [("sacrum", 30, 6),
                                                                                   ("thoracic", 120, 4)]
    for role in ROLES:
        seq = rec[role].seq
        assert np.array_equal(seq, np.concatenate(sent[role]["seq"]))  # no rows invented for the gap
        assert int((np.diff(seq) > 1).sum()) == 1
    assert rec.metadata["end"]["gaps"] == 2
    assert gaps[0]["time_s"] == rec["sacrum"].time_s[30]  # stamped at the first sample after the gap


def test_torn_last_line_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "t.ihr.csv"
    _write_session(path)
    whole = read_session(path)
    data = path.read_bytes()
    end = data.rfind(b"# end:")
    last_row_start = data.rfind(b"\n", 0, end - 1) + 1
    torn = data[:last_row_start + 40]  # crash: no end line, the last sample row cut mid-number
    path.write_bytes(torn)
    rec = read_session(path)
    assert any("torn" in w for w in rec.warnings) and any("not closed" in w for w in rec.warnings)
    n = sum(len(rec[r]) for r in ROLES)
    assert n == sum(len(whole[r]) for r in ROLES) - 1
    proc = run_cli("export", path, "--csv", tmp_path / "t.csv")
    assert proc.returncode == 0 and "torn" in proc.stderr and "Traceback" not in proc.stderr


def test_analyze_reads_the_session_file_and_agrees_with_its_export(tmp_path: Path) -> None:
    assert EXAMPLE.stat().st_size < 1_000_000
    rec = read_session(EXAMPLE)
    assert rec.warnings == [] and {e["kind"] for e in rec.metadata["events"]} >= {"gap", "alert", "haptic"}
    csv = tmp_path / "example.csv"
    assert run_cli("export", EXAMPLE, "--csv", csv).returncode == 0
    docs = []
    for src, out in ((EXAMPLE, tmp_path / "a.json"), (csv, tmp_path / "b.json")):
        proc = run_cli("analyze", src, "--json", out, "--quiet")
        assert proc.returncode == 0, proc.stderr
        docs.append(json.loads(out.read_text()))
    assert len(docs[0]["reps"]) >= 3  # 4 when the example was made
    assert docs[0]["reps"] == docs[1]["reps"] and docs[0]["alerts"] == docs[1]["alerts"]
    assert docs[0]["quality"]["thoracic"]["dropped_samples"] == 4  # the gap, kept as a gap


def test_load_recording_detects_the_format(tmp_path: Path) -> None:
    demo = load_recording(REPO / "recordings" / "demo_rdl_session.csv")
    assert demo["sacrum"].seq is None and "events" not in demo.metadata
    rec = load_recording(EXAMPLE)
    assert rec["sacrum"].seq is not None
    with pytest.raises(UsageError, match="SI units"):
        load_recording(EXAMPLE, acc_unit="g")
    short = tmp_path / "short.ihr.csv"
    _write_session(short, n_packets=2)
    with pytest.raises(RecordingFormatError, match="has 6 sample"):
        load_recording(short)
    assert len(load_recording(short, min_samples=0)["sacrum"]) == 6


def test_writer_keeps_the_interchange_contract_and_checks_its_input(tmp_path: Path) -> None:
    infos = _infos()
    path = tmp_path / "w.ihr.csv"
    with SessionWriter(fsync=False).open(path, _meta(infos)) as w:
        assert w.write_samples("sacrum", [0.1, 0.2, 0.3], seq=0, raw=np.zeros((3, 6), int)) == 3
        # the clock fit stepped back: not-newer samples are dropped (with an event), the rest kept
        assert w.write_samples("sacrum", [0.25, 0.35, 0.45], seq=3, raw=np.ones((3, 6), int)) == 2
        assert w.write_samples("thoracic", [0.1], seq=7, acc_m_s2=[[0.0, 0.0, 9.81]], gyr_rad_s=[[0.0, 0.0, 0.1]],
                               flags=0x2) == 1
        with pytest.raises(ValueError, match="not in the recording"):
            w.write_samples("shoulder", [1.0], seq=0, raw=np.zeros((1, 6), int))
        with pytest.raises(ValueError, match="int16"):
            w.write_samples("sacrum", [1.0], seq=9, raw=np.full((1, 6), 40000))
        with pytest.raises(ValueError, match="shape"):
            w.write_samples("sacrum", [1.0, 2.0], seq=9, raw=np.zeros((3, 6), int))
        with pytest.raises(ValueError, match="lower-case"):
            w.write_event("Bad Kind", 1.0)
    assert w.dropped_samples == 1
    rec = read_session(path)
    assert rec["sacrum"].seq.tolist() == [0, 1, 2, 4, 5]  # type: ignore[union-attr]
    assert [e["kind"] for e in rec.metadata["events"]] == ["dropped", "gap"]  # seq 3 is not in the file
    assert rec.metadata["end"]["events"] == 2
    th = rec["thoracic"]
    assert th.device_time_us is None and th.host_time_s is None and th.clipped.tolist() == [True]  # type: ignore
    with pytest.raises(RecordingWriteError, match="already exists"):
        SessionWriter().open(path, _meta(infos))
    with pytest.raises(ValueError, match="rate_hz"):
        SessionWriter().open(tmp_path / "x.ihr.csv", build_metadata({"sacrum": {"rate_hz": 0}}))
    with pytest.raises(ValueError, match="closed"):
        w.write_event("note", 1.0)


def test_newer_format_and_damaged_files_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "v9.ihr.csv"
    path.write_text(",".join(COLUMNS) + "\n# imu-hinge recording v9\n# meta: {}\n")
    with pytest.raises(RecordingFormatError, match="format v9.*update imu-hinge"):
        read_session(path)
    nometa = tmp_path / "nometa.ihr.csv"
    nometa.write_text(",".join(COLUMNS) + "\n# imu-hinge recording v1\n")
    with pytest.raises(RecordingFormatError, match="meta"):
        read_session(nometa)
    with pytest.raises(RecordingFormatError, match="not an imu-hinge session"):
        read_session(REPO / "recordings" / "demo_rdl_session.csv")


def test_export_bad_input_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("export", tmp_path / "nope.ihr.csv", "--csv", tmp_path / "o.csv"), 3,
                          "no such file")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nthis is not a recording\n")
    assert_one_line_error(run_cli("export", junk, "--csv", tmp_path / "o.csv"), 3, "missing column")
    assert_one_line_error(run_cli("export", EXAMPLE, "--csv", tmp_path / "no" / "o.csv"), 2, "does not exist")
    v9 = tmp_path / "v9.ihr.csv"
    v9.write_text(",".join(COLUMNS) + "\n# imu-hinge recording v9\n")
    assert_one_line_error(run_cli("export", v9, "--csv", tmp_path / "o.csv"), 3, "update imu-hinge")
    assert not (tmp_path / "o.csv").exists()


def test_recording_frame_orders_both_sensors_in_time() -> None:
    from imu_hinge.commands.export import recording_frame

    frame = recording_frame(read_session(EXAMPLE))
    assert list(frame.columns) == [*REQUIRED_COLUMNS, "seq", "clipped"]
    assert (np.diff(frame["time_s"].to_numpy()) >= 0).all() and set(frame["sensor"]) == set(ROLES)


def test_a_saturated_sensor_is_marked_in_the_analysis(tmp_path: Path) -> None:
    src = read_session(EXAMPLE)
    meta = {k: v for k, v in src.metadata.items() if k not in ("events", "end")}
    path = tmp_path / "clip.ihr.csv"
    with SessionWriter(fsync=False).open(path, meta) as w:
        for role in ROLES:
            s, sm = src[role], meta["sensors"][role]
            raw = np.rint(np.hstack([s.acc_m_s2 / sm["acc_m_s2_per_lsb"], s.gyr_rad_s / sm["gyr_rad_s_per_lsb"]]))
            raw = raw.astype(np.int64)
            assert np.array_equal(raw[:, :3] * sm["acc_m_s2_per_lsb"], s.acc_m_s2)  # the file's raw, recovered
            if role == "thoracic":
                raw[1500:1510, 0] = 32767
            w.write_samples(role, s.time_s, seq=s.seq, raw=raw, device_time_us=s.device_time_us,
                            host_time_s=s.host_time_s, flags=s.flags & 0x0F)  # type: ignore[operator]
    assert int(read_session(path)["thoracic"].clipped.sum()) == 10  # type: ignore[union-attr]
    out = tmp_path / "clip.json"
    proc = run_cli("analyze", path, "--json", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["quality"]["thoracic"]["clipped_samples"] == 10 and doc["quality"]["sacrum"]["clipped_samples"] == 0
    assert any("clipped" in w for w in doc["warnings"])
