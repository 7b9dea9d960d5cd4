"""Constants of the imu-hinge sensor protocol, version 1 (``firmware_protocol/SPEC.md``).

The numbers live here, in code; ``tests/test_protocol_vectors.py`` checks that they equal
``firmware_protocol/protocol.json`` and the C header ``firmware_protocol/c/imu_proto.h``
is checked against the same file by ``tests/test_protocol_c_codec.py``.

All multi-byte fields are little-endian. A data notification (``HEADER_SIZE + n * SAMPLE_SIZE``
bytes, ``1 <= n <= MAX_SAMPLES_PER_NOTIFICATION``)::

    offset  size  type  field
    0       1     u8    bits 7..4 protocol version (1), bits 3..0 flags (FLAG_*)
    1       1     u8    sample count n
    2       2     u16   index of the first sample (wraps at 2**16)
    4       4     u32   device clock at the first sample, microseconds (wraps at 2**32)
    8       12*n  i16   samples: acc_x acc_y acc_z gyr_x gyr_y gyr_z, raw LSB

The header is 8 bytes so that one 12-byte sample fits the 20-byte payload of the minimum
ATT MTU of 23 (``MTU - 3`` bytes per notification).
"""

from __future__ import annotations

from typing import Literal

from imu_hinge.errors import ProtocolDecodeError as ProtocolDecodeError  # re-export: it lives in the one exception tree
from imu_hinge.samples import STANDARD_GRAVITY_M_S2 as STANDARD_GRAVITY_M_S2  # protocol.json states the same value

PROTOCOL_VERSION = 1
"""Version in every data notification, the info characteristic and the advertisement."""

# --- GATT ---------------------------------------------------------------------------------
_BASE = "-2f55-4d6c-91c2-33a6f7cdcedf"
SERVICE_UUID = "6a170001" + _BASE
DATA_CHAR_UUID = "6a170002" + _BASE
"""Notify: data notifications (header + samples)."""
CONTROL_CHAR_UUID = "6a170003" + _BASE
"""Write (with or without response): commands. Notify: one response per command."""
INFO_CHAR_UUID = "6a170004" + _BASE
"""Read: scale factors, rate, ranges, role, firmware and protocol version (``INFO_SIZE`` bytes)."""

_SIG = "-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f" + _SIG
BATTERY_LEVEL_CHAR_UUID = "00002a19" + _SIG
DEVICE_INFORMATION_SERVICE_UUID = "0000180a" + _SIG
MANUFACTURER_NAME_CHAR_UUID = "00002a29" + _SIG
MODEL_NUMBER_CHAR_UUID = "00002a24" + _SIG
SERIAL_NUMBER_CHAR_UUID = "00002a25" + _SIG
HARDWARE_REVISION_CHAR_UUID = "00002a27" + _SIG
FIRMWARE_REVISION_CHAR_UUID = "00002a26" + _SIG

# --- data notification ---------------------------------------------------------------------
ATT_OVERHEAD_BYTES = 3
"""ATT opcode + handle: a notification carries at most ``MTU - 3`` bytes of value."""
MIN_MTU = 23
MAX_MTU = 517
HEADER_SIZE = 8
SAMPLE_SIZE = 12
AXES_PER_SAMPLE = 6
MAX_SAMPLES_PER_NOTIFICATION = 42
"""``(MAX_MTU - 3 - HEADER_SIZE) // SAMPLE_SIZE``: the most a notification may carry."""
MAX_NOTIFICATION_SIZE = HEADER_SIZE + MAX_SAMPLES_PER_NOTIFICATION * SAMPLE_SIZE
INDEX_MODULUS = 1 << 16
DEVICE_TIME_MODULUS = 1 << 32

FLAG_TX_OVERFLOW = 0x01
"""Samples were dropped from the firmware's transmit buffer just before this notification."""
FLAG_CLIPPED = 0x02
"""At least one axis of one sample in this notification is at -32768 or +32767."""
FLAG_HAPTIC_ACTIVE = 0x04
"""The vibration motor was driven while at least one sample in this notification was taken."""
FLAG_RESERVED = 0x08
"""Written as 0, ignored by readers."""

RAW_MIN = -32768
RAW_MAX = 32767

# --- info characteristic -------------------------------------------------------------------
INFO_SIZE = 20
"""Info layout (readers accept longer values and ignore the extra bytes)::

    0  u8   protocol version        4  u32  rate, millihertz      16 u8   acc range, g
    1  u8   firmware major          8  f32  acc m/s^2 per LSB     17 u16  gyro range, deg/s
    2  u8   firmware minor          12 f32  gyro rad/s per LSB    19 u8   role
    3  u8   firmware patch
"""

ROLES: dict[str, int] = {"unassigned": 0, "sacrum": 1, "thoracic": 2}
ROLE_NAMES: dict[int, str] = {v: k for k, v in ROLES.items()}
RoleName = Literal["unassigned", "sacrum", "thoracic"]

ACC_MG_PER_LSB: dict[int, float] = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
"""LSM6DS3TR-C accelerometer sensitivity per full-scale range (datasheet Table 3)."""
GYR_MDPS_PER_LSB: dict[int, float] = {125: 4.375, 250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}
"""LSM6DS3TR-C gyroscope sensitivity per full-scale range (datasheet Table 3)."""
DEFAULT_RATE_HZ = 104
REFERENCE_RATES_MILLIHZ = (12_500, 26_000, 52_000, 104_000, 208_000, 416_000)
"""The reference sensor's rates (LSM6DS3TR-C output data rates up to the v1 maximum), mHz."""
MAX_RATE_HZ = 416
"""No v1 sensor streams faster (SPEC.md §5): ``start`` above it is answered ``invalid_value``."""
NO_OPCODE = 0
"""The opcode in answers to writes without a valid opcode: empty, 0x00 or 0x80..0xFF (SPEC.md §6)."""
DEFAULT_ACC_RANGE_G = 8
DEFAULT_GYR_RANGE_DPS = 1000

# --- commands (control characteristic) -------------------------------------------------------
OPCODES: dict[str, int] = {
    "start": 0x01, "stop": 0x02, "haptic": 0x03, "time_ping": 0x04, "identify": 0x05, "set_role": 0x06,
}
OPCODE_NAMES: dict[int, str] = {v: k for k, v in OPCODES.items()}
COMMAND_SIZES: dict[str, int] = {
    "start": 6, "stop": 1, "haptic": 7, "time_ping": 5, "identify": 3, "set_role": 2,
}
RESPONSE_BIT = 0x80
"""A response's byte 0 is ``RESPONSE_BIT | opcode`` of the command it answers."""
RESPONSE_SIZE = 2
TIME_PING_RESPONSE_SIZE = 10
STATUSES: dict[str, int] = {
    "ok": 0, "unknown_opcode": 1, "bad_length": 2, "invalid_value": 3, "invalid_state": 4,
}
STATUS_NAMES: dict[int, str] = {v: k for k, v in STATUSES.items()}

# --- advertisement ---------------------------------------------------------------------------
ADV_FLAGS = 0x06
"""LE General Discoverable, BR/EDR not supported."""
ADV_COMPANY_ID = 0xFFFF
"""Bluetooth SIG 'no company' test ID; a shipping product must use its own assigned ID."""
ADV_PAYLOAD_SIZE = 4
"""Manufacturer data payload after the company ID: version, role, battery %, status bits."""
ADV_DATA_SIZE = 29
ADV_STATUS_STREAMING = 0x01
BATTERY_UNKNOWN = 0xFF

# --- errors ----------------------------------------------------------------------------------
ErrorKind = Literal[
    "truncated", "wrong_version", "bad_count", "length_mismatch", "invalid_value", "unknown_opcode",
    "missing_field",
]
ERROR_KINDS: tuple[str, ...] = (
    "truncated", "wrong_version", "bad_count", "length_mismatch", "invalid_value", "unknown_opcode",
    "missing_field",
)


def check_version(buf: bytes, what: str, *, empty: str = "", version_shift: int = 0) -> None:
    """The first two rules of every decoder, in order: not empty (``truncated``: "empty ``empty or what``"),
    then the protocol version in byte 0, above ``version_shift`` bits (``wrong_version``)."""
    if not buf:
        raise ProtocolDecodeError("truncated", f"empty {empty or what}")
    version = buf[0] >> version_shift
    if version != PROTOCOL_VERSION:
        raise ProtocolDecodeError("wrong_version",
                                  f"{what} has protocol version {version}, expected {PROTOCOL_VERSION}")
