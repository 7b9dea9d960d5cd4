"""Property tests of the Python codec (hypothesis, fixed seed, modest budget).

Random bytes into every decoder: only DecodeError escapes, and whatever decodes re-encodes to
something that decodes to the same fields. Valid messages round-trip. The index unwrapper
recovers true indices from wrapped ones whatever the gaps, duplicates and late packets.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import imu_hinge.protocol as proto
from imu_hinge.emulation import protocol_vectors as testing
from imu_hinge.errors import DecodeError
from imu_hinge.protocol.spec import ERROR_KINDS, GYR_MDPS_PER_LSB, ROLES, STATUSES

FUZZ = settings(max_examples=300, derandomize=True, deadline=None)
u8, u16, u32 = st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
roles = st.sampled_from(sorted(ROLES))


@FUZZ
@given(kind=st.sampled_from(testing.KINDS), data=st.binary(max_size=600))
def test_random_bytes_only_raise_decode_error(kind: str, data: bytes) -> None:
    try:
        obj = testing.decode(kind, data)
    except DecodeError as exc:
        assert exc.kind in ERROR_KINDS  # type: ignore[attr-defined]
        assert str(exc) and "\n" not in str(exc)
        return
    assert testing.fields(testing.decode(kind, testing.encode(obj))) == testing.fields(obj)


@FUZZ
@given(kind=st.sampled_from(testing.KINDS),
       prefix=st.sampled_from([b"\x10", b"\x01", b"\x84\x00", b"\x02\x01\x06"]), data=st.binary(max_size=80))
def test_plausible_prefixes_only_raise_decode_error(kind: str, prefix: bytes, data: bytes) -> None:
    """Start with a valid version/opcode byte so the fuzzing reaches past the first check."""
    try:
        testing.decode(kind, prefix + data)
    except DecodeError:
        pass


samples = st.integers(1, proto.MAX_SAMPLES_PER_NOTIFICATION).flatmap(
    lambda n: st.lists(st.lists(st.integers(-32768, 32767), min_size=6, max_size=6), min_size=n, max_size=n))


@FUZZ
@given(first_index=st.integers(0, 2**40), device_time_us=st.integers(0, 2**40), raw=samples,
       tx_overflow=st.booleans(), haptic_active=st.booleans())
def test_notification_round_trip(first_index: int, device_time_us: int, raw: list[list[int]],
                                 tx_overflow: bool, haptic_active: bool) -> None:
    packet = proto.DataPacket.build(first_index, device_time_us, raw, tx_overflow=tx_overflow,
                                    haptic_active=haptic_active)
    data = proto.encode_notification(packet)
    assert len(data) == proto.notification_size(len(raw))
    back = proto.decode_notification(data)
    assert (back.first_index, back.device_time_us, back.flags) == (
        first_index % 2**16, device_time_us % 2**32, packet.flags)
    assert np.array_equal(back.raw, np.array(raw)) and back.raw.dtype == np.int16
    assert back.clipped == bool(proto.clipped_mask(raw).any())
    for cut in (len(data) - 1, 7, 0):
        try:
            proto.decode_notification(data[:cut])
        except DecodeError as exc:
            assert exc.kind == "truncated"  # type: ignore[attr-defined]
        else:
            raise AssertionError("a truncated notification decoded")


@FUZZ
@given(mtu=st.integers(23, 1000))
def test_mtu_batch_always_fits(mtu: int) -> None:
    n = proto.samples_per_notification(mtu)
    assert 1 <= n <= proto.MAX_SAMPLES_PER_NOTIFICATION
    assert proto.notification_size(n) <= min(mtu, 517) - 3
    assert n == proto.MAX_SAMPLES_PER_NOTIFICATION or proto.notification_size(n + 1) > mtu - 3


@FUZZ
@given(rate_millihz=st.integers(1, 2**32 - 1), fw=st.tuples(u8, u8, u8), role=roles,
       acc_range_g=st.sampled_from([2, 4, 8, 16]), gyr_range_dps=st.sampled_from(sorted(GYR_MDPS_PER_LSB)))
def test_info_round_trip(rate_millihz: int, fw: tuple[int, int, int], role: str, acc_range_g: int,
                         gyr_range_dps: int) -> None:
    base = proto.SensorInfo.lsm6ds3(acc_range_g=acc_range_g, gyr_range_dps=gyr_range_dps)
    info = proto.SensorInfo(rate_millihz, base.acc_m_s2_per_lsb, base.gyr_rad_s_per_lsb, acc_range_g,
                            gyr_range_dps, role, fw)
    assert proto.decode_info(proto.encode_info(info)) == info


commands = st.one_of(
    st.builds(proto.StartCommand, st.integers(1, 0xFFFF), st.integers(1, 255), st.integers(1, 0xFFFF)),
    st.just(proto.StopCommand()),
    st.builds(proto.HapticCommand, st.integers(1, 255), st.integers(1, 0xFFFF), u16, st.integers(1, 255)),
    st.just(proto.HapticCommand.off()),
    st.builds(proto.TimePingCommand, u32),
    st.builds(proto.IdentifyCommand, u16),
    st.builds(proto.SetRoleCommand, roles),
)


@FUZZ
@given(cmd=commands)
def test_command_round_trip(cmd: proto.Command) -> None:
    assert proto.decode_command(proto.encode_command(cmd)) == cmd


@FUZZ
@given(opcode=st.integers(0, 127), status=st.sampled_from(sorted(STATUSES)), token=u32, t_us=u32)
def test_response_round_trip(opcode: int, status: str, token: int, t_us: int) -> None:
    resp = proto.CommandResponse(opcode, status)
    if resp.carries_time:
        resp = proto.CommandResponse(opcode, status, token, t_us)
    assert proto.decode_response(proto.encode_response(resp)) == resp


@FUZZ
@given(role=roles, battery=st.one_of(st.none(), st.integers(0, 100)), streaming=st.booleans())
def test_advertisement_round_trip(role: str, battery: int | None, streaming: bool) -> None:
    adv = proto.AdvertisementInfo(role, battery, streaming)
    data = proto.encode_advertising_data(adv)
    assert len(data) == 29
    assert proto.decode_advertising_data(data) == adv
    assert proto.decode_advertisement([proto.SERVICE_UUID.upper()], {0xFFFF: data[25:]}) == adv


@FUZZ
@given(start=st.integers(0, 2**16 - 1),
       events=st.lists(st.tuples(st.integers(1, 19), st.integers(0, 300),
                                 st.sampled_from(["new", "dup", "late"])), min_size=1, max_size=120))
def test_unwrapper_recovers_true_indices(start: int, events: list[tuple[int, int, str]]) -> None:
    """Packets with random sizes and gaps, some re-sent (duplicates), some held back and sent late."""
    u = proto.SampleIndexUnwrapper()
    sent: list[tuple[int, int]] = []
    held: list[tuple[int, int]] = []
    nxt = start
    assert u.update(start % 2**16, 1).kind == "first"
    nxt += 1
    for count, gap, what in events:
        first = nxt + gap
        nxt = first + count
        if what == "late" and gap == 0:  # hold this packet back; it arrives after the next one
            held.append((first, count))
            continue
        step = u.update(first % 2**16, count)
        missing = gap + sum(c for _, c in held)
        assert step == proto.IndexStep(first, "gap" if missing else "in_order", missing)
        for late_first, late_count in held:
            late = u.update(late_first % 2**16, late_count)
            assert (late.unwrapped_index, late.kind) == (late_first, "out_of_order")
        held.clear()
        sent.append((first, count))
        if what == "dup":
            again = u.update(first % 2**16, count)
            assert (again.unwrapped_index, again.kind) == (first, "duplicate")
    assert u.next_index == (sent[-1][0] + sent[-1][1] if sent else start + 1)
    assert u.missing == sum(g for _, g, _ in events)  # late packets filled the gaps they opened
