/*
 * imu_proto.c - reference codec of the imu-hinge sensor protocol, version 1 (see imu_proto.h).
 */
#include "imu_proto.h"

#include <float.h>
#include <string.h>

/* binary32 floats are assumed (checked at compile time: a negative array size fails). */
typedef char imu_proto_float_is_32_bits[(sizeof(float) == 4u) ? 1 : -1];

#define IMU_UUID_LE(last) {0xdf, 0xce, 0xcd, 0xf7, 0xa6, 0x33, 0xc2, 0x91, \
                           0x6c, 0x4d, 0x55, 0x2f, (last), 0x00, 0x17, 0x6a}
const uint8_t IMU_PROTO_SERVICE_UUID_LE[16] = IMU_UUID_LE(0x01);
const uint8_t IMU_PROTO_DATA_CHAR_UUID_LE[16] = IMU_UUID_LE(0x02);
const uint8_t IMU_PROTO_CONTROL_CHAR_UUID_LE[16] = IMU_UUID_LE(0x03);
const uint8_t IMU_PROTO_INFO_CHAR_UUID_LE[16] = IMU_UUID_LE(0x04);

#define AD_TYPE_FLAGS 0x01u
#define AD_TYPE_UUID128_INCOMPLETE 0x06u
#define AD_TYPE_UUID128_COMPLETE 0x07u
#define AD_TYPE_MANUFACTURER 0xFFu

/* ---- little-endian helpers --------------------------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static void put_i16(uint8_t *p, int16_t v)
{
    /* two's complement bit pattern, computed without implementation-defined conversions */
    put_u16(p, (uint16_t)(v < 0 ? (uint16_t)(65536L + (long)v) : (uint16_t)v));
}

static void put_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    put_u32(p, u);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] | ((unsigned)p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int16_t get_i16(const uint8_t *p)
{
    uint16_t u = get_u16(p);
    return (u >= 0x8000u) ? (int16_t)((long)u - 65536L) : (int16_t)u;
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = get_u32(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static bool positive_finite(float v)
{
    return v > 0.0f && v <= FLT_MAX; /* false for NaN, infinity, 0 and negatives */
}

/* ---- errors --------------------------------------------------------------------------------- */

const char *imu_err_name(imu_err_t err)
{
    switch (err) {
    case IMU_OK: return "ok";
    case IMU_ERR_TRUNCATED: return "truncated";
    case IMU_ERR_WRONG_VERSION: return "wrong_version";
    case IMU_ERR_BAD_COUNT: return "bad_count";
    case IMU_ERR_LENGTH_MISMATCH: return "length_mismatch";
    case IMU_ERR_INVALID_VALUE: return "invalid_value";
    case IMU_ERR_UNKNOWN_OPCODE: return "unknown_opcode";
    case IMU_ERR_MISSING_FIELD: return "missing_field";
    case IMU_ERR_BUFFER_TOO_SMALL: return "buffer_too_small";
    default: return "unknown_error";
    }
}

uint8_t imu_status_for_error(imu_err_t err)
{
    switch (err) {
    case IMU_OK: return IMU_STATUS_OK;
    case IMU_ERR_UNKNOWN_OPCODE: return IMU_STATUS_UNKNOWN_OPCODE;
    case IMU_ERR_TRUNCATED:
    case IMU_ERR_LENGTH_MISMATCH: return IMU_STATUS_BAD_LENGTH;
    default: return IMU_STATUS_INVALID_VALUE;
    }
}

static imu_err_t check_cap(size_t cap, size_t need, size_t *out_len)
{
    if (out_len != NULL) {
        *out_len = 0u;
    }
    return (cap < need) ? IMU_ERR_BUFFER_TOO_SMALL : IMU_OK;
}

/* ---- data notifications ------------------------------------------------------------------- */

size_t imu_samples_per_notification(uint16_t mtu)
{
    size_t n;
    if (mtu < IMU_PROTO_MIN_MTU) {
        return 0u;
    }
    n = ((size_t)mtu - IMU_PROTO_ATT_OVERHEAD - IMU_PROTO_HEADER_SIZE) / IMU_PROTO_SAMPLE_SIZE;
    return (n > IMU_PROTO_MAX_SAMPLES) ? IMU_PROTO_MAX_SAMPLES : n;
}

size_t imu_notification_size(size_t count)
{
    return IMU_PROTO_HEADER_SIZE + count * IMU_PROTO_SAMPLE_SIZE;
}

bool imu_sample_clipped(const imu_sample_t *s)
{
    int i;
    for (i = 0; i < 3; i++) {
        if (s->acc[i] == INT16_MIN || s->acc[i] == INT16_MAX || s->gyr[i] == INT16_MIN || s->gyr[i] == INT16_MAX) {
            return true;
        }
    }
    return false;
}

void imu_write_header(uint8_t *out, uint8_t flags, uint8_t count, uint16_t first_index, uint32_t device_time_us)
{
    out[0] = (uint8_t)((IMU_PROTO_VERSION << 4) | (flags & 0x0Fu));
    out[1] = count;
    put_u16(out + 2, first_index);
    put_u32(out + 4, device_time_us);
}

void imu_write_sample(uint8_t *out, const imu_sample_t *s)
{
    int i;
    for (i = 0; i < 3; i++) {
        put_i16(out + 2 * i, s->acc[i]);
        put_i16(out + 6 + 2 * i, s->gyr[i]);
    }
}

imu_err_t imu_encode_notification(const imu_notification_t *n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t k, size;
    imu_err_t err;
    if (n->count < 1u || n->count > IMU_PROTO_MAX_SAMPLES) {
        return IMU_ERR_BAD_COUNT;
    }
    if (n->flags > 0x0Fu) {
        return IMU_ERR_INVALID_VALUE;
    }
    size = imu_notification_size(n->count);
    err = check_cap(cap, size, out_len);
    if (err != IMU_OK) {
        return err;
    }
    imu_write_header(out, n->flags, n->count, n->first_index, n->device_time_us);
    for (k = 0; k < n->count; k++) {
        imu_write_sample(out + IMU_PROTO_HEADER_SIZE + k * IMU_PROTO_SAMPLE_SIZE, &n->samples[k]);
    }
    *out_len = size;
    return IMU_OK;
}

imu_err_t imu_decode_notification(const uint8_t *in, size_t len, imu_notification_t *n)
{
    size_t k, size;
    int i;
    if (len < 1u) {
        return IMU_ERR_TRUNCATED;
    }
    if ((in[0] >> 4) != IMU_PROTO_VERSION) {
        return IMU_ERR_WRONG_VERSION;
    }
    if (len < IMU_PROTO_HEADER_SIZE) {
        return IMU_ERR_TRUNCATED;
    }
    if (in[1] < 1u || in[1] > IMU_PROTO_MAX_SAMPLES) {
        return IMU_ERR_BAD_COUNT;
    }
    size = imu_notification_size(in[1]);
    if (len < size) {
        return IMU_ERR_TRUNCATED;
    }
    if (len > size) {
        return IMU_ERR_LENGTH_MISMATCH;
    }
    n->flags = (uint8_t)(in[0] & 0x0Fu);
    n->count = in[1];
    n->first_index = get_u16(in + 2);
    n->device_time_us = get_u32(in + 4);
    for (k = 0; k < n->count; k++) {
        const uint8_t *p = in + IMU_PROTO_HEADER_SIZE + k * IMU_PROTO_SAMPLE_SIZE;
        for (i = 0; i < 3; i++) {
            n->samples[k].acc[i] = get_i16(p + 2 * i);
            n->samples[k].gyr[i] = get_i16(p + 6 + 2 * i);
        }
    }
    return IMU_OK;
}

/* ---- info characteristic ------------------------------------------------------------------ */

static imu_err_t check_info(const imu_info_t *f)
{
    if (f->rate_millihz == 0u || !positive_finite(f->acc_m_s2_per_lsb) || !positive_finite(f->gyr_rad_s_per_lsb)
        || f->acc_range_g == 0u || f->gyr_range_dps == 0u || f->role > IMU_ROLE_THORACIC) {
        return IMU_ERR_INVALID_VALUE;
    }
    return IMU_OK;
}

imu_err_t imu_encode_info(const imu_info_t *f, uint8_t *out, size_t cap, size_t *out_len)
{
    imu_err_t err;
    if (f->protocol_version != IMU_PROTO_VERSION) {
        return IMU_ERR_WRONG_VERSION;
    }
    err = check_info(f);
    if (err == IMU_OK) {
        err = check_cap(cap, IMU_PROTO_INFO_SIZE, out_len);
    }
    if (err != IMU_OK) {
        return err;
    }
    out[0] = f->protocol_version;
    out[1] = f->fw_major;
    out[2] = f->fw_minor;
    out[3] = f->fw_patch;
    put_u32(out + 4, f->rate_millihz);
    put_f32(out + 8, f->acc_m_s2_per_lsb);
    put_f32(out + 12, f->gyr_rad_s_per_lsb);
    out[16] = f->acc_range_g;
    put_u16(out + 17, f->gyr_range_dps);
    out[19] = f->role;
    *out_len = IMU_PROTO_INFO_SIZE;
    return IMU_OK;
}

imu_err_t imu_decode_info(const uint8_t *in, size_t len, imu_info_t *f)
{
    if (len < 1u) {
        return IMU_ERR_TRUNCATED;
    }
    if (in[0] != IMU_PROTO_VERSION) {
        return IMU_ERR_WRONG_VERSION;
    }
    if (len < IMU_PROTO_INFO_SIZE) {
        return IMU_ERR_TRUNCATED; /* longer values are accepted: later versions may append */
    }
    f->protocol_version = in[0];
    f->fw_major = in[1];
    f->fw_minor = in[2];
    f->fw_patch = in[3];
    f->rate_millihz = get_u32(in + 4);
    f->acc_m_s2_per_lsb = get_f32(in + 8);
    f->gyr_rad_s_per_lsb = get_f32(in + 12);
    f->acc_range_g = in[16];
    f->gyr_range_dps = get_u16(in + 17);
    f->role = in[19];
    return check_info(f);
}

/* ---- commands ------------------------------------------------------------------------------ */

size_t imu_command_size(uint8_t opcode)
{
    switch (opcode) {
    case IMU_OP_START: return 6u;
    case IMU_OP_STOP: return 1u;
    case IMU_OP_HAPTIC: return 7u;
    case IMU_OP_TIME_PING: return 5u;
    case IMU_OP_IDENTIFY: return 3u;
    case IMU_OP_SET_ROLE: return 2u;
    default: return 0u;
    }
}

static imu_err_t check_command(const imu_command_t *c)
{
    switch (c->opcode) {
    case IMU_OP_START:
        if (c->p.start.rate_hz == 0u || c->p.start.acc_range_g == 0u || c->p.start.gyr_range_dps == 0u) {
            return IMU_ERR_INVALID_VALUE;
        }
        return IMU_OK;
    case IMU_OP_HAPTIC:
        if (c->p.haptic.intensity > 0u && (c->p.haptic.on_ms == 0u || c->p.haptic.repeats == 0u)) {
            return IMU_ERR_INVALID_VALUE;
        }
        return IMU_OK;
    case IMU_OP_SET_ROLE:
        return (c->p.set_role.role > IMU_ROLE_THORACIC) ? IMU_ERR_INVALID_VALUE : IMU_OK;
    default:
        return IMU_OK;
    }
}

imu_err_t imu_encode_command(const imu_command_t *c, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t size = imu_command_size(c->opcode);
    imu_err_t err;
    if (size == 0u) {
        return IMU_ERR_UNKNOWN_OPCODE;
    }
    err = check_command(c);
    if (err == IMU_OK) {
        err = check_cap(cap, size, out_len);
    }
    if (err != IMU_OK) {
        return err;
    }
    out[0] = c->opcode;
    switch (c->opcode) {
    case IMU_OP_START:
        put_u16(out + 1, c->p.start.rate_hz);
        out[3] = c->p.start.acc_range_g;
        put_u16(out + 4, c->p.start.gyr_range_dps);
        break;
    case IMU_OP_HAPTIC:
        out[1] = c->p.haptic.intensity;
        put_u16(out + 2, c->p.haptic.on_ms);
        put_u16(out + 4, c->p.haptic.off_ms);
        out[6] = c->p.haptic.repeats;
        break;
    case IMU_OP_TIME_PING:
        put_u32(out + 1, c->p.time_ping.token);
        break;
    case IMU_OP_IDENTIFY:
        put_u16(out + 1, c->p.identify.duration_ms);
        break;
    case IMU_OP_SET_ROLE:
        out[1] = c->p.set_role.role;
        break;
    default: /* stop: no parameters */
        break;
    }
    *out_len = size;
    return IMU_OK;
}

imu_err_t imu_decode_command(const uint8_t *in, size_t len, imu_command_t *c)
{
    size_t size;
    if (len < 1u) {
        return IMU_ERR_TRUNCATED;
    }
    size = imu_command_size(in[0]);
    if (size == 0u) {
        return IMU_ERR_UNKNOWN_OPCODE;
    }
    if (len < size) {
        return IMU_ERR_TRUNCATED;
    }
    if (len > size) {
        return IMU_ERR_LENGTH_MISMATCH;
    }
    memset(c, 0, sizeof *c);
    c->opcode = in[0];
    switch (c->opcode) {
    case IMU_OP_START:
        c->p.start.rate_hz = get_u16(in + 1);
        c->p.start.acc_range_g = in[3];
        c->p.start.gyr_range_dps = get_u16(in + 4);
        break;
    case IMU_OP_HAPTIC:
        c->p.haptic.intensity = in[1];
        c->p.haptic.on_ms = get_u16(in + 2);
        c->p.haptic.off_ms = get_u16(in + 4);
        c->p.haptic.repeats = in[6];
        break;
    case IMU_OP_TIME_PING:
        c->p.time_ping.token = get_u32(in + 1);
        break;
    case IMU_OP_IDENTIFY:
        c->p.identify.duration_ms = get_u16(in + 1);
        break;
    case IMU_OP_SET_ROLE:
        c->p.set_role.role = in[1];
        break;
    default:
        break;
    }
    return check_command(c);
}

/* ---- responses ---------------------------------------------------------------------------- */

bool imu_response_has_time(const imu_response_t *r)
{
    return r->opcode == IMU_OP_TIME_PING && r->status == IMU_STATUS_OK;
}

imu_err_t imu_encode_response(const imu_response_t *r, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t size = imu_response_has_time(r) ? IMU_PROTO_TIME_PING_RESPONSE_SIZE : IMU_PROTO_RESPONSE_SIZE;
    imu_err_t err;
    if (r->opcode > 0x7Fu || r->status > IMU_STATUS_INVALID_STATE) {
        return IMU_ERR_INVALID_VALUE;
    }
    err = check_cap(cap, size, out_len);
    if (err != IMU_OK) {
        return err;
    }
    out[0] = (uint8_t)(IMU_RESPONSE_BIT | r->opcode);
    out[1] = r->status;
    if (size == IMU_PROTO_TIME_PING_RESPONSE_SIZE) {
        put_u32(out + 2, r->token);
        put_u32(out + 6, r->device_time_us);
    }
    *out_len = size;
    return IMU_OK;
}

imu_err_t imu_decode_response(const uint8_t *in, size_t len, imu_response_t *r)
{
    size_t size;
    if (len < 1u) {
        return IMU_ERR_TRUNCATED;
    }
    if ((in[0] & IMU_RESPONSE_BIT) == 0u) {
        return IMU_ERR_INVALID_VALUE;
    }
    if (len < IMU_PROTO_RESPONSE_SIZE) {
        return IMU_ERR_TRUNCATED;
    }
    if (in[1] > IMU_STATUS_INVALID_STATE) {
        return IMU_ERR_INVALID_VALUE;
    }
    memset(r, 0, sizeof *r);
    r->opcode = (uint8_t)(in[0] & 0x7Fu);
    r->status = in[1];
    size = imu_response_has_time(r) ? IMU_PROTO_TIME_PING_RESPONSE_SIZE : IMU_PROTO_RESPONSE_SIZE;
    if (len < size) {
        return IMU_ERR_TRUNCATED;
    }
    if (len > size) {
        return IMU_ERR_LENGTH_MISMATCH;
    }
    if (size == IMU_PROTO_TIME_PING_RESPONSE_SIZE) {
        r->token = get_u32(in + 2);
        r->device_time_us = get_u32(in + 6);
    }
    return IMU_OK;
}

/* ---- advertisement ---------------------------------------------------------------------------- */

static imu_err_t check_adv(const imu_adv_t *a)
{
    if (a->role > IMU_ROLE_THORACIC || (a->battery_percent > 100u && a->battery_percent != IMU_BATTERY_UNKNOWN)) {
        return IMU_ERR_INVALID_VALUE;
    }
    return IMU_OK;
}

imu_err_t imu_encode_adv_payload(const imu_adv_t *a, uint8_t *out, size_t cap, size_t *out_len)
{
    imu_err_t err;
    if (a->protocol_version != IMU_PROTO_VERSION) {
        return IMU_ERR_WRONG_VERSION;
    }
    err = check_adv(a);
    if (err == IMU_OK) {
        err = check_cap(cap, IMU_PROTO_ADV_PAYLOAD_SIZE, out_len);
    }
    if (err != IMU_OK) {
        return err;
    }
    out[0] = a->protocol_version;
    out[1] = a->role;
    out[2] = a->battery_percent;
    out[3] = a->streaming ? (uint8_t)IMU_ADV_STATUS_STREAMING : (uint8_t)0u;
    *out_len = IMU_PROTO_ADV_PAYLOAD_SIZE;
    return IMU_OK;
}

imu_err_t imu_decode_adv_payload(const uint8_t *in, size_t len, imu_adv_t *a)
{
    if (len < 1u) {
        return IMU_ERR_TRUNCATED;
    }
    if (in[0] != IMU_PROTO_VERSION) {
        return IMU_ERR_WRONG_VERSION;
    }
    if (len < IMU_PROTO_ADV_PAYLOAD_SIZE) {
        return IMU_ERR_TRUNCATED; /* longer payloads are accepted: later versions may append */
    }
    a->protocol_version = in[0];
    a->role = in[1];
    a->battery_percent = in[2];
    a->streaming = (in[3] & IMU_ADV_STATUS_STREAMING) != 0u;
    return check_adv(a);
}

imu_err_t imu_encode_adv_data(const imu_adv_t *a, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t payload_len;
    imu_err_t err = check_cap(cap, IMU_PROTO_ADV_DATA_SIZE, out_len);
    if (err != IMU_OK) {
        return err;
    }
    err = imu_encode_adv_payload(a, out + 25, cap - 25u, &payload_len);
    if (err != IMU_OK) {
        return err;
    }
    out[0] = 2u;
    out[1] = AD_TYPE_FLAGS;
    out[2] = IMU_ADV_FLAGS;
    out[3] = 17u;
    out[4] = AD_TYPE_UUID128_COMPLETE;
    memcpy(out + 5, IMU_PROTO_SERVICE_UUID_LE, 16u);
    out[21] = (uint8_t)(3u + payload_len);
    out[22] = AD_TYPE_MANUFACTURER;
    put_u16(out + 23, IMU_ADV_COMPANY_ID);
    *out_len = IMU_PROTO_ADV_DATA_SIZE;
    return IMU_OK;
}

imu_err_t imu_decode_adv_data(const uint8_t *in, size_t len, imu_adv_t *a)
{
    size_t pos = 0u, i;
    bool has_uuid = false;
    const uint8_t *payload = NULL;
    size_t payload_len = 0u;
    while (pos < len) {
        size_t field_len = in[pos];
        const uint8_t *value;
        size_t value_len;
        uint8_t type;
        if (field_len == 0u) {
            break; /* the rest is padding */
        }
        if (pos + 1u + field_len > len) {
            return IMU_ERR_TRUNCATED;
        }
        type = in[pos + 1u];
        value = in + pos + 2u;
        value_len = field_len - 1u;
        if (type == AD_TYPE_UUID128_INCOMPLETE || type == AD_TYPE_UUID128_COMPLETE) {
            for (i = 0u; i + 16u <= value_len; i += 16u) {
                if (memcmp(value + i, IMU_PROTO_SERVICE_UUID_LE, 16u) == 0) {
                    has_uuid = true;
                }
            }
        } else if (type == AD_TYPE_MANUFACTURER && payload == NULL && value_len >= 2u
                   && get_u16(value) == IMU_ADV_COMPANY_ID) {
            payload = value + 2;
            payload_len = value_len - 2u;
        }
        pos += 1u + field_len;
    }
    if (!has_uuid || payload == NULL) {
        return IMU_ERR_MISSING_FIELD;
    }
    return imu_decode_adv_payload(payload, payload_len, a);
}

uint8_t imu_answer_opcode(const uint8_t *in, size_t len)
{
    if (len == 0u || (in[0] & IMU_RESPONSE_BIT) != 0u) {
        return IMU_NO_OPCODE;
    }
    return in[0];
}

imu_err_t imu_error_answer(const uint8_t *in, size_t len, imu_command_t *cmd, imu_response_t *r)
{
    imu_command_t scratch;
    imu_err_t err = imu_decode_command(in, len, cmd != NULL ? cmd : &scratch);
    if (err != IMU_OK) {
        r->opcode = imu_answer_opcode(in, len);
        r->status = imu_status_for_error(err);
        r->token = 0u;
        r->device_time_us = 0u;
    }
    return err;
}

uint32_t imu_pick_rate_millihz(uint16_t rate_hz, const uint32_t *supported_millihz, size_t n)
{
    uint32_t best = 0u;
    size_t i;
    for (i = 0u; i < n; i++) {
        uint32_t r = supported_millihz[i];
        if (r <= IMU_MAX_RATE_HZ * 1000u && (r + 500u) / 1000u >= (uint32_t)rate_hz && (best == 0u || r < best)) {
            best = r;
        }
    }
    return best;
}
