// SIMULATED MPU-6050: a test double of the InvenSense part behind the host Wire port (not a driver, not the
// part). A register model of what the generated driver touches, sampling on its own clock in virtual time and
// playing back a recording (acceleration in g, angular rate in rad/s) as the part's int16 LSBs:
//   WHO_AM_I (0x75), PWR_MGMT_1 (0x6B, sleep bit: sampling starts when it clears), CONFIG (0x1A, DLPF_CFG),
//   SMPLRT_DIV (0x19): sample rate = (DLPF_CFG 0 or 7 ? 8 kHz : 1 kHz) / (1 + SMPLRT_DIV) x (1 + clock error),
//   GYRO_CONFIG / ACCEL_CONFIG (0x1B/0x1C: full scale, applied to the LSBs), INT_ENABLE (0x38), INT_STATUS (0x3A,
//   FIFO_OFLOW_INT bit 4, set on overflow when enabled, cleared by reading), FIFO_EN (0x23), USER_CTRL (0x6A:
//   FIFO_EN bit 6, FIFO_RESET bit 2), FIFO_COUNT (0x72/0x73, big-endian), FIFO_R_W (0x74: every read pops a byte,
//   the register pointer does not advance on it), 1024-byte FIFO where, as on the part, a write to a full FIFO
//   overwrites the oldest byte (so after an overflow the FIFO no longer starts on a sample boundary).
// Faults injected by the test: no device (every transfer not acknowledged), another WHO_AM_I value, NACK of given
// transfers (by number, from 1) or with a seeded probability, a time span in which the part does not answer (it
// keeps sampling), and a read cut after k bytes (those bytes are popped and lost, as on a real bus).
// Truth for the test: every sample's fate (read out whole, or lost and why).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <set>
#include <vector>

struct SimFaults {
  bool absent = false;
  uint8_t who_am_i = 0x68;
  std::set<uint32_t> nack;        // transfer numbers (1 = the first) not acknowledged
  double nack_probability = 0.0;  // each transfer, seeded
  uint32_t seed = 1;
  uint64_t dead_from_us = 0, dead_until_us = 0;  // the part does not answer in [from, until)
  uint32_t cut_transfer = 0;      // this read of FIFO_R_W (number, from 1) delivers only cut_after bytes, then fails
  uint32_t cut_after = 0;
};

enum SampleFate : uint8_t { FATE_NOT_TAKEN = 0, FATE_READ = 1, FATE_OVERWRITTEN = 2, FATE_CLEARED = 3,
                            FATE_FIFO_OFF = 4, FATE_PARTIAL = 5 };

class SimMpu6050 {
 public:
  SimMpu6050(std::vector<float> recording /* n x 6 */, double clock_error, SimFaults faults);
  // One I2C transfer (the Wire port calls these). Each is numbered; returns false when not acknowledged.
  bool write(const uint8_t *data, size_t n);
  // Returns the bytes delivered (n, or fewer when cut; 0 when not acknowledged).
  size_t read(uint8_t *out, size_t n);

  uint32_t transfers() const { return transfers_; }
  uint32_t nacked() const { return nacked_; }
  uint32_t produced() const { return next_sample_; }
  const std::vector<uint8_t> &fates() const { return fate_; }
  size_t recording_length() const { return rec_.size() / 6; }

 private:
  bool acknowledged();
  void advance_to(uint64_t now_us);
  void take_sample(uint32_t k);
  void fifo_push(uint8_t b, uint32_t tag);
  uint8_t fifo_pop();
  void fifo_clear();
  uint8_t read_reg();

  std::vector<float> rec_;
  double clock_error_;
  SimFaults f_;
  uint32_t rng_;
  uint32_t transfers_ = 0, nacked_ = 0, fifo_reads_ = 0;
  uint8_t regs_[128] = {};
  uint8_t ptr_ = 0;
  bool sampling_ = false, started_ = false;
  double next_due_us_ = 0;    // time of the next sample instant
  uint32_t next_sample_ = 0;  // next recording index (the recording starts when the FIFO is first enabled)
  uint8_t fifo_[1024];
  uint32_t tags_[1024];       // recording index * 16 + byte offset of each FIFO byte
  size_t head_ = 0, count_ = 0;
  uint16_t count_latch_ = 0;
  std::vector<uint8_t> fate_;
  std::vector<uint8_t> popped_;  // bytes of each sample popped so far (whole-sample detection)
};
