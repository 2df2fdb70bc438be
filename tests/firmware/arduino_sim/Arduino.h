// Host port of the Arduino API the generated sketch and the MPU-6050 driver use, on a virtual clock
// (tests/test_sensor_path_sim.py). Only what they call, with the real signatures (ArduinoCore-API, arduino-esp32),
// so code that compiles here uses no call the boards lack.
#pragma once
#include <stddef.h>
#include <stdint.h>

// The virtual clock, in microseconds since power-on: advanced by the sim's main loop, by delay(), by each I2C
// byte and by the inference wrapper; never by the host's real time, so a run is reproducible.
extern uint64_t sim_now_us;

// Serial: what the sketch writes goes to stdout (frames for unikd_mcu.hil.protocol.FrameParser); what the host
// sends is queued by the sim's main loop at given virtual times.
struct SimSerial {
  void begin(unsigned long) {}
  int available();
  int read();
  size_t write(const uint8_t *data, size_t n);
  explicit operator bool() const { return true; }
};
extern SimSerial Serial;

unsigned long micros(void);
unsigned long millis(void);
void delay(unsigned long ms);
