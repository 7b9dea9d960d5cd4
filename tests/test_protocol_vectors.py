"""The Python codec against firmware_protocol/vectors.json, plus round trips, wrap-around, MTU sizing."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imu_hinge.protocol as proto
from imu_hinge.emulation import protocol_vectors as testing
from imu_hinge.errors import DecodeError, ProtocolError
from imu_hinge.protocol import spec
from imu_hinge.protocol.codec import DataPacket

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware_protocol"
DOC = testing.load_vectors(FW / "vectors.json")
VECTORS: list[dict[str, Any]] = DOC["vectors"]
VALID = [v for v in VECTORS if "expect" in v]
INVALID = [v for v in VECTORS if "error" in v]
PROTOCOL = json.loads((FW / "protocol.json").read_text(encoding="utf-8"))


def _id(v: dict[str, Any]) -> str:
    return str(v["name"])


# --- the vector file itself ---------------------------------------------------------------------

def test_vectors_file_is_what_the_generator_writes() -> None:
    path = FW / "tools" / "make_vectors.py"
    module_spec = importlib.util.spec_from_file_location("make_vectors", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert module.render() == (FW / "vectors.json").read_text(encoding="utf-8"), \
        "vectors.json is stale: run python firmware_protocol/tools/make_vectors.py"


def test_vectors_cover_every_kind_and_category() -> None:
    names = {v["name"] for v in VECTORS}
    assert len(names) == len(VECTORS), "vector names must be unique"
    for kind in testing.KINDS:
        assert any(v["kind"] == kind for v in VALID), kind
        assert any(v["kind"] == kind for v in INVALID), kind
    errors = {v["error"] for v in INVALID}
    assert errors == set(spec.ERROR_KINDS)
    for word in ("min", "max", "truncated", "wrong_version"):
        assert any(word in n for n in names), word


# --- vectors through the Python codec --------------------------------------------------------------

@pytest.mark.parametrize("vector", VALID, ids=_id)
def test_valid_vector_decodes_to_expected_fields(vector: dict[str, Any]) -> None:
    obj = testing.decode(vector["kind"], bytes.fromhex(vector["hex"]))
    assert testing.fields(obj) == vector["expect"]


@pytest.mark.parametrize("vector", [v for v in VALID if v.get("reencode", True)], ids=_id)
def test_valid_vector_reencodes_to_same_bytes(vector: dict[str, Any]) -> None:
    obj = testing.decode(vector["kind"], bytes.fromhex(vector["hex"]))
    assert testing.encode(obj).hex() == vector["hex"]


@pytest.mark.parametrize("vector", INVALID, ids=_id)
def test_invalid_vector_raises_decode_error_of_expected_kind(vector: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        testing.decode(vector["kind"], bytes.fromhex(vector["hex"]))
    exc = info.value
    assert isinstance(exc, spec.ProtocolDecodeError)
    assert isinstance(exc, ProtocolError) and exc.exit_code == 4
    assert exc.kind == vector["error"]
    assert str(exc) and "\n" not in str(exc)


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["kind"] == "advertisement"], ids=_id)
def test_bleak_style_advertisement_fields_agree_with_raw_data(vector: dict[str, Any]) -> None:
    """bleak hands over service_uuids and manufacturer_data; decode_advertisement sees the same."""
    data = bytes.fromhex(vector["hex"])
    uuids: list[str] = []
    mfr: dict[int, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] and pos + 1 + data[pos] <= len(data):
        length, ad_type, value = data[pos], data[pos + 1], data[pos + 2:pos + 1 + data[pos]]
        if ad_type in (6, 7):
            uuids += [str(uuid.UUID(bytes=value[i:i + 16][::-1])) for i in range(0, len(value) - 15, 16)]
        if ad_type == 0xFF and len(value) >= 2:
            mfr.setdefault(int.from_bytes(value[:2], "little"), value[2:])
        pos += 1 + length
    if "expect" in vector:
        info = proto.decode_advertisement(uuids, mfr)
        assert testing.fields(info) == vector["expect"]
    elif vector["error"] != "truncated" or pos >= len(data):
        with pytest.raises(DecodeError) as exc:
            proto.decode_advertisement(uuids, mfr)
        assert exc.value.kind == vector["error"]  # type: ignore[attr-defined]


# --- constants equal protocol.json -------------------------------------------------------------------

def test_python_constants_equal_protocol_json() -> None:
    p = PROTOCOL
    assert p["protocol_version"] == spec.PROTOCOL_VERSION
    g = p["gatt"]
    assert g["service_uuid"] == spec.SERVICE_UUID
    assert [g["characteristics"][k]["uuid"] for k in ("data", "control", "info")] == [
        spec.DATA_CHAR_UUID, spec.CONTROL_CHAR_UUID, spec.INFO_CHAR_UUID]
    std = g["standard_services"]
    assert std["battery"]["service_uuid"] == spec.BATTERY_SERVICE_UUID
    assert std["battery"]["characteristics"]["battery_level"] == spec.BATTERY_LEVEL_CHAR_UUID
    dis = std["device_information"]
    assert dis["service_uuid"] == spec.DEVICE_INFORMATION_SERVICE_UUID
    assert dis["characteristics"] == {
        "manufacturer_name": spec.MANUFACTURER_NAME_CHAR_UUID, "model_number": spec.MODEL_NUMBER_CHAR_UUID,
        "serial_number": spec.SERIAL_NUMBER_CHAR_UUID, "hardware_revision": spec.HARDWARE_REVISION_CHAR_UUID,
        "firmware_revision": spec.FIRMWARE_REVISION_CHAR_UUID}
    n = p["notification"]
    assert (n["att_overhead"], n["min_mtu"], n["max_mtu"], n["header_size"], n["sample_size"],
            n["max_samples"], n["max_size"], n["index_modulus"], n["device_time_modulus"]) == (
        spec.ATT_OVERHEAD_BYTES, spec.MIN_MTU, spec.MAX_MTU, spec.HEADER_SIZE, spec.SAMPLE_SIZE,
        spec.MAX_SAMPLES_PER_NOTIFICATION, spec.MAX_NOTIFICATION_SIZE, spec.INDEX_MODULUS,
        spec.DEVICE_TIME_MODULUS)
    assert n["flags"] == {"tx_overflow": spec.FLAG_TX_OVERFLOW, "clipped": spec.FLAG_CLIPPED,
                          "haptic_active": spec.FLAG_HAPTIC_ACTIVE, "reserved": spec.FLAG_RESERVED}
    assert p["info"]["size"] == spec.INFO_SIZE
    assert p["roles"] == spec.ROLES
    assert {k: v["opcode"] for k, v in p["commands"].items() if isinstance(v, dict)} == spec.OPCODES
    assert {k: v["size"] for k, v in p["commands"].items() if isinstance(v, dict)} == spec.COMMAND_SIZES
    r = p["responses"]
    assert (r["response_bit"], r["size"], r["time_ping_size"], r["status"]) == (
        spec.RESPONSE_BIT, spec.RESPONSE_SIZE, spec.TIME_PING_RESPONSE_SIZE, spec.STATUSES)
    a = p["advertisement"]
    assert (a["data_size"], a["flags"], a["company_id"], a["payload_size"], a["battery_unknown"],
            a["payload"][3]["bits"]["streaming"]) == (
        spec.ADV_DATA_SIZE, spec.ADV_FLAGS, spec.ADV_COMPANY_ID, spec.ADV_PAYLOAD_SIZE, spec.BATTERY_UNKNOWN,
        spec.ADV_STATUS_STREAMING)
    s = p["scale_factors"]
    assert s["standard_gravity_m_s2"] == spec.STANDARD_GRAVITY_M_S2
    assert {int(k): v for k, v in s["acc_mg_per_lsb"].items()} == spec.ACC_MG_PER_LSB
    assert {int(k): v for k, v in s["gyr_mdps_per_lsb"].items()} == spec.GYR_MDPS_PER_LSB
    d = s["defaults"]
    assert (d["rate_hz"], d["acc_range_g"], d["gyr_range_dps"]) == (
        spec.DEFAULT_RATE_HZ, spec.DEFAULT_ACC_RANGE_G, spec.DEFAULT_GYR_RANGE_DPS)
    assert math.isclose(d["acc_m_s2_per_lsb"], proto.acc_m_s2_per_lsb(8), rel_tol=1e-7)
    assert math.isclose(d["gyr_rad_s_per_lsb"], proto.gyr_rad_s_per_lsb(1000), rel_tol=1e-7)
    assert tuple(p["error_kinds"]) == spec.ERROR_KINDS


def test_protocol_json_layouts_are_contiguous_and_match_sizes() -> None:
    sizes = PROTOCOL["types"]

    def end(fields: list[dict[str, Any]]) -> int:
        return max((f["offset"] + sizes[f["type"]] for f in fields), default=1)

    n = PROTOCOL["notification"]
    assert end(n["header"]) == spec.HEADER_SIZE and end(n["sample"]) == spec.SAMPLE_SIZE
    assert end(PROTOCOL["info"]["fields"]) == spec.INFO_SIZE
    for name, c in PROTOCOL["commands"].items():
        if isinstance(c, dict):
            assert end(c["fields"]) == c["size"] == spec.COMMAND_SIZES[name]
    assert end(PROTOCOL["responses"]["fields"]) == spec.TIME_PING_RESPONSE_SIZE
    assert end(PROTOCOL["advertisement"]["payload"]) == spec.ADV_PAYLOAD_SIZE


def test_public_api_and_no_ble_imports() -> None:
    for name in proto.__all__:
        assert hasattr(proto, name), name
    assert sorted(proto.__all__, key=str.lower) == sorted(set(proto.__all__), key=str.lower)
    code = ("import sys, imu_hinge.protocol, imu_hinge.emulation.protocol_vectors; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('bleak', 'bumble', 'asyncio')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_service_uuid_le_is_on_air_order() -> None:
    assert proto.SERVICE_UUID_LE == uuid.UUID(spec.SERVICE_UUID).bytes[::-1]
    assert proto.encode_advertising_data(proto.AdvertisementInfo("sacrum", 87))[5:21] == proto.SERVICE_UUID_LE


# --- MTU sizing ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("mtu", "samples"), DOC["mtu"]["valid"])
def test_samples_per_notification(mtu: int, samples: int) -> None:
    assert proto.samples_per_notification(mtu) == samples
    assert proto.notification_size(samples) <= min(mtu, spec.MAX_MTU) - spec.ATT_OVERHEAD_BYTES


@pytest.mark.parametrize("mtu", DOC["mtu"]["invalid"])
def test_samples_per_notification_rejects_mtu_below_23(mtu: int) -> None:
    with pytest.raises(ValueError, match="MTU"):
        proto.samples_per_notification(mtu)


def test_one_sample_fills_minimum_mtu_exactly() -> None:
    assert proto.notification_size(1) == spec.MIN_MTU - spec.ATT_OVERHEAD_BYTES == 20


# --- packets, info, SI conversion -------------------------------------------------------------------

def test_build_wraps_counters_and_flags_clipping() -> None:
    raw = np.array([[0, 0, 4096, 0, 0, 0], [1, 2, 3, -32768, 5, 6]])
    p = DataPacket.build(70_000, 2**32 + 5, raw, haptic_active=True)
    assert (p.first_index, p.device_time_us, p.clipped, p.haptic_active, p.tx_overflow) == (
        70_000 - 65536, 5, True, True, False)
    assert proto.clipped_mask(p.raw).tolist() == [False, True]
    back = proto.decode_notification(proto.encode_notification(p))
    assert back.flags == p.flags and np.array_equal(back.raw, raw)
    assert DataPacket.build(65535, 0, raw).sample_indices().tolist() == [65535, 0]


def test_default_info_matches_vector_and_converts_to_si() -> None:
    info = proto.SensorInfo.lsm6ds3(role="sacrum")
    default = next(v for v in VALID if v["name"] == "info_default_sacrum")
    assert proto.encode_info(info).hex() == default["hex"]
    assert info.rate_hz == 104.0
    packet = proto.decode_notification(bytes.fromhex(VALID[0]["hex"]))
    acc, gyr = proto.packet_to_si(packet, info)
    assert acc.shape == gyr.shape == (1, 3) and acc.dtype == np.float64
    assert acc[0, 2] == pytest.approx(4100 * 0.244e-3 * 9.80665, rel=1e-6)  # ~ +1 g on z
    assert gyr[0, 0] == pytest.approx(-5 * math.radians(0.035), rel=1e-6)


@pytest.mark.parametrize("bad", [
    lambda: proto.encode_notification(DataPacket(0, 0, np.zeros((0, 6), np.int16))),
    lambda: proto.encode_notification(DataPacket(0, 0, np.zeros((43, 6), np.int16))),
    lambda: proto.encode_notification(DataPacket(65536, 0, np.zeros((1, 6), np.int16))),
    lambda: DataPacket.build(0, 0, [[40000, 0, 0, 0, 0, 0]]),
    lambda: proto.encode_info(proto.SensorInfo(0, 1.0, 1.0, 8, 1000)),
    lambda: proto.encode_info(proto.SensorInfo(1, math.nan, 1.0, 8, 1000)),
    lambda: proto.encode_info(proto.SensorInfo(1, 1.0, 1.0, 256, 1000)),
    lambda: proto.encode_command(proto.StartCommand(rate_hz=0)),
    lambda: proto.encode_command(proto.StartCommand(rate_hz=70000)),
    lambda: proto.encode_command(proto.HapticCommand(100, 0)),
    lambda: proto.encode_command(proto.SetRoleCommand("pelvis")),
    lambda: proto.encode_command(proto.TimePingCommand(-1)),
    lambda: proto.encode_response(proto.CommandResponse(4)),
    lambda: proto.encode_adv_payload(proto.AdvertisementInfo("sacrum", 101)),
])
def test_encoders_reject_out_of_range_fields(bad: Any) -> None:
    with pytest.raises(ValueError):
        bad()


def test_command_round_trip_and_response_helpers() -> None:
    for cmd in (proto.StartCommand(), proto.StopCommand(), proto.HapticCommand(180, 120, 80, 2),
                proto.HapticCommand.off(), proto.TimePingCommand(0xDEADBEEF), proto.IdentifyCommand(),
                proto.SetRoleCommand("thoracic")):
        assert proto.decode_command(proto.encode_command(cmd)) == cmd
    pong = proto.decode_response(proto.encode_response(proto.CommandResponse(4, "ok", 7, 123)))
    assert (pong.command, pong.ok, pong.token, pong.device_time_us) == ("time_ping", True, 7, 123)
    assert proto.decode_response(b"\xff\x01").command is None


# --- wrap-around -----------------------------------------------------------------------------------

def test_index_unwrap_over_two_hours_at_104_hz_in_order() -> None:
    total = 2 * 3600 * 104  # 748 800 samples: 11 wraps of the 16-bit index
    for batch in (1, 19):
        u = proto.SampleIndexUnwrapper()
        firsts = np.arange(0, total, batch)
        steps = [u.update(int(f) % 65536, batch) for f in firsts]
        assert [s.unwrapped_index for s in steps] == firsts.tolist()
        assert {s.kind for s in steps[1:]} == {"in_order"}
        assert (u.received, u.missing, u.duplicates) == (len(firsts) * batch, 0, 0)
    wrapped = np.arange(5, total + 5) % 65536
    assert np.array_equal(proto.unwrap_counter(wrapped), np.arange(5, total + 5))


def test_index_unwrap_gaps_duplicates_out_of_order_across_wrap() -> None:
    u = proto.SampleIndexUnwrapper()
    assert u.update(65530, 2).kind == "first"
    assert u.update(65532, 2) == proto.IndexStep(65532, "in_order")
    assert u.update(0, 3) == proto.IndexStep(65536, "gap", 2)            # 65534, 65535 lost, wrapped
    assert u.update(65534, 1) == proto.IndexStep(65534, "out_of_order")  # late: fills half the gap
    assert u.update(65534, 1) == proto.IndexStep(65534, "duplicate")
    assert u.update(1, 1).kind == "duplicate"                          # overlaps received samples
    assert u.update(65535, 1).kind == "out_of_order"
    assert u.update(65529, 1).kind == "duplicate"                      # before the first packet
    assert u.update(3, 1) == proto.IndexStep(65539, "in_order")
    assert (u.received, u.missing, u.duplicates, u.out_of_order) == (10, 0, 3, 2)
    assert u.update(4 + 30000, 1) == proto.IndexStep(65540 + 30000, "gap", 30000)  # long, still < half range
    u.reset()
    assert u.update(0).kind == "first" and u.next_index == 1


def test_device_clock_unwraps_across_71_minutes() -> None:
    c = proto.DeviceClockUnwrapper()
    start = 2**32 - 1_000_000
    times = start + np.arange(0, 200_000_000, 9615)  # 200 s at 104 Hz, crossing the wrap
    out = [c.update(int(t) % 2**32) for t in times]
    assert out == times.tolist()
    assert c.update(int(times[-5]) % 2**32) == times[-5]  # a late packet unwraps backwards
    assert np.array_equal(proto.unwrap_counter(times % 2**32, 2**32), times)


# --- the numbers later relied on ---------------------------------------------------------------------

@pytest.mark.parametrize("mtu", [23, 247])
def test_sixty_seconds_two_sensors_104_hz_zero_loss(mtu: int) -> None:
    """60 s x 104 Hz x 2 sensors through encode -> bytes -> decode -> unwrap -> SI, nothing lost."""
    rng = np.random.default_rng(7)
    info = proto.SensorInfo.lsm6ds3()
    per_packet = proto.samples_per_notification(mtu)
    n = 60 * 104
    for sensor in range(2):
        raw = rng.integers(-3000, 3000, size=(n, 6)).astype(np.int16)
        start_index, start_us = 65000 * sensor, 2**32 - 20_000_000  # both counters wrap mid-stream
        payloads = [proto.encode_notification(DataPacket.build(
            start_index + k, start_us + round(k * 1e6 / 104), raw[k:k + per_packet]))
            for k in range(0, n, per_packet)]
        assert max(len(p) for p in payloads) <= mtu - 3
        unwrap, clock = proto.SampleIndexUnwrapper(), proto.DeviceClockUnwrapper()
        got: list[np.ndarray] = []
        idx: list[int] = []
        t_us: list[int] = []
        for p in payloads:
            packet = proto.decode_notification(p)
            step = unwrap.update(packet.first_index, packet.count)
            assert step.keep
            idx.extend(range(step.unwrapped_index, step.unwrapped_index + packet.count))
            t_us.append(clock.update(packet.device_time_us))
            got.append(packet.raw)
        assert (unwrap.received, unwrap.missing) == (n, 0)
        assert idx == list(range(start_index % 65536, start_index % 65536 + n))
        assert np.all(np.diff(t_us) > 0)
        acc, gyr = proto.raw_to_si(np.concatenate(got), info)
        assert np.allclose(acc, raw[:, :3] * info.acc_m_s2_per_lsb)
        assert np.allclose(gyr, raw[:, 3:] * info.gyr_rad_s_per_lsb)


def test_time_pings_recover_50_ppm_drift_across_the_clock_wrap() -> None:
    """host = a + b * device from time_ping responses over 80 min, through the u32 wrap."""
    rng = np.random.default_rng(3)
    b_true, a_true = 1 + 50e-6, 12.5
    host_s = np.arange(0, 80 * 60, 5.0)
    device_us = np.round((host_s - a_true) / b_true * 1e6).astype(np.int64) + 2**32 - 600_000_000
    clock = proto.DeviceClockUnwrapper()
    dev, hst = [], []
    for k, (h, d) in enumerate(zip(host_s, device_us, strict=True)):
        pong = proto.decode_response(proto.encode_response(proto.CommandResponse(4, "ok", k, int(d) % 2**32)))
        assert pong.token == k and pong.device_time_us is not None
        dev.append(clock.update(pong.device_time_us))
        hst.append(h + rng.uniform(0, 2e-3))  # one-way delay 0..2 ms
    dev_s = (np.array(dev) - dev[0]) * 1e-6
    b, a = np.polyfit(dev_s, np.array(hst), 1)
    assert abs(b - b_true) < 2e-6  # drift recovered to within 2 ppm
    assert np.max(np.abs(a + b * dev_s - np.array(hst))) < 2e-3
