/*
 * Host harness for the C reference codec; tests/test_protocol_c_codec.py drives it.
 *
 * Reads one request per line on stdin and prints one line per request on stdout:
 *
 *   <kind> <hex>     kind: notification | info | command | response | advertisement;
 *                    hex "-" is zero bytes. Prints "error <kind>" or
 *                    "ok key=value ... reencode=<hex>" (the decoded fields, then the
 *                    bytes the encoder makes from them).
 *   mtu <n>          "ok samples=<n>" or "error invalid_value" below MTU 23.
 *   rate <hz>        "ok rate_millihz=<r>" (the reference rates) or "error invalid_value".
 *   answer <hex>     "ok answer=<hex>" (the answer to a write that does not decode) or "ok decodes".
 *   constants        "ok name=value ..." for the constants checked against protocol.json.
 *
 * Build: gcc -Wall -Wextra -Werror -std=c99 -I.. test_vectors_main.c ../imu_proto.c
 */
#include "imu_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES 2048u
#define LINE_SIZE (2u * MAX_BYTES + 64u)

static const char *role_name(unsigned role)
{
    switch (role) {
    case IMU_ROLE_UNASSIGNED: return "unassigned";
    case IMU_ROLE_SACRUM: return "sacrum";
    case IMU_ROLE_THORACIC: return "thoracic";
    default: return "?";
    }
}

static const char *status_name(unsigned status)
{
    static const char *const names[] = {"ok", "unknown_opcode", "bad_length", "invalid_value", "invalid_state"};
    return status < 5u ? names[status] : "?";
}

static const char *bool_name(bool b)
{
    return b ? "true" : "false";
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses hex into out; returns the byte count or -1. "-" is zero bytes. */
static long parse_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0u;
    if (strcmp(s, "-") == 0) {
        return 0;
    }
    while (s[0] != '\0' && s[1] != '\0') {
        int hi = hex_value(s[0]), lo = hex_value(s[1]);
        if (hi < 0 || lo < 0 || n >= cap) {
            return -1;
        }
        out[n++] = (uint8_t)(hi * 16 + lo);
        s += 2;
    }
    return (s[0] == '\0') ? (long)n : -1;
}

static void print_reencode(imu_err_t err, const uint8_t *buf, size_t len)
{
    size_t i;
    if (err != IMU_OK) {
        printf(" reencode=error:%s\n", imu_err_name(err));
        return;
    }
    printf(" reencode=");
    for (i = 0; i < len; i++) {
        printf("%02x", buf[i]);
    }
    printf("\n");
}

static void do_notification(const uint8_t *in, size_t len)
{
    static imu_notification_t n;
    static uint8_t out[IMU_PROTO_MAX_NOTIFICATION_SIZE];
    size_t out_len = 0u, k;
    imu_err_t err = imu_decode_notification(in, len, &n);
    if (err != IMU_OK) {
        printf("error %s\n", imu_err_name(err));
        return;
    }
    printf("ok version=%u flags=%u tx_overflow=%s clipped=%s haptic_active=%s count=%u first_index=%u "
           "device_time_us=%lu samples=",
           (unsigned)IMU_PROTO_VERSION, (unsigned)n.flags, bool_name((n.flags & IMU_FLAG_TX_OVERFLOW) != 0u),
           bool_name((n.flags & IMU_FLAG_CLIPPED) != 0u), bool_name((n.flags & IMU_FLAG_HAPTIC_ACTIVE) != 0u),
           (unsigned)n.count, (unsigned)n.first_index, (unsigned long)n.device_time_us);
    for (k = 0; k < n.count; k++) {
        const imu_sample_t *s = &n.samples[k];
        printf("%s%d,%d,%d,%d,%d,%d", k ? ";" : "", s->acc[0], s->acc[1], s->acc[2], s->gyr[0], s->gyr[1],
               s->gyr[2]);
    }
    err = imu_encode_notification(&n, out, sizeof out, &out_len);
    print_reencode(err, out, out_len);
}

static void do_info(const uint8_t *in, size_t len)
{
    imu_info_t f;
    uint8_t out[IMU_PROTO_INFO_SIZE];
    size_t out_len = 0u;
    imu_err_t err = imu_decode_info(in, len, &f);
    if (err != IMU_OK) {
        printf("error %s\n", imu_err_name(err));
        return;
    }
    printf("ok protocol_version=%u firmware_version=%u.%u.%u rate_millihz=%lu acc_m_s2_per_lsb=%.9g "
           "gyr_rad_s_per_lsb=%.9g acc_range_g=%u gyr_range_dps=%u role=%s",
           (unsigned)f.protocol_version, (unsigned)f.fw_major, (unsigned)f.fw_minor, (unsigned)f.fw_patch,
           (unsigned long)f.rate_millihz, (double)f.acc_m_s2_per_lsb, (double)f.gyr_rad_s_per_lsb,
           (unsigned)f.acc_range_g, (unsigned)f.gyr_range_dps, role_name(f.role));
    err = imu_encode_info(&f, out, sizeof out, &out_len);
    print_reencode(err, out, out_len);
}

static void do_command(const uint8_t *in, size_t len)
{
    imu_command_t c;
    uint8_t out[IMU_PROTO_MAX_COMMAND_SIZE];
    size_t out_len = 0u;
    imu_err_t err = imu_decode_command(in, len, &c);
    if (err != IMU_OK) {
        printf("error %s\n", imu_err_name(err));
        return;
    }
    switch (c.opcode) {
    case IMU_OP_START:
        printf("ok command=start rate_hz=%u acc_range_g=%u gyr_range_dps=%u", (unsigned)c.p.start.rate_hz,
               (unsigned)c.p.start.acc_range_g, (unsigned)c.p.start.gyr_range_dps);
        break;
    case IMU_OP_STOP:
        printf("ok command=stop");
        break;
    case IMU_OP_HAPTIC:
        printf("ok command=haptic intensity=%u on_ms=%u off_ms=%u repeats=%u", (unsigned)c.p.haptic.intensity,
               (unsigned)c.p.haptic.on_ms, (unsigned)c.p.haptic.off_ms, (unsigned)c.p.haptic.repeats);
        break;
    case IMU_OP_TIME_PING:
        printf("ok command=time_ping token=%lu", (unsigned long)c.p.time_ping.token);
        break;
    case IMU_OP_IDENTIFY:
        printf("ok command=identify duration_ms=%u", (unsigned)c.p.identify.duration_ms);
        break;
    case IMU_OP_SET_ROLE:
        printf("ok command=set_role role=%s", role_name(c.p.set_role.role));
        break;
    default:
        printf("ok command=?");
        break;
    }
    err = imu_encode_command(&c, out, sizeof out, &out_len);
    print_reencode(err, out, out_len);
}

static void do_response(const uint8_t *in, size_t len)
{
    imu_response_t r;
    uint8_t out[IMU_PROTO_TIME_PING_RESPONSE_SIZE];
    size_t out_len = 0u;
    imu_err_t err = imu_decode_response(in, len, &r);
    if (err != IMU_OK) {
        printf("error %s\n", imu_err_name(err));
        return;
    }
    printf("ok opcode=%u status=%s", (unsigned)r.opcode, status_name(r.status));
    if (imu_response_has_time(&r)) {
        printf(" token=%lu device_time_us=%lu", (unsigned long)r.token, (unsigned long)r.device_time_us);
    }
    err = imu_encode_response(&r, out, sizeof out, &out_len);
    print_reencode(err, out, out_len);
}

static void do_advertisement(const uint8_t *in, size_t len)
{
    imu_adv_t a;
    uint8_t out[IMU_PROTO_ADV_DATA_SIZE];
    size_t out_len = 0u;
    imu_err_t err = imu_decode_adv_data(in, len, &a);
    if (err != IMU_OK) {
        printf("error %s\n", imu_err_name(err));
        return;
    }
    printf("ok protocol_version=%u role=%s", (unsigned)a.protocol_version, role_name(a.role));
    if (a.battery_percent == IMU_BATTERY_UNKNOWN) {
        printf(" battery_percent=none");
    } else {
        printf(" battery_percent=%u", (unsigned)a.battery_percent);
    }
    printf(" streaming=%s", bool_name(a.streaming));
    err = imu_encode_adv_data(&a, out, sizeof out, &out_len);
    print_reencode(err, out, out_len);
}

static void print_uuid(const char *name, const uint8_t *le)
{
    int i;
    printf(" %s=", name);
    for (i = 15; i >= 0; i--) {
        printf("%02x%s", le[i], (i == 12 || i == 10 || i == 8 || i == 6) ? "-" : "");
    }
}

static void do_constants(void)
{
    printf("ok protocol_version=%u header_size=%u sample_size=%u max_samples=%u max_notification_size=%u "
           "min_mtu=%u max_mtu=%u att_overhead=%u info_size=%u response_size=%u time_ping_response_size=%u "
           "adv_payload_size=%u adv_data_size=%u adv_flags=%u adv_company_id=%u adv_status_streaming=%u "
           "battery_unknown=%u",
           IMU_PROTO_VERSION, IMU_PROTO_HEADER_SIZE, IMU_PROTO_SAMPLE_SIZE, IMU_PROTO_MAX_SAMPLES,
           IMU_PROTO_MAX_NOTIFICATION_SIZE, IMU_PROTO_MIN_MTU, IMU_PROTO_MAX_MTU, IMU_PROTO_ATT_OVERHEAD,
           IMU_PROTO_INFO_SIZE, IMU_PROTO_RESPONSE_SIZE, IMU_PROTO_TIME_PING_RESPONSE_SIZE,
           IMU_PROTO_ADV_PAYLOAD_SIZE, IMU_PROTO_ADV_DATA_SIZE, IMU_ADV_FLAGS, IMU_ADV_COMPANY_ID,
           IMU_ADV_STATUS_STREAMING, IMU_BATTERY_UNKNOWN);
    printf(" flag_tx_overflow=%u flag_clipped=%u flag_haptic_active=%u flag_reserved=%u",
           IMU_FLAG_TX_OVERFLOW, IMU_FLAG_CLIPPED, IMU_FLAG_HAPTIC_ACTIVE, IMU_FLAG_RESERVED);
    printf(" role_unassigned=%u role_sacrum=%u role_thoracic=%u", IMU_ROLE_UNASSIGNED, IMU_ROLE_SACRUM,
           IMU_ROLE_THORACIC);
    printf(" opcode_start=%u opcode_stop=%u opcode_haptic=%u opcode_time_ping=%u opcode_identify=%u "
           "opcode_set_role=%u response_bit=%u",
           IMU_OP_START, IMU_OP_STOP, IMU_OP_HAPTIC, IMU_OP_TIME_PING, IMU_OP_IDENTIFY, IMU_OP_SET_ROLE,
           IMU_RESPONSE_BIT);
    printf(" size_start=%u size_stop=%u size_haptic=%u size_time_ping=%u size_identify=%u size_set_role=%u",
           (unsigned)imu_command_size(IMU_OP_START), (unsigned)imu_command_size(IMU_OP_STOP),
           (unsigned)imu_command_size(IMU_OP_HAPTIC), (unsigned)imu_command_size(IMU_OP_TIME_PING),
           (unsigned)imu_command_size(IMU_OP_IDENTIFY), (unsigned)imu_command_size(IMU_OP_SET_ROLE));
    printf(" status_ok=%u status_unknown_opcode=%u status_bad_length=%u status_invalid_value=%u "
           "status_invalid_state=%u",
           IMU_STATUS_OK, IMU_STATUS_UNKNOWN_OPCODE, IMU_STATUS_BAD_LENGTH, IMU_STATUS_INVALID_VALUE,
           IMU_STATUS_INVALID_STATE);
    printf(" service_uuid_str=%s data_char_uuid_str=%s control_char_uuid_str=%s info_char_uuid_str=%s",
           IMU_PROTO_SERVICE_UUID_STR, IMU_PROTO_DATA_CHAR_UUID_STR, IMU_PROTO_CONTROL_CHAR_UUID_STR,
           IMU_PROTO_INFO_CHAR_UUID_STR);
    print_uuid("service_uuid", IMU_PROTO_SERVICE_UUID_LE);
    print_uuid("data_char_uuid", IMU_PROTO_DATA_CHAR_UUID_LE);
    print_uuid("control_char_uuid", IMU_PROTO_CONTROL_CHAR_UUID_LE);
    print_uuid("info_char_uuid", IMU_PROTO_INFO_CHAR_UUID_LE);
    printf("\n");
}

int main(void)
{
    static char line[LINE_SIZE];
    static uint8_t buf[MAX_BYTES];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *kind = strtok(line, " \t\r\n");
        char *arg = strtok(NULL, " \t\r\n");
        long n;
        if (kind == NULL) {
            continue;
        }
        if (strcmp(kind, "constants") == 0) {
            do_constants();
            continue;
        }
        if (arg == NULL) {
            printf("harness_error missing argument\n");
            continue;
        }
        if (strcmp(kind, "mtu") == 0) {
            long mtu = strtol(arg, NULL, 10);
            size_t samples = (mtu < 0 || mtu > 65535) ? 0u : imu_samples_per_notification((uint16_t)mtu);
            if (samples == 0u) {
                printf("error invalid_value\n");
            } else {
                printf("ok samples=%u\n", (unsigned)samples);
            }
            continue;
        }
        if (strcmp(kind, "rate") == 0) { /* rate <rate_hz>: the reference sensor's choice (SPEC 1.1 section 5) */
            static const uint32_t reference[] = {12500u, 26000u, 52000u, 104000u, 208000u, 416000u};
            long hz = strtol(arg, NULL, 10);
            uint32_t r = (hz < 0 || hz > 65535) ? 0u
                         : imu_pick_rate_millihz((uint16_t)hz, reference, sizeof reference / sizeof reference[0]);
            if (r == 0u) {
                printf("error invalid_value\n");
            } else {
                printf("ok rate_millihz=%lu\n", (unsigned long)r);
            }
            continue;
        }
        n = parse_hex(arg, buf, sizeof buf);
        if (n < 0) {
            printf("harness_error bad hex\n");
        } else if (strcmp(kind, "notification") == 0) {
            do_notification(buf, (size_t)n);
        } else if (strcmp(kind, "info") == 0) {
            do_info(buf, (size_t)n);
        } else if (strcmp(kind, "command") == 0) {
            do_command(buf, (size_t)n);
        } else if (strcmp(kind, "response") == 0) {
            do_response(buf, (size_t)n);
        } else if (strcmp(kind, "advertisement") == 0) {
            do_advertisement(buf, (size_t)n);
        } else if (strcmp(kind, "answer") == 0) { /* answer <write hex>: the sensor's answer to a bad write */
            imu_response_t r;
            uint8_t out[16];
            size_t out_len = 0u;
            if (imu_error_answer(buf, (size_t)n, NULL, &r) == IMU_OK) {
                printf("ok decodes\n");
            } else if (imu_encode_response(&r, out, sizeof out, &out_len) != IMU_OK) {
                printf("harness_error encode\n");
            } else {
                size_t i;
                printf("ok answer=");
                for (i = 0u; i < out_len; i++) {
                    printf("%02x", (unsigned)out[i]);
                }
                printf("\n");
            }
        } else {
            printf("harness_error unknown kind\n");
        }
        fflush(stdout);
    }
    return 0;
}
