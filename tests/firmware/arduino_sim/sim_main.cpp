// Host port of the generated Arduino sketch with a SIMULATED MPU-6050 (test double, sim_mpu6050.h), in virtual
// time. Links the rendered project's sketch, driver, core, model and runtime unchanged; calls setup() once, then
// loop() until the end time, advancing the virtual clock by a fixed step per loop() (the loop's own cost), by
// each I2C byte (400 kHz bus) and by a configurable cost per inference (a --wrap of unikd_runtime_invoke), while
// the simulated part keeps sampling on its own clock.
//
//   sim --data F          recording: float32 x 6 per sample (acc x/y/z in g, gyro x/y/z in rad/s)
//       --end-ms T        run until this virtual time
//       --step-us U       virtual time per loop() (default 1000)
//       --invoke-us U     virtual time per inference (default 0)
//       --slow-invoke K:U inference number K (from 0) takes U instead
//       --clock-error E   the part's clock runs at (1 + E) x nominal
//       --send T:HEX      the host sends these bytes at virtual time T ms (repeatable)
//       --absent | --who-am-i V | --nack N (repeatable) | --nack-prob P --seed S | --dead MS1:MS2 | --cut N:K (the N-th FIFO data read delivers K bytes)
//       --fates F         write each recording sample's fate (sim_mpu6050.h SampleFate), one byte each
// stdout: the bytes the sketch sent (frames); stderr: a summary line of the bus and the simulated part.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "Arduino.h"
#include "Wire.h"
#include "sim_mpu6050.h"

void setup();
void loop();

uint64_t sim_now_us = 0;
SimSerial Serial;
TwoWire Wire;

namespace {
constexpr uint8_t kSimAddress = 0x68;
constexpr uint64_t kUsPerByte = 25;  // 9 bit times at 400 kHz, rounded up; the address byte included
SimMpu6050 *g_imu = nullptr;
std::deque<uint8_t> g_rx;
uint64_t g_invoke_us = 0, g_slow_us = 0;
long g_slow_k = -1;
long g_invokes = 0;
uint32_t g_wire_errors = 0;  // transfers to another address or beyond the buffer: driver bugs, fail the run
}  // namespace

int SimSerial::available() { return (int)g_rx.size(); }
int SimSerial::read() {
  if (g_rx.empty()) return -1;
  int b = g_rx.front();
  g_rx.pop_front();
  return b;
}
size_t SimSerial::write(const uint8_t *data, size_t n) { return fwrite(data, 1, n, stdout); }

unsigned long micros(void) { return (unsigned long)(uint32_t)sim_now_us; }
unsigned long millis(void) { return (unsigned long)(uint32_t)(sim_now_us / 1000u); }
void delay(unsigned long ms) { sim_now_us += (uint64_t)ms * 1000u; }

void TwoWire::begin() {}
bool TwoWire::begin(int, int, uint32_t) { return true; }
void TwoWire::setClock(uint32_t) {}
void TwoWire::beginTransmission(uint8_t address) {
  tx_addr_ = address;
  tx_len_ = 0;
  tx_open_ = true;
}
size_t TwoWire::write(uint8_t b) {
  if (!tx_open_ || tx_len_ >= SIM_WIRE_BUFFER) {
    ++g_wire_errors;
    return 0;
  }
  tx_[tx_len_++] = b;
  return 1;
}
uint8_t TwoWire::endTransmission(bool) {
  tx_open_ = false;
  sim_now_us += kUsPerByte * (1 + tx_len_);
  if (tx_addr_ != kSimAddress) {
    ++g_wire_errors;
    return 2;
  }
  return g_imu->write(tx_, tx_len_) ? 0 : 2;
}
uint8_t TwoWire::endTransmission() { return endTransmission(true); }
size_t TwoWire::requestFrom(uint8_t address, size_t len, bool) {
  rx_len_ = rx_pos_ = 0;
  if (address != kSimAddress || len > SIM_WIRE_BUFFER) {
    ++g_wire_errors;
    return 0;
  }
  rx_len_ = g_imu->read(rx_, len);
  sim_now_us += kUsPerByte * (1 + rx_len_);
  return rx_len_;
}
size_t TwoWire::requestFrom(uint8_t address, size_t len) { return requestFrom(address, len, true); }
int TwoWire::available() { return (int)(rx_len_ - rx_pos_); }
int TwoWire::read() { return rx_pos_ < rx_len_ ? rx_[rx_pos_++] : -1; }

// The inference costs virtual time: the sensor samples on meanwhile (its FIFO fills).
extern "C" int __real_unikd_runtime_invoke(const int8_t *input, int8_t *output);
extern "C" int __wrap_unikd_runtime_invoke(const int8_t *input, int8_t *output) {
  sim_now_us += g_invokes == g_slow_k ? g_slow_us : g_invoke_us;
  ++g_invokes;
  return __real_unikd_runtime_invoke(input, output);
}

static void usage(const char *what) {
  fprintf(stderr, "sim: bad argument %s\n", what);
  exit(2);
}

static std::vector<uint8_t> hex_bytes(const char *s) {
  std::vector<uint8_t> out;
  for (size_t n = strlen(s), i = 0; i + 1 < n; i += 2) {
    char two[3] = {s[i], s[i + 1], 0};
    out.push_back((uint8_t)strtoul(two, nullptr, 16));
  }
  return out;
}

int main(int argc, char **argv) {
  const char *data = nullptr, *fates = nullptr;
  uint64_t end_us = 0, step_us = 1000;
  double clock_error = 0;
  SimFaults faults;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> sends;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--absent") { faults.absent = true; continue; }
    if (!v) usage(argv[i]);
    ++i;
    if (a == "--data") data = v;
    else if (a == "--fates") fates = v;
    else if (a == "--end-ms") end_us = strtoull(v, nullptr, 10) * 1000u;
    else if (a == "--step-us") step_us = strtoull(v, nullptr, 10);
    else if (a == "--invoke-us") g_invoke_us = strtoull(v, nullptr, 10);
    else if (a == "--slow-invoke") { g_slow_k = strtol(v, nullptr, 10); g_slow_us = strtoull(strchr(v, ':') + 1, nullptr, 10); }
    else if (a == "--clock-error") clock_error = strtod(v, nullptr);
    else if (a == "--who-am-i") faults.who_am_i = (uint8_t)strtoul(v, nullptr, 0);
    else if (a == "--nack") faults.nack.insert((uint32_t)strtoul(v, nullptr, 10));
    else if (a == "--nack-prob") faults.nack_probability = strtod(v, nullptr);
    else if (a == "--seed") faults.seed = (uint32_t)strtoul(v, nullptr, 10);
    else if (a == "--dead") { faults.dead_from_us = strtoull(v, nullptr, 10) * 1000u; faults.dead_until_us = strtoull(strchr(v, ':') + 1, nullptr, 10) * 1000u; }
    else if (a == "--cut") { faults.cut_transfer = (uint32_t)strtoul(v, nullptr, 10); faults.cut_after = (uint32_t)strtoul(strchr(v, ':') + 1, nullptr, 10); }
    else if (a == "--send") sends.emplace_back(strtoull(v, nullptr, 10) * 1000u, hex_bytes(strchr(v, ':') + 1));
    else usage(argv[i - 1]);
  }
  std::vector<float> rec;
  if (data) {
    FILE *f = fopen(data, "rb");
    if (!f) usage(data);
    float x;
    while (fread(&x, sizeof x, 1, f) == 1) rec.push_back(x);
    fclose(f);
  }
  if (rec.size() % 6) usage("--data (not a multiple of 6 floats)");
  SimMpu6050 imu(rec, clock_error, faults);
  g_imu = &imu;

  setup();
  size_t next_send = 0;
  while (sim_now_us < end_us) {
    while (next_send < sends.size() && sends[next_send].first <= sim_now_us) {
      for (uint8_t b : sends[next_send].second) g_rx.push_back(b);
      ++next_send;
    }
    loop();
    sim_now_us += step_us;
  }
  fflush(stdout);
  if (fates) {
    FILE *f = fopen(fates, "wb");
    fwrite(imu.fates().data(), 1, imu.fates().size(), f);
    fclose(f);
  }
  fprintf(stderr, "sim: transfers %u nacked %u produced %u invokes %ld wire_errors %u end_us %llu\n",
          imu.transfers(), imu.nacked(), imu.produced(), g_invokes, g_wire_errors,
          (unsigned long long)sim_now_us);
  return g_wire_errors ? 3 : 0;
}
