"""Commands written to the control characteristic, and the responses it notifies.

Every command is ``[opcode u8][parameters]``, little-endian, fixed size per opcode::

    opcode  name       bytes  parameters
    0x01    start      6      rate_hz u16, acc_range_g u8, gyr_range_dps u16   (all >= 1)
    0x02    stop       1      -
    0x03    haptic     7      intensity u8 (0 = stop), on_ms u16, off_ms u16, repeats u8
                              (intensity > 0 needs on_ms >= 1 and repeats >= 1)
    0x04    time_ping  5      token u32 (opaque, echoed)
    0x05    identify   3      duration_ms u16 (blink + short buzz; 0 = stop)
    0x06    set_role   2      role u8 (0 unassigned, 1 sacrum, 2 thoracic; persisted)

The sensor answers every command with a notification on the same characteristic::

    0  u8   0x80 | opcode of the command answered
    1  u8   status: 0 ok, 1 unknown_opcode, 2 bad_length, 3 invalid_value, 4 invalid_state
    2  u32  token            } time_ping with status ok only (10 bytes in all);
    6  u32  device_time_us   } the device clock when the ping was received

Decoding order: empty -> ``truncated``; unknown opcode -> ``unknown_opcode``; short ->
``truncated``; long -> ``length_mismatch``; bad parameter -> ``invalid_value``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from imu_hinge.protocol.spec import (
    COMMAND_SIZES,
    DEFAULT_ACC_RANGE_G,
    DEFAULT_GYR_RANGE_DPS,
    DEFAULT_RATE_HZ,
    MAX_RATE_HZ,
    NO_OPCODE,
    OPCODE_NAMES,
    OPCODES,
    REFERENCE_RATES_MILLIHZ,
    RESPONSE_BIT,
    RESPONSE_SIZE,
    ROLE_NAMES,
    ROLES,
    STATUS_NAMES,
    STATUSES,
    TIME_PING_RESPONSE_SIZE,
    ErrorKind,
    ProtocolDecodeError,
)


@dataclass(frozen=True)
class StartCommand:
    """Start streaming; the sensor picks its nearest supported rate >= ``rate_hz`` and the
    smallest supported ranges >= the requested ones, and reports them in the info characteristic.
    The sample index restarts at 0."""

    rate_hz: int = DEFAULT_RATE_HZ
    acc_range_g: int = DEFAULT_ACC_RANGE_G
    gyr_range_dps: int = DEFAULT_GYR_RANGE_DPS
    name: ClassVar[str] = "start"
    _format: ClassVar[str] = "<HBH"


@dataclass(frozen=True)
class StopCommand:
    """Stop streaming (pending samples are discarded)."""

    name: ClassVar[str] = "stop"
    _format: ClassVar[str] = "<"


@dataclass(frozen=True)
class HapticCommand:
    """Vibration pattern: ``repeats`` x (``on_ms`` on at ``intensity``/255, then ``off_ms`` off).

    A new pattern replaces a running one; ``intensity`` 0 stops the motor."""

    intensity: int
    on_ms: int
    off_ms: int = 0
    repeats: int = 1
    name: ClassVar[str] = "haptic"
    _format: ClassVar[str] = "<BHHB"

    @classmethod
    def off(cls) -> HapticCommand:
        return cls(0, 0, 0, 0)


@dataclass(frozen=True)
class TimePingCommand:
    """Clock-sync ping: the response echoes ``token`` with the device clock at reception."""

    token: int
    name: ClassVar[str] = "time_ping"
    _format: ClassVar[str] = "<I"


@dataclass(frozen=True)
class IdentifyCommand:
    """Blink the LED and buzz briefly for ``duration_ms`` so the user can tell sensors apart."""

    duration_ms: int = 2000
    name: ClassVar[str] = "identify"
    _format: ClassVar[str] = "<H"


@dataclass(frozen=True)
class SetRoleCommand:
    """Store the sensor's role (``"sacrum"``, ``"thoracic"`` or ``"unassigned"``); it is advertised."""

    role: str
    name: ClassVar[str] = "set_role"
    _format: ClassVar[str] = "<B"


Command = StartCommand | StopCommand | HapticCommand | TimePingCommand | IdentifyCommand | SetRoleCommand
_CLASSES: dict[str, type[Command]] = {
    c.name: c for c in (StartCommand, StopCommand, HapticCommand, TimePingCommand, IdentifyCommand,
                        SetRoleCommand)
}


def _params(cmd: Command) -> tuple[int, ...]:
    if isinstance(cmd, StartCommand):
        return (cmd.rate_hz, cmd.acc_range_g, cmd.gyr_range_dps)
    if isinstance(cmd, HapticCommand):
        return (cmd.intensity, cmd.on_ms, cmd.off_ms, cmd.repeats)
    if isinstance(cmd, TimePingCommand):
        return (cmd.token,)
    if isinstance(cmd, IdentifyCommand):
        return (cmd.duration_ms,)
    if isinstance(cmd, SetRoleCommand):
        return (ROLES.get(cmd.role, -1),)
    return ()


def _problem(name: str, p: tuple[int, ...]) -> str | None:
    if name == "start" and 0 in p:
        return "start needs rate_hz, acc_range_g and gyr_range_dps >= 1"
    if name == "haptic" and p[0] > 0 and (p[1] == 0 or p[3] == 0):
        return "haptic with intensity > 0 needs on_ms >= 1 and repeats >= 1"
    if name == "set_role" and p[0] not in ROLE_NAMES:
        return f"role {p[0]} is not one of {sorted(ROLE_NAMES)}"
    return None


def encode_command(cmd: Command) -> bytes:
    """Bytes to write to the control characteristic. ``ValueError`` if a parameter is out of range."""
    params = _params(cmd)
    try:
        body = struct.pack(cmd._format, *params)
    except struct.error as exc:
        raise ValueError(f"{cmd.name} parameter out of range: {exc}") from None
    problem = _problem(cmd.name, params)
    if problem:
        raise ValueError(problem)
    return bytes([OPCODES[cmd.name]]) + body


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """Decode a command (what the sensor, or the emulator, receives)."""
    buf = bytes(data)
    if not buf:
        raise ProtocolDecodeError("truncated", "empty command")
    name = OPCODE_NAMES.get(buf[0])
    if name is None:
        raise ProtocolDecodeError("unknown_opcode", f"unknown command opcode {buf[0]:#04x}", opcode=buf[0])
    size = COMMAND_SIZES[name]
    if len(buf) != size:
        kind: ErrorKind = "truncated" if len(buf) < size else "length_mismatch"
        raise ProtocolDecodeError(kind, f"{name} command needs {size} bytes, got {len(buf)}", opcode=buf[0])
    cls = _CLASSES[name]
    params = struct.unpack(cls._format, buf[1:])
    problem = _problem(name, params)
    if problem:
        raise ProtocolDecodeError("invalid_value", f"invalid {name} command: {problem}", opcode=buf[0])
    if cls is SetRoleCommand:
        return SetRoleCommand(ROLE_NAMES[params[0]])
    return cls(*params)


@dataclass(frozen=True)
class CommandResponse:
    """A response notified on the control characteristic.

    ``opcode`` is the command's opcode (without the 0x80 bit); it may be one this codec does
    not know (the sensor then answers ``unknown_opcode``). ``token`` and ``device_time_us`` are
    set only for an ``ok`` answer to ``time_ping``.
    """

    opcode: int
    status: str = "ok"
    token: int | None = None
    device_time_us: int | None = None

    @property
    def command(self) -> str | None:
        """Name of the command answered, or ``None`` for an unknown opcode."""
        return OPCODE_NAMES.get(self.opcode)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def carries_time(self) -> bool:
        return self.opcode == OPCODES["time_ping"] and self.status == "ok"


def encode_response(resp: CommandResponse) -> bytes:
    """Bytes the sensor notifies in answer to a command."""
    if not 0 <= resp.opcode <= 0x7F or resp.status not in STATUSES:
        raise ValueError(f"invalid response opcode {resp.opcode} or status {resp.status!r}")
    head = bytes([RESPONSE_BIT | resp.opcode, STATUSES[resp.status]])
    if not resp.carries_time:
        return head
    if resp.token is None or resp.device_time_us is None:
        raise ValueError("an ok time_ping response needs token and device_time_us")
    try:
        return head + struct.pack("<II", resp.token, resp.device_time_us)
    except struct.error as exc:
        raise ValueError(f"time_ping response field out of range: {exc}") from None


def decode_response(data: bytes | bytearray | memoryview) -> CommandResponse:
    """Decode a control-characteristic notification (what the host receives)."""
    buf = bytes(data)
    if not buf:
        raise ProtocolDecodeError("truncated", "empty command response")
    if not buf[0] & RESPONSE_BIT:
        raise ProtocolDecodeError("invalid_value",
                                  f"command response byte 0 {buf[0]:#04x} lacks the 0x80 bit")
    if len(buf) < RESPONSE_SIZE:
        raise ProtocolDecodeError("truncated", "command response of 1 byte, need 2", opcode=buf[0] & 0x7F)
    opcode, status = buf[0] & 0x7F, STATUS_NAMES.get(buf[1])
    if status is None:
        raise ProtocolDecodeError("invalid_value", f"unknown command response status {buf[1]}", opcode=opcode)
    resp = CommandResponse(opcode, status)
    size = TIME_PING_RESPONSE_SIZE if resp.carries_time else RESPONSE_SIZE
    if len(buf) != size:
        kind: ErrorKind = "truncated" if len(buf) < size else "length_mismatch"
        raise ProtocolDecodeError(kind, f"command response needs {size} bytes, got {len(buf)}", opcode=opcode)
    if resp.carries_time:
        token, device_time_us = struct.unpack_from("<II", buf, 2)
        resp = CommandResponse(opcode, status, token, device_time_us)
    return resp


def answer_opcode(data: bytes | bytearray | memoryview) -> int:
    """The opcode an answer to this write carries: byte 0, or :data:`NO_OPCODE` (0) for an empty
    write or a byte 0 of 0x80..0xFF (SPEC.md v1.1 §6), so it never reads as an answer to a command."""
    buf = bytes(data)
    return buf[0] if buf and not buf[0] & RESPONSE_BIT else NO_OPCODE


def error_answer(data: bytes | bytearray | memoryview) -> CommandResponse | None:
    """The answer a sensor sends to a write it cannot decode, or ``None`` if the command decodes
    (its answer then depends on the sensor's state). Decode errors map to statuses per SPEC.md §6:
    ``unknown_opcode`` -> unknown_opcode, ``truncated`` / ``length_mismatch`` -> bad_length, others
    invalid_value."""
    try:
        decode_command(data)
    except ProtocolDecodeError as exc:
        status = {"unknown_opcode": "unknown_opcode", "truncated": "bad_length",
                  "length_mismatch": "bad_length"}.get(exc.kind, "invalid_value")
        return CommandResponse(answer_opcode(data), status)
    return None


def round_half_up_hz(rate_millihz: int) -> int:
    """A rate in whole Hz as ``start`` compares it (12 500 mHz -> 13)."""
    return (rate_millihz + 500) // 1000


def pick_rate_millihz(rate_hz: int, supported_millihz: tuple[int, ...] = REFERENCE_RATES_MILLIHZ) -> int | None:
    """The rate ``start(rate_hz)`` streams at (SPEC.md §5): the lowest supported rate whose
    round-half-up value in Hz is >= ``rate_hz``, never above :data:`MAX_RATE_HZ`; ``None``: invalid_value."""
    return next((r for r in sorted(supported_millihz)
                 if round_half_up_hz(r) >= rate_hz and r <= MAX_RATE_HZ * 1000), None)
