// Host stand-in for the Arduino Wire (I2C) API: every transfer goes to a register model the test program
// provides (host_i2c_* below), so a driver's bus traffic can be played against a scripted part.
#ifndef UNIKD_HOST_WIRE_H
#define UNIKD_HOST_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "Arduino.h"

// The model: a write transaction (address + bytes) returns an Arduino endTransmission code (0 ok, 2 address
// NACK, 3 data NACK); a read fills up to len bytes and returns how many it gave.
int host_i2c_write(uint8_t address, const uint8_t *data, size_t len);
size_t host_i2c_read(uint8_t address, uint8_t *data, size_t len);

class TwoWire : public Stream {
 public:
  void begin() {}
  void end() {}
  void beginTransmission(uint8_t address) {
    address_ = address;
    tx_len_ = 0;
  }
  size_t write(uint8_t b) override {
    if (tx_len_ < sizeof(tx_)) tx_[tx_len_++] = b;
    return 1;
  }
  uint8_t endTransmission(bool stop = true) {
    (void)stop;
    return (uint8_t)host_i2c_write(address_, tx_, tx_len_);
  }
  size_t requestFrom(uint8_t address, size_t len, bool stop = true) {
    (void)stop;
    if (len > sizeof(rx_)) len = sizeof(rx_);
    rx_len_ = host_i2c_read(address, rx_, len);
    rx_pos_ = 0;
    return rx_len_;
  }
  int available() override { return (int)(rx_len_ - rx_pos_); }
  int read() override { return rx_pos_ < rx_len_ ? rx_[rx_pos_++] : -1; }

 private:
  uint8_t address_ = 0;
  uint8_t tx_[64];
  size_t tx_len_ = 0;
  uint8_t rx_[64];
  size_t rx_len_ = 0, rx_pos_ = 0;
};

extern TwoWire Wire;
extern TwoWire Wire1;

#endif
