"""Movesense's GATT SensorData protocol: pure, synchronous encode/decode (no BLE).

Movesense sensors running Movesense's ``gatt_sensordata_app`` (movesense-device-lib,
``samples/gatt_sensordata_app/GATTSensorDataClient.cpp``) serve one custom service
``34802252-7185-4d5d-b431-630e7050e8f0`` with a write characteristic ``34800001-…`` (commands) and
a notify characteristic ``34800002-…`` that carries both the command results and the data::

    command (host -> sensor, write):   [command u8][client reference u8, not 0][command data]
        HELLO = 0          no data; answered with COMMAND_RESULT, reference, b"Hello"
        SUBSCRIBE = 1      data: a Whiteboard resource path, e.g. b"/Meas/IMU6/104"
        UNSUBSCRIBE = 2    no data; the reference of the subscription (no answer)
    notification (sensor -> host):     [type u8][client reference u8][body]
        COMMAND_RESULT = 1 body: u16 HTTP-style status (200 ok, 400 bad request, 404 not found,
                           507 no free subscription slot), or b"Hello" for HELLO
        DATA = 2           body: the resource's SBEM serialisation; for /Meas/IMU6/{rate}:
                           u32 timestamp (device ms, the first sample's), then n x 3 float32
                           acceleration (m/s^2), then n x 3 float32 angular rate (deg/s)
        DATA_PART2 = 3     the rest of a DATA body that did not fit one notification
        DATA_PART3 = 4     (and the rest after that), [type][reference][more body bytes]

All multi-byte fields are little-endian except the status, which the firmware writes high byte
first (its "insufficient storage" answer is the literal ``{COMMAND_RESULT, ref, 0x01, 0xFB}`` = 507).
Older firmware answers a SUBSCRIBE only by streaming (no COMMAND_RESULT); newer firmware answers it
with a status. The client here accepts either (:class:`~.movesense.MovesenseLink`).

Every decode failure raises :class:`MovesenseDecodeError` (a :class:`~imu_hinge.errors.DecodeError`)
whose ``kind`` names what was wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imu_hinge.errors import DecodeError

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE_CHAR_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_CHAR_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
NAME_PREFIX = "Movesense"
"""Movesense sensors advertise their name as ``Movesense <serial number>``."""

HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
COMMAND_RESULT, DATA, DATA_PART2, DATA_PART3 = 1, 2, 3, 4
STATUS_OK, STATUS_BAD_REQUEST, STATUS_NOT_FOUND, STATUS_INSUFFICIENT_STORAGE = 200, 400, 404, 507

SUPPORTED_RATES_HZ = (13, 26, 52, 104, 208)
"""The IMU6 rates a Movesense (LSM6DS3) accepts in ``/Meas/IMU6/{rate}``."""
ODR_HZ = {13: 12.5, 26: 26.0, 52: 52.0, 104: 104.0, 208: 208.0}
"""The sample rate the LSM6DS3 actually runs at for each path rate (its "13" is 12.5 Hz)."""
MAX_NOTIFICATION_BYTES = 158
"""The most the firmware puts in one notification (its ATT MTU is 161); longer bodies go on in DATA_PART2/3."""
IMU6_SAMPLE_BYTES = 24
DEG = math.pi / 180.0


class MovesenseDecodeError(DecodeError):
    """A Movesense notification that cannot be decoded; ``kind``: ``empty``, ``truncated``,
    ``unknown_type``, ``bad_length``, ``orphan_part``."""

    data: tuple[str, ...] = ("path", "opcode", "kind")

    def __init__(self, message: str, kind: str, *, path: str | None = None, opcode: int | None = None) -> None:
        super().__init__(message, path=path, opcode=opcode)
        self.kind = kind


def imu6_path(rate_hz: int) -> str:
    """The resource path of the accelerometer + gyroscope stream at ``rate_hz``."""
    return f"/Meas/IMU6/{int(rate_hz)}"


def pick_rate_hz(rate_hz: float) -> int:
    """The lowest Movesense IMU rate >= ``rate_hz`` (the highest if none is)."""
    return next((r for r in SUPPORTED_RATES_HZ if r >= rate_hz), SUPPORTED_RATES_HZ[-1])


def encode_hello(reference: int) -> bytes:
    return bytes([HELLO, _ref(reference)])


def encode_subscribe(reference: int, path: str) -> bytes:
    return bytes([SUBSCRIBE, _ref(reference)]) + path.encode("ascii")


def encode_unsubscribe(reference: int) -> bytes:
    return bytes([UNSUBSCRIBE, _ref(reference)])


def _ref(reference: int) -> int:
    if not 1 <= reference <= 255:
        raise ValueError(f"client reference must be 1..255, got {reference}")
    return reference


@dataclass(frozen=True)
class Command:
    """A decoded command (what the emulated sensor receives)."""

    command: int
    reference: int
    path: str = ""


def decode_command(data: bytes) -> Command:
    if len(data) < 2:
        raise MovesenseDecodeError(f"command of {len(data)} byte(s), needs >= 2", "truncated")
    return Command(data[0], data[1], bytes(data[2:]).decode("ascii", "replace"))


def encode_result(reference: int, status: int) -> bytes:
    return bytes([COMMAND_RESULT, reference]) + int(status).to_bytes(2, "big")


def encode_hello_result(reference: int) -> bytes:
    return bytes([COMMAND_RESULT, reference]) + b"Hello"


@dataclass(frozen=True)
class CommandResult:
    """A COMMAND_RESULT notification: ``status`` (HTTP-style; 200 for a HELLO's b"Hello")."""

    reference: int
    status: int
    hello: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def decode_result(data: bytes) -> CommandResult:
    if len(data) < 3 or data[0] != COMMAND_RESULT:
        raise MovesenseDecodeError(f"not a command result ({bytes(data[:8]).hex()})", "truncated")
    body = bytes(data[2:])
    if body == b"Hello":
        return CommandResult(data[1], STATUS_OK, hello=True)
    status = int.from_bytes(body[:2], "big") if len(body) >= 2 else body[0]
    return CommandResult(data[1], status)


@dataclass(frozen=True, eq=False)
class Imu6Data:
    """One IMU6 data message: ``timestamp_ms`` (device clock, first sample), ``acc_m_s2`` and
    ``gyr_dps`` (n, 3) float32 exactly as sent."""

    reference: int
    timestamp_ms: int
    acc_m_s2: np.ndarray
    gyr_dps: np.ndarray

    def __len__(self) -> int:
        return int(self.acc_m_s2.shape[0])


def encode_imu6_body(timestamp_ms: int, acc_m_s2: np.ndarray, gyr_dps: np.ndarray) -> bytes:
    """The SBEM body of an IMU6 notification (without type and reference)."""
    acc = np.asarray(acc_m_s2, dtype="<f4").reshape(-1, 3)
    gyr = np.asarray(gyr_dps, dtype="<f4").reshape(-1, 3)
    if acc.shape != gyr.shape:
        raise ValueError("acc and gyro need the same number of samples")
    return (int(timestamp_ms) % (1 << 32)).to_bytes(4, "little") + acc.tobytes() + gyr.tobytes()


def split_notifications(reference: int, body: bytes, max_bytes: int = MAX_NOTIFICATION_BYTES) -> list[bytes]:
    """A DATA message as the firmware sends it: DATA, then DATA_PART2 / DATA_PART3 with what did not fit."""
    if max_bytes < 3:
        raise ValueError("max_bytes must be >= 3")
    room = max_bytes - 2
    parts = [body[i:i + room] for i in range(0, max(len(body), 1), room)]
    types = (DATA, DATA_PART2, DATA_PART3)
    if len(parts) > len(types):
        raise ValueError(f"{len(body)} bytes need {len(parts)} notifications of {max_bytes}; the protocol has 3")
    return [bytes([types[i], reference]) + p for i, p in enumerate(parts)]


def decode_imu6_body(reference: int, body: bytes) -> Imu6Data:
    """Parse an IMU6 body: u32 timestamp, n x 3 float32 acceleration, n x 3 float32 angular rate."""
    if len(body) < 4 + IMU6_SAMPLE_BYTES:
        raise MovesenseDecodeError(f"IMU6 data of {len(body)} byte(s) holds no sample (truncated)", "truncated")
    if (len(body) - 4) % IMU6_SAMPLE_BYTES:
        raise MovesenseDecodeError(f"IMU6 data of {len(body)} bytes is not a timestamp plus whole samples of "
                                   f"{IMU6_SAMPLE_BYTES} bytes (truncated or not IMU6)", "bad_length")
    n = (len(body) - 4) // IMU6_SAMPLE_BYTES
    values = np.frombuffer(body, dtype="<f4", offset=4).reshape(2, n, 3)
    return Imu6Data(reference, int.from_bytes(body[:4], "little"), values[0].astype(np.float32),
                    values[1].astype(np.float32))


class Reassembler:
    """Joins DATA + DATA_PART2 (+ DATA_PART3) notifications into whole IMU6 bodies, in order.

    A DATA notification whose body is not a whole number of samples, or that fills a whole
    notification (``max_bytes``), may go on: it is held until the next notification shows whether
    that continues it. ``feed`` returns the messages this notification completes (0, 1 or 2) and the
    decode errors it revealed (a bad notification never takes a good one with it).
    """

    def __init__(self, max_bytes: int = MAX_NOTIFICATION_BYTES) -> None:
        self.max_bytes = max_bytes
        self._held: tuple[int, bytes] | None = None  # (reference, body so far)

    def reset(self) -> None:
        self._held = None

    @property
    def holding(self) -> bool:
        """A DATA notification waits for its continuation."""
        return self._held is not None

    def _may_continue(self, body: bytes, length: int) -> bool:
        return (len(body) - 4) % IMU6_SAMPLE_BYTES != 0 or length >= self.max_bytes

    def feed(self, data: bytes) -> tuple[list[Imu6Data], list[MovesenseDecodeError]]:
        out: list[Imu6Data] = []
        errors: list[MovesenseDecodeError] = []
        if len(data) < 2:
            errors.append(MovesenseDecodeError(f"notification of {len(data)} byte(s), needs >= 2", "empty"))
            return out, errors
        kind, ref, body = data[0], data[1], bytes(data[2:])
        if kind in (DATA_PART2, DATA_PART3):
            if self._held is None or self._held[0] != ref:
                errors.append(MovesenseDecodeError(
                    f"DATA_PART{kind - 1} (reference {ref}) without the DATA it continues", "orphan_part"))
                return out, errors
            whole = self._held[1] + body
            self._held = (ref, whole)
            if kind == DATA_PART3 or not self._may_continue(whole, len(data)):
                self._flush_into(out, errors)
            return out, errors
        self._flush_into(out, errors)
        if kind != DATA:
            errors.append(MovesenseDecodeError(
                f"unknown packet type {kind} (reference {ref}); expected DATA (2) or DATA_PART2/3 (3/4)",
                "unknown_type"))
        elif self._may_continue(body, len(data)):
            self._held = (ref, body)
        else:
            self._decode_into(ref, body, out, errors)
        return out, errors

    def flush(self) -> tuple[list[Imu6Data], list[MovesenseDecodeError]]:
        """The held message, if any, as it is (no continuation came)."""
        out: list[Imu6Data] = []
        errors: list[MovesenseDecodeError] = []
        self._flush_into(out, errors)
        return out, errors

    def _flush_into(self, out: list[Imu6Data], errors: list[MovesenseDecodeError]) -> None:
        if self._held is not None:
            ref, body = self._held
            self._held = None
            self._decode_into(ref, body, out, errors)

    @staticmethod
    def _decode_into(ref: int, body: bytes, out: list[Imu6Data], errors: list[MovesenseDecodeError]) -> None:
        try:
            out.append(decode_imu6_body(ref, body))
        except MovesenseDecodeError as exc:
            errors.append(exc)
