"""The sensor firmware protocol (version 1): pure, synchronous encode/decode functions.

The specification is ``firmware_protocol/SPEC.md``; its test vectors
(``firmware_protocol/vectors.json``) drive both this codec and the C reference codec
the firmware uses. Nothing here touches BLE: sources hand bytes in, get values out::

    packet = decode_notification(data)                 # DataPacket: raw (n, 6) int16, flags, ...
    step = unwrapper.update(packet.first_index, packet.count)
    acc_m_s2, gyr_rad_s = packet_to_si(packet, info)   # info = decode_info(await read(INFO_CHAR_UUID))

Every decode failure raises :class:`ProtocolDecodeError`, a :class:`imu_hinge.errors.DecodeError`
whose ``kind`` names the rule that failed; encoders raise ``ValueError`` on out-of-range fields.

Modules: :mod:`.spec` (constants), :mod:`.codec` (data notifications), :mod:`.commands`
(control writes and responses), :mod:`.info` (the info characteristic, SI conversion),
:mod:`.advertising` (service UUID + role), :mod:`.unwrap` (wrapped counters).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imu_hinge.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from imu_hinge.protocol.advertising import (
        SERVICE_UUID_LE,
        AdvertisementInfo,
        decode_adv_payload,
        decode_advertisement,
        decode_advertising_data,
        encode_adv_payload,
        encode_advertising_data,
    )
    from imu_hinge.protocol.codec import (
        DataPacket,
        clipped_mask,
        decode_notification,
        encode_notification,
        notification_size,
        samples_per_notification,
    )
    from imu_hinge.protocol.commands import (
        Command,
        CommandResponse,
        HapticCommand,
        IdentifyCommand,
        SetRoleCommand,
        StartCommand,
        StopCommand,
        TimePingCommand,
        answer_opcode,
        decode_command,
        decode_response,
        encode_command,
        encode_response,
        error_answer,
        pick_rate_millihz,
    )
    from imu_hinge.protocol.info import (
        SensorInfo,
        acc_m_s2_per_lsb,
        decode_info,
        encode_info,
        gyr_rad_s_per_lsb,
        packet_to_si,
        raw_to_si,
    )
    from imu_hinge.protocol.spec import (
        CONTROL_CHAR_UUID,
        DATA_CHAR_UUID,
        ERROR_KINDS,
        INFO_CHAR_UUID,
        MAX_SAMPLES_PER_NOTIFICATION,
        PROTOCOL_VERSION,
        ROLES,
        SERVICE_UUID,
        ProtocolDecodeError,
    )
    from imu_hinge.protocol.unwrap import (
        DeviceClockUnwrapper,
        IndexStep,
        SampleIndexUnwrapper,
        unwrap_counter,
        unwrap_nearest,
    )

_LAZY: dict[str, str] = {
    **dict.fromkeys(("SERVICE_UUID_LE", "AdvertisementInfo", "decode_adv_payload", "decode_advertisement",
        "decode_advertising_data", "encode_adv_payload", "encode_advertising_data"), "advertising"),
    **dict.fromkeys(("DataPacket", "clipped_mask", "decode_notification", "encode_notification",
        "notification_size", "samples_per_notification"), "codec"),
    **dict.fromkeys(("Command", "CommandResponse", "HapticCommand", "IdentifyCommand", "SetRoleCommand",
        "StartCommand", "StopCommand", "TimePingCommand", "answer_opcode", "decode_command", "decode_response",
        "encode_command", "encode_response", "error_answer", "pick_rate_millihz"), "commands"),
    **dict.fromkeys(("SensorInfo", "acc_m_s2_per_lsb", "decode_info", "encode_info", "gyr_rad_s_per_lsb",
        "packet_to_si", "raw_to_si"), "info"),
    **dict.fromkeys(("CONTROL_CHAR_UUID", "DATA_CHAR_UUID", "ERROR_KINDS", "INFO_CHAR_UUID",
        "MAX_SAMPLES_PER_NOTIFICATION", "PROTOCOL_VERSION", "ROLES", "SERVICE_UUID", "ProtocolDecodeError"), "spec"),
    **dict.fromkeys(("DeviceClockUnwrapper", "IndexStep", "SampleIndexUnwrapper", "unwrap_counter",
        "unwrap_nearest"), "unwrap"),
}
"""Names this package exports from its modules, imported on first use: reading a recording needs the codec, the
info and the spec only, not the commands or advertising (start-up of every analysis)."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "CONTROL_CHAR_UUID",
    "DATA_CHAR_UUID",
    "ERROR_KINDS",
    "INFO_CHAR_UUID",
    "MAX_SAMPLES_PER_NOTIFICATION",
    "PROTOCOL_VERSION",
    "ROLES",
    "SERVICE_UUID",
    "SERVICE_UUID_LE",
    "AdvertisementInfo",
    "Command",
    "CommandResponse",
    "DataPacket",
    "DeviceClockUnwrapper",
    "HapticCommand",
    "IdentifyCommand",
    "IndexStep",
    "ProtocolDecodeError",
    "SampleIndexUnwrapper",
    "SensorInfo",
    "SetRoleCommand",
    "StartCommand",
    "StopCommand",
    "TimePingCommand",
    "acc_m_s2_per_lsb",
    "answer_opcode",
    "error_answer",
    "pick_rate_millihz",
    "clipped_mask",
    "decode_adv_payload",
    "decode_advertisement",
    "decode_advertising_data",
    "decode_command",
    "decode_info",
    "decode_notification",
    "decode_response",
    "encode_adv_payload",
    "encode_advertising_data",
    "encode_command",
    "encode_info",
    "encode_notification",
    "encode_response",
    "gyr_rad_s_per_lsb",
    "notification_size",
    "packet_to_si",
    "raw_to_si",
    "samples_per_notification",
    "unwrap_counter",
    "unwrap_nearest",
]
