"""SPEC.md 1.1 behaviour: the behaviour vectors (answers, rates, overflow) in the Python codec, the
emulated firmware and the host decoder; haptic and identify states; the advertising edge cases.
The C codec runs the same answer and rate vectors in test_protocol_c_codec.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from imu_hinge.emulation.emulated_sensor import SensorFaults, SensorFirmware
from imu_hinge.emulation.protocol_vectors import load_vectors
from imu_hinge.emulation.sensor_motion import MotionTrack
from imu_hinge.protocol import (
    CommandResponse,
    HapticCommand,
    IdentifyCommand,
    StartCommand,
    decode_notification,
    decode_response,
    encode_command,
    encode_response,
    error_answer,
    pick_rate_millihz,
)
from imu_hinge.sources.decoder import PacketDecoder

DOC = load_vectors()


def _still(rate_hz: float = 104.0, seconds: float = 30.0) -> MotionTrack:
    n = int(rate_hz * seconds)
    acc = np.tile([0.0, 0.0, 9.80665], (n, 1))
    return MotionTrack(acc, np.zeros((n, 3)), rate_hz)


def _firmware(**faults: Any) -> SensorFirmware:
    return SensorFirmware("sacrum", _still(), faults=SensorFaults(**faults))


def _run(fw: SensorFirmware, until_s: float, mtu: int = 247) -> list[bytes]:
    fw.poll(until_s, mtu)
    return fw.pop_due(until_s + 1.0)


@pytest.mark.parametrize("answer", DOC["answers"], ids=lambda a: a["name"])
def test_answer_vectors_in_the_codec_and_the_emulated_firmware(answer: dict[str, Any]) -> None:
    write = bytes.fromhex(answer["write"])
    resp = error_answer(write)
    assert resp is not None and encode_response(resp).hex() == answer["answer"]
    assert _firmware().handle_command(write, 0.0).hex() == answer["answer"]


def test_answers_to_writes_without_opcode_never_look_like_answers_to_commands() -> None:
    for byte0 in range(0x80, 0x100):
        resp = decode_response(_firmware().handle_command(bytes([byte0, 0]), 0.0))
        assert resp == CommandResponse(0, "unknown_opcode") and resp.command is None
    assert decode_response(_firmware().handle_command(b"", 0.0)) == CommandResponse(0, "bad_length")


@pytest.mark.parametrize("rate_hz, rate_millihz", DOC["rates"]["cases"])
def test_rate_vectors_in_the_codec_and_the_emulated_firmware(rate_hz: int, rate_millihz: int | None) -> None:
    assert pick_rate_millihz(rate_hz) == rate_millihz
    fw = _firmware()
    before = fw.info
    resp = decode_response(fw.handle_command(encode_command(StartCommand(rate_hz, 8, 1000)), 0.0))
    if rate_millihz is None:
        assert resp.status == "invalid_value" and fw.info == before and not fw.streaming
    else:
        assert resp.ok and fw.info.rate_millihz == rate_millihz


def test_rejected_start_while_streaming_changes_nothing() -> None:
    fw = _firmware()
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 0.0)
    first = [decode_notification(p) for p in _run(fw, 1.0)]
    resp = decode_response(fw.handle_command(encode_command(StartCommand(500, 8, 1000)), 1.0))
    after = [decode_notification(p) for p in _run(fw, 2.0)]
    assert resp.status == "invalid_value" and fw.streaming and fw.info.rate_millihz == 104_000
    assert after[0].first_index == first[-1].first_index + first[-1].count  # index carries on


@pytest.mark.parametrize("case", DOC["overflow"], ids=lambda c: c["name"])
def test_overflow_vectors_in_the_emulated_firmware(case: dict[str, Any]) -> None:
    mtu = 3 + 8 + 12 * case["per_packet"]
    fw = SensorFirmware("sacrum", _still(416.0), faults=SensorFaults(drop_indices=frozenset(case["dropped"])))
    fw.handle_command(encode_command(StartCommand(416, 8, 1000)), 0.0)  # 2.4 ms period: batches fill before 20 ms
    period_s = 1 / 416
    fw.poll((case["samples"] - 0.5) * period_s + period_s, mtu)  # just past the last sample
    got = [decode_notification(p) for p in fw.pop_due(10.0)]
    want = case["notifications"]
    assert [[p.first_index, p.count, p.tx_overflow] for p in got[:len(want)]] == want
    assert all(not p.tx_overflow for p in got[len(want):])  # the trailing partial batch, if flushed


def test_overflow_flags_are_exactly_the_gaps_and_the_decoder_labels_them() -> None:
    """The issue's measurement (single-sample drops at MTU 247), redone: every gap flagged, no flag without one."""
    fw = SensorFirmware("sacrum", _still(), faults=SensorFaults(drop_fraction=0.03, seed=5))
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 0.0)
    packets = _run(fw, 20.0)
    dec = PacketDecoder("sacrum", fw.info)
    gaps: list[dict[str, Any]] = []
    flagged_after_gap = flagged = 0
    end = None
    for k, payload in enumerate(packets):
        p = decode_notification(payload)
        gap = end is not None and p.first_index != end
        flagged += p.tx_overflow
        flagged_after_gap += p.tx_overflow and gap
        assert p.tx_overflow == gap, f"packet {k}: flag {p.tx_overflow}, gap {gap}"
        end = (p.first_index + p.count) % 65536
        gaps += [e.detail for e in dec.feed(payload, k * 0.02)[1] if e.kind == "gap"]
    assert fw.injected_drops > 30 and flagged == flagged_after_gap == len(gaps)  # measured: 74 drops in 69 gaps
    assert all(g["tx_overflow"] for g in gaps) and sum(g["missing"] for g in gaps) == fw.injected_drops


def _haptic_flags(fw: SensorFirmware, t0: float, until_s: float) -> list[tuple[float, float, bool]]:
    """(first sample time, last sample time, haptic_active) of every notification, times since ``t0``."""
    out = []
    period_s = 1e6 / fw.info.rate_millihz * 1e-3
    for payload in _run(fw, until_s):
        p = decode_notification(payload)
        first = float(fw.host_time_s(p.device_time_us)) - t0
        out.append((first, first + (p.count - 1) * period_s, p.haptic_active))
    return out


def test_haptic_active_only_while_the_motor_is_driven() -> None:
    fw = _firmware()
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 0.0)
    _run(fw, 1.0)
    fw.handle_command(encode_command(HapticCommand(200, on_ms=100, off_ms=200, repeats=2)), 1.0)
    rows = _haptic_flags(fw, 1.0, 2.0)
    on = [(0.0, 0.1), (0.3, 0.4)]  # the last off phase (0.4..0.6) is not part of the pattern

    def touches_on(a: float, b: float) -> bool:
        return any(a < hi and b >= lo for lo, hi in on)

    assert rows and all(flag == touches_on(a, b) for a, b, flag in rows if a >= 0)
    assert any(flag for *_, flag in rows) and any(not flag for a, _, flag in rows if 0.1 < a < 0.3)


def test_identify_buzz_sets_haptic_active_for_100_ms_and_replaces_a_pattern() -> None:
    fw = _firmware()
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 0.0)
    fw.handle_command(encode_command(HapticCommand(255, on_ms=5000, off_ms=0, repeats=1)), 0.5)
    _run(fw, 1.0)
    fw.handle_command(encode_command(IdentifyCommand(2000)), 1.0)
    rows = [(a, b, f) for a, b, f in _haptic_flags(fw, 1.0, 2.0) if a >= 0]
    assert all(f == (a < 0.1) for a, _, f in rows)  # buzz 0..100 ms, then nothing: the long pattern is replaced


def test_info_before_start_reports_defaults_and_survives_stop() -> None:
    fw = _firmware()
    assert (fw.info.rate_millihz, fw.info.acc_range_g, fw.info.gyr_range_dps) == (104_000, 8, 1000)
    fw.handle_command(encode_command(StartCommand(52, 4, 500)), 0.0)
    fw.handle_command(b"\x02", 1.0)
    assert (fw.info.rate_millihz, fw.info.acc_range_g, fw.info.gyr_range_dps) == (52_000, 4, 500)


def test_device_clock_runs_on_across_stop_and_start() -> None:
    fw = _firmware()
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 0.0)
    a = decode_notification(_run(fw, 1.0)[-1])
    fw.handle_command(b"\x02", 1.0)
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 3.0)
    b = decode_notification(_run(fw, 4.0)[0])
    assert b.first_index == 0
    assert abs((b.device_time_us - a.device_time_us) * 1e-6 - 2.0) < 0.05  # measured 2.0 s of 2.0 s


def test_emulated_sensor_axes_follow_spec_4_right_handed_specific_force() -> None:
    """SPEC.md §4: specific force (+g up at rest) and a right-handed gyro on the accelerometer's axes.
    For a frame turning at w, gravity seen in the sensor frame moves as d(g_b)/dt = -w x g_b; in a
    mirrored frame (or with the gyro sign flipped) the two sides disagree."""
    from imu_hinge.emulation.sensor_motion import load_motion

    fw = SensorFirmware("thoracic", load_motion(None, seed=3, duration_s=30.0)["thoracic"])
    fw.handle_command(encode_command(StartCommand(104, 8, 1000)), 0.0)
    pk = [decode_notification(p) for p in _run(fw, 30.0)]
    raw = np.concatenate([p.raw for p in pk]).astype(np.float64)
    acc = raw[:, :3] * fw.info.acc_m_s2_per_lsb
    gyr = raw[:, 3:] * fw.info.gyr_rad_s_per_lsb
    norm = np.linalg.norm(acc, axis=1)
    assert abs(np.median(norm) - 9.80665) < 0.3  # specific force: |a| = g through slow hinges (measured 9.77)
    up = acc / norm[:, None]
    dt = 1 / 104
    measured = np.gradient(up, dt, axis=0)
    predicted = -np.cross(gyr, up)
    moving = np.linalg.norm(gyr, axis=1) > 0.3
    agree = np.sum(measured[moving] * predicted[moving]) / np.sqrt(
        np.sum(measured[moving] ** 2) * np.sum(predicted[moving] ** 2))
    assert agree > 0.8  # measured 0.95; with the gyro sign flipped (left-handed) -0.95


def test_python_rate_constants_equal_protocol_json() -> None:
    import json

    from imu_hinge.emulation.protocol_vectors import default_vectors_path
    from imu_hinge.protocol.spec import MAX_RATE_HZ, REFERENCE_RATES_MILLIHZ

    p = json.loads((default_vectors_path().parent / "protocol.json").read_text(encoding="utf-8"))
    sf = p["scale_factors"]
    assert [round(r * 1000) for r in sf["supported_rates_hz"]] == list(REFERENCE_RATES_MILLIHZ)
    assert sf["max_rate_hz"] == MAX_RATE_HZ and p["spec_version"] == "1.1"
    assert list(DOC["rates"]["supported_millihz"]) == list(REFERENCE_RATES_MILLIHZ)


def test_decoder_notes_a_flag_without_a_gap_once() -> None:
    """A 1.0-style sensor flags the notification before the gap: the decoder says so once and counts them."""
    from imu_hinge.protocol import DataPacket, encode_notification

    fw = _firmware()
    dec = PacketDecoder("sacrum", fw.info)
    raw = np.zeros((2, 6), dtype=np.int16)
    notes = []
    for k, flag in enumerate([False, True, False, True, False]):
        payload = encode_notification(DataPacket.build(2 * k, 1_000_000 + 2 * k * 9615, raw, tx_overflow=flag))
        notes += [e for e in dec.feed(payload, k * 0.02)[1] if e.kind == "note"]
    assert dec.misplaced_overflow_flags == 2 and len(notes) == 1 and "SPEC 1.1" in notes[0].message
    assert dec.gaps == 0
