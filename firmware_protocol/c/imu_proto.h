/*
 * imu_proto.h - reference codec of the imu-hinge sensor protocol, version 1.
 *
 * The specification is ../SPEC.md; ../vectors.json holds the test vectors this codec and
 * the Python codec (imu_hinge.protocol) are both tested against.
 *
 * C99, no board dependencies, no dynamic memory, no global state. Every multi-byte field
 * is packed and unpacked byte by byte as little-endian, whatever the host's byte order.
 * Floats (info scale factors) are IEEE 754 binary32.
 *
 * Data notification (8 + 12*n bytes, 1 <= n <= 42):
 *
 *   offset size type  field
 *   0      1    u8    bits 7..4 protocol version (1); bits 3..0 flags (IMU_FLAG_*)
 *   1      1    u8    n, the sample count
 *   2      2    u16   index of the first sample (wraps at 2^16)
 *   4      4    u32   device clock at the first sample, microseconds (wraps at 2^32)
 *   8+12k  12   i16x6 sample k: acc x y z, gyro x y z (raw LSB)
 *
 * Decoders return IMU_OK or the first failing rule as an imu_err_t; imu_err_name()
 * gives the names used in vectors.json ("truncated", "wrong_version", ...).
 * Encoders validate like the decoders: whatever they write decodes.
 */
#ifndef IMU_PROTO_H
#define IMU_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMU_PROTO_VERSION 1u

/* GATT (128-bit UUIDs; the *_LE arrays are in on-air / Nordic uuid128[] byte order). */
#define IMU_PROTO_SERVICE_UUID_STR "6a170001-2f55-4d6c-91c2-33a6f7cdcedf"
#define IMU_PROTO_DATA_CHAR_UUID_STR "6a170002-2f55-4d6c-91c2-33a6f7cdcedf"
#define IMU_PROTO_CONTROL_CHAR_UUID_STR "6a170003-2f55-4d6c-91c2-33a6f7cdcedf"
#define IMU_PROTO_INFO_CHAR_UUID_STR "6a170004-2f55-4d6c-91c2-33a6f7cdcedf"
extern const uint8_t IMU_PROTO_SERVICE_UUID_LE[16];
extern const uint8_t IMU_PROTO_DATA_CHAR_UUID_LE[16];
extern const uint8_t IMU_PROTO_CONTROL_CHAR_UUID_LE[16];
extern const uint8_t IMU_PROTO_INFO_CHAR_UUID_LE[16];

/* Sizes. */
#define IMU_PROTO_ATT_OVERHEAD 3u
#define IMU_PROTO_MIN_MTU 23u
#define IMU_PROTO_MAX_MTU 517u
#define IMU_PROTO_HEADER_SIZE 8u
#define IMU_PROTO_SAMPLE_SIZE 12u
#define IMU_PROTO_MAX_SAMPLES 42u
#define IMU_PROTO_MAX_NOTIFICATION_SIZE (IMU_PROTO_HEADER_SIZE + IMU_PROTO_MAX_SAMPLES * IMU_PROTO_SAMPLE_SIZE)
#define IMU_PROTO_INFO_SIZE 20u
#define IMU_PROTO_RESPONSE_SIZE 2u
#define IMU_PROTO_TIME_PING_RESPONSE_SIZE 10u
#define IMU_PROTO_MAX_COMMAND_SIZE 7u
#define IMU_PROTO_ADV_PAYLOAD_SIZE 4u
#define IMU_PROTO_ADV_DATA_SIZE 29u

/* Notification flags (low nibble of byte 0). */
#define IMU_FLAG_TX_OVERFLOW 0x01u
#define IMU_FLAG_CLIPPED 0x02u
#define IMU_FLAG_HAPTIC_ACTIVE 0x04u
#define IMU_FLAG_RESERVED 0x08u

/* Roles. */
#define IMU_ROLE_UNASSIGNED 0u
#define IMU_ROLE_SACRUM 1u
#define IMU_ROLE_THORACIC 2u

/* Command opcodes; a response's byte 0 is IMU_RESPONSE_BIT | opcode. */
#define IMU_OP_START 0x01u
#define IMU_OP_STOP 0x02u
#define IMU_OP_HAPTIC 0x03u
#define IMU_OP_TIME_PING 0x04u
#define IMU_OP_IDENTIFY 0x05u
#define IMU_OP_SET_ROLE 0x06u
#define IMU_RESPONSE_BIT 0x80u

/* Response status codes. */
#define IMU_STATUS_OK 0u
#define IMU_STATUS_UNKNOWN_OPCODE 1u
#define IMU_STATUS_BAD_LENGTH 2u
#define IMU_STATUS_INVALID_VALUE 3u
#define IMU_STATUS_INVALID_STATE 4u

/* Advertisement. */
#define IMU_ADV_FLAGS 0x06u
#define IMU_ADV_COMPANY_ID 0xFFFFu
#define IMU_ADV_STATUS_STREAMING 0x01u
#define IMU_BATTERY_UNKNOWN 0xFFu

typedef enum {
    IMU_OK = 0,
    IMU_ERR_TRUNCATED = 1,
    IMU_ERR_WRONG_VERSION = 2,
    IMU_ERR_BAD_COUNT = 3,
    IMU_ERR_LENGTH_MISMATCH = 4,
    IMU_ERR_INVALID_VALUE = 5,
    IMU_ERR_UNKNOWN_OPCODE = 6,
    IMU_ERR_MISSING_FIELD = 7,
    IMU_ERR_BUFFER_TOO_SMALL = 8 /* encoders only: the output buffer is too small */
} imu_err_t;

/* "ok", "truncated", "wrong_version", "bad_count", "length_mismatch", "invalid_value",
 * "unknown_opcode", "missing_field", "buffer_too_small". */
const char *imu_err_name(imu_err_t err);

/* Command status code answering a decode error (IMU_STATUS_BAD_LENGTH, ...). */
uint8_t imu_status_for_error(imu_err_t err);

/* ---- data notifications ------------------------------------------------------------ */

typedef struct {
    int16_t acc[3]; /* raw LSB, x y z */
    int16_t gyr[3]; /* raw LSB, x y z */
} imu_sample_t;

typedef struct {
    uint8_t flags; /* IMU_FLAG_* (4 bits) */
    uint8_t count; /* 1 .. IMU_PROTO_MAX_SAMPLES */
    uint16_t first_index;
    uint32_t device_time_us;
    imu_sample_t samples[IMU_PROTO_MAX_SAMPLES];
} imu_notification_t;

/* Samples that fit one notification at this ATT MTU: (mtu - 3 - 8) / 12, at most 42;
 * 0 if mtu < 23. MTU 23 -> 1, 247 -> 19, 517 -> 42. */
size_t imu_samples_per_notification(uint16_t mtu);

/* 8 + 12 * count. */
size_t imu_notification_size(size_t count);

/* True if any axis of the sample is at -32768 or +32767 (sets IMU_FLAG_CLIPPED). */
bool imu_sample_clipped(const imu_sample_t *sample);

/* Streaming helpers for firmware that packs straight from its ring buffer:
 * write the 8-byte header to out[0..7], and one sample to out[0..11]. */
void imu_write_header(uint8_t *out, uint8_t flags, uint8_t count, uint16_t first_index,
                      uint32_t device_time_us);
void imu_write_sample(uint8_t *out, const imu_sample_t *sample);

imu_err_t imu_encode_notification(const imu_notification_t *n, uint8_t *out, size_t cap, size_t *out_len);
imu_err_t imu_decode_notification(const uint8_t *in, size_t len, imu_notification_t *n);

/* ---- info characteristic ------------------------------------------------------------ */

typedef struct {
    uint8_t protocol_version;
    uint8_t fw_major, fw_minor, fw_patch;
    uint32_t rate_millihz;    /* > 0; 104000 = 104 Hz */
    float acc_m_s2_per_lsb;   /* finite, > 0 */
    float gyr_rad_s_per_lsb;  /* finite, > 0 */
    uint8_t acc_range_g;      /* > 0 */
    uint16_t gyr_range_dps;   /* > 0 */
    uint8_t role;             /* IMU_ROLE_* */
} imu_info_t;

imu_err_t imu_encode_info(const imu_info_t *info, uint8_t *out, size_t cap, size_t *out_len);
imu_err_t imu_decode_info(const uint8_t *in, size_t len, imu_info_t *info);

/* ---- commands and responses ----------------------------------------------------------- */

typedef struct {
    uint8_t opcode; /* IMU_OP_* */
    union {
        struct { uint16_t rate_hz; uint8_t acc_range_g; uint16_t gyr_range_dps; } start;
        struct { uint8_t intensity; uint16_t on_ms; uint16_t off_ms; uint8_t repeats; } haptic;
        struct { uint32_t token; } time_ping;
        struct { uint16_t duration_ms; } identify;
        struct { uint8_t role; } set_role;
    } p;
} imu_command_t;

/* Size of a command with this opcode, 0 if the opcode is unknown. */
size_t imu_command_size(uint8_t opcode);
imu_err_t imu_encode_command(const imu_command_t *cmd, uint8_t *out, size_t cap, size_t *out_len);
imu_err_t imu_decode_command(const uint8_t *in, size_t len, imu_command_t *cmd);

typedef struct {
    uint8_t opcode;           /* of the command answered, without IMU_RESPONSE_BIT (0..127) */
    uint8_t status;           /* IMU_STATUS_* */
    uint32_t token;           /* time_ping + ok only */
    uint32_t device_time_us;  /* time_ping + ok only */
} imu_response_t;

/* True if the response carries token and device time (an ok answer to time_ping). */
bool imu_response_has_time(const imu_response_t *r);
imu_err_t imu_encode_response(const imu_response_t *r, uint8_t *out, size_t cap, size_t *out_len);
imu_err_t imu_decode_response(const uint8_t *in, size_t len, imu_response_t *r);

/* SPEC 1.1 section 6: the opcode an answer to this write carries: in[0], or 0 (IMU_NO_OPCODE) for an
 * empty write or a byte 0 of 0x80..0xFF, so the answer never reads as one to a real command. */
#define IMU_NO_OPCODE 0u
uint8_t imu_answer_opcode(const uint8_t *in, size_t len);

/* The answer to a write that does not decode: fills *r (opcode per imu_answer_opcode, status per
 * imu_status_for_error) and returns the decode error; returns IMU_OK and leaves *r alone if the
 * command decodes (into *cmd, which may be NULL). */
imu_err_t imu_error_answer(const uint8_t *in, size_t len, imu_command_t *cmd, imu_response_t *r);

/* SPEC 1.1 section 5: the highest rate any v1 sensor streams at. */
#define IMU_MAX_RATE_HZ 416u

/* The rate start(rate_hz) picks from a sensor's supported rates (mHz, any order): the lowest r with
 * round-half-up(r / 1000) >= rate_hz and r <= IMU_MAX_RATE_HZ * 1000; 0 if none (answer invalid_value). */
uint32_t imu_pick_rate_millihz(uint16_t rate_hz, const uint32_t *supported_millihz, size_t n);

/* ---- advertisement -------------------------------------------------------------------- */

typedef struct {
    uint8_t protocol_version;
    uint8_t role;            /* IMU_ROLE_* */
    uint8_t battery_percent; /* 0..100, IMU_BATTERY_UNKNOWN = 255 */
    bool streaming;
} imu_adv_t;

/* The 4-byte manufacturer-data payload (after the company ID). */
imu_err_t imu_encode_adv_payload(const imu_adv_t *a, uint8_t *out, size_t cap, size_t *out_len);
imu_err_t imu_decode_adv_payload(const uint8_t *in, size_t len, imu_adv_t *a);

/* Full 29-byte advertising data: flags, 128-bit service UUID list, manufacturer data. */
imu_err_t imu_encode_adv_data(const imu_adv_t *a, uint8_t *out, size_t cap, size_t *out_len);
imu_err_t imu_decode_adv_data(const uint8_t *in, size_t len, imu_adv_t *a);

#ifdef __cplusplus
}
#endif

#endif /* IMU_PROTO_H */
