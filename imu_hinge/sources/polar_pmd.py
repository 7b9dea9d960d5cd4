"""Polar Measurement Data (PMD): the GATT protocol of Polar's sensors (Verity Sense, H10, OH1), bytes only.

Written from Polar's public BLE SDK (github.com/polarofficial/polar-ble-sdk, Android sources under
``android-communications/.../gatt/client/pmd``: ``BlePMDClient.kt`` for the UUIDs and the delta
frames, ``PmdControlPointCommand.kt``, ``PmdControlPointResponse.kt``, ``PmdSetting.kt``,
``PmdDataFrame.kt``, ``model/AccData.kt``, ``model/GyrData.kt``, ``model/PmdTimeStampUtils.kt``):

- **Control point** (``FB005C81-…``, read / write / indicate). Reading it gives the features: ``0x0F``
  then a bit mask, bit *n* set when measurement type *n* can stream (ECG 0, PPG 1, ACC 2, PPI 3,
  GYRO 5, MAG 6). Commands: ``[0x01, type]`` get settings, ``[0x02, type, settings…]`` start,
  ``[0x03, type]`` stop. Answers: ``[0xF0, opcode, type, status, more, parameters…]``; status 0 is
  success, the rest are the error codes of :data:`PMD_ERRORS`.
- **Settings**: ``[setting type, count, value…]`` repeated; sample rate 0, resolution 1, range 2
  (uint16 each), range in milli-units 3 (uint32), channels 4 (uint8), factor 5 (float32). The start
  command carries one value of each chosen setting; its answer carries the factor.
- **Data** (``FB005C82-…``, notify): ``[type, timestamp uint64 LE (ns since 2000-01-01, of the
  frame's LAST sample), frame type, content]``. Bit 7 of the frame type marks a delta-compressed
  frame: a reference sample (``channels × ceil(resolution/8)`` bytes, signed LE), then blocks
  ``[delta bit width, sample count, packed deltas]`` (LSB first, signed, each sample the previous
  plus its delta). ACC: raw types 0/1/2 (int8/16/24, mG), compressed type 1 (int16 × factor = mG),
  compressed type 0 (int16 × factor = G). GYRO: compressed type 0 (int16 × factor = deg/s).

Synchronous, no BLE: the link (:mod:`.polar`) and the emulated sensor (:mod:`.polar_emulated`) share it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from imu_hinge.errors import DecodeError

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

ECG, PPG, ACC, PPI, GYRO, MAG = 0, 1, 2, 3, 5, 6
MEASUREMENT_NAMES = {ECG: "ECG", PPG: "PPG", ACC: "accelerometer", PPI: "PPI", GYRO: "gyroscope", MAG: "magnetometer"}
GET_SETTINGS, START, STOP = 1, 2, 3
RESPONSE_CODE = 0xF0
FEATURES_CODE = 0x0F
SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR = 0, 1, 2, 3, 4, 5
_FIELD_SIZE = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1, FACTOR: 4}
PMD_ERRORS = ("success", "invalid op code", "invalid measurement type", "not supported", "invalid length",
              "invalid parameter", "already in state", "invalid resolution", "invalid sample rate", "invalid range",
              "invalid MTU", "invalid number of channels", "invalid state", "device in charger", "disk full")
SUCCESS, ERROR_NOT_SUPPORTED, ERROR_ALREADY_IN_STATE, ERROR_INVALID_SAMPLE_RATE, ERROR_INVALID_MTU = 0, 3, 6, 8, 10
DELTA_BIT = 0x80
POLAR_EPOCH_UNIX_S = 946_684_800
"""2000-01-01T00:00:00Z, the origin of PMD timestamps."""
G_M_S2 = 9.80665
FRAME_HEADER_BYTES = 10


class PmdFrameError(DecodeError):
    """A data frame this decoder cannot read; ``kind`` says why (``unknown_frame_type``, ``truncated``, ...)."""

    data: tuple[str, ...] = ("path", "opcode", "kind")

    def __init__(self, message: str, kind: str, *, path: str | None = None, opcode: int | None = None) -> None:
        super().__init__(message, path=path, opcode=opcode)
        self.kind = kind


# --- control point -------------------------------------------------------------------------
def decode_features(data: bytes) -> set[int]:
    """Measurement types the control point's read value says can stream."""
    if len(data) < 2 or data[0] != FEATURES_CODE:
        raise DecodeError(f"PMD feature read {bytes(data).hex()} does not start with 0x0f")
    mask = int.from_bytes(bytes(data[1:]), "little")
    return {bit for bit in range(8 * (len(data) - 1)) if mask >> bit & 1}


def encode_features(types: set[int] | frozenset[int]) -> bytes:
    mask = sum(1 << t for t in types)
    return bytes([FEATURES_CODE]) + mask.to_bytes(2, "little")


def encode_settings(settings: Mapping[int, tuple[int | float, ...]]) -> bytes:
    """``{setting type: values}`` -> bytes (factor values are floats, the others ints)."""
    out = bytearray()
    for kind, values in settings.items():
        out += bytes([kind, len(values)])
        for v in values:
            out += struct.pack("<f", float(v)) if kind == FACTOR else int(v).to_bytes(_FIELD_SIZE[kind], "little")
    return bytes(out)


def decode_settings(data: bytes) -> dict[int, tuple[int | float, ...]]:
    """Bytes of a settings list -> ``{setting type: values}``; ``DecodeError`` if malformed."""
    out: dict[int, tuple[int | float, ...]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data) or data[i] not in _FIELD_SIZE:
            raise DecodeError(f"PMD settings malformed at byte {i}: {bytes(data).hex()}")
        kind, count = data[i], data[i + 1]
        size = _FIELD_SIZE[kind]
        i += 2
        if i + size * count > len(data):
            raise DecodeError(f"PMD settings truncated: {bytes(data).hex()}")
        values: list[int | float] = []
        for _ in range(count):
            chunk = bytes(data[i:i + size])
            values.append(struct.unpack("<f", chunk)[0] if kind == FACTOR else int.from_bytes(chunk, "little"))
            i += size
        out[kind] = tuple(values)
    return out


def get_settings_command(measurement: int) -> bytes:
    return bytes([GET_SETTINGS, measurement])


def start_command(measurement: int, selected: Mapping[int, int]) -> bytes:
    return bytes([START, measurement]) + encode_settings({k: (v,) for k, v in selected.items()})


def stop_command(measurement: int) -> bytes:
    return bytes([STOP, measurement])


@dataclass(frozen=True)
class PmdResponse:
    """One control point answer. ``parameters`` are the settings bytes (get settings, start)."""

    opcode: int
    measurement: int
    status: int
    more: bool = False
    parameters: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS

    @property
    def error(self) -> str:
        return PMD_ERRORS[self.status] if self.status < len(PMD_ERRORS) else f"error {self.status}"


def encode_response(resp: PmdResponse) -> bytes:
    return bytes([RESPONSE_CODE, resp.opcode, resp.measurement, resp.status, int(resp.more)]) + resp.parameters


def decode_response(data: bytes) -> PmdResponse:
    if len(data) < 4 or data[0] != RESPONSE_CODE:
        raise DecodeError(f"not a PMD control point answer: {bytes(data).hex()}")
    more = len(data) > 4 and data[4] != 0
    return PmdResponse(data[1], data[2], data[3], more, bytes(data[5:]) if data[3] == SUCCESS else b"")


# --- data frames ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PmdFrame:
    """One data notification: ``values`` (n, channels) int64 device integers; ``timestamp_ns`` of the last."""

    measurement: int
    timestamp_ns: int
    frame_type: int
    values: np.ndarray = field(repr=False)

    @property
    def compressed(self) -> bool:
        return bool(self.frame_type & DELTA_BIT)

    def __len__(self) -> int:
        return int(self.values.shape[0])


# (measurement, frame type byte) -> (bytes per channel of a raw sample / of the reference, unit per integer)
FRAME_TYPES: dict[tuple[int, int], tuple[int, str]] = {
    (ACC, 0x00): (1, "mG"), (ACC, 0x01): (2, "mG"), (ACC, 0x02): (3, "mG"),
    (ACC, 0x80): (2, "G*factor"), (ACC, 0x81): (2, "mG*factor"), (GYRO, 0x80): (2, "deg/s*factor"),
}
CHANNELS_XYZ = 3


def _signed(values: np.ndarray, bits: int) -> np.ndarray:
    sign = np.int64(1) << (bits - 1)
    return (values ^ sign) - sign


def unpack_deltas(data: bytes, width: int, count: int) -> np.ndarray:
    """``count`` samples of 3 signed ``width``-bit deltas, packed LSB first -> (count, 3) int64."""
    n = count * CHANNELS_XYZ
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[:n * width]
    weights = np.int64(1) << np.arange(width, dtype=np.int64)
    raw = (bits.reshape(n, width).astype(np.int64) * weights).sum(axis=1)
    return _signed(raw, width).reshape(count, CHANNELS_XYZ)


def pack_deltas(deltas: np.ndarray, width: int) -> bytes:
    """Inverse of :func:`unpack_deltas`."""
    flat = np.asarray(deltas, dtype=np.int64).reshape(-1) & ((np.int64(1) << width) - 1)
    bits = ((flat[:, None] >> np.arange(width, dtype=np.int64)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(bits, bitorder="little").tobytes()


def delta_width(deltas: np.ndarray) -> int:
    """Bits a signed field needs to hold every delta (at least 1)."""
    d = np.asarray(deltas, dtype=np.int64)
    if d.size == 0:
        return 1
    hi = int(max(d.max(), -d.min() - 1, 0))
    return max(1, hi.bit_length() + 1)


def decode_frame(data: bytes | bytearray) -> PmdFrame:
    """One PMD data notification -> :class:`PmdFrame`; :class:`PmdFrameError` if it cannot be read."""
    data = bytes(data)
    if len(data) < FRAME_HEADER_BYTES + 1:
        raise PmdFrameError(f"truncated PMD frame ({len(data)} bytes)", "truncated")
    measurement, frame_type = data[0], data[9]
    timestamp_ns = int.from_bytes(data[1:9], "little")
    spec = FRAME_TYPES.get((measurement, frame_type))
    if spec is None:
        what = MEASUREMENT_NAMES.get(measurement, f"measurement type {measurement}")
        raise PmdFrameError(f"unknown PMD frame type 0x{frame_type:02x} for {what}", "unknown_frame_type")
    size, _unit = spec
    content = data[FRAME_HEADER_BYTES:]
    if not frame_type & DELTA_BIT:
        step = size * CHANNELS_XYZ
        if len(content) % step:
            raise PmdFrameError(f"malformed PMD frame: {len(content)} bytes is not a whole number of samples",
                                "malformed")
        raw = np.frombuffer(content, dtype=np.uint8).reshape(-1, size).astype(np.int64)
        values = _signed((raw << (8 * np.arange(size, dtype=np.int64))).sum(axis=1), 8 * size)
        return PmdFrame(measurement, timestamp_ns, frame_type, values.reshape(-1, CHANNELS_XYZ))
    ref_bytes = size * CHANNELS_XYZ
    if len(content) < ref_bytes:
        raise PmdFrameError("truncated PMD delta frame (no reference sample)", "truncated")
    ref = np.array([int.from_bytes(content[i:i + size], "little", signed=True) for i in range(0, ref_bytes, size)],
                   dtype=np.int64)
    samples = [ref[None, :]]
    i = ref_bytes
    while i < len(content):
        if i + 2 > len(content):
            raise PmdFrameError("malformed PMD delta frame (a block header is cut)", "truncated")
        width, count = content[i], content[i + 1]
        i += 2
        if not 1 <= width <= 32:
            raise PmdFrameError(f"malformed PMD delta frame (delta width {width} bits)", "malformed")
        nbytes = math.ceil(width * count * CHANNELS_XYZ / 8)
        if i + nbytes > len(content):
            raise PmdFrameError("truncated PMD delta frame (a block is cut)", "truncated")
        deltas = unpack_deltas(content[i:i + nbytes], width, count)
        samples.append(samples[-1][-1] + np.cumsum(deltas, axis=0))
        i += nbytes
    return PmdFrame(measurement, timestamp_ns, frame_type, np.concatenate(samples).astype(np.int64))


def encode_frame(measurement: int, timestamp_ns: int, frame_type: int, values: np.ndarray,
                 *, block: int = 255) -> bytes:
    """A data notification of ``values`` (n, 3) ints (delta frames: one block per ``block`` deltas)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1, CHANNELS_XYZ)
    size, _unit = FRAME_TYPES[(measurement, frame_type)]
    head = bytes([measurement]) + int(timestamp_ns).to_bytes(8, "little") + bytes([frame_type])
    if not frame_type & DELTA_BIT:
        return head + b"".join(int(x).to_bytes(size, "little", signed=True) for x in v.reshape(-1))
    out = bytearray(head + b"".join(int(x).to_bytes(size, "little", signed=True) for x in v[0]))
    deltas = np.diff(v, axis=0)
    for start in range(0, len(deltas), block):
        chunk = deltas[start:start + block]
        width = delta_width(chunk)
        out += bytes([width, len(chunk)]) + pack_deltas(chunk, width)
    return bytes(out)


def frame_bytes(n_samples: int, width: int, frame_type: int = 0x81) -> int:
    """Length of a delta frame of ``n_samples`` with one block of ``width``-bit deltas (raw: fixed size)."""
    size = FRAME_TYPES.get((ACC, frame_type), (2, ""))[0]
    if not frame_type & DELTA_BIT:
        return FRAME_HEADER_BYTES + n_samples * CHANNELS_XYZ * size
    return FRAME_HEADER_BYTES + CHANNELS_XYZ * size + 2 + math.ceil((n_samples - 1) * CHANNELS_XYZ * width / 8)


def si_scale(measurement: int, frame_type: int, factor: float) -> float:
    """SI units per device integer: m/s^2 for ACC, rad/s for GYRO."""
    if measurement == ACC:
        if frame_type == 0x80:
            return factor * G_M_S2
        return (factor if frame_type & DELTA_BIT else 1.0) * G_M_S2 * 1e-3
    return factor * math.pi / 180.0
