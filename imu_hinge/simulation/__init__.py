"""The project's own biomechanical simulator: two-IMU hinge sessions with ground truth.

A sagittal kinematic chain (hip joint translating back and down, pelvis rotating about it,
a lumbar joint, the thorax rotating about that) carries a sacrum and a T12 sensor; small
out-of-plane wobble, postural sway, walking with turns and an arbitrary heading move it
further. The sensors read physics: specific force at the sensor point (linear
acceleration plus gravity) and segment angular velocity, in their own axes, through a
MEMS model (mounting, biases, bias random walk, noise, scale and cross-axis errors,
clipping, quantisation) sampled on drifting, jittered, mutually offset clocks with
drop-outs::

    from imu_hinge.simulation import SimConfig, simulate, write_case, SCENARIOS
    res = simulate(SimConfig(seed=3, exercise="rdl", n_reps=8, rounding_frac=0.25))
    write_case(res, Path("x.csv"))   # x.csv, x.truth.json, x.truth_angles.csv

Modules: :mod:`.config` (parameters), :mod:`.exercise_styles` and :mod:`.motion_plan` (rep scripts ->
angle trajectories), :mod:`.trajectory` (C2 quintic curves), :mod:`.gait` (walking),
:mod:`.moves` (side bends, twists, backward bends, sitting down, walking and stair bouts),
:mod:`.body` (kinematic chain -> sensor kinematics, soft-tissue rocking), :mod:`.mems_imu`
(MEMS, bias warm-up, coloured noise, clocks, drops, outages), :mod:`.truth` (truth traces, rep
boundaries, labels), :mod:`.simulator`, :mod:`.scenarios` (incl. the real-world ones), :mod:`.case_files`.
"""

from __future__ import annotations

from imu_hinge.simulation.body import BodyGeometry
from imu_hinge.simulation.case_files import case_paths, write_case
from imu_hinge.simulation.config import EXERCISES, MOVES, NAMED_MOUNTS, SimConfig, parse_mount, validate
from imu_hinge.simulation.exercise_styles import FAULTS
from imu_hinge.simulation.scenarios import REAL_WORLD, SCENARIOS
from imu_hinge.simulation.simulator import SimResult, simulate
from imu_hinge.simulation.truth import match_reps

__all__ = [
    "EXERCISES",
    "FAULTS",
    "MOVES",
    "NAMED_MOUNTS",
    "REAL_WORLD",
    "SCENARIOS",
    "BodyGeometry",
    "SimConfig",
    "SimResult",
    "case_paths",
    "match_reps",
    "parse_mount",
    "simulate",
    "validate",
    "write_case",
]
