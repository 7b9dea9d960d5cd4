"""Build of the one C part: the detector loop (imu_hinge/detection/_detect.c, loaded with ctypes).
Everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "imu_hinge.detection._detect", ["imu_hinge/detection/_detect.c"],
    # no fused multiply-add: the same rounding on every CPU (x86-64 and arm64 give identical events)
    extra_compile_args=["-O2", "-ffp-contract=off"],
)])
