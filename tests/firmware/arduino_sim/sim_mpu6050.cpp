// SIMULATED MPU-6050 (test double), see sim_mpu6050.h.
#include "sim_mpu6050.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "Arduino.h"

namespace {
constexpr uint8_t kSmplrtDiv = 0x19, kConfig = 0x1A, kGyroConfig = 0x1B, kAccelConfig = 0x1C, kFifoEn = 0x23;
constexpr uint8_t kIntEnable = 0x38, kIntStatus = 0x3A, kUserCtrl = 0x6A, kPwrMgmt1 = 0x6B;
constexpr uint8_t kFifoCountH = 0x72, kFifoCountL = 0x73, kFifoRW = 0x74, kWhoAmI = 0x75;
constexpr double kPi = 3.14159265358979323846;

// The part's conversion: round half away from zero (lround), saturate to int16.
int16_t to_lsb(double v) {
  long q = lround(v);
  if (q > 32767) q = 32767;
  if (q < -32768) q = -32768;
  return (int16_t)q;
}
}  // namespace

SimMpu6050::SimMpu6050(std::vector<float> recording, double clock_error, SimFaults faults)
    : rec_(std::move(recording)), clock_error_(clock_error), f_(faults), rng_(faults.seed ? faults.seed : 1) {
  regs_[kPwrMgmt1] = 0x40;  // reset value: asleep
  regs_[kWhoAmI] = f_.who_am_i;
  fate_.assign(recording_length(), FATE_NOT_TAKEN);
  popped_.assign(recording_length(), 0);
}

bool SimMpu6050::acknowledged() {
  ++transfers_;
  bool ok = !f_.absent && f_.nack.count(transfers_) == 0
            && !(sim_now_us >= f_.dead_from_us && sim_now_us < f_.dead_until_us);
  if (ok && f_.nack_probability > 0) {
    rng_ = rng_ * 1664525u + 1013904223u;  // LCG: reproducible for a seed
    ok = (rng_ >> 8) * (1.0 / 16777216.0) >= f_.nack_probability;
  }
  if (!ok) ++nacked_;
  return ok;
}

void SimMpu6050::advance_to(uint64_t now_us) {
  if (!sampling_) return;
  int dlpf = regs_[kConfig] & 7;
  double base = (dlpf == 0 || dlpf == 7) ? 8000.0 : 1000.0;
  double period_us = 1e6 * (1 + regs_[kSmplrtDiv]) / base / (1.0 + clock_error_);
  // each instant is one period (at the rate configured then) after the previous one
  while (next_due_us_ <= (double)now_us) {
    next_due_us_ += period_us;
    bool fifo_on = (regs_[kUserCtrl] & 0x40) && regs_[kFifoEn] == 0x78;
    if (fifo_on) started_ = true;
    if (!started_) continue;  // the recording starts with the first sample the FIFO can take
    if (next_sample_ >= recording_length()) continue;  // the recording is over: nothing more to play back
    uint32_t k = next_sample_++;
    if (fifo_on)
      take_sample(k);
    else
      fate_[k] = FATE_FIFO_OFF;
  }
}

void SimMpu6050::take_sample(uint32_t k) {
  // +-2/4/8/16 g: 16384 >> AFS_SEL LSB/g; +-250/500/1000/2000 deg/s: 131 / 2^FS_SEL LSB per deg/s
  double lsb_g = 16384.0 / (1 << ((regs_[kAccelConfig] >> 3) & 3));
  double lsb_dps = 131.0 / (1 << ((regs_[kGyroConfig] >> 3) & 3));
  const float *x = &rec_[(size_t)k * 6];
  int16_t v[6];
  for (int i = 0; i < 3; ++i) {
    v[i] = to_lsb((double)x[i] * lsb_g);
    v[3 + i] = to_lsb((double)x[3 + i] * (180.0 / kPi) * lsb_dps);
  }
  fate_[k] = FATE_READ;  // until overwritten, cleared or read out in part
  for (int i = 0; i < 6; ++i) {
    fifo_push((uint8_t)((uint16_t)v[i] >> 8), k * 16u + 2u * i);
    fifo_push((uint8_t)((uint16_t)v[i] & 0xFF), k * 16u + 2u * i + 1u);
  }
}

void SimMpu6050::fifo_push(uint8_t b, uint32_t tag) {
  if (count_ == sizeof fifo_) {  // full: the oldest byte is overwritten, as on the part
    uint32_t old = tags_[head_];
    fate_[old / 16] = FATE_OVERWRITTEN;
    head_ = (head_ + 1) % sizeof fifo_;
    --count_;
    if (regs_[kIntEnable] & 0x10) regs_[kIntStatus] |= 0x10;
  }
  size_t at = (head_ + count_) % sizeof fifo_;
  fifo_[at] = b;
  tags_[at] = tag;
  ++count_;
}

uint8_t SimMpu6050::fifo_pop() {
  if (count_ == 0) return 0xFF;  // reading an empty FIFO gives no data; the driver never should
  uint8_t b = fifo_[head_];
  uint32_t tag = tags_[head_];
  head_ = (head_ + 1) % sizeof fifo_;
  --count_;
  uint32_t k = tag / 16, off = tag % 16;
  // a sample counts as read when its 12 bytes came out in order; a byte out of order marks it partial
  if (off == popped_[k]) {
    ++popped_[k];
  } else {
    fate_[k] = FATE_PARTIAL;
  }
  return b;
}

void SimMpu6050::fifo_clear() {
  while (count_) {
    uint32_t k = tags_[head_] / 16;
    if (fate_[k] == FATE_READ) fate_[k] = popped_[k] ? FATE_PARTIAL : FATE_CLEARED;
    head_ = (head_ + 1) % sizeof fifo_;
    --count_;
  }
}

uint8_t SimMpu6050::read_reg() {
  switch (ptr_) {
    case kIntStatus: {
      uint8_t v = regs_[kIntStatus];
      regs_[kIntStatus] = 0;  // cleared by the read
      return v;
    }
    case kFifoCountH: count_latch_ = (uint16_t)count_; return (uint8_t)(count_latch_ >> 8);
    case kFifoCountL: return (uint8_t)(count_latch_ & 0xFF);
    case kFifoRW: return fifo_pop();
    default: return regs_[ptr_ & 0x7F];
  }
}

bool SimMpu6050::write(const uint8_t *data, size_t n) {
  advance_to(sim_now_us);
  if (!acknowledged()) return false;
  if (n == 0) return true;
  ptr_ = data[0] & 0x7F;
  for (size_t i = 1; i < n; ++i) {
    uint8_t v = data[i];
    switch (ptr_) {
      case kWhoAmI: case kIntStatus: case kFifoCountH: case kFifoCountL: break;  // read-only
      case kUserCtrl:
        if (v & 0x04) fifo_clear();      // FIFO_RESET, self-clearing
        regs_[kUserCtrl] = v & ~0x04;
        break;
      case kPwrMgmt1:
        regs_[kPwrMgmt1] = v;
        if (!(v & 0x40) && !sampling_) {  // wakes up: sample instants from now
          sampling_ = true;
          next_due_us_ = (double)sim_now_us;
        }
        break;
      case kFifoRW: fifo_push(v, 0); break;  // never done by the driver
      default: regs_[ptr_] = v;
    }
    if (ptr_ != kFifoRW) ptr_ = (ptr_ + 1) & 0x7F;
  }
  return true;
}

size_t SimMpu6050::read(uint8_t *out, size_t n) {
  advance_to(sim_now_us);
  if (!acknowledged()) return 0;
  size_t deliver = n;
  if (ptr_ == kFifoRW && ++fifo_reads_ == f_.cut_transfer && f_.cut_after < n) deliver = f_.cut_after;
  for (size_t i = 0; i < deliver; ++i) {
    out[i] = read_reg();
    if (ptr_ != kFifoRW) ptr_ = (ptr_ + 1) & 0x7F;  // burst reads advance, except on the FIFO port
  }
  return deliver;
}
