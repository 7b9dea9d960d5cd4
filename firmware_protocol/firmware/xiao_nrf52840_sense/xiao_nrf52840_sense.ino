/*
 * imu-hinge reference firmware for the Seeed Studio XIAO nRF52840 Sense (LSM6DS3TR-C IMU on board)
 * with a coin vibration motor on D2 through a transistor.
 *
 * Protocol: ../../SPEC.md, version 1.1 (wire protocol 1). Every byte that goes on air or comes from the host is made or
 * parsed by the C reference codec (../../c/imu_proto.c), the one the test suite checks against
 * ../../vectors.json. This sketch only samples, queues and moves those bytes.
 *
 * Board package: "Seeed nRF52 Boards" (Seeeduino:nrf52, the Adafruit Bluefruit based core, NOT the
 * mbed one), FQBN Seeeduino:nrf52:xiaonRF52840Sense. Build and flash: see README.md.
 *
 * Tasks:
 *   - DRDY interrupt (IMU INT1): latches the device clock of each new sample.
 *   - imu_loop (its own FreeRTOS task, the only one touching I2C): applies start/stop, reads each
 *     sample, pushes it to a ring buffer with its index, clock and flags.
 *   - loop (Arduino task): sends command responses that must precede data, packs notifications
 *     from the ring (batch = MTU-sized, or less once the oldest sample waited 20 ms), runs the
 *     haptic pattern, the identify blink, the battery level and role persistence.
 *   - BLE callbacks: decode commands; answer time pings at once (clock latched on entry).
 */
#include <Arduino.h>
#include <Adafruit_TinyUSB.h>
#include <bluefruit.h>
#include <Adafruit_LittleFS.h>
#include <InternalFileSystem.h>
#include <Wire.h>
#include <imu_proto.h>

using namespace Adafruit_LittleFS_Namespace;

// ---- pins (see README.md for the wiring) ------------------------------------------------------
#define MOTOR_PIN D2  // PWM to the transistor driving the coin motor
#ifndef PIN_LSM6DS3TR_C_POWER
#define PIN_LSM6DS3TR_C_POWER 15
#endif
#ifndef PIN_LSM6DS3TR_C_INT1
#define PIN_LSM6DS3TR_C_INT1 18
#endif
#ifndef PIN_VBAT
#define PIN_VBAT 32
#endif
#ifndef VBAT_ENABLE
#define VBAT_ENABLE 14
#endif

static const uint8_t FW_MAJOR = 1, FW_MINOR = 0, FW_PATCH = 0;
static const char FW_VERSION_STR[] = "1.0.0";

// ---- LSM6DS3TR-C (on Wire1, address 0x6A) ------------------------------------------------------
static const uint8_t IMU_ADDR = 0x6A;
static const uint8_t REG_DRDY_PULSE_CFG_G = 0x0B, REG_INT1_CTRL = 0x0D, REG_WHO_AM_I = 0x0F,
                     REG_CTRL1_XL = 0x10, REG_CTRL2_G = 0x11, REG_CTRL3_C = 0x12, REG_OUTX_L_G = 0x22;

// SPEC 1.1 section 5: 12.5..416 Hz (the IMU's 833/1666 Hz are not part of protocol v1).
static const uint32_t RATE_MILLIHZ[] = {12500, 26000, 52000, 104000, 208000, 416000};
static const uint8_t RATE_ODR_BITS[] = {0x1, 0x2, 0x3, 0x4, 0x5, 0x6};
static const size_t N_RATES = sizeof RATE_MILLIHZ / sizeof RATE_MILLIHZ[0];
struct RangeOption { uint16_t range; uint8_t bits; float per_lsb; };
// FS_XL bits (CTRL1_XL[3:2]) and m/s^2 per LSB (0.061/0.122/0.244/0.488 mg/LSB * 9.80665)
static const RangeOption ACC_RANGES[] = {{2, 0x0, 0.000598205650f}, {4, 0x2, 0.00119641130f},
                                         {8, 0x3, 0.00239282260f}, {16, 0x1, 0.00478564520f}};
// CTRL2_G[3:0] (FS_G in [3:2], FS_125 in [1]) and rad/s per LSB (4.375/8.75/17.5/35/70 mdps/LSB)
static const RangeOption GYR_RANGES[] = {{125, 0x2, 7.63581548e-05f}, {250, 0x0, 0.000152716310f},
                                         {500, 0x4, 0.000305432619f}, {1000, 0x8, 0.000610865238f},
                                         {2000, 0xC, 0.00122173048f}};

// ---- tunables ---------------------------------------------------------------------------------
static const uint32_t BATCH_LATENCY_US = 20000;  // a partial batch goes out once its oldest sample waited this long
static const uint32_t RING_SIZE = 512;           // ~4.9 s at 104 Hz
static const uint32_t BATTERY_PERIOD_MS = 30000;

// ---- BLE objects --------------------------------------------------------------------------------
BLEService imu_service(IMU_PROTO_SERVICE_UUID_LE);
BLECharacteristic data_chr(IMU_PROTO_DATA_CHAR_UUID_LE);
BLECharacteristic control_chr(IMU_PROTO_CONTROL_CHAR_UUID_LE);
BLECharacteristic info_chr(IMU_PROTO_INFO_CHAR_UUID_LE);
BLEDis bledis;
BLEBas blebas;

// ---- shared state -------------------------------------------------------------------------------
static volatile uint16_t conn_handle = BLE_CONN_HANDLE_INVALID;
static volatile uint8_t role = IMU_ROLE_UNASSIGNED;
static volatile bool role_dirty = false;
static volatile uint8_t battery_percent = IMU_BATTERY_UNKNOWN;
static imu_info_t info = {IMU_PROTO_VERSION, FW_MAJOR, FW_MINOR, FW_PATCH, 104000, 0.00239282260f,
                          0.000610865238f, 8, 1000, IMU_ROLE_UNASSIGNED};

// Commands for the IMU task (start / stop), one at a time.
static volatile bool imu_request_pending = false;
static imu_command_t imu_request;
static volatile bool imu_request_silent = false;  // internal stop on disconnect: no response
// What the IMU task applied, for the loop to answer before any data of the new stream.
static volatile bool applied_pending = false;
static volatile uint8_t applied_opcode = 0, applied_status = 0, applied_generation = 0;
static volatile bool applied_silent = false;

// Ring buffer: the IMU task writes head, the loop writes tail.
struct Entry { imu_sample_t sample; uint32_t t_us; uint16_t index; uint8_t generation; uint8_t flags; };
static Entry ring[RING_SIZE];
static volatile uint32_t ring_head = 0, ring_tail = 0;
static volatile uint8_t generation = 0;        // bumped by every start / stop: older entries are dropped
static bool lost_since_stored = false;  // samples lost since the last one stored: flags the next one
static volatile bool streaming = false;

// Haptic pattern and identify, run by the loop; requests come from the BLE callback.
static volatile bool haptic_request_pending = false, identify_request_pending = false;
static imu_command_t haptic_request, identify_request;
static volatile bool motor_on = false;

// ---- device clock: RTC2 on the 32.768 kHz LF clock, extended to 64 bits ---------------------------
static volatile uint32_t rtc2_overflows = 0;

extern "C" void RTC2_IRQHandler(void)
{
  if (NRF_RTC2->EVENTS_OVRFLW) {
    NRF_RTC2->EVENTS_OVRFLW = 0;
    (void)NRF_RTC2->EVENTS_OVRFLW;  // flush the write before leaving the handler
    rtc2_overflows = rtc2_overflows + 1;
  }
}

static void device_clock_begin(void)
{
  NRF_RTC2->TASKS_STOP = 1;
  NRF_RTC2->PRESCALER = 0;  // 32768 Hz, 24-bit counter: overflows every 512 s
  NRF_RTC2->EVTENSET = RTC_EVTEN_OVRFLW_Msk;
  NRF_RTC2->INTENSET = RTC_INTENSET_OVRFLW_Msk;
  NVIC_SetPriority(RTC2_IRQn, 6);
  NVIC_ClearPendingIRQ(RTC2_IRQn);
  NVIC_EnableIRQ(RTC2_IRQn);
  NRF_RTC2->TASKS_CLEAR = 1;
  NRF_RTC2->TASKS_START = 1;
}

// Microseconds since boot, wrapping at 2^32 like the protocol's device clock. Safe in interrupts.
static uint32_t device_time_us(void)
{
  uint32_t base, count, overflows;
  do {
    base = rtc2_overflows;
    count = NRF_RTC2->COUNTER;
    overflows = base + ((NRF_RTC2->EVENTS_OVRFLW && count < 0x800000u) ? 1u : 0u);  // wrap not yet serviced
  } while (base != rtc2_overflows);
  uint64_t ticks = ((uint64_t)overflows << 24) | count;
  return (uint32_t)((ticks * 15625u) >> 9);  // ticks * 1e6 / 32768
}

// ---- IMU access (IMU task only) -------------------------------------------------------------------
static bool imu_write(uint8_t reg, uint8_t value)
{
  Wire1.beginTransmission(IMU_ADDR);
  Wire1.write(reg);
  Wire1.write(value);
  return Wire1.endTransmission() == 0;
}

static bool imu_read(uint8_t reg, uint8_t *out, uint8_t len)
{
  Wire1.beginTransmission(IMU_ADDR);
  Wire1.write(reg);
  if (Wire1.endTransmission(false) != 0 || Wire1.requestFrom(IMU_ADDR, len) != len) return false;
  for (uint8_t i = 0; i < len; i++) out[i] = (uint8_t)Wire1.read();
  return true;
}

static volatile uint32_t drdy_time_us = 0, drdy_count = 0;

static void imu_drdy_isr(void)
{
  drdy_time_us = device_time_us();
  drdy_count = drdy_count + 1;
}

static bool imu_power_up(void)
{
  pinMode(PIN_LSM6DS3TR_C_POWER, OUTPUT);
  digitalWrite(PIN_LSM6DS3TR_C_POWER, HIGH);
  delay(20);
  Wire1.begin();
  Wire1.setClock(400000);
  uint8_t who = 0;
  if (!imu_read(REG_WHO_AM_I, &who, 1) || who != 0x6A) return false;
  imu_write(REG_CTRL3_C, 0x44);           // BDU: no torn samples; IF_INC: burst reads
  imu_write(REG_DRDY_PULSE_CFG_G, 0x80);  // pulsed data-ready: a missed edge cannot stall us
  imu_write(REG_INT1_CTRL, 0x01);         // INT1 = accelerometer data ready (same ODR as gyro)
  pinMode(PIN_LSM6DS3TR_C_INT1, INPUT);
  attachInterrupt(digitalPinToInterrupt(PIN_LSM6DS3TR_C_INT1), imu_drdy_isr, RISING);
  return true;
}

template <typename T, size_t N>
static const T *pick(const T (&options)[N], uint16_t wanted)  // smallest option >= wanted
{
  for (size_t i = 0; i < N; i++) {
    if (options[i].range >= wanted) return &options[i];
  }
  return nullptr;
}

static int pick_rate(uint16_t wanted_hz)  // index into RATE_MILLIHZ, -1: invalid_value
{
  uint32_t mhz = imu_pick_rate_millihz(wanted_hz, RATE_MILLIHZ, N_RATES);  // round half up, max 416 Hz
  for (size_t i = 0; i < N_RATES; i++) {
    if (RATE_MILLIHZ[i] == mhz) return (int)i;
  }
  return -1;
}

// Apply start: returns an IMU_STATUS_* code.
static uint8_t imu_start(const imu_command_t &c)
{
  int rate = pick_rate(c.p.start.rate_hz);
  const RangeOption *acc = pick(ACC_RANGES, c.p.start.acc_range_g);
  const RangeOption *gyr = pick(GYR_RANGES, c.p.start.gyr_range_dps);
  if (rate < 0 || acc == nullptr || gyr == nullptr) return IMU_STATUS_INVALID_VALUE;  // stream left alone
  streaming = false;
  if (!imu_write(REG_CTRL1_XL, (uint8_t)((RATE_ODR_BITS[rate] << 4) | (acc->bits << 2))) ||
      !imu_write(REG_CTRL2_G, (uint8_t)((RATE_ODR_BITS[rate] << 4) | gyr->bits))) {
    return IMU_STATUS_INVALID_STATE;
  }
  info.rate_millihz = RATE_MILLIHZ[rate];
  info.acc_range_g = (uint8_t)acc->range;
  info.acc_m_s2_per_lsb = acc->per_lsb;
  info.gyr_range_dps = gyr->range;
  info.gyr_rad_s_per_lsb = gyr->per_lsb;
  return IMU_STATUS_OK;
}

static void imu_stop(void)
{
  streaming = false;
  imu_write(REG_CTRL1_XL, 0x00);  // power down both sensors
  imu_write(REG_CTRL2_G, 0x00);
}

static void imu_loop(void)
{
  static uint16_t next_index = 0;
  static uint32_t seen_drdy = 0;

  if (imu_request_pending) {
    imu_command_t c = imu_request;
    bool silent = imu_request_silent;
    uint8_t status = IMU_STATUS_OK;
    if (c.opcode == IMU_OP_START) {
      status = imu_start(c);
    } else {
      imu_stop();
    }
    if (status == IMU_STATUS_OK) {  // a rejected start leaves the running stream alone
      generation = (uint8_t)(generation + 1);  // pending samples of the old stream are dropped
    }
    if (c.opcode == IMU_OP_START && status == IMU_STATUS_OK) {
      next_index = 0;  // every start restarts the sample index (the device clock runs on)
      seen_drdy = drdy_count;
      lost_since_stored = false;
      streaming = true;
    }
    applied_opcode = c.opcode;
    applied_status = status;
    applied_generation = generation;
    applied_silent = silent;
    __DMB();
    applied_pending = true;  // the loop answers before it sends any sample of this generation
    imu_request_pending = false;
  }
  if (!streaming) {
    delay(5);
    return;
  }
  uint32_t count = drdy_count;
  if (count == seen_drdy) {
    delay(1);
    return;
  }
  uint32_t t_us = drdy_time_us;
  uint32_t missed = count - seen_drdy - 1;  // samples overwritten in the IMU before we read them
  seen_drdy = count;
  uint8_t raw[12];
  if (!imu_read(REG_OUTX_L_G, raw, sizeof raw)) return;  // registers: gyro x y z, then acc x y z
  Entry e;
  for (int i = 0; i < 3; i++) {
    e.sample.gyr[i] = (int16_t)(raw[2 * i] | (raw[2 * i + 1] << 8));
    e.sample.acc[i] = (int16_t)(raw[6 + 2 * i] | (raw[6 + 2 * i + 1] << 8));
  }
  if (missed) {
    next_index = (uint16_t)(next_index + missed);  // counted from the data-ready edges: a gap by index
    lost_since_stored = true;
  }
  e.t_us = t_us;
  e.index = next_index++;
  e.generation = generation;
  if (ring_head - ring_tail >= RING_SIZE) {  // transmit buffer full: drop this sample, keep its index
    lost_since_stored = true;
    return;
  }
  // SPEC 1.1 section 3: tx_overflow rides on the first sample after a loss, so it goes out on the
  // notification whose first_index follows the gap (the packer never puts a gap inside a notification).
  e.flags = (uint8_t)((imu_sample_clipped(&e.sample) ? IMU_FLAG_CLIPPED : 0) |
                      (motor_on ? IMU_FLAG_HAPTIC_ACTIVE : 0) | (lost_since_stored ? IMU_FLAG_TX_OVERFLOW : 0));
  lost_since_stored = false;
  ring[ring_head % RING_SIZE] = e;
  __DMB();
  ring_head = ring_head + 1;
}

// ---- control characteristic ------------------------------------------------------------------------
static void send_response(uint16_t conn, uint8_t opcode, uint8_t status, uint32_t token, uint32_t t_us)
{
  imu_response_t r = {opcode, status, token, t_us};
  uint8_t buf[IMU_PROTO_TIME_PING_RESPONSE_SIZE];
  size_t len = 0;
  if (imu_encode_response(&r, buf, sizeof buf, &len) == IMU_OK && control_chr.notifyEnabled(conn)) {
    control_chr.notify(conn, buf, (uint16_t)len);
  }
}

static void on_control_write(uint16_t conn, BLECharacteristic *chr, uint8_t *data, uint16_t len)
{
  (void)chr;
  uint32_t now_us = device_time_us();  // as early as possible: this is the time-ping reading
  imu_command_t c;
  imu_response_t bad;
  if (imu_error_answer(data, len, &c, &bad) != IMU_OK) {  // empty / 0x80..0xFF writes: opcode 0 (SPEC 1.1)
    send_response(conn, bad.opcode, bad.status, 0, 0);
    return;
  }
  switch (c.opcode) {
  case IMU_OP_TIME_PING:
    send_response(conn, c.opcode, IMU_STATUS_OK, c.p.time_ping.token, now_us);
    return;
  case IMU_OP_START:
  case IMU_OP_STOP:
    if (imu_request_pending || applied_pending) {
      send_response(conn, c.opcode, IMU_STATUS_INVALID_STATE, 0, 0);  // the previous one is still running
      return;
    }
    imu_request = c;
    imu_request_silent = false;
    __DMB();
    imu_request_pending = true;  // answered by the loop once applied
    return;
  case IMU_OP_HAPTIC:
    haptic_request = c;
    __DMB();
    haptic_request_pending = true;
    break;
  case IMU_OP_IDENTIFY:
    identify_request = c;
    __DMB();
    identify_request_pending = true;
    break;
  case IMU_OP_SET_ROLE:
    role = c.p.set_role.role;
    role_dirty = true;  // persisted and advertised by the loop
    break;
  default:
    break;
  }
  send_response(conn, c.opcode, IMU_STATUS_OK, 0, 0);
}

// ---- info characteristic and advertisement -----------------------------------------------------------
static void update_info(void)
{
  uint8_t buf[IMU_PROTO_INFO_SIZE];
  size_t len = 0;
  info.role = role;
  if (imu_encode_info(&info, buf, sizeof buf, &len) == IMU_OK) info_chr.write(buf, (uint16_t)len);
}

static void update_advertising(void)
{
  static const char *const NAMES[] = {"imu-hinge unassigned", "imu-hinge sacrum", "imu-hinge thoracic"};
  imu_adv_t adv = {IMU_PROTO_VERSION, role, battery_percent, streaming};
  uint8_t buf[IMU_PROTO_ADV_DATA_SIZE];
  size_t len = 0;
  if (imu_encode_adv_data(&adv, buf, sizeof buf, &len) != IMU_OK) return;
  bool was_running = Bluefruit.Advertising.isRunning();
  if (was_running) Bluefruit.Advertising.stop();
  Bluefruit.Advertising.clearData();
  Bluefruit.Advertising.setData(buf, (uint8_t)len);  // flags + service UUID + role, all from the codec
  Bluefruit.setName(NAMES[role <= IMU_ROLE_THORACIC ? role : 0]);
  Bluefruit.ScanResponse.clearData();
  Bluefruit.ScanResponse.addName();
  if (was_running || conn_handle == BLE_CONN_HANDLE_INVALID) Bluefruit.Advertising.start(0);
}

static void load_role(void)
{
  File f(InternalFS);
  uint8_t r = IMU_ROLE_UNASSIGNED;
  if (f.open("/imu_hinge_role", FILE_O_READ)) {
    if (f.read(&r, 1) != 1 || r > IMU_ROLE_THORACIC) r = IMU_ROLE_UNASSIGNED;
    f.close();
  }
  role = r;
}

static void save_role(void)
{
  uint8_t r = role;
  InternalFS.remove("/imu_hinge_role");
  File f(InternalFS);
  if (f.open("/imu_hinge_role", FILE_O_WRITE)) {
    f.write(&r, 1);
    f.close();
  }
}

// ---- connection ----------------------------------------------------------------------------------------
static void on_connect(uint16_t conn)
{
  conn_handle = conn;
  BLEConnection *c = Bluefruit.Connection(conn);
  c->requestMtuExchange(247);     // the host usually asks first; batches follow whatever is agreed
  c->requestDataLengthUpdate();
  c->requestPHY();
}

static void on_disconnect(uint16_t conn, uint8_t reason)
{
  (void)conn;
  (void)reason;
  conn_handle = BLE_CONN_HANDLE_INVALID;
  haptic_request.opcode = IMU_OP_HAPTIC;  // motor off
  haptic_request.p.haptic.intensity = 0;
  haptic_request_pending = true;
  if (!imu_request_pending) {  // stop streaming; the host sends start again after reconnecting
    imu_request.opcode = IMU_OP_STOP;
    imu_request_silent = true;
    __DMB();
    imu_request_pending = true;
  }
}

// ---- loop work -----------------------------------------------------------------------------------------
static void answer_applied(void)
{
  static uint8_t consumer_generation = 0;
  if (applied_pending) {
    uint16_t conn = conn_handle;
    if (applied_opcode == IMU_OP_START && applied_status == IMU_STATUS_OK) update_info();
    if (!applied_silent && conn != BLE_CONN_HANDLE_INVALID) send_response(conn, applied_opcode, applied_status, 0, 0);
    consumer_generation = applied_generation;
    applied_pending = false;
  }
  // Data of a generation whose start has not been answered yet waits.
  if (consumer_generation != generation) return;
  uint16_t conn = conn_handle;
  if (conn == BLE_CONN_HANDLE_INVALID || !data_chr.notifyEnabled(conn)) return;
  BLEConnection *c = Bluefruit.Connection(conn);
  size_t batch = imu_samples_per_notification(c ? c->getMtu() : IMU_PROTO_MIN_MTU);
  static uint8_t buf[IMU_PROTO_MAX_NOTIFICATION_SIZE];
  for (;;) {
    while (ring_tail != ring_head && ring[ring_tail % RING_SIZE].generation != consumer_generation) {
      ring_tail = ring_tail + 1;  // left over from a stopped stream
    }
    uint32_t available = ring_head - ring_tail;
    if (available == 0) return;
    const Entry &first = ring[ring_tail % RING_SIZE];
    if (available < batch && (uint32_t)(device_time_us() - first.t_us) < BATCH_LATENCY_US) return;
    uint8_t flags = 0;
    size_t n = 0;
    while (n < batch && n < available) {
      const Entry &e = ring[(ring_tail + n) % RING_SIZE];
      if (e.generation != consumer_generation || e.index != (uint16_t)(first.index + n)) break;  // gap
      imu_write_sample(buf + IMU_PROTO_HEADER_SIZE + n * IMU_PROTO_SAMPLE_SIZE, &e.sample);
      flags |= e.flags;
      n++;
    }
    imu_write_header(buf, flags, (uint8_t)n, first.index, first.t_us);
    if (!data_chr.notify(conn, buf, (uint16_t)imu_notification_size(n))) return;  // no buffer: retry later
    ring_tail = ring_tail + n;
  }
}

static void motor_set(uint8_t intensity)
{
  analogWrite(MOTOR_PIN, intensity);
  motor_on = intensity > 0;
}

static void run_haptic(void)
{
  static bool active = false, phase_on = false;
  static uint8_t intensity = 0, repeats_left = 0;
  static uint16_t on_ms = 0, off_ms = 0;
  static uint32_t phase_end_ms = 0;
  uint32_t now = millis();
  if (haptic_request_pending) {
    imu_command_t c = haptic_request;
    haptic_request_pending = false;
    intensity = c.p.haptic.intensity;
    on_ms = c.p.haptic.on_ms;
    off_ms = c.p.haptic.off_ms;
    repeats_left = c.p.haptic.repeats;
    active = intensity > 0;
    phase_on = active;
    motor_set(active ? intensity : 0);
    phase_end_ms = now + on_ms;
  }
  if (!active || (int32_t)(now - phase_end_ms) < 0) return;
  if (phase_on) {
    motor_set(0);
    phase_on = false;
    repeats_left--;
    active = repeats_left > 0;
    phase_end_ms = now + off_ms;
  } else {
    motor_set(intensity);
    phase_on = true;
    phase_end_ms = now + on_ms;
  }
}

static void run_identify(void)
{
  static uint32_t until_ms = 0, buzz_until_ms = 0;
  static bool active = false;
  uint32_t now = millis();
  if (identify_request_pending) {
    identify_request_pending = false;
    uint16_t duration_ms = identify_request.p.identify.duration_ms;
    until_ms = now + duration_ms;
    active = duration_ms > 0;
    // SPEC 1.1 section 5: one full-intensity buzz of min(duration, 100 ms), a pattern like any other
    // (replaces a running one, sets haptic_active); identify 0 also stops a running identify buzz.
    if (active || (int32_t)(now - buzz_until_ms) < 0) {
      haptic_request.opcode = IMU_OP_HAPTIC;
      haptic_request.p.haptic.intensity = active ? 255 : 0;
      haptic_request.p.haptic.on_ms = duration_ms < 100 ? duration_ms : 100;
      haptic_request.p.haptic.off_ms = 0;
      haptic_request.p.haptic.repeats = active ? 1 : 0;
      haptic_request_pending = true;
      buzz_until_ms = now + haptic_request.p.haptic.on_ms;
    }
  }
  if (active && (int32_t)(now - until_ms) >= 0) active = false;
  digitalWrite(LED_BLUE, (active && ((now / 125) % 2 == 0)) ? LOW : HIGH);  // LEDs are active low
}

static void run_battery(void)
{
  static uint32_t last_ms = 0;
  uint32_t now = millis();
  if (last_ms != 0 && now - last_ms < BATTERY_PERIOD_MS) return;
  last_ms = now ? now : 1;
  // VBAT through the on-board 1 M / 510 k divider; VBAT_ENABLE is kept LOW at all times (see README).
  uint32_t raw = (uint32_t)analogRead(PIN_VBAT);
  uint32_t vbat_mv = raw * 2400u / 4096u * 1510u / 510u;
  int32_t pct = ((int32_t)vbat_mv - 3500) * 100 / (4150 - 3500);  // rough LiPo curve
  uint8_t level = (uint8_t)(pct < 0 ? 0 : (pct > 100 ? 100 : pct));
  battery_percent = level;
  blebas.write(level);
  if (conn_handle != BLE_CONN_HANDLE_INVALID) blebas.notify(level);
  else update_advertising();
}

// ---- setup / loop ------------------------------------------------------------------------------------
void setup()
{
  pinMode(LED_BLUE, OUTPUT);
  digitalWrite(LED_BLUE, HIGH);
  pinMode(MOTOR_PIN, OUTPUT);
  motor_set(0);
  pinMode(VBAT_ENABLE, OUTPUT);
  digitalWrite(VBAT_ENABLE, LOW);
  analogReference(AR_INTERNAL_2_4);
  analogReadResolution(12);

  InternalFS.begin();
  load_role();

  Bluefruit.configPrphConn(247, 6, 8, 4);  // MTU 247, 7.5 ms event length, 8 queued notifications, 4 writes
  Bluefruit.begin(1, 0);
  Bluefruit.setTxPower(4);
  Bluefruit.Periph.setConnInterval(12, 24);             // 15..30 ms, in 1.25 ms units
  Bluefruit.Periph.setConnSupervisionTimeout(400);      // 4 s, in 10 ms units
  Bluefruit.Periph.setConnectCallback(on_connect);
  Bluefruit.Periph.setDisconnectCallback(on_disconnect);
  device_clock_begin();

  bledis.setManufacturer("imu-hinge");
  bledis.setModel("XIAO nRF52840 Sense + LSM6DS3TR-C");
  bledis.setHardwareRev("xiao-nrf52840-sense");
  bledis.setFirmwareRev(FW_VERSION_STR);
  bledis.begin();
  blebas.begin();  // the level is measured (run_battery) before advertising starts

  imu_service.begin();
  data_chr.setProperties(CHR_PROPS_NOTIFY);
  data_chr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  data_chr.setMaxLen(IMU_PROTO_MAX_NOTIFICATION_SIZE);
  data_chr.begin();
  control_chr.setProperties(CHR_PROPS_WRITE | CHR_PROPS_WRITE_WO_RESP | CHR_PROPS_NOTIFY);
  control_chr.setPermission(SECMODE_OPEN, SECMODE_OPEN);
  control_chr.setMaxLen(20);
  control_chr.setWriteCallback(on_control_write);
  control_chr.begin();
  info_chr.setProperties(CHR_PROPS_READ);
  info_chr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  info_chr.setFixedLen(IMU_PROTO_INFO_SIZE);
  info_chr.begin();
  update_info();

  if (!imu_power_up()) {
    for (;;) {  // no IMU: blink fast forever rather than advertise a broken sensor
      digitalWrite(LED_BLUE, !digitalRead(LED_BLUE));
      delay(100);
    }
  }
  imu_stop();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244);  // 20 ms fast, 152.5 ms slow (0.625 ms units)
  Bluefruit.Advertising.setFastTimeout(30);
  run_battery();  // first measurement, then advertising starts (from run_battery)
  Scheduler.startLoop(imu_loop);
}

void loop()
{
  answer_applied();
  run_haptic();
  run_identify();
  run_battery();
  if (role_dirty) {
    role_dirty = false;
    save_role();
    update_info();
    update_advertising();
  }
  delay(1);
}
