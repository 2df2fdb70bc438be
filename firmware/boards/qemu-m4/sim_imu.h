/* The emulated board's SIMULATED IMU (sim_imu.c), for tests only. */
#ifndef QEMU_SIM_IMU_H
#define QEMU_SIM_IMU_H

#ifndef UNIKD_QEMU_SIM_IMU
#define UNIKD_QEMU_SIM_IMU 0
#endif

/* Before unikd_app_init: in an image with the simulated IMU, announce it to the app and start it (its readings then
 * arrive in the sample ring at the model's rate) and return 1; otherwise do nothing and return 0. */
int qemu_sim_imu_start(void);
void TIMER1_Handler(void);

#endif
