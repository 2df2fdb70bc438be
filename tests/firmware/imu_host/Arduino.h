// Host stand-in for the few Arduino core calls the IMU drivers make, so a driver compiles and runs with the host
// compiler against the register models in this folder. Not a copy of any core: only the signatures the drivers use.
#ifndef UNIKD_HOST_ARDUINO_H
#define UNIKD_HOST_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

#include <algorithm>

using std::min;

void delay(unsigned long ms);
unsigned long micros(void);

class Print {
 public:
  virtual ~Print() {}
  virtual size_t write(uint8_t b) = 0;
};

class Stream : public Print {
 public:
  virtual int available() { return 0; }
  virtual int read() { return -1; }
};

#endif
