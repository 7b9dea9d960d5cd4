"""Data notifications: encode, decode, MTU sizing.

Data notification (little-endian, ``8 + 12 * n`` bytes, ``1 <= n <= 42``)::

    offset  size  type  field
    0       1     u8    bits 7..4 version (1); bits 3..0 flags: 0x1 tx overflow, 0x2 clipped,
                        0x4 haptic active, 0x8 reserved (ignored)
    1       1     u8    n, the sample count
    2       2     u16   first_index: index of sample 0; sample k has index (first_index + k) % 2**16
    4       4     u32   device_time_us: device clock when sample 0 was taken (wraps at 2**32 us)
    8+12k   12    6*i16 sample k: acc_x, acc_y, acc_z, gyr_x, gyr_y, gyr_z (raw LSB)

Decoders check in this order and raise :class:`ProtocolDecodeError` (a ``DecodeError``) with
the first failing kind: empty -> ``truncated``; version -> ``wrong_version``; short header ->
``truncated``; count 0 or > 42 -> ``bad_count``; short -> ``truncated``; long -> ``length_mismatch``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from imu_hinge.protocol.spec import (
    ATT_OVERHEAD_BYTES,
    DEVICE_TIME_MODULUS,
    FLAG_CLIPPED,
    FLAG_HAPTIC_ACTIVE,
    FLAG_TX_OVERFLOW,
    HEADER_SIZE,
    INDEX_MODULUS,
    MAX_SAMPLES_PER_NOTIFICATION,
    MIN_MTU,
    PROTOCOL_VERSION,
    RAW_MAX,
    RAW_MIN,
    SAMPLE_SIZE,
    ProtocolDecodeError,
    check_version,
)

_HEADER = struct.Struct("<BBHI")


def samples_per_notification(mtu: int) -> int:
    """How many samples one notification carries at this ATT MTU: ``(mtu - 3 - 8) // 12``, at most 42.

    MTU 23 -> 1, MTU 185 -> 14, MTU 247 -> 19, MTU 517 -> 42. Raises ``ValueError`` below 23.
    """
    if mtu < MIN_MTU:
        raise ValueError(f"ATT MTU {mtu} is below the minimum of {MIN_MTU}")
    return min(MAX_SAMPLES_PER_NOTIFICATION, (mtu - ATT_OVERHEAD_BYTES - HEADER_SIZE) // SAMPLE_SIZE)


def notification_size(count: int) -> int:
    """Bytes in a notification carrying ``count`` samples: ``8 + 12 * count``."""
    return HEADER_SIZE + SAMPLE_SIZE * count


def clipped_mask(raw: ArrayLike) -> np.ndarray:
    """(N,) bool: samples with any axis of the (N, 6) raw array at -32768 or +32767."""
    r = np.asarray(raw)
    return np.any((r == RAW_MIN) | (r == RAW_MAX), axis=1)


@dataclass(frozen=True, eq=False)
class DataPacket:
    """One decoded data notification.

    ``raw`` is (n, 6) int16: acc_x, acc_y, acc_z, gyr_x, gyr_y, gyr_z in LSB. ``first_index``
    (0..65535) and ``device_time_us`` (0..2**32-1) are the wrapped values as sent; unwrap them
    with :class:`~imu_hinge.protocol.unwrap.SampleIndexUnwrapper` / ``DeviceClockUnwrapper``.
    ``flags`` keeps all four flag bits (the reserved one too) so a packet re-encodes exactly.
    """

    first_index: int
    device_time_us: int
    raw: np.ndarray
    flags: int = 0
    version: int = field(default=PROTOCOL_VERSION)

    @classmethod
    def build(cls, first_index: int, device_time_us: int, raw: ArrayLike, *, tx_overflow: bool = False,
              haptic_active: bool = False, clipped: bool | None = None) -> DataPacket:
        """A packet from (possibly unwrapped) counters and raw samples, as the firmware makes it.

        ``first_index`` and ``device_time_us`` are reduced modulo 2**16 and 2**32; ``clipped``
        defaults to "any axis at the int16 limits".
        """
        arr = np.asarray(raw)
        if arr.ndim != 2 or arr.shape[1] != 6:
            raise ValueError(f"raw samples must have shape (n, 6), got {arr.shape}")
        if arr.size and (arr.min() < RAW_MIN or arr.max() > RAW_MAX):
            raise ValueError("raw samples must fit int16")
        if first_index < 0 or device_time_us < 0:
            raise ValueError("first_index and device_time_us must be non-negative")
        if clipped is None:
            clipped = bool(clipped_mask(arr).any())
        flags = ((FLAG_TX_OVERFLOW if tx_overflow else 0) | (FLAG_CLIPPED if clipped else 0)
                 | (FLAG_HAPTIC_ACTIVE if haptic_active else 0))
        return cls(first_index % INDEX_MODULUS, device_time_us % DEVICE_TIME_MODULUS,
                   arr.astype(np.int16), flags)

    @property
    def count(self) -> int:
        return int(self.raw.shape[0])

    @property
    def tx_overflow(self) -> bool:
        return bool(self.flags & FLAG_TX_OVERFLOW)

    @property
    def clipped(self) -> bool:
        return bool(self.flags & FLAG_CLIPPED)

    @property
    def haptic_active(self) -> bool:
        return bool(self.flags & FLAG_HAPTIC_ACTIVE)

    @property
    def acc_raw(self) -> np.ndarray:
        """(n, 3) int16 accelerometer LSB."""
        return self.raw[:, :3]

    @property
    def gyr_raw(self) -> np.ndarray:
        """(n, 3) int16 gyroscope LSB."""
        return self.raw[:, 3:]

    def sample_indices(self) -> np.ndarray:
        """(n,) wrapped indices (0..65535) of the samples, wrapping inside the packet if needed."""
        return (self.first_index + np.arange(self.count, dtype=np.int64)) % INDEX_MODULUS


def encode_notification(packet: DataPacket) -> bytes:
    """Bytes of one data notification (layout in the module docstring)."""
    n = packet.count
    if not 1 <= n <= MAX_SAMPLES_PER_NOTIFICATION:
        raise ValueError(f"a notification carries 1..{MAX_SAMPLES_PER_NOTIFICATION} samples, got {n}")
    if packet.version != PROTOCOL_VERSION:
        raise ValueError(f"this codec writes protocol version {PROTOCOL_VERSION} only")
    if not 0 <= packet.flags <= 0x0F:
        raise ValueError(f"flags must fit 4 bits, got {packet.flags:#x}")
    if not 0 <= packet.first_index < INDEX_MODULUS or not 0 <= packet.device_time_us < DEVICE_TIME_MODULUS:
        raise ValueError("first_index must fit u16 and device_time_us u32 (use DataPacket.build to wrap)")
    raw = np.asarray(packet.raw)
    if raw.shape != (n, 6) or (raw.size and (raw.min() < RAW_MIN or raw.max() > RAW_MAX)):
        raise ValueError("raw samples must be int16 of shape (n, 6)")
    b0 = (PROTOCOL_VERSION << 4) | packet.flags
    header = _HEADER.pack(b0, n, packet.first_index, packet.device_time_us)
    return header + raw.astype("<i2").tobytes()


def decode_notification(data: bytes | bytearray | memoryview) -> DataPacket:
    """Decode one data notification; raises ``ProtocolDecodeError`` (a ``DecodeError``)."""
    buf = bytes(data)
    check_version(buf, "data notification", version_shift=4)
    if len(buf) < HEADER_SIZE:
        raise ProtocolDecodeError("truncated", f"data notification of {len(buf)} bytes is shorter than "
                                               f"its {HEADER_SIZE}-byte header")
    b0, count, first_index, device_time_us = _HEADER.unpack_from(buf)
    if not 1 <= count <= MAX_SAMPLES_PER_NOTIFICATION:
        raise ProtocolDecodeError(
            "bad_count",
            f"data notification sample count {count} is outside 1..{MAX_SAMPLES_PER_NOTIFICATION}")
    expected = notification_size(count)
    if len(buf) < expected:
        raise ProtocolDecodeError(
            "truncated", f"data notification with {count} samples needs {expected} bytes, got {len(buf)}")
    if len(buf) > expected:
        raise ProtocolDecodeError(
            "length_mismatch",
            f"data notification with {count} samples needs {expected} bytes, got {len(buf)}")
    raw = np.frombuffer(buf, dtype="<i2", count=count * 6, offset=HEADER_SIZE).reshape(count, 6)
    return DataPacket(first_index, device_time_us, raw.astype(np.int16), b0 & 0x0F)
