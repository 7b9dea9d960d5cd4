"""The conformance kit: one sensor over BLE, checked clause by clause against SPEC.md 1.1.

:func:`check_sensor` scans for the sensor (its advertisement and scan response), connects with an
unmodified ``BleakClient``, and runs the clauses of :data:`CLAUSES` in order; each gives a
:class:`ClauseResult` (PASS/FAIL, the SPEC section, one line of evidence). Only what is on the air
is judged: bytes, their order, the device clock in the notifications and pings, and the host clock.

Timing judgements that depend on when a command reached the sensor (haptic phases, identify) bracket
that instant with a time ping sent right after the command: the margin is the ping's round trip plus
:data:`MARGIN_S`, so a slow link makes the check looser, never flaky.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from imu_hinge.errors import SensorLinkError
from imu_hinge.protocol import (
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    INFO_CHAR_UUID,
    SERVICE_UUID,
    CommandResponse,
    DataPacket,
    HapticCommand,
    IdentifyCommand,
    ProtocolDecodeError,
    SensorInfo,
    SetRoleCommand,
    StartCommand,
    TimePingCommand,
    decode_advertisement,
    decode_info,
    decode_notification,
    decode_response,
    encode_command,
    error_answer,
    samples_per_notification,
)
from imu_hinge.protocol.commands import round_half_up_hz
from imu_hinge.protocol.spec import MAX_RATE_HZ, ROLE_NAMES
from imu_hinge.sources.backend import HostClock, LinkBackend

SPEC_VERSION = "1.1"
MARGIN_S = 0.03
"""Slack around haptic phase edges, besides the ping round trip (motor timers run on ms ticks)."""
REPLY_TIMEOUT_S = 10.0
"""Real seconds to wait for an answer before a clause fails (a guard, not a measurement)."""
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"

CLAUSES: tuple[tuple[str, str, str], ...] = (
    ("adv.payload", "§7", "advertising data: service UUID, 0xFFFF manufacturer data of version 1, role, battery"),
    ("adv.name", "§7", "scan response names the sensor `imu-hinge <role>`"),
    ("gatt", "§2", "service, characteristics and properties; Battery Service 0..100 or absent with battery 255"),
    ("info", "§4", "info decodes, version 1, advertised role, rate <= 416 Hz"),
    ("cmd.no_opcode", "§6", "empty / 0x00 / 0x80..0xFF writes answered 80 02 / 80 01"),
    ("cmd.errors", "§5 §6", "unknown opcode, bad length and bad value answered with their status"),
    ("cmd.ok", "§5 §6", "stop, identify, set_role, time_ping answered ok, in order; set_role shows in info"),
    ("start.rates", "§5", "rate rule: lowest r with round(r) >= rate_hz, 26/52/104/208 Hz, none above 416"),
    ("start.restart", "§5", "start answered before data, index restarts at 0, info follows the start"),
    ("start.rejected", "§5", "a rejected start while streaming changes nothing"),
    ("data.packing", "§3", "header valid (version 1, reserved bit 0), 1 <= count <= samples per MTU"),
    ("data.flush", "§3", "batches of min(per MTU, floor(20 ms / period) + 1) samples (-1 for timer jitter)"),
    ("data.continuity", "§3", "index and device clock advance together: step = index step x period"),
    ("data.overflow", "§3", "tx_overflow set exactly on the notifications that follow an index gap"),
    ("stop", "§5", "no sample taken after stop is sent"),
    ("time_ping", "§6", "token echoed; clock read on arrival: after the samples already received, at host rate"),
    ("clock.continuity", "§3", "device clock runs on across stop and start"),
    ("haptic.states", "§5", "haptic_active only in on phases, not off phases or after; intensity 0 stops"),
    ("identify", "§5", "identify buzz: haptic_active for min(duration, 100 ms), replacing a running pattern"),
    ("reconnect", "§2 §7", "after a disconnect: advertising again within 2 s, idle, same role"),
)
_SECTIONS = {cid: (section, title) for cid, section, title in CLAUSES}


@dataclass
class ClauseResult:
    clause: str
    section: str
    title: str
    passed: bool
    detail: str

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def line(self) -> str:
        return f"{self.status}  {self.section:6} {self.clause:17} {self.detail}"


class ClauseFailed(Exception):
    """One clause failed: the message is the evidence."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ClauseFailed(message)


@dataclass
class Packet:
    """A data notification as received: decoded (or the decode error) and the host arrival time."""

    arrival_s: float
    raw: bytes
    packet: DataPacket | None
    error: str | None = None


@dataclass
class Found:
    device: BLEDevice
    adv: AdvertisementData
    name: str | None


@dataclass
class Session:
    """What the clauses share: the client, the host clock, received notifications, and facts learned."""

    client: BleakClient
    clock: HostClock
    found: Found
    packets: list[Packet] = field(default_factory=list)
    responses: list[tuple[float, bytes, int]] = field(default_factory=list)
    """(host time, bytes, notifications received before it) of every control notification."""
    info: SensorInfo | None = None
    role: str | None = None
    rates_millihz: list[int] = field(default_factory=list)
    has_motor: bool = True
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def mtu(self) -> int:
        return int(self.client.mtu_size)

    def on_data(self, _char: Any, data: bytearray) -> None:
        raw = bytes(data)
        try:
            self.packets.append(Packet(self.clock.now(), raw, decode_notification(raw)))
        except ProtocolDecodeError as exc:
            self.packets.append(Packet(self.clock.now(), raw, None, f"{exc.kind}: {exc}"))
        self._changed.set()

    def on_control(self, _char: Any, data: bytearray) -> None:
        self.responses.append((self.clock.now(), bytes(data), len(self.packets)))
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], what: str, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise ClauseFailed(f"no {what} within {timeout_s:g} s")
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def command(self, data: bytes, what: str = "answer") -> tuple[bytes, float, float]:
        """Write ``data`` to control; (answer bytes, host time before the write, host time of the answer)."""
        n = len(self.responses)
        sent_s = self.clock.now()
        await self.client.write_gatt_char(CONTROL_CHAR_UUID, data, response=True)
        await self.wait_for(lambda: len(self.responses) > n, f"{what} to {data.hex() or 'an empty write'}")
        got_s, answer, _ = self.responses[n]
        return answer, sent_s, got_s

    @property
    def packets_at_last_answer(self) -> int:
        """Notifications received before the latest answer (not before this coroutine resumed)."""
        return self.responses[-1][2]

    async def ok(self, data: bytes) -> CommandResponse:
        answer, _, _ = await self.command(data)
        resp = _decode_response(answer)
        _require(resp.ok and resp.opcode == data[0], f"{data.hex()} answered {answer.hex()}, expected ok")
        return resp

    async def ping(self, token: int) -> tuple[int, float, float]:
        """(device time µs, host time sent, host time answered) of one time ping."""
        answer, sent_s, got_s = await self.command(encode_command(TimePingCommand(token)), "ping answer")
        resp = _decode_response(answer)
        _require(resp.ok and resp.opcode == 4 and resp.token == token,
                 f"time_ping {token:#x} answered {answer.hex()}")
        assert resp.device_time_us is not None
        return resp.device_time_us, sent_s, got_s

    async def read_info(self) -> SensorInfo:
        raw = bytes(await self.client.read_gatt_char(INFO_CHAR_UUID))
        try:
            return decode_info(raw)
        except ProtocolDecodeError as exc:
            raise ClauseFailed(f"info {raw.hex()} does not decode: {exc.kind}: {exc}") from None

    async def start(self, rate_hz: int, acc_range_g: int = 8, gyr_range_dps: int = 1000) -> tuple[str, int]:
        """Write start; (status, index into ``packets`` of the first notification after the answer)."""
        answer, _, _ = await self.command(encode_command(StartCommand(rate_hz, acc_range_g, gyr_range_dps)))
        resp = _decode_response(answer)
        _require(resp.opcode == 1, f"start answered {answer.hex()} (opcode {resp.opcode})")
        return resp.status, self.packets_at_last_answer

    async def stop(self) -> int:
        await self.ok(b"\x02")
        return self.packets_at_last_answer

    async def stream(self, duration_s: float) -> None:
        await self.clock.sleep(duration_s)


def _decode_response(answer: bytes) -> CommandResponse:
    try:
        return decode_response(answer)
    except ProtocolDecodeError as exc:
        raise ClauseFailed(f"answer {answer.hex()} does not decode: {exc.kind}: {exc}") from None


def _period_us(info: SensorInfo) -> float:
    return 1e9 / info.rate_millihz


def _segment(s: Session, first: int, last: int | None = None) -> list[DataPacket]:
    out = []
    for p in s.packets[first:last]:
        _require(p.packet is not None, f"notification {p.raw[:12].hex()}... does not decode: {p.error}")
        assert p.packet is not None
        out.append(p.packet)
    return out


def _gaps(packets: list[DataPacket]) -> list[bool]:
    """Per packet: whether samples are missing just before it (the first packet of a stream: index > 0)."""
    out, end = [], 0
    for p in packets:
        out.append(p.first_index != end)
        end = (p.first_index + p.count) % 65536
    return out


# --- clauses --------------------------------------------------------------------------------------

async def adv_payload(s: Session) -> str:
    adv = s.found.adv
    payload = adv.manufacturer_data.get(0xFFFF, b"")
    if len(payload) >= 2 and payload[1] in ROLE_NAMES:  # the role, even if another field is wrong
        s.role = ROLE_NAMES[payload[1]]
    try:
        info = decode_advertisement(adv.service_uuids, adv.manufacturer_data)
    except ProtocolDecodeError as exc:
        raise ClauseFailed(f"{exc.kind}: {exc}") from None
    _require(not info.streaming, "advertises streaming while idle (not connected)")
    s.role = info.role
    battery = "unknown" if info.battery_percent is None else f"{info.battery_percent}%"
    return f"role {info.role}, battery {battery}, idle"


async def adv_name(s: Session) -> str:
    want = f"imu-hinge {s.role}"
    _require(s.found.name == want, f"scan response name {s.found.name!r}, expected {want!r}")
    return repr(want)


async def gatt(s: Session) -> str:
    services = s.client.services
    svc = services.get_service(SERVICE_UUID)
    _require(svc is not None, "no imu-hinge service")
    want = {DATA_CHAR_UUID: {"notify"}, CONTROL_CHAR_UUID: {"write", "write-without-response", "notify"},
            INFO_CHAR_UUID: {"read"}}
    for u, props in want.items():
        char = services.get_characteristic(u)
        _require(char is not None, f"characteristic {u} missing")
        assert char is not None
        _require(props <= set(char.properties), f"{u}: properties {char.properties}, need {sorted(props)}")
    _require(services.get_service(DEVICE_INFO_SERVICE_UUID) is not None, "no Device Information service")
    payload = s.found.adv.manufacturer_data.get(0xFFFF, b"")
    advertised = payload[2] if len(payload) >= 3 else None
    if services.get_service(BATTERY_SERVICE_UUID) is None:
        _require(advertised == 255, f"no Battery Service but advertises battery {advertised}")
        return "no battery gauge (Battery Service absent, battery 255 advertised)"
    level = bytes(await s.client.read_gatt_char(BATTERY_LEVEL_UUID))
    _require(len(level) == 1 and level[0] <= 100, f"Battery Level {level.hex()} is not one byte 0..100")
    return f"Battery Level {level[0]}%"


async def info_clause(s: Session) -> str:
    info = await s.read_info()
    _require(info.role == s.role, f"info role {info.role}, advertised {s.role}")
    _require(info.rate_millihz <= MAX_RATE_HZ * 1000, f"info rate {info.rate_millihz} mHz above 416 Hz")
    s.info = info
    return (f"{info.rate_millihz / 1000:g} Hz, +-{info.acc_range_g} g, +-{info.gyr_range_dps} dps, "
            f"firmware {'.'.join(map(str, info.firmware_version))}")


NO_OPCODE_WRITES = (b"", b"\x00", b"\x81\x00", b"\x80", b"\xff\x01\x02")
ERROR_WRITES = (b"\x7f\x01\x02", b"\x07", b"\x01\x68\x00\x08\xe8", b"\x02\x00", b"\x04\x01\x00\x00\x00\x00",
                b"\x01\x00\x00\x08\xe8\x03", b"\x03\x64\x64\x00\x64\x00\x00", b"\x06\x03")


async def _answers(s: Session, writes: tuple[bytes, ...]) -> str:
    wrong = []
    for w in writes:
        want = error_answer(w)
        assert want is not None
        answer, _, _ = await s.command(w)
        resp = _decode_response(answer)
        if resp != want:
            wrong.append(f"{w.hex() or '(empty)'} -> {answer.hex()}, expected {want.opcode | 0x80:02x} "
                         f"{want.status}")
    _require(not wrong, "; ".join(wrong))
    return f"{len(writes)} writes answered as specified"


async def cmd_no_opcode(s: Session) -> str:
    return await _answers(s, NO_OPCODE_WRITES)


async def cmd_errors(s: Session) -> str:
    return await _answers(s, ERROR_WRITES)


async def cmd_ok(s: Session) -> str:
    await s.ok(b"\x02")
    answer, _, _ = await s.command(encode_command(IdentifyCommand(0)))
    resp = _decode_response(answer)
    _require(resp.opcode == 5 and resp.status in ("ok", "invalid_state"), f"identify 0 answered {answer.hex()}")
    await s.ping(0xC0FFEE)
    assert s.role is not None
    other = "thoracic" if s.role != "thoracic" else "sacrum"
    await s.ok(encode_command(SetRoleCommand(other)))
    changed = (await s.read_info()).role
    await s.ok(encode_command(SetRoleCommand(s.role)))
    back = (await s.read_info()).role
    _require(changed == other and back == s.role, f"set_role {other} then {s.role}: info said {changed}, {back}")
    # Answers come in command order: two writes back to back.
    n = len(s.responses)
    await s.client.write_gatt_char(CONTROL_CHAR_UUID, encode_command(TimePingCommand(1)), response=False)
    await s.client.write_gatt_char(CONTROL_CHAR_UUID, b"\x02", response=False)
    await s.wait_for(lambda: len(s.responses) >= n + 2, "two answers")
    order = [r[1][0] for r in s.responses[n:n + 2]]
    _require(order == [0x84, 0x82], f"answers in order {[hex(o) for o in order]}, expected 0x84 then 0x82")
    return "stop, identify, time_ping, set_role (round trip through info), in order"


async def start_rates(s: Session) -> str:
    async def rate(hz: int) -> int | None:
        status, _ = await s.start(hz)
        info = await s.read_info()
        return info.rate_millihz if status == "ok" else None

    ladder: list[int] = []
    ask = 1
    while ask <= 65535:
        got = await rate(ask)
        if got is None:
            break
        _require(round_half_up_hz(got) >= ask, f"start({ask}) streams at {got / 1000:g} Hz, below the rate asked")
        _require(not ladder or got > ladder[-1], f"start({ask}) gave {got / 1000:g} Hz, not above the rate before")
        ladder.append(got)
        ask = round_half_up_hz(got) + 1
    await s.stop()
    _require(bool(ladder), "start(1) rejected")
    s.rates_millihz = ladder
    hz = [r / 1000 for r in ladder]
    _require(all(r <= MAX_RATE_HZ * 1000 for r in ladder), f"rates above 416 Hz accepted: {hz}")
    missing = [f for f in (26, 52, 104, 208) if f * 1000 not in ladder]
    _require(not missing, f"required rates missing: {missing} (supported: {hz})")
    for r, prev in zip(ladder, [0, *ladder[:-1]], strict=False):  # each rate from its own rounded value too
        got = await rate(round_half_up_hz(r))
        _require(got == r, f"start({round_half_up_hz(r)}) gave {got}, expected {r / 1000:g} Hz (round half up)")
        if prev and round_half_up_hz(prev) + 1 < round_half_up_hz(r):
            got = await rate(round_half_up_hz(prev) + 1)
            _require(got == r, f"start({round_half_up_hz(prev) + 1}) gave {got}, expected {r / 1000:g} Hz")
    for over in (MAX_RATE_HZ + 1, 500, 1000):
        _require(await rate(over) is None, f"start({over}) accepted: no v1 sensor streams above 416 Hz")
    await s.stop()
    return f"supported {', '.join(f'{h:g}' for h in hz)} Hz; 417, 500, 1000 rejected"


async def start_restart(s: Session) -> str:
    status, first = await s.start(104)
    _require(status == "ok", f"start(104) answered {status}")
    answered_s = s.responses[-1][0]
    s.info = await s.read_info()
    _require(s.info.rate_millihz == 104_000, f"info says {s.info.rate_millihz} mHz after start(104)")
    await s.stream(1.0)
    stream = _segment(s, first)
    _require(len(stream) > 10, f"{len(stream)} notifications in 1 s at 104 Hz")
    _require(all(p.arrival_s >= answered_s for p in s.packets[first:]), "data before the start answer")
    head = stream[0]
    _require(head.first_index == 0 or head.tx_overflow,
             f"first notification after start has index {head.first_index} without tx_overflow")
    # Samples queued before a restart are discarded: the next start begins at 0 again.
    status, first2 = await s.start(104)
    await s.stream(0.3)
    again = _segment(s, first2)
    _require(bool(again) and (again[0].first_index == 0 or again[0].tx_overflow),
             f"after a second start the index begins at {again[0].first_index if again else None}")
    await s.stop()
    return f"{len(stream)} notifications, first index 0, info 104 Hz"


async def start_rejected(s: Session) -> str:
    status, first = await s.start(104)
    _require(status == "ok", f"start(104) answered {status}")
    await s.stream(0.5)
    status, mark = await s.start(1000)
    _require(status != "ok", "start(1000) accepted")
    await s.stream(0.5)
    info = await s.read_info()
    before, after = _segment(s, first, mark), _segment(s, mark)
    await s.stop()
    _require(info.rate_millihz == 104_000, f"info changed to {info.rate_millihz} mHz by a rejected start")
    _require(bool(after), "the stream stopped after a rejected start")
    end = (before[-1].first_index + before[-1].count) % 65536
    _require(after[0].first_index == end or after[0].tx_overflow,
             f"index went from {end} to {after[0].first_index} across a rejected start (restarted?)")
    return f"stream carried on at index {after[0].first_index}, 104 Hz"


@dataclass
class Stream:
    """One 104 Hz stream recorded for the data clauses, with pings inside it and a stop at the end."""

    info: SensorInfo
    packets: list[Packet]
    pings: list[tuple[int, float, float, int]]  # (device µs, sent, answered, packets received before sending)
    stop_answered_s: float
    after_stop: list[Packet]


async def record_stream(s: Session, duration_s: float = 2.0) -> Stream:
    status, first = await s.start(104)
    _require(status == "ok", f"start(104) answered {status}")
    info = await s.read_info()
    pings = []
    for k in range(4):
        await s.stream(duration_s / 4)
        n_before = len(s.packets)
        dev, sent_s, got_s = await s.ping(0x5EED0000 + k)
        pings.append((dev, sent_s, got_s, n_before))
    _, _, stop_s = await s.command(b"\x02")
    last = s.packets_at_last_answer
    await s.stream(0.3)
    return Stream(info, s.packets[first:last], pings, stop_s, s.packets[last:])


async def data_packing(s: Session, st: Stream) -> str:
    per = samples_per_notification(s.mtu)
    bad = [p for p in st.packets if p.packet is None]
    _require(not bad, f"{len(bad)} notifications do not decode, e.g. {bad[0].error if bad else ''}")
    pk = [p.packet for p in st.packets if p.packet is not None]
    reserved = sum(bool(p.flags & 0x8) for p in pk)
    _require(reserved == 0, f"{reserved} notifications with the reserved flag bit set")
    over = [p.count for p in pk if p.count > per]
    _require(not over, f"counts {sorted(set(over))} above {per} samples per notification at MTU {s.mtu}")
    return f"{len(pk)} notifications, counts {min(p.count for p in pk)}..{max(p.count for p in pk)} at MTU {s.mtu}"


async def data_flush(s: Session, st: Stream) -> str:
    pk = [p.packet for p in st.packets if p.packet is not None]
    per = samples_per_notification(s.mtu)
    period_s = _period_us(st.info) * 1e-6
    want = min(per, math.floor(0.020 / period_s + 1e-9) + 1)
    gaps = _gaps(pk)
    judged = [p.count for k, p in enumerate(pk[:-1]) if not gaps[k] and not gaps[k + 1]]
    _require(len(judged) >= 10, f"only {len(judged)} notifications away from gaps")
    wrong = [c for c in judged if not want - 1 <= c <= want]
    _require(not wrong, f"{len(wrong)} of {len(judged)} notifications carry {sorted(set(wrong))} samples; "
                        f"at {1 / period_s:g} Hz and MTU {s.mtu} expected {want} (or {want - 1})")
    return f"{len(judged)} notifications of {want} samples (or {want - 1}) at {1 / period_s:g} Hz"


async def data_continuity(s: Session, st: Stream) -> str:
    pk = [p.packet for p in st.packets if p.packet is not None]
    period = _period_us(st.info)
    worst = 0.0
    for a, b in zip(pk, pk[1:], strict=False):
        di = (b.first_index - a.first_index) % 65536
        dt = (b.device_time_us - a.device_time_us) % (1 << 32)
        err = abs(dt - di * period)
        worst = max(worst, err / period)
        _require(0 < di < 32768, f"index steps from {a.first_index} to {b.first_index}")
        _require(err <= 0.25 * period + 5e-5 * dt,
                 f"index {a.first_index}->{b.first_index} ({di} samples) but device clock +{dt} us "
                 f"(expected {di * period:.0f})")
    return f"{len(pk)} notifications, worst clock step error {worst:.2f} periods"


async def data_overflow(s: Session, st: Stream) -> str:
    pk = [p.packet for p in st.packets if p.packet is not None]
    gaps = _gaps(pk)
    gaps[0] = pk[0].tx_overflow  # where a stream begins is start.restart's business
    wrong = [(p.first_index, p.tx_overflow, g) for p, g in zip(pk, gaps, strict=True) if p.tx_overflow != g]
    _require(not wrong, "; ".join(f"index {i}: tx_overflow {int(f)} but {'a' if g else 'no'} gap before it"
                                  for i, f, g in wrong[:3]))
    return f"{sum(gaps)} gaps, each flagged, no other flags"


async def stop_clause(s: Session, st: Stream) -> str:
    late = st.after_stop  # received after the stop answer
    _require(not late, f"{len(late)} notifications after the stop answer (first index "
                       f"{late[0].packet.first_index if late and late[0].packet else '?'})")
    return "no data after the stop answer"


async def time_ping(s: Session, st: Stream) -> str:
    pk = [(p, p.packet) for p in st.packets if p.packet is not None]
    period = _period_us(st.info)
    for dev, sent_s, _, _ in st.pings:
        before = [d for p, d in pk if p.arrival_s < sent_s]
        if before:
            last = before[-1]
            last_us = last.device_time_us + (last.count - 1) * period
            _require((dev - last_us) % (1 << 32) < 1 << 31,
                     f"ping read {dev} us, before the last sample already received ({last_us:.0f} us)")
    (d0, s0, r0, _), (d1, s1, r1, _) = st.pings[0], st.pings[-1]
    host_s = (s1 + r1) / 2 - (s0 + r0) / 2
    dev_s = ((d1 - d0) % (1 << 32)) * 1e-6
    slack_s = (r0 - s0) + (r1 - s1) + 0.002
    _require(abs(dev_s - host_s) <= slack_s + 1e-3 * host_s,
             f"pings {host_s:.3f} s apart on the host, {dev_s:.3f} s on the device clock")
    return f"{len(st.pings)} pings, device {dev_s:.3f} s vs host {host_s:.3f} s"


async def clock_continuity(s: Session) -> str:
    d0, s0, r0 = await s.ping(0xC10C0)
    status, first = await s.start(104)
    _require(status == "ok", f"start answered {status}")
    await s.stream(0.3)
    d1, s1, r1 = await s.ping(0xC10C1)
    await s.stop()
    await s.stream(0.5)
    status, first2 = await s.start(104)
    await s.stream(0.3)
    d2, s2, r2 = await s.ping(0xC10C2)
    pk = _segment(s, first2)
    await s.stop()
    for (da, sa, ra), (db, sb, rb) in (((d0, s0, r0), (d1, s1, r1)), ((d1, s1, r1), (d2, s2, r2))):
        host_s = (sb + rb) / 2 - (sa + ra) / 2
        dev_s = ((db - da) % (1 << 32)) * 1e-6
        _require(abs(dev_s - host_s) <= (ra - sa) + (rb - sb) + 0.002 + 1e-3 * host_s,
                 f"device clock moved {dev_s:.3f} s while the host moved {host_s:.3f} s across stop/start")
    _require(bool(pk) and ((pk[0].device_time_us - d1) % (1 << 32)) < 1 << 31,
             "samples after the restart are stamped before an earlier ping")
    return "device clock ran on across stop and start"


async def _motor_run(s: Session, command: bytes, watch_s: float) -> tuple[str, float, float, list[DataPacket]]:
    """Send a haptic-like command while streaming; (status, t0 device s, uncertainty s, packets)."""
    status, first = await s.start(104)
    _require(status == "ok", f"start answered {status}")
    await s.stream(0.2)
    answer, sent_s, _ = await s.command(command)
    dev, ping_sent, ping_got = await s.ping(0xAA)
    await s.stream(watch_s)
    pk = _segment(s, first)
    await s.stop()
    resp = _decode_response(answer)
    # The command arrived between our write and the ping's arrival: [dev - (ping_got - sent_s), dev].
    return resp.status, dev * 1e-6, (ping_got - sent_s), pk


def _judge_phases(pk: list[DataPacket], t0_s: float, unc_s: float, on: list[tuple[float, float]],
                  period_s: float, horizon_s: float) -> list[str]:
    """Problems: packets with a sample surely in an on phase but unflagged, or surely off but flagged."""
    m = MARGIN_S + unc_s
    problems = []
    for p in pk:
        times = [((p.device_time_us * 1e-6 + k * period_s) - t0_s) for k in range(p.count)]
        times = [t - 4294.967296 if t > 2147.0 else t for t in times]
        if times[0] < m or times[-1] > horizon_s:
            continue
        surely_on = any(lo + m <= t <= hi - m for t in times for lo, hi in on)
        surely_off = all(all(t >= hi + m or t <= lo - m for lo, hi in on) for t in times)
        if surely_on and not p.haptic_active:
            problems.append(f"samples at {times[0] * 1e3:.0f} ms (motor on) without haptic_active")
        if surely_off and p.haptic_active:
            problems.append(f"samples at {times[0] * 1e3:.0f}..{times[-1] * 1e3:.0f} ms (motor off) with "
                            "haptic_active")
    return problems


async def haptic_states(s: Session) -> str:
    period_s = 1 / 104
    status, t0, unc, pk = await _motor_run(s, encode_command(HapticCommand(200, 150, 250, 2)), 1.0)
    if status == "invalid_state":  # no motor: never haptic_active
        s.has_motor = False
        _require(not any(p.haptic_active for p in pk), "no motor (invalid_state) but haptic_active set")
        return "no motor: haptic answered invalid_state, haptic_active never set"
    _require(status == "ok", f"haptic answered {status}")
    on = [(0.0, 0.15), (0.40, 0.55)]  # the last off phase is not part of the pattern
    problems = _judge_phases(pk, t0, unc, on, period_s, 1.0)
    _require(any(p.haptic_active for p in pk), "haptic_active never set during a 2 x 150 ms pattern")
    # A long pattern stopped by intensity 0, watched over the next 0.5 s.
    status, first = await s.start(104)
    await s.ok(encode_command(HapticCommand(255, 3000, 0, 1)))
    await s.stream(0.2)
    _, sent_s, _ = await s.command(encode_command(HapticCommand.off()))
    dev, _, got_s = await s.ping(0xAB)
    await s.stream(0.5)
    stopped = _segment(s, first)
    await s.stop()
    problems += _judge_phases(stopped, dev * 1e-6, got_s - sent_s, [(-10.0, 0.0)], period_s, 0.5)
    _require(not problems, "; ".join(problems[:3]))
    return "on phases flagged, off phases and the end unflagged, intensity 0 stops"


async def identify(s: Session) -> str:
    period_s = 1 / 104
    status, first = await s.start(104)
    _require(status == "ok", f"start answered {status}")
    if s.has_motor:
        await s.ok(encode_command(HapticCommand(255, 3000, 0, 1)))  # a long pattern the buzz replaces
    await s.stream(0.2)
    answer, sent_s, _ = await s.command(encode_command(IdentifyCommand(1000)))
    dev, _, got_s = await s.ping(0x1D)
    await s.stream(0.6)
    pk = _segment(s, first)
    await s.stop()
    await s.ok(encode_command(IdentifyCommand(0)))
    resp = _decode_response(answer)
    _require(resp.opcode == 5 and resp.status in ("ok", "invalid_state"), f"identify answered {answer.hex()}")
    if not s.has_motor:
        return "no motor: blink only"
    problems = _judge_phases(pk, dev * 1e-6, got_s - sent_s, [(-10.0, 0.1)], period_s, 0.6)
    _require(not problems, "; ".join(problems[:3]))
    return "buzz flagged for 100 ms, the running pattern replaced"


async def reconnect(s: Session, rescan: Callable[[], Awaitable[Found | None]]) -> str:
    await s.client.disconnect()
    found = await rescan()
    _require(found is not None, "not advertising again after the disconnect")
    assert found is not None
    payload = found.adv.manufacturer_data.get(0xFFFF, b"")
    _require(len(payload) >= 4, f"advertises manufacturer data {payload.hex()}")
    role, streaming = ROLE_NAMES.get(payload[1]), bool(payload[3] & 1)
    _require(not streaming and role == s.role, f"advertises role {role}, streaming {streaming}")
    return "advertising again, idle, same role"


# --- runner ----------------------------------------------------------------------------------------

NAME_REPORTS = 10
"""Advertising reports of one sensor to wait for its scan-response name (active scanning gets one per report)."""


async def scan_for(backend: LinkBackend, address: str | None, timeout_s: float, *,
                   need_name: bool = True) -> Found | None:
    """The first imu-hinge sensor advertising (or the one at ``address``), with its scan-response name
    (waiting up to :data:`NAME_REPORTS` reports for it if ``need_name``)."""
    seen: dict[str, Found] = {}
    reports: dict[str, int] = {}
    done = asyncio.Event()

    def on_adv(device: BLEDevice, adv: AdvertisementData) -> None:
        if SERVICE_UUID not in {u.lower() for u in adv.service_uuids}:
            return
        if address is not None and device.address.upper() != address.upper():
            return
        prev = seen.get(device.address)
        name = adv.local_name or (prev.name if prev else None)
        seen[device.address] = Found(device, adv, name)
        reports[device.address] = reports.get(device.address, 0) + 1
        if name is not None or not need_name or reports[device.address] >= NAME_REPORTS:
            done.set()

    async with BleakScanner(on_adv, **backend.scanner_kwargs()):
        try:
            await asyncio.wait_for(done.wait(), timeout_s)
        except TimeoutError:
            pass
    return next(iter(seen.values()), None)


def _result(cid: str, passed: bool, detail: str) -> ClauseResult:
    section, title = _SECTIONS[cid]
    return ClauseResult(cid, section, title, passed, detail)


async def check_sensor(backend: LinkBackend, clock: HostClock, address: str | None = None, *,
                       scan_timeout_s: float = 10.0, readvertise_timeout_s: float = 2.0,
                       report: Callable[[ClauseResult], None] | None = None) -> list[ClauseResult]:
    """Run every clause against one sensor; results in :data:`CLAUSES` order (``report`` gets each as it ends)."""
    found = await scan_for(backend, address, scan_timeout_s)
    if found is None:
        where = f"at {address}" if address else "nearby"
        raise SensorLinkError(f"no imu-hinge sensor advertising {where} within {scan_timeout_s:g} s; switch it on "
                              "and bring it closer", address=address)
    results: list[ClauseResult] = []

    def record(cid: str, passed: bool, detail: str) -> None:
        r = _result(cid, passed, detail)
        results.append(r)
        if report is not None:
            report(r)

    client = BleakClient(found.device, **backend.client_kwargs())
    await client.connect()
    s = Session(client, clock, found)
    try:
        await client.start_notify(CONTROL_CHAR_UUID, s.on_control)
        await client.start_notify(DATA_CHAR_UUID, s.on_data)
        plain: list[tuple[str, Callable[[Session], Awaitable[str]]]] = [
            ("adv.payload", adv_payload), ("adv.name", adv_name), ("gatt", gatt), ("info", info_clause),
            ("cmd.no_opcode", cmd_no_opcode), ("cmd.errors", cmd_errors), ("cmd.ok", cmd_ok),
            ("start.rates", start_rates), ("start.restart", start_restart), ("start.rejected", start_rejected)]
        for cid, fn in plain:
            record(cid, *await _run_clause(s, fn))
        try:
            st: Stream | None = await record_stream(s)
        except ClauseFailed as exc:
            st = None
            failure = str(exc)
        for cid, sfn in (("data.packing", data_packing), ("data.flush", data_flush),
                         ("data.continuity", data_continuity), ("data.overflow", data_overflow),
                         ("stop", stop_clause), ("time_ping", time_ping)):
            if st is None:
                record(cid, False, f"could not record a stream: {failure}")
            else:
                stream = st
                record(cid, *await _run_clause(s, lambda sess, f=sfn, x=stream: f(sess, x)))  # type: ignore[misc]
        for cid, fn in (("clock.continuity", clock_continuity), ("haptic.states", haptic_states),
                        ("identify", identify)):
            record(cid, *await _run_clause(s, fn))
        address_now = found.device.address

        async def rescan() -> Found | None:
            return await scan_for(backend, address_now, readvertise_timeout_s, need_name=False)

        record("reconnect", *await _run_clause(s, lambda sess: reconnect(sess, rescan)))
    finally:
        if client.is_connected:
            await client.disconnect()
    order = {cid: k for k, (cid, _, _) in enumerate(CLAUSES)}
    return sorted(results, key=lambda r: order[r.clause])


async def _run_clause(s: Session, fn: Callable[[Session], Awaitable[str]]) -> tuple[bool, str]:
    try:
        return True, await fn(s)
    except (ClauseFailed, ProtocolDecodeError, BleakError, TimeoutError) as exc:
        try:  # leave the sensor idle for the next clause
            if s.client.is_connected:
                await s.client.write_gatt_char(CONTROL_CHAR_UUID, b"\x02", response=True)
                await s.clock.sleep(0.1)
        except Exception:
            pass
        return False, str(exc) if isinstance(exc, ClauseFailed) else f"{type(exc).__name__}: {exc}"


def summary(results: list[ClauseResult], *, target: str) -> dict[str, Any]:
    """The final JSON line's content."""
    return {"spec_version": SPEC_VERSION, "target": target, "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results), "ok": all(r.passed for r in results),
            "clauses": {r.clause: r.status for r in results},
            "failures": {r.clause: r.detail for r in results if not r.passed}}


__all__ = ["CLAUSES", "SPEC_VERSION", "ClauseResult", "check_sensor", "summary"]
