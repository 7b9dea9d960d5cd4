"""Build of the C parts: the per-sample loops of the core, one extension module per stage
(imu_hinge/fusion/_fusion_loops.c with VQF's C++ (vendored, unchanged, in imu_hinge/fusion/_vqf/) behind
imu_hinge/fusion/_vqf_shim.cpp, imu_hinge/kinematics/_kinematics_loops.c, and the detector,
imu_hinge/detection/_detect.c, loaded with ctypes), and the interchange CSV's scanner
(imu_hinge/recording/_interchange_scan.c). Everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

# no fused multiply-add: the same rounding on every CPU (x86-64 and arm64 give identical events)
FLAGS = ["-O2", "-ffp-contract=off"]

setup(ext_modules=[
    Extension("imu_hinge.detection._detect", ["imu_hinge/detection/_detect.c"], extra_compile_args=FLAGS),
    Extension("imu_hinge.fusion._fusion_loops", ["imu_hinge/fusion/_fusion_loops.c", "imu_hinge/fusion/_vqf_shim.cpp",
                                                  "imu_hinge/fusion/_vqf/vqf.cpp"],
              depends=["imu_hinge/fusion/_vqf_shim.h", "imu_hinge/fusion/_vqf/vqf.hpp"],
              extra_compile_args=FLAGS, language="c++"),
    Extension("imu_hinge.kinematics._kinematics_loops", ["imu_hinge/kinematics/_kinematics_loops.c"],
              extra_compile_args=FLAGS),
    Extension("imu_hinge.recording._interchange_scan", ["imu_hinge/recording/_interchange_scan.c"],
              extra_compile_args=FLAGS),
])
