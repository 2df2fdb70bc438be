// A register model of the LSM9DS1 accelerometer/gyroscope on I2C, for running the generated driver on the host.
// It keeps what the driver relies on: WHO_AM_I, writable control registers, and the 32-slot FIFO in continuous
// mode (FIFO_SRC = OVRN | unread count; each slot is read as gyro OUT_X_G..+5 then accel OUT_X_XL..+5, the accel
// read advancing the FIFO; a push into a full FIFO overwrites the oldest slot and sets OVRN until the next read).
//
// Driven by commands on stdin, one per line, so the Python test scripts the scenario and checks the output:
//   who V | absent | ignore_writes | fail_reads N | begin | push gx gy gz ax ay az | poll | drain | counters
#include <stdio.h>
#include <string.h>

#include <deque>
#include <string>

#include "Wire.h"
#include "unikd_imu.h"
#include "unikd_sampler.h"

TwoWire Wire;
TwoWire Wire1;

void delay(unsigned long) {}
unsigned long micros(void) { return 0; }
extern "C" uint32_t unikd_port_timer(void) { return 0; }

namespace {
const uint8_t kAddr = 0x6B;
uint8_t regs[128];
bool present = true, ignore_writes = false;
int fail_reads = 0;
uint8_t pointer = 0;
struct Slot {
  uint8_t b[12];  // gyro x,y,z then accel x,y,z, little-endian
};
std::deque<Slot> fifo;
bool overrun = false;

bool fifo_on() { return (regs[0x23] & 0x02) && (regs[0x2E] & 0xE0) == 0xC0; }
}  // namespace

int host_i2c_write(uint8_t address, const uint8_t *data, size_t len) {
  if (!present || address != kAddr) return 2;
  if (len >= 1) pointer = data[0] & 0x7F;  // bit 7: the multi-byte flag the driver sets
  if (len >= 2 && !ignore_writes) {
    regs[pointer] = data[1];
    if (pointer == 0x2E && (data[1] & 0xE0) == 0) {  // bypass mode empties the FIFO
      fifo.clear();
      overrun = false;
    }
  }
  return 0;
}

size_t host_i2c_read(uint8_t address, uint8_t *data, size_t len) {
  if (!present || address != kAddr) return 0;
  if (fail_reads > 0) {
    --fail_reads;
    return 0;
  }
  if (pointer == 0x2F && len == 1) {
    data[0] = (uint8_t)((overrun ? 0x40 : 0) | (fifo.size() & 0x3F));
    return 1;
  }
  if (fifo_on() && (pointer == 0x18 || pointer == 0x28) && len == 6) {
    if (fifo.empty()) {
      memset(data, 0, 6);
      return 6;
    }
    memcpy(data, fifo.front().b + (pointer == 0x18 ? 0 : 6), 6);
    if (pointer == 0x28) {
      fifo.pop_front();
      overrun = false;
    }
    return 6;
  }
  for (size_t i = 0; i < len; ++i) data[i] = regs[(pointer + i) & 0x7F];
  return len;
}

int main() {
  regs[0x0F] = 0x68;
  regs[0x22] = 0x04;
  unikd_sampler_init();
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    char cmd[32] = {0};
    if (sscanf(line, "%31s", cmd) != 1) continue;
    std::string c = cmd;
    if (c == "who") {
      unsigned v;
      sscanf(line, "%*s %x", &v);
      regs[0x0F] = (uint8_t)v;
    } else if (c == "absent") {
      present = false;
    } else if (c == "ignore_writes") {
      ignore_writes = true;
    } else if (c == "fail_reads") {
      sscanf(line, "%*s %d", &fail_reads);
    } else if (c == "begin") {
      printf("begin %u\n", (unsigned)unikd_imu_begin());
      printf("ctrl %02x %02x %02x %02x\n", regs[0x10], regs[0x20], regs[0x23], regs[0x2E]);
    } else if (c == "push") {
      int v[6];
      sscanf(line, "%*s %d %d %d %d %d %d", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
      Slot s;
      for (int i = 0; i < 6; ++i) {
        s.b[2 * i] = (uint8_t)(v[i] & 0xFF);
        s.b[2 * i + 1] = (uint8_t)((v[i] >> 8) & 0xFF);
      }
      if (fifo.size() == 32) {
        fifo.pop_front();
        overrun = true;
      }
      fifo.push_back(s);
    } else if (c == "poll") {
      unikd_imu_poll();
    } else if (c == "drain") {
      unikd_reading r;
      int gap = 0;
      while (unikd_sampler_get(&r, &gap))
        printf("r %d %.9g %.9g %.9g %.9g %.9g %.9g\n", gap, r.acc[0], r.acc[1], r.acc[2], r.gyro[0], r.gyro[1],
               r.gyro[2]);
    } else if (c == "counters") {
      unikd_sampler_counters k;
      unikd_sampler_counters_get(&k);
      printf("counters samples=%u missed=%u read_failures=%u overruns=%u\n", (unsigned)k.samples,
             (unsigned)k.missed, (unsigned)k.read_failures, (unsigned)k.overruns);
    }
  }
  return 0;
}
