"""The info characteristic (scale factors, rate, ranges, role, versions) and SI conversion.

Layout, little-endian, ``INFO_SIZE`` = 20 bytes (longer values are accepted, the rest ignored)::

    offset  size  type  field
    0       1     u8    protocol version (1)
    1       3     u8    firmware version major, minor, patch
    4       4     u32   rate_millihz: nominal sample rate in millihertz (104000 = 104 Hz), > 0
    8       4     f32   acc_m_s2_per_lsb, finite and > 0
    12      4     f32   gyr_rad_s_per_lsb, finite and > 0
    16      1     u8    acc_range_g (full scale, +-g), > 0
    17      2     u16   gyr_range_dps (full scale, +-deg/s), > 0
    19      1     u8    role: 0 unassigned, 1 sacrum, 2 thoracic

Decoding order: empty -> ``truncated``; byte 0 -> ``wrong_version``; < 20 bytes -> ``truncated``;
a field out of range -> ``invalid_value``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from imu_hinge.protocol.codec import DataPacket
from imu_hinge.protocol.spec import (
    ACC_MG_PER_LSB,
    DEFAULT_ACC_RANGE_G,
    DEFAULT_GYR_RANGE_DPS,
    DEFAULT_RATE_HZ,
    GYR_MDPS_PER_LSB,
    INFO_SIZE,
    PROTOCOL_VERSION,
    ROLE_NAMES,
    ROLES,
    STANDARD_GRAVITY_M_S2,
    ProtocolDecodeError,
    check_version,
)

_INFO = struct.Struct("<BBBBIffBHB")
_F32_MAX = float(np.finfo(np.float32).max)

def acc_m_s2_per_lsb(acc_range_g: int) -> float:
    """LSM6DS3TR-C accelerometer scale factor for a full-scale range (2, 4, 8, 16 g)."""
    return ACC_MG_PER_LSB[acc_range_g] * 1e-3 * STANDARD_GRAVITY_M_S2


def gyr_rad_s_per_lsb(gyr_range_dps: int) -> float:
    """LSM6DS3TR-C gyroscope scale factor for a full-scale range (125 .. 2000 deg/s)."""
    return math.radians(GYR_MDPS_PER_LSB[gyr_range_dps] * 1e-3)


@dataclass(frozen=True)
class SensorInfo:
    """The info characteristic: what a raw LSB means and how fast samples come.

    Scale factors travel as float32; ``rate_millihz`` is the nominal sample rate in
    millihertz (104000 for 104 Hz); the true rate follows the sensor's own oscillator.
    """

    rate_millihz: int
    acc_m_s2_per_lsb: float
    gyr_rad_s_per_lsb: float
    acc_range_g: int
    gyr_range_dps: int
    role: str = "unassigned"
    firmware_version: tuple[int, int, int] = (0, 0, 0)
    protocol_version: int = PROTOCOL_VERSION

    @property
    def rate_hz(self) -> float:
        return self.rate_millihz / 1000.0

    @classmethod
    def lsm6ds3(cls, *, role: str = "unassigned", rate_hz: float = DEFAULT_RATE_HZ,
                acc_range_g: int = DEFAULT_ACC_RANGE_G, gyr_range_dps: int = DEFAULT_GYR_RANGE_DPS,
                firmware_version: tuple[int, int, int] = (1, 0, 0)) -> SensorInfo:
        """What the reference firmware (LSM6DS3TR-C) reports for these settings."""
        return cls(round(rate_hz * 1000), _f32(acc_m_s2_per_lsb(acc_range_g)),
                   _f32(gyr_rad_s_per_lsb(gyr_range_dps)), acc_range_g, gyr_range_dps, role,
                   firmware_version)


def _f32(x: float) -> float:
    return float(np.float32(x))


def _info_problem(rate_millihz: int, acc: float, gyr: float, acc_range_g: int, gyr_range_dps: int,
                  role: int) -> str | None:
    if rate_millihz == 0:
        return "rate is 0"
    for name, v in (("acc m/s^2 per LSB", acc), ("gyro rad/s per LSB", gyr)):
        if not 0.0 < v <= _F32_MAX:
            return f"{name} {v} is not a positive finite number"
    if acc_range_g == 0 or gyr_range_dps == 0:
        return "a full-scale range is 0"
    if role not in ROLE_NAMES:
        return f"role {role} is not one of {sorted(ROLE_NAMES)}"
    return None


def encode_info(info: SensorInfo) -> bytes:
    """The 20 bytes of the info characteristic."""
    if info.protocol_version != PROTOCOL_VERSION:
        raise ValueError(f"this codec writes protocol version {PROTOCOL_VERSION} only")
    if info.role not in ROLES:
        raise ValueError(f"unknown role {info.role!r}")
    try:
        packed = _INFO.pack(info.protocol_version, *info.firmware_version, info.rate_millihz,
                            info.acc_m_s2_per_lsb, info.gyr_rad_s_per_lsb, info.acc_range_g,
                            info.gyr_range_dps, ROLES[info.role])
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"info field out of range: {exc}") from None
    fields = _INFO.unpack(packed)
    problem = _info_problem(fields[4], fields[5], fields[6], fields[7], fields[8], fields[9])
    if problem:
        raise ValueError(f"invalid info: {problem}")
    return packed


def decode_info(data: bytes | bytearray | memoryview) -> SensorInfo:
    """Decode the info characteristic; raises ``ProtocolDecodeError`` (a ``DecodeError``)."""
    buf = bytes(data)
    check_version(buf, "info characteristic")
    if len(buf) < INFO_SIZE:
        raise ProtocolDecodeError("truncated", f"info characteristic of {len(buf)} bytes, need {INFO_SIZE}")
    ver, fw_major, fw_minor, fw_patch, rate, acc, gyr, acc_range, gyr_range, role = _INFO.unpack_from(buf)
    problem = _info_problem(rate, acc, gyr, acc_range, gyr_range, role)
    if problem:
        raise ProtocolDecodeError("invalid_value", f"invalid info characteristic: {problem}")
    return SensorInfo(rate, acc, gyr, acc_range, gyr_range, ROLE_NAMES[role], (fw_major, fw_minor, fw_patch),
                      ver)


def raw_to_si(raw: ArrayLike, info: SensorInfo) -> tuple[np.ndarray, np.ndarray]:
    """(N, 6) raw LSB -> (acc_m_s2 (N, 3), gyr_rad_s (N, 3)) float64, scaled by ``info``."""
    r = np.asarray(raw, dtype=np.float64).reshape(-1, 6)
    return r[:, :3] * info.acc_m_s2_per_lsb, r[:, 3:] * info.gyr_rad_s_per_lsb


def packet_to_si(packet: DataPacket, info: SensorInfo) -> tuple[np.ndarray, np.ndarray]:
    """A packet's samples in SI units: (acc_m_s2 (n, 3), gyr_rad_s (n, 3)) float64."""
    return raw_to_si(packet.raw, info)


RAW_LIMIT = 32767
"""The largest int16 LSB value (the smallest is ``-RAW_LIMIT - 1``)."""


def quantise_values(acc_m_s2: np.ndarray, gyr_rad_s: np.ndarray, info: SensorInfo) -> np.ndarray:
    """(N, 6) int16 LSB of accelerometer and gyro values (N, 3) with ``info``'s scale factors."""
    acc = np.rint(acc_m_s2 / info.acc_m_s2_per_lsb)
    gyr = np.rint(gyr_rad_s / info.gyr_rad_s_per_lsb)
    return np.clip(np.hstack([acc, gyr]), -RAW_LIMIT - 1, RAW_LIMIT).astype(np.int16)
