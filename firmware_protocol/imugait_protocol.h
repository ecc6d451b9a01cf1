/* imugait open thigh-IMU protocol, version 1 — constants and wire layouts for C firmware.
 * Specification: firmware_protocol/README.md. Machine-readable: constants.json.
 * All fields little-endian (native on nRF52 / ESP32). A test checks these #defines
 * against constants.json. Public domain / MIT, use freely. */
#ifndef IMUGAIT_PROTOCOL_H
#define IMUGAIT_PROTOCOL_H

#include <stdint.h>

#define IMUGAIT_PROTOCOL_VERSION 1

/* 128-bit UUIDs: 6a4e____-9c1d-4b7e-a5f3-2d8c1e0b7a90 */
#define IMUGAIT_UUID_SERVICE "6a4e0001-9c1d-4b7e-a5f3-2d8c1e0b7a90"
#define IMUGAIT_UUID_DATA    "6a4e0002-9c1d-4b7e-a5f3-2d8c1e0b7a90"
#define IMUGAIT_UUID_INFO    "6a4e0003-9c1d-4b7e-a5f3-2d8c1e0b7a90"
#define IMUGAIT_UUID_CONTROL "6a4e0004-9c1d-4b7e-a5f3-2d8c1e0b7a90"
#define IMUGAIT_UUID_STATUS  "6a4e0005-9c1d-4b7e-a5f3-2d8c1e0b7a90"
/* same base as little-endian bytes (for nRF SDK / NimBLE BLE_UUID128_INIT), 16-bit alias at bytes 12..13 */
#define IMUGAIT_UUID_BASE_LE 0x90, 0x7a, 0x0b, 0x1e, 0x8c, 0x2d, 0xf3, 0xa5, 0x7e, 0x4b, 0x1d, 0x9c, 0x00, 0x00, 0x4e, 0x6a

#define IMUGAIT_ATT_OVERHEAD_BYTES 3
#define IMUGAIT_MIN_MTU 35
#define IMUGAIT_DATA_HEADER_SIZE 20
#define IMUGAIT_DATA_HEADER_EXT_SIZE 22 /* with the optional u16 tx_delay_us */
#define IMUGAIT_TX_DELAY_UNKNOWN 65535
#define IMUGAIT_SAMPLE_SIZE 12
#define IMUGAIT_MAX_SAMPLES_PER_PACKET 255
#define IMUGAIT_TARGET_NOTIFICATIONS_PER_S 50
#define IMUGAIT_INFO_SIZE 88
#define IMUGAIT_STATUS_SIZE 20
#define IMUGAIT_MIN_FIFO_MS 2000

/* DATA flags */
#define IMUGAIT_DATA_FLAG_FIRST 1
#define IMUGAIT_DATA_FLAG_BACKLOG 2
#define IMUGAIT_DATA_FLAG_OVERFLOW_BEFORE 4
#define IMUGAIT_DATA_FLAG_SATURATED 8

/* INFO side codes */
#define IMUGAIT_SIDE_UNKNOWN 0
#define IMUGAIT_SIDE_LEFT 1
#define IMUGAIT_SIDE_RIGHT 2

/* STATUS flags */
#define IMUGAIT_STATUS_FLAG_STREAMING 1
#define IMUGAIT_STATUS_FLAG_CHARGING 2
#define IMUGAIT_STATUS_FLAG_FIFO_OVERFLOW 4
#define IMUGAIT_STATUS_FLAG_LOW_BATTERY 8
#define IMUGAIT_STATUS_FLAG_LINK_BACKLOG 16
#define IMUGAIT_BATTERY_UNKNOWN 255

/* CONTROL */
#define IMUGAIT_CONTROL_RESPONSE_MARKER 240
#define IMUGAIT_OP_START 1
#define IMUGAIT_OP_STOP 2
#define IMUGAIT_OP_SET_RATE 3
#define IMUGAIT_OP_SET_RANGE 4
#define IMUGAIT_OP_TIME_SYNC 5
#define IMUGAIT_OP_IDENTIFY 6
#define IMUGAIT_OP_SET_SIDE 7
#define IMUGAIT_ST_OK 0
#define IMUGAIT_ST_UNKNOWN_OPCODE 1
#define IMUGAIT_ST_BAD_LENGTH 2
#define IMUGAIT_ST_BAD_VALUE 3
#define IMUGAIT_ST_INVALID_STATE 4
#define IMUGAIT_ST_MTU_TOO_SMALL 5
#define IMUGAIT_ST_INTERNAL 6

#if defined(__GNUC__) || defined(__clang__)
#define IMUGAIT_PACKED __attribute__((packed))
#else
#define IMUGAIT_PACKED
#endif

typedef struct IMUGAIT_PACKED {
    uint8_t version;      /* IMUGAIT_PROTOCOL_VERSION */
    uint8_t header_len;   /* sizeof(imugait_data_header_t) */
    uint8_t flags;        /* IMUGAIT_DATA_FLAG_* */
    uint8_t count;        /* samples that follow, 1..255 */
    uint16_t seq;         /* +1 per packet, wraps */
    uint16_t boot_id;     /* random, non-zero, per boot */
    uint32_t first_index; /* samples since boot */
    uint64_t t_dev_us;    /* device time of the first sample, µs since boot */
} imugait_data_header_t;

/* header with the optional v1 extension (header_len = 22) */
typedef struct IMUGAIT_PACKED {
    imugait_data_header_t base; /* base.header_len = sizeof(imugait_data_header_ext_t) */
    uint16_t tx_delay_us;       /* device time from the LAST sample to the hand-off to the stack */
} imugait_data_header_ext_t;

typedef struct IMUGAIT_PACKED {
    int16_t acc[3]; /* counts, x y z */
    int16_t gyr[3];
} imugait_sample_t;

typedef struct IMUGAIT_PACKED {
    uint8_t version;
    uint8_t side;
    uint16_t boot_id;
    uint32_t rate_mhz;
    float acc_scale_mps2;
    float gyr_scale_dps;
    uint16_t acc_range_g;
    uint16_t gyr_range_dps;
    uint16_t fifo_capacity_samples;
    uint8_t samples_per_packet;
    uint8_t reserved;
    char firmware[16];
    char serial[16];
    char mounting[32];
} imugait_info_t;

typedef struct IMUGAIT_PACKED {
    uint8_t version;
    uint8_t flags;
    uint8_t battery_pct;
    uint8_t reserved;
    uint16_t boot_id;
    uint16_t fifo_fill_samples;
    uint32_t dropped_samples;
    uint64_t t_dev_us;
} imugait_status_t;

/* samples per DATA notification for a negotiated MTU (0: MTU too small); header_size 20 or 22 */
static inline uint8_t imugait_samples_per_packet(uint16_t mtu, uint32_t rate_mhz, int header_size) {
    int n_max = ((int)mtu - IMUGAIT_ATT_OVERHEAD_BYTES - header_size) / IMUGAIT_SAMPLE_SIZE;
    uint32_t per = IMUGAIT_TARGET_NOTIFICATIONS_PER_S * 1000u;
    uint32_t n = (rate_mhz + per - 1u) / per;
    if (n_max <= 0) return 0;
    if (n_max > IMUGAIT_MAX_SAMPLES_PER_PACKET) n_max = IMUGAIT_MAX_SAMPLES_PER_PACKET;
    if (n < 1u) n = 1u;
    return (uint8_t)(n < (uint32_t)n_max ? n : (uint32_t)n_max);
}

#endif /* IMUGAIT_PROTOCOL_H */
