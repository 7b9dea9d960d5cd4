"""Helpers for running ``firmware_protocol/vectors.json`` against this codec (and others).

A vector's ``kind`` names a message type; :func:`decode` and :func:`encode` dispatch on it and
:func:`fields` flattens a decoded object to the ``expect`` dictionary the vectors hold
(roles and statuses as names, floats as float32 values, samples as lists of six ints).
:func:`format_fields` renders such a dictionary as the one-line ``ok key=value ...`` form the
C harness (``firmware_protocol/c/test/test_vectors_main.c``) prints, so outputs compare as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imu_hinge.protocol.advertising import AdvertisementInfo, decode_advertising_data, encode_advertising_data
from imu_hinge.protocol.codec import DataPacket, decode_notification, encode_notification
from imu_hinge.protocol.commands import (
    Command,
    CommandResponse,
    SetRoleCommand,
    decode_command,
    decode_response,
    encode_command,
    encode_response,
)
from imu_hinge.protocol.info import SensorInfo, decode_info, encode_info
from imu_hinge.protocol.spec import PROTOCOL_VERSION

KINDS = ("notification", "info", "command", "response", "advertisement")
Decoded = DataPacket | SensorInfo | Command | CommandResponse | AdvertisementInfo


def default_vectors_path() -> Path:
    """``firmware_protocol/vectors.json`` of a source checkout."""
    return Path(__file__).resolve().parents[2] / "firmware_protocol" / "vectors.json"


def load_vectors(path: Path | None = None) -> dict[str, Any]:
    return dict(json.loads((path or default_vectors_path()).read_text(encoding="utf-8")))


def decode(kind: str, data: bytes) -> Decoded:
    """Decode ``data`` as a message of this ``kind`` (raises ``ProtocolDecodeError``)."""
    if kind == "notification":
        return decode_notification(data)
    if kind == "info":
        return decode_info(data)
    if kind == "command":
        return decode_command(data)
    if kind == "response":
        return decode_response(data)
    if kind == "advertisement":
        return decode_advertising_data(data)
    raise ValueError(f"unknown vector kind {kind!r}")


def encode(obj: Decoded) -> bytes:
    """Encode any decoded object back to bytes (advertisements as the canonical 29 bytes)."""
    if isinstance(obj, DataPacket):
        return encode_notification(obj)
    if isinstance(obj, SensorInfo):
        return encode_info(obj)
    if isinstance(obj, CommandResponse):
        return encode_response(obj)
    if isinstance(obj, AdvertisementInfo):
        return encode_advertising_data(obj)
    return encode_command(obj)


def fields(obj: Decoded) -> dict[str, Any]:
    """The vectors' ``expect`` dictionary for a decoded object."""
    if isinstance(obj, DataPacket):
        return {"version": PROTOCOL_VERSION, "flags": obj.flags, "tx_overflow": obj.tx_overflow,
                "clipped": obj.clipped, "haptic_active": obj.haptic_active, "count": obj.count,
                "first_index": obj.first_index, "device_time_us": obj.device_time_us,
                "samples": obj.raw.tolist()}
    if isinstance(obj, SensorInfo):
        return {"protocol_version": obj.protocol_version, "firmware_version": list(obj.firmware_version),
                "rate_millihz": obj.rate_millihz, "acc_m_s2_per_lsb": obj.acc_m_s2_per_lsb,
                "gyr_rad_s_per_lsb": obj.gyr_rad_s_per_lsb, "acc_range_g": obj.acc_range_g,
                "gyr_range_dps": obj.gyr_range_dps, "role": obj.role}
    if isinstance(obj, CommandResponse):
        out: dict[str, Any] = {"opcode": obj.opcode, "status": obj.status}
        if obj.carries_time:
            out.update(token=obj.token, device_time_us=obj.device_time_us)
        return out
    if isinstance(obj, AdvertisementInfo):
        return {"protocol_version": obj.protocol_version, "role": obj.role,
                "battery_percent": obj.battery_percent, "streaming": obj.streaming}
    params = {"role": obj.role} if isinstance(obj, SetRoleCommand) else vars(obj)
    return {"command": obj.name, **params}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)


def format_fields(kind: str, expect: dict[str, Any]) -> str:
    """``ok key=value ...`` exactly as the C harness prints a decoded message (without ``reencode``)."""
    parts = []
    for key, value in expect.items():
        if kind == "notification" and key == "samples":
            text = ";".join(",".join(str(v) for v in s) for s in value)
        elif kind == "info" and key == "firmware_version":
            text = ".".join(str(v) for v in value)
        else:
            text = _text(value)
        parts.append(f"{key}={text}")
    return " ".join(["ok", *parts])
