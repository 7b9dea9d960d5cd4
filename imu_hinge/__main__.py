from imu_hinge.cli import entry

entry()
