"""Write ``firmware_protocol/vectors.json`` from the layouts in SPEC.md, with ``struct`` only.

Independent of both codecs on purpose: the vectors are the ground truth they are tested against.
Run from the repository root: ``python firmware_protocol/tools/make_vectors.py``; the test suite
checks the committed file equals this script's output.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "vectors.json"
SERVICE_UUID_LE = bytes.fromhex("6a1700012f554d6c91c233a6f7cdcedf")[::-1]
ROLE = {"unassigned": 0, "sacrum": 1, "thoracic": 2}
OPS = {"start": 1, "stop": 2, "haptic": 3, "time_ping": 4, "identify": 5, "set_role": 6}
STATUS = {"ok": 0, "unknown_opcode": 1, "bad_length": 2, "invalid_value": 3, "invalid_state": 4}

vectors: list[dict[str, Any]] = []


def ok(kind: str, name: str, data: bytes, expect: dict[str, Any], description: str,
       reencode: bool = True) -> None:
    v: dict[str, Any] = {"kind": kind, "name": name, "description": description, "hex": data.hex(),
                         "expect": expect}
    if not reencode:
        v["reencode"] = False
    vectors.append(v)


def bad(kind: str, name: str, data: bytes, error: str, description: str) -> None:
    vectors.append({"kind": kind, "name": name, "description": description, "hex": data.hex(),
                    "error": error})


# --- notifications ---------------------------------------------------------------------------

def notification(flags: int, first_index: int, device_time_us: int, samples: list[list[int]],
                 version: int = 1, count: int | None = None) -> bytes:
    n = len(samples) if count is None else count
    body = b"".join(struct.pack("<6h", *s) for s in samples)
    return struct.pack("<BBHI", (version << 4) | flags, n, first_index, device_time_us) + body


def n_expect(flags: int, first_index: int, device_time_us: int, samples: list[list[int]]) -> dict[str, Any]:
    return {"version": 1, "flags": flags, "tx_overflow": bool(flags & 1), "clipped": bool(flags & 2),
            "haptic_active": bool(flags & 4), "count": len(samples), "first_index": first_index,
            "device_time_us": device_time_us, "samples": samples}


def add_notification(name: str, flags: int, first_index: int, device_time_us: int,
                     samples: list[list[int]], description: str) -> None:
    ok("notification", name, notification(flags, first_index, device_time_us, samples),
       n_expect(flags, first_index, device_time_us, samples), description)


STILL = [12, -34, 4100, -5, 3, 0]
add_notification("notification_one_sample_mtu23", 0, 0x1234, 1_000_000, [STILL],
                 "one sample, 20 bytes: exactly fills a notification at the minimum MTU 23")
add_notification("notification_three_samples_haptic", 0x04, 517, 3_600_000_123,
                 [[-120, 250, 4090, 1500, -1500, 20], [-118, 260, 4101, 1490, -1510, 18],
                  [-115, 270, 4111, 1480, -1520, 16]],
                 "three samples taken while the motor ran")
add_notification("notification_min", 0x00, 0, 0, [[-32768] * 6],
                 "minimum field values: index 0, clock 0, every axis -32768 (clipped flag left 0: "
                 "readers do not cross-check flags against samples)")
add_notification("notification_max", 0x07, 0xFFFF, 0xFFFFFFFF, [[32767] * 6] * 42,
                 "maximum: 42 samples (512 bytes, MTU 517), index 65535, clock 2**32-1, all flags")
add_notification("notification_mtu247_index_wraps_inside", 0x02, 65530, 4_294_960_000,
                 [[i, -i, 4096 + i, 32767 if i == 3 else 7 * i, -7 * i, i % 5] for i in range(19)],
                 "19 samples fill MTU 247; indices 65530..65535 then 0..12 wrap inside the packet; "
                 "one gyro axis clipped")
add_notification("notification_tx_overflow", 0x01, 40000, 123_456_789, [STILL, STILL],
                 "first notification after the transmit buffer overflowed")
add_notification("notification_reserved_flag", 0x0F, 1, 2, [STILL],
                 "reserved flag bit 3 set: ignored by readers, kept in flags")
one = notification(0, 7, 8, [STILL])
bad("notification", "notification_empty", b"", "truncated", "zero bytes")
bad("notification", "notification_wrong_version_2", bytes([0x20]) + one[1:], "wrong_version",
    "version 2 in the high nibble of byte 0, otherwise a valid v1 packet")
bad("notification", "notification_wrong_version_0", bytes([0x00]) + one[1:], "wrong_version",
    "version 0 (e.g. a zeroed buffer)")
bad("notification", "notification_wrong_version_short", bytes([0xF0, 1]), "wrong_version",
    "version is checked before length: a 2-byte packet of version 15")
bad("notification", "notification_header_truncated", one[:7], "truncated", "7 of 8 header bytes")
bad("notification", "notification_count_zero", notification(0, 1, 2, [], count=0), "bad_count",
    "sample count 0 (header only)")
bad("notification", "notification_count_43", notification(0, 1, 2, [STILL] * 43), "bad_count",
    "43 samples: more than any MTU allows")
bad("notification", "notification_sample_truncated", one[:19], "truncated", "last byte of the sample missing")
bad("notification", "notification_count_exceeds_data", notification(0, 1, 2, [STILL], count=2), "truncated",
    "count 2 but one sample present")
bad("notification", "notification_trailing_byte", one + b"\x00", "length_mismatch", "one byte too many")
bad("notification", "notification_cut_to_20", notification(0, 1, 2, [STILL] * 3)[:20], "truncated",
    "a 3-sample packet cut to 20 bytes, as without an MTU exchange")


# --- info characteristic ------------------------------------------------------------------------

def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def info(fw: tuple[int, int, int], rate_millihz: int, acc: float, gyr: float, acc_range_g: int,
         gyr_range_dps: int, role: int, version: int = 1) -> bytes:
    return struct.pack("<BBBBIffBHB", version, *fw, rate_millihz, acc, gyr, acc_range_g, gyr_range_dps, role)


def add_info(name: str, fw: tuple[int, int, int], rate_millihz: int, acc: float, gyr: float,
             acc_range_g: int, gyr_range_dps: int, role: str, description: str, extra: bytes = b"") -> None:
    data = info(fw, rate_millihz, acc, gyr, acc_range_g, gyr_range_dps, ROLE[role]) + extra
    ok("info", name, data, {"protocol_version": 1, "firmware_version": list(fw), "rate_millihz": rate_millihz,
                            "acc_m_s2_per_lsb": f32(acc), "gyr_rad_s_per_lsb": f32(gyr),
                            "acc_range_g": acc_range_g, "gyr_range_dps": gyr_range_dps, "role": role},
       description, reencode=not extra)


G = 9.80665
ACC8 = 0.244e-3 * G
GYR1000 = math.radians(35e-3)
add_info("info_default_sacrum", (1, 0, 0), 104_000, ACC8, GYR1000, 8, 1000, "sacrum",
         "reference firmware defaults: 104 Hz, +-8 g (0.244 mg/LSB), +-1000 deg/s (35 mdps/LSB)")
add_info("info_min", (0, 0, 0), 1, f32(1e-38), f32(1e-38), 1, 1, "unassigned",
         "smallest valid values: rate 1 mHz, tiny positive scale factors, ranges 1")
add_info("info_max", (255, 255, 255), 0xFFFFFFFF, f32(3.4e38), f32(3.4e38), 255, 0xFFFF, "thoracic",
         "largest valid values")
add_info("info_thoracic_400hz", (1, 2, 3), 416_000, 0.061e-3 * G, math.radians(70e-3), 2, 2000, "thoracic",
         "416 Hz, +-2 g, +-2000 deg/s")
add_info("info_longer_than_20", (1, 4, 0), 104_000, ACC8, GYR1000, 8, 1000, "sacrum",
         "a later firmware appended 2 bytes: ignored", extra=b"\xaa\xbb")
good_info = info((1, 0, 0), 104_000, ACC8, GYR1000, 8, 1000, 1)
bad("info", "info_empty", b"", "truncated", "zero bytes")
bad("info", "info_truncated", good_info[:19], "truncated", "19 of 20 bytes")
bad("info", "info_wrong_version", bytes([2]) + good_info[1:], "wrong_version", "protocol version 2")
bad("info", "info_rate_zero", info((1, 0, 0), 0, ACC8, GYR1000, 8, 1000, 1), "invalid_value", "rate 0")
bad("info", "info_acc_scale_nan", info((1, 0, 0), 104_000, math.nan, GYR1000, 8, 1000, 1), "invalid_value",
    "accelerometer scale factor NaN")
bad("info", "info_gyr_scale_negative", info((1, 0, 0), 104_000, ACC8, -GYR1000, 8, 1000, 1), "invalid_value",
    "negative gyroscope scale factor")
bad("info", "info_gyr_scale_inf", info((1, 0, 0), 104_000, ACC8, math.inf, 8, 1000, 1), "invalid_value",
    "infinite gyroscope scale factor")
bad("info", "info_acc_scale_zero", info((1, 0, 0), 104_000, 0.0, GYR1000, 8, 1000, 1), "invalid_value",
    "accelerometer scale factor 0")
bad("info", "info_acc_range_zero", info((1, 0, 0), 104_000, ACC8, GYR1000, 0, 1000, 1), "invalid_value",
    "accelerometer range 0")
bad("info", "info_gyr_range_zero", info((1, 0, 0), 104_000, ACC8, GYR1000, 8, 0, 1), "invalid_value",
    "gyroscope range 0")
bad("info", "info_role_3", info((1, 0, 0), 104_000, ACC8, GYR1000, 8, 1000, 3), "invalid_value", "role 3")


# --- commands -----------------------------------------------------------------------------------

def cmd(name: str, fmt: str = "<", *params: int) -> bytes:
    return bytes([OPS[name]]) + struct.pack(fmt, *params)


def add_cmd(name: str, command: str, fmt: str, params: dict[str, Any], description: str) -> None:
    values = [ROLE[v] if k == "role" else v for k, v in params.items()]
    ok("command", name, cmd(command, fmt, *values), {"command": command, **params}, description)


add_cmd("command_start_default", "start", "<HBH", {"rate_hz": 104, "acc_range_g": 8, "gyr_range_dps": 1000},
        "start at 104 Hz, +-8 g, +-1000 deg/s")
add_cmd("command_start_min", "start", "<HBH", {"rate_hz": 1, "acc_range_g": 1, "gyr_range_dps": 1},
        "smallest valid start: the sensor rounds up to what it supports")
add_cmd("command_start_max", "start", "<HBH", {"rate_hz": 65535, "acc_range_g": 255, "gyr_range_dps": 65535},
        "largest encodable start (a sensor may answer invalid_value)")
add_cmd("command_stop", "stop", "<", {}, "stop streaming")
add_cmd("command_haptic_pattern", "haptic", "<BHHB", {"intensity": 200, "on_ms": 150, "off_ms": 100,
                                                      "repeats": 3}, "three 150 ms buzzes at 200/255")
add_cmd("command_haptic_off", "haptic", "<BHHB", {"intensity": 0, "on_ms": 0, "off_ms": 0, "repeats": 0},
        "intensity 0: stop the motor")
add_cmd("command_haptic_max", "haptic", "<BHHB", {"intensity": 255, "on_ms": 65535, "off_ms": 65535,
                                                  "repeats": 255}, "largest pattern")
add_cmd("command_time_ping", "time_ping", "<I", {"token": 0x12345678}, "clock-sync ping")
add_cmd("command_identify", "identify", "<H", {"duration_ms": 2000}, "identify for 2 s")
add_cmd("command_set_role_sacrum", "set_role", "<B", {"role": "sacrum"}, "become the sacrum sensor")
add_cmd("command_set_role_thoracic", "set_role", "<B", {"role": "thoracic"}, "become the thoracic sensor")
add_cmd("command_set_role_unassigned", "set_role", "<B", {"role": "unassigned"}, "forget the role")
bad("command", "command_empty", b"", "truncated", "zero bytes")
bad("command", "command_opcode_zero", b"\x00", "unknown_opcode", "opcode 0 is not assigned")
bad("command", "command_opcode_7f", b"\x7f\x01\x02", "unknown_opcode", "opcode 0x7f is not assigned")
bad("command", "command_response_as_command", b"\x81\x00", "unknown_opcode", "a response is not a command")
bad("command", "command_start_truncated", cmd("start", "<HBH", 104, 8, 1000)[:5], "truncated", "5 of 6 bytes")
bad("command", "command_stop_trailing", b"\x02\x00", "length_mismatch", "stop with a parameter byte")
bad("command", "command_time_ping_long", cmd("time_ping", "<I", 1) + b"\x00", "length_mismatch",
    "6-byte ping")
bad("command", "command_start_rate_zero", cmd("start", "<HBH", 0, 8, 1000), "invalid_value", "rate 0")
bad("command", "command_start_gyr_range_zero", cmd("start", "<HBH", 104, 8, 0), "invalid_value",
    "gyro range 0")
bad("command", "command_haptic_no_repeats", cmd("haptic", "<BHHB", 100, 100, 100, 0), "invalid_value",
    "intensity > 0 with 0 repeats")
bad("command", "command_haptic_zero_on", cmd("haptic", "<BHHB", 100, 0, 100, 2), "invalid_value",
    "intensity > 0 with on_ms 0")
bad("command", "command_set_role_3", b"\x06\x03", "invalid_value", "role 3")


# --- command responses --------------------------------------------------------------------------

def add_resp(name: str, opcode: int, status: str, description: str, token: int | None = None,
             device_time_us: int | None = None) -> None:
    data = bytes([0x80 | opcode, STATUS[status]])
    expect: dict[str, Any] = {"opcode": opcode, "status": status}
    if token is not None and device_time_us is not None:
        data += struct.pack("<II", token, device_time_us)
        expect.update(token=token, device_time_us=device_time_us)
    ok("response", name, data, expect, description)


add_resp("response_start_ok", 1, "ok", "start accepted")
add_resp("response_time_ping", 4, "ok", "ping answered at device clock 3 600 000 123 us",
         token=0x12345678, device_time_us=3_600_000_123)
add_resp("response_time_ping_max", 4, "ok", "largest token and clock", token=0xFFFFFFFF,
         device_time_us=0xFFFFFFFF)
add_resp("response_time_ping_error", 4, "invalid_state", "a failed ping carries no time")
add_resp("response_haptic_invalid", 3, "invalid_value", "haptic rejected")
add_resp("response_unknown_opcode", 0x7F, "unknown_opcode", "answer to an unassigned opcode 0x7f")
add_resp("response_set_role_bad_length", 6, "bad_length", "set_role of the wrong size")
bad("response", "response_empty", b"", "truncated", "zero bytes")
bad("response", "response_no_response_bit", b"\x01\x00", "invalid_value", "byte 0 lacks 0x80")
bad("response", "response_one_byte", b"\x81", "truncated", "status missing")
bad("response", "response_unknown_status", b"\x81\x09", "invalid_value", "status 9 is not assigned")
bad("response", "response_time_ping_truncated", bytes.fromhex("840078563412"), "truncated",
    "ok ping response without the device clock")
bad("response", "response_trailing", b"\x81\x00\x00", "length_mismatch", "one byte too many")
bad("response", "response_error_with_time", bytes.fromhex("84037856341200000000"), "length_mismatch",
    "a failed ping must not carry a time")


# --- advertisement ------------------------------------------------------------------------------

def adv(version: int = 1, role: int = 1, battery: int = 87, status: int = 0, payload: bytes | None = None,
        company: int = 0xFFFF) -> bytes:
    p = bytes([version, role, battery, status]) if payload is None else payload
    mfr = struct.pack("<H", company) + p
    return bytes([2, 1, 6, 17, 7]) + SERVICE_UUID_LE + bytes([len(mfr) + 1, 0xFF]) + mfr


def a_expect(role: str, battery: int | None, streaming: bool) -> dict[str, Any]:
    return {"protocol_version": 1, "role": role, "battery_percent": battery, "streaming": streaming}


ok("advertisement", "adv_sacrum", adv(role=1, battery=87), a_expect("sacrum", 87, False),
   "sacrum sensor, 87 % battery, idle: 29 bytes")
ok("advertisement", "adv_thoracic_streaming_unknown_battery", adv(role=2, battery=255, status=1),
   a_expect("thoracic", None, True), "thoracic sensor streaming, battery unknown (255)")
ok("advertisement", "adv_unassigned_empty_battery", adv(role=0, battery=0), a_expect("unassigned", 0, False),
   "fresh sensor without a role, battery 0 %")
ok("advertisement", "adv_full_battery", adv(role=1, battery=100), a_expect("sacrum", 100, False),
   "battery 100 %")
name = b"imu-hinge sacrum"
other_order = (bytes([len(name) + 1, 0x09]) + name + bytes([7, 0xFF, 0x59, 0x00, 1, 2, 3, 4])
               + bytes([9, 0xFF, 0xFF, 0xFF, 1, 2, 50, 0x81, 0xEE, 0xEE])
               + bytes([17, 6]) + SERVICE_UUID_LE + b"\x00\x00\x00")
ok("advertisement", "adv_other_order_with_name", other_order, a_expect("thoracic", 50, True),
   "name first, another company's data, a 6-byte payload (extra ignored, reserved status bit ignored), "
   "incomplete UUID list last, zero padding", reencode=False)
bad("advertisement", "adv_empty", b"", "missing_field", "no AD structures at all")
bad("advertisement", "adv_structure_overruns", adv()[:-1], "truncated", "last AD structure cut short")
bad("advertisement", "adv_no_service_uuid", bytes([2, 1, 6, 7, 0xFF, 0xFF, 0xFF, 1, 1, 87, 0]),
    "missing_field", "manufacturer data without the service UUID")
bad("advertisement", "adv_other_company", adv(company=0x0059), "missing_field",
    "service UUID but only another company's manufacturer data")
bad("advertisement", "adv_payload_wrong_version", adv(version=2), "wrong_version", "payload version 2")
bad("advertisement", "adv_payload_truncated", adv(payload=b"\x01\x01"), "truncated", "2-byte payload")
bad("advertisement", "adv_payload_empty", adv(payload=b""), "truncated", "company ID only")
bad("advertisement", "adv_role_5", adv(role=5), "invalid_value", "role 5")
bad("advertisement", "adv_battery_150", adv(battery=150), "invalid_value", "battery 150 %")

# v1.1 edge cases (SPEC.md §7 "In detail")
first_ffff = adv(role=1, battery=87) + bytes([7, 0xFF, 0xFF, 0xFF, 1, 2, 10, 1])
ok("advertisement", "adv_two_ffff_first_counts", first_ffff, a_expect("sacrum", 87, False),
   "two 0xFFFF manufacturer structures: the first counts, the second (thoracic) is ignored", reencode=False)
bad("advertisement", "adv_two_ffff_first_bad", adv(version=2) + bytes([7, 0xFF, 0xFF, 0xFF, 1, 1, 87, 0]),
    "wrong_version", "two 0xFFFF structures, the first of version 2: the first counts, so wrong_version")
short_mfr = bytes([2, 0xFF, 0xFF]) + bytes([1, 0xFF]) + adv(role=2, battery=40)
ok("advertisement", "adv_short_manufacturer_ignored", short_mfr, a_expect("thoracic", 40, False),
   "manufacturer structures of 1 and 0 value bytes (no room for a company ID) come first: ignored",
   reencode=False)
odd_list = bytes([2, 1, 6, 20, 7]) + SERVICE_UUID_LE + b"\x01\x02\x03" + adv()[21:]
ok("advertisement", "adv_uuid_list_odd_length", odd_list, a_expect("sacrum", 87, False),
   "a 19-byte 128-bit UUID list: the whole 16-byte entry is read, the 3 trailing bytes ignored",
   reencode=False)
second_uuid = bytes([2, 1, 6, 33, 7]) + bytes(range(16)) + SERVICE_UUID_LE + adv()[21:]
ok("advertisement", "adv_uuid_second_in_list", second_uuid, a_expect("sacrum", 87, False),
   "the service UUID as the second entry of a complete list", reencode=False)
cut_uuid = bytes([2, 1, 6, 16, 7]) + SERVICE_UUID_LE[:15] + adv()[21:]
bad("advertisement", "adv_uuid_cut_to_15", cut_uuid, "missing_field",
    "a UUID list of 15 bytes holds no whole entry: no service UUID")


# --- behaviour vectors (SPEC.md v1.1) ------------------------------------------------------------

answers = [
    {"name": "answer_empty_write", "write": "", "answer": "8002", "description": "empty write: bad_length, opcode 0"},
    {"name": "answer_opcode_zero", "write": "00", "answer": "8001", "description": "opcode 0 is never assigned"},
    {"name": "answer_response_byte", "write": "8100", "answer": "8001",
     "description": "bit 7 set: not 81 01, which would read as an answer to start"},
    {"name": "answer_opcode_ff", "write": "ff", "answer": "8001", "description": "opcode 0xff"},
    {"name": "answer_opcode_80_long", "write": "80" + "00" * 9, "answer": "8001",
     "description": "0x80 with parameters: still unknown_opcode"},
    {"name": "answer_opcode_7f", "write": "7f0102", "answer": "ff01", "description": "unassigned opcode 0x7f"},
    {"name": "answer_opcode_07", "write": "07", "answer": "8701", "description": "first unassigned opcode"},
    {"name": "answer_start_truncated", "write": "01680008e8", "answer": "8102", "description": "5 of 6 bytes"},
    {"name": "answer_stop_trailing", "write": "0200", "answer": "8202", "description": "stop with a parameter"},
    {"name": "answer_start_rate_zero", "write": "01000008e803", "answer": "8103", "description": "rate 0"},
    {"name": "answer_haptic_no_repeats", "write": "03646400640000", "answer": "8303",
     "description": "intensity > 0 with 0 repeats"},
    {"name": "answer_set_role_3", "write": "0603", "answer": "8603", "description": "role 3"},
]

REFERENCE_RATES_MHZ = [12_500, 26_000, 52_000, 104_000, 208_000, 416_000]


def pick_rate(rate_hz: int) -> int | None:
    """Lowest reference rate r with round-half-up(r) >= rate_hz (SPEC.md §5)."""
    return next((r for r in REFERENCE_RATES_MHZ if (r + 500) // 1000 >= rate_hz), None)


rates = [[hz, pick_rate(hz)] for hz in (1, 12, 13, 14, 25, 26, 27, 52, 53, 100, 104, 105, 208, 209, 400, 416,
                                         417, 500, 833, 1666, 65535)]


def overflow_case(name: str, per_packet: int, dropped: set[int], n: int, description: str) -> dict[str, Any]:
    """Samples 0..n-1 taken in order, ``dropped`` lost by the sensor, batches of ``per_packet``
    (the 20 ms flush never due): the notifications sent, as [first_index, count, tx_overflow]."""
    out: list[list[Any]] = []
    pending: list[int] = []
    lost = False
    flag_next = False
    for k in range(n):
        if k in dropped:
            lost = True
            if pending:
                out.append([pending[0], len(pending), flag_next])
                pending, flag_next = [], False
            continue
        if not pending:
            flag_next, lost = lost, False
        pending.append(k)
        if len(pending) == per_packet:
            out.append([pending[0], len(pending), flag_next])
            pending, flag_next = [], False
    return {"name": name, "per_packet": per_packet, "samples": n, "dropped": sorted(dropped),
            "notifications": out, "description": description}


overflow = [
    overflow_case("overflow_mtu23_single", 1, {3}, 6, "MTU 23: sample 3 lost, the notification of 4 is flagged"),
    overflow_case("overflow_mid_batch", 4, {6}, 13,
                  "a loss inside a batch ends it: 4..5 go out unflagged, 7.. flagged"),
    overflow_case("overflow_batch_boundary", 4, {4, 5}, 12, "a burst right after a full batch"),
    overflow_case("overflow_two_gaps", 3, {2, 7, 8}, 14, "two gaps, two flags, nothing else flagged"),
    overflow_case("overflow_first_sample", 3, {0}, 5, "the very first sample lost: the first notification is flagged"),
]

DOC = {
    "format_version": 1,
    "protocol_version": 1,
    "about": "Test vectors of the imu-hinge sensor protocol (SPEC.md), shared by the Python codec tests "
             "and the C reference codec tests. Valid vectors have 'expect' (decoded fields; floats are "
             "float32 values) and, unless 'reencode' is false, encode back to 'hex'. Invalid vectors "
             "have 'error', the kind of decode error. Behaviour vectors (SPEC.md v1.1): 'answers' (the answer "
             "to a write the sensor cannot decode), 'rates' (the reference sensor's choice for start's "
             "rate_hz, null = invalid_value), 'overflow' (which notification carries tx_overflow). "
             "Generated by tools/make_vectors.py.",
    "mtu": {"valid": [[23, 1], [24, 1], [34, 1], [35, 2], [185, 14], [247, 19], [251, 20], [512, 41],
                      [517, 42], [1000, 42]],
            "invalid": [0, 20, 22]},
    "vectors": vectors,
    "answers": answers,
    "rates": {"supported_millihz": REFERENCE_RATES_MHZ, "rule": "lowest r with round_half_up(r) >= rate_hz",
              "cases": rates},
    "overflow": overflow,
}


def render() -> str:
    """JSON with one line per vector field: diffs stay readable, long sample lists stay on one line."""
    def obj(d: dict[str, Any], indent: str) -> str:
        items = [f'{indent} {json.dumps(k)}: {json.dumps(v)}' for k, v in d.items()]
        return indent + "{\n" + ",\n".join(items) + "\n" + indent + "}"

    tail = ("vectors", "answers", "rates", "overflow")
    head = {k: v for k, v in DOC.items() if k not in tail}
    lines = [f' {json.dumps(k)}: {json.dumps(v)},' for k, v in head.items()]
    body = ",\n".join(obj(v, "  ") for v in vectors)
    answers_body = ",\n".join("  " + json.dumps(a) for a in answers)
    overflow_body = ",\n".join("  " + json.dumps(o) for o in overflow)
    return ("{\n" + "\n".join(lines) + '\n "vectors": [\n' + body + "\n ],\n"
            + ' "answers": [\n' + answers_body + "\n ],\n"
            + f' "rates": {json.dumps(DOC["rates"])},\n'
            + ' "overflow": [\n' + overflow_body + "\n ]\n}\n")


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {len(vectors)} vectors to {OUT}")
