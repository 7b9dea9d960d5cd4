"""The advertisement: the service UUID plus the sensor's role in manufacturer data.

macOS hides MAC addresses, so the host finds "the sacrum sensor" by what it advertises.
Advertising data (29 of 31 bytes; the name goes in the scan response)::

    02 01 06                      Flags: LE General Discoverable, BR/EDR not supported
    11 07 <16 bytes>              Complete list of 128-bit service UUIDs: SERVICE_UUID, little-endian
    07 ff ff ff <4 bytes>         Manufacturer data, company 0xFFFF, payload:
                                    0 u8 protocol version (1)
                                    1 u8 role (0 unassigned, 1 sacrum, 2 thoracic)
                                    2 u8 battery % (0..100, 255 = unknown)
                                    3 u8 status bits: 0x01 streaming (others reserved, ignored)

Payloads longer than 4 bytes are accepted (extra bytes ignored). bleak hands the payload over
as ``AdvertisementData.manufacturer_data[0xFFFF]``: use :func:`decode_advertisement`.
Decoding a raw advertisement: an AD structure running past the end -> ``truncated`` (a zero
length byte ends the data); no service UUID or no 0xFFFF manufacturer data -> ``missing_field``;
then the payload: empty -> ``truncated``, version -> ``wrong_version``, short -> ``truncated``,
role or battery out of range -> ``invalid_value``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imu_hinge.protocol.spec import (
    ADV_COMPANY_ID,
    ADV_FLAGS,
    ADV_PAYLOAD_SIZE,
    ADV_STATUS_STREAMING,
    BATTERY_UNKNOWN,
    PROTOCOL_VERSION,
    ROLE_NAMES,
    ROLES,
    SERVICE_UUID,
    ProtocolDecodeError,
    check_version,
)

_AD_FLAGS = 0x01
_AD_UUID128_INCOMPLETE = 0x06
_AD_UUID128_COMPLETE = 0x07
_AD_MANUFACTURER = 0xFF
SERVICE_UUID_LE = uuid.UUID(SERVICE_UUID).bytes[::-1]
"""The service UUID as it appears on air (and in Nordic/Bluefruit ``uuid128[]`` arrays)."""


@dataclass(frozen=True)
class AdvertisementInfo:
    """What a sensor advertises: its role, battery level (``None`` if unknown), whether it streams."""

    role: str = "unassigned"
    battery_percent: int | None = None
    streaming: bool = False
    protocol_version: int = PROTOCOL_VERSION


def encode_adv_payload(info: AdvertisementInfo) -> bytes:
    """The 4-byte manufacturer-data payload (after the company ID)."""
    if info.protocol_version != PROTOCOL_VERSION:
        raise ValueError(f"this codec writes protocol version {PROTOCOL_VERSION} only")
    if info.role not in ROLES:
        raise ValueError(f"unknown role {info.role!r}")
    battery = BATTERY_UNKNOWN if info.battery_percent is None else info.battery_percent
    if not 0 <= battery <= 100 and battery != BATTERY_UNKNOWN:
        raise ValueError(f"battery_percent must be 0..100 or None, got {info.battery_percent}")
    return bytes([info.protocol_version, ROLES[info.role], battery,
                  ADV_STATUS_STREAMING if info.streaming else 0])


def decode_adv_payload(payload: bytes | bytearray | memoryview) -> AdvertisementInfo:
    """Decode the manufacturer-data payload (company ID already removed)."""
    buf = bytes(payload)
    check_version(buf, "advertisement", empty="advertisement payload")
    if len(buf) < ADV_PAYLOAD_SIZE:
        raise ProtocolDecodeError(
            "truncated", f"advertisement payload of {len(buf)} bytes, need {ADV_PAYLOAD_SIZE}")
    role, battery, status = buf[1], buf[2], buf[3]
    if role not in ROLE_NAMES:
        raise ProtocolDecodeError("invalid_value",
                                  f"advertised role {role} is not one of {sorted(ROLE_NAMES)}")
    if battery > 100 and battery != BATTERY_UNKNOWN:
        raise ProtocolDecodeError("invalid_value",
                                  f"advertised battery level {battery} is not 0..100 or 255")
    return AdvertisementInfo(ROLE_NAMES[role], None if battery == BATTERY_UNKNOWN else battery,
                             bool(status & ADV_STATUS_STREAMING), buf[0])


def encode_advertising_data(info: AdvertisementInfo) -> bytes:
    """The full 29-byte advertising data (flags, service UUID, manufacturer data)."""
    mfr = ADV_COMPANY_ID.to_bytes(2, "little") + encode_adv_payload(info)
    return (bytes([2, _AD_FLAGS, ADV_FLAGS, 17, _AD_UUID128_COMPLETE]) + SERVICE_UUID_LE
            + bytes([len(mfr) + 1, _AD_MANUFACTURER]) + mfr)


def decode_advertising_data(data: bytes | bytearray | memoryview) -> AdvertisementInfo:
    """Decode raw advertising (or advertising + scan response) data of an imu-hinge sensor."""
    buf = bytes(data)
    has_uuid = False
    payload: bytes | None = None
    pos = 0
    while pos < len(buf):
        length = buf[pos]
        if length == 0:
            break
        if pos + 1 + length > len(buf):
            raise ProtocolDecodeError(
                "truncated", f"advertising data structure at byte {pos} runs past the end ({length} bytes)")
        ad_type, value = buf[pos + 1], buf[pos + 2:pos + 1 + length]
        if ad_type in (_AD_UUID128_INCOMPLETE, _AD_UUID128_COMPLETE):
            chunks = (value[i:i + 16] for i in range(0, len(value) - 15, 16))
            has_uuid = has_uuid or SERVICE_UUID_LE in chunks
        elif (ad_type == _AD_MANUFACTURER and payload is None and len(value) >= 2
              and int.from_bytes(value[:2], "little") == ADV_COMPANY_ID):
            payload = value[2:]
        pos += 1 + length
    if not has_uuid:
        raise ProtocolDecodeError("missing_field",
                                  "advertising data does not list the imu-hinge service UUID")
    if payload is None:
        raise ProtocolDecodeError("missing_field", "advertising data has no 0xFFFF manufacturer data")
    return decode_adv_payload(payload)


def decode_advertisement(service_uuids: Iterable[str],
                         manufacturer_data: Mapping[int, bytes]) -> AdvertisementInfo:
    """Decode bleak's ``AdvertisementData.service_uuids`` / ``.manufacturer_data`` of a sensor."""
    if SERVICE_UUID not in {u.lower() for u in service_uuids}:
        raise ProtocolDecodeError("missing_field", "advertisement does not list the imu-hinge service UUID")
    if ADV_COMPANY_ID not in manufacturer_data:
        raise ProtocolDecodeError("missing_field", "advertisement has no 0xFFFF manufacturer data")
    return decode_adv_payload(manufacturer_data[ADV_COMPANY_ID])
