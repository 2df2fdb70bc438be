// Host port of the Arduino Wire (I2C master) API, on the simulated bus of sim_mpu6050.h. Signatures as in
// arduino-esp32's TwoWire (libraries/Wire/src/Wire.h) and ArduinoCore-API's HardwareI2C: requestFrom(address,
// size_t len[, bool stop]) and endTransmission([bool stop]) return 0 on success, else an error code (2: address
// not acknowledged). The receive buffer holds SIM_WIRE_BUFFER bytes, the smallest of the cores (AVR's 32): a
// request for more aborts the run, so a driver that works here fits every core's buffer.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SIM_WIRE_BUFFER 32

class TwoWire {
 public:
  void begin();
  bool begin(int sda, int scl, uint32_t frequency = 0);
  void setClock(uint32_t freq);
  void beginTransmission(uint8_t address);
  uint8_t endTransmission(bool stopBit);
  uint8_t endTransmission();
  size_t requestFrom(uint8_t address, size_t len, bool stopBit);
  size_t requestFrom(uint8_t address, size_t len);
  size_t write(uint8_t b);
  int available();
  int read();

 private:
  uint8_t tx_addr_ = 0;
  uint8_t tx_[SIM_WIRE_BUFFER];
  size_t tx_len_ = 0;
  bool tx_open_ = false;
  uint8_t rx_[SIM_WIRE_BUFFER];
  size_t rx_len_ = 0, rx_pos_ = 0;
};
extern TwoWire Wire;
extern TwoWire Wire1;  // the second bus (the Nano 33 BLE's internal IMU bus): declared for compiling, not simulated
