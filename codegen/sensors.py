"""The IMUs a board can carry (a registry: one entry per sensor) and how an IMU feeds the model's channels.

Each IMU driver (firmware/templates/unikd_imu_<name>.cpp.j2) reads acceleration in g and angular rate in rad/s;
the portable core's front end (firmware/core/unikd_sensor.c) turns that into nine quantities per sample, in
UCI-HAR's units:

    0-2 total_acc x/y/z   acceleration including gravity, in g
    3-5 body_acc  x/y/z   total minus a gravity estimate (first-order 0.3 Hz low-pass of total), in g
    6-8 gyro      x/y/z   angular rate, in rad/s

The model's channel names (metadata.json) pick from them in the model's order, so the firmware feeds the model the
same quantities it was trained on. UCI-HAR split gravity with an offline 3rd-order 0.3 Hz Butterworth filter; the
device uses a causal first-order one, an approximation (the body channels differ mostly in the first seconds and
at sharp posture changes). The axes must also be mounted as in training (UCI-HAR: a phone on the waist).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen.errors import DeployError

#: Cutoff of the device's gravity low-pass (UCI-HAR's, 0.3 Hz); the sketch passes it to unikd_sensor_init.
GRAVITY_CUTOFF_HZ = 0.3

IMU_QUANTITIES = ("total_acc_x", "total_acc_y", "total_acc_z", "body_acc_x", "body_acc_y", "body_acc_z",
                  "gyro_x", "gyro_y", "gyro_z")
ALIASES = {
    **{f"body_gyro_{a}": f"gyro_{a}" for a in "xyz"},
    **{f"gyr_{a}": f"gyro_{a}" for a in "xyz"},
    **{f"acc_{a}": f"total_acc_{a}" for a in "xyz"},
    **{f"accel_{a}": f"total_acc_{a}" for a in "xyz"},
}


@dataclass(frozen=True)
class ImuSensor:
    """One supported IMU: its driver (implementing firmware/templates/unikd_imu.h.j2) and the library it needs,
    if any, by its Arduino library manager name and its PlatformIO lib_deps name."""

    name: str
    arduino_library: str | None = None
    platformio_library: str | None = None
    #: further templates the driver includes (name of the rendered file without ".j2"), e.g. the resampler for a
    #: part whose output data rate differs from the model's rate
    support_templates: tuple[str, ...] = ()

    @property
    def driver_template(self) -> str:
        return f"unikd_imu_{self.name}.cpp.j2"


#: Adding an IMU: one entry here and its driver template.
IMU_SENSORS = {s.name: s for s in (
    ImuSensor("mpu6050"),  # plain I2C registers through the Wire library every core ships
    # Nano 33 BLE (Sense) rev 1: registers over Wire1 directly (the Arduino_LSM9DS1 library hides the FIFO's
    # overrun bit and fixes the rate), resampled from the part's ODR on the sensor's timeline
    ImuSensor("lsm9ds1", support_templates=("unikd_resample.h.j2",)),
    # Nano 33 BLE Sense rev 2: the BMI270 needs Bosch's configuration blob, which the Arduino library carries;
    # pinned to the version whose API the driver was written against
    ImuSensor("bmi270", arduino_library="Arduino_BMI270_BMM150@1.2.3",
              platformio_library="arduino-libraries/Arduino_BMI270_BMM150@1.2.3",
              support_templates=("unikd_resample.h.j2",)),
)}


def channel_sources(channel_names: list[str], sensor: str) -> list[int]:
    """Index into IMU_QUANTITIES for each model channel; refuses channels an IMU cannot produce."""
    if sensor not in IMU_SENSORS:
        return []
    out, unknown = [], []
    for name in channel_names:
        key = ALIASES.get(name.lower(), name.lower())
        if key in IMU_QUANTITIES:
            out.append(IMU_QUANTITIES.index(key))
        else:
            unknown.append(name)
    if unknown:
        raise DeployError(
            f"the {sensor} driver cannot produce channel(s) {', '.join(unknown)}; it gives "
            f"{', '.join(IMU_QUANTITIES)}. Build with --sensor serial to feed samples over the serial link instead")
    return out


def front_end(acc: np.ndarray, gyro: np.ndarray, sources: list[int], cutoff_hz: float = GRAVITY_CUTOFF_HZ,
              rate_hz: float = 50.0) -> np.ndarray:
    """The host twin of the device's front end (firmware/core/unikd_sensor.c), bit for bit in float32: readings
    acc (T, 3) g and gyro (T, 3) rad/s -> the model's raw inputs (T, len(sources)). The gravity estimate starts at
    the first reading and follows g += alpha (a - g), alpha = dt / (RC + dt), RC = 1 / (2 pi fc)."""
    f = np.float32
    acc, gyro = np.asarray(acc, f), np.asarray(gyro, f)
    dt = f(1) / f(rate_hz)
    alpha = dt / (f(1) / (f(6.2831853) * f(cutoff_hz)) + dt)
    g = acc[0].copy()
    body = np.empty_like(acc)
    for t, a in enumerate(acc):
        if t:
            g = g + alpha * (a - g)
        body[t] = a - g
    return np.hstack([acc, body, gyro])[:, list(sources)]
