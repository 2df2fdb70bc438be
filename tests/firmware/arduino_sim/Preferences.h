// Host port of the ESP32 Preferences (NVS) API: this simulated board has no non-volatile storage, so begin()
// fails and the sketch's store functions report "nothing stored" (calibration restarts at boot, as documented for
// boards without storage).
#pragma once
#include <stddef.h>
class Preferences {
 public:
  bool begin(const char *, bool = false) { return false; }
  void end() {}
  size_t getBytes(const char *, void *, size_t) { return 0; }
  size_t putBytes(const char *, const void *, size_t) { return 0; }
};
