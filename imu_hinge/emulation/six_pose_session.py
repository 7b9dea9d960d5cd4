"""A simulated six-pose session with KNOWN sensor errors: the truth the calibration must recover.

:class:`InjectedErrors` is the simulator's MEMS error model (:mod:`imu_hinge.simulation.mems_imu`)::

    acc = acc_cross @ ((1 + acc_scale) * f) + acc_bias          (f: true specific force, m/s^2)
    gyr = gyr_cross @ ((1 + gyr_scale) * omega) + gyr_bias      (omega: true rate, rad/s)

drawn with the simulator's own realisation draws. :func:`six_pose_motion` turns the guided
procedure (:data:`~.procedure.GUIDE`) into the true motion of a sensor being turned from face to
face on a table (smooth turns with a lift, still holds, optionally imperfectly square faces);
:func:`simulate_six_pose` adds the errors and white noise and gives a :class:`SensorStream`. The
same motion can be played by an emulated BLE sensor (``MotionTrack`` of the corrupted values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from imu_hinge.samples import STANDARD_GRAVITY_M_S2, SensorStream
from imu_hinge.sensor_calibration.imu_model import SensorCalibration, from_matrices
from imu_hinge.sensor_calibration.procedure import GUIDE, TRANSITION_S, GuideStep, pose_vector, timeline


@dataclass(frozen=True, eq=False)
class InjectedErrors:
    """One sensor's error state (see the module docstring); vectors (3,), matrices (3, 3)."""

    acc_bias_m_s2: np.ndarray
    acc_scale: np.ndarray
    acc_cross: np.ndarray
    gyr_bias_rad_s: np.ndarray
    gyr_scale: np.ndarray
    gyr_cross: np.ndarray

    @classmethod
    def draw(cls, seed: int, *, acc_bias_m_s2: float = 0.3, gyro_bias_dps: float = 1.0, scale_error: float = 0.02,
             misalignment_deg: float = 1.0, role: str = "sacrum") -> InjectedErrors:
        """Errors drawn by the simulator (``draw_realisation``): biases 0.5..1 x the given magnitude with
        random signs, scale errors within +-``scale_error``, cross-axis terms ~ ``misalignment_deg``."""
        from imu_hinge.simulation import SimConfig, validate
        from imu_hinge.simulation.mems_imu import draw_realisation

        cfg = SimConfig(seed=seed, acc_bias_m_s2=acc_bias_m_s2, gyro_bias_dps=gyro_bias_dps,
                        scale_error=scale_error, misalignment_deg=misalignment_deg)
        validate(cfg)
        real = draw_realisation(cfg, role, np.random.default_rng(seed), np.random.default_rng(seed + 1))
        return cls(real.acc_bias_m_s2, real.acc_scale, real.acc_cross, real.gyro_bias_rad_s, real.gyro_scale,
                   real.gyro_cross)

    def corrupt(self, acc_m_s2: np.ndarray, gyr_rad_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the sensor reads (uncalibrated SI, no noise) for true (N, 3) specific force and rate."""
        acc = ((1.0 + self.acc_scale) * acc_m_s2) @ self.acc_cross.T + self.acc_bias_m_s2
        gyr = ((1.0 + self.gyr_scale) * gyr_rad_s) @ self.gyr_cross.T + self.gyr_bias_rad_s
        return acc, gyr

    def true_calibration(self, sensor_id: str) -> SensorCalibration:
        """The calibration that exactly undoes :meth:`corrupt` (its ``apply`` returns the truth)."""
        acc = np.linalg.inv(self.acc_cross * (1.0 + self.acc_scale))
        gyr = np.linalg.inv(self.gyr_cross * (1.0 + self.gyr_scale))
        return from_matrices(sensor_id, acc, self.acc_bias_m_s2, self.gyr_bias_rad_s, gyr)

    def to_dict(self) -> dict[str, list[float] | list[list[float]]]:
        return {k: np.asarray(getattr(self, k)).tolist() for k in self.__dataclass_fields__}


def _pose_rotation(pose: str, yaw_rad: float, tilt: np.ndarray) -> Rotation:
    """Sensor -> earth rotation with sensor axis ``pose`` up, turned ``yaw_rad`` about up, tilted by ``tilt``."""
    up = pose_vector(pose)
    align, _ = Rotation.align_vectors([[0.0, 0.0, 1.0]], [up])  # sensor 'up' axis -> earth z
    return Rotation.from_rotvec(tilt) * Rotation.from_rotvec([0.0, 0.0, yaw_rad]) * align


def six_pose_motion(rate_hz: float = 104.0, *, steps: tuple[GuideStep, ...] = GUIDE,
                    transition_s: float = TRANSITION_S, face_tilt_deg: float = 0.0, housing_deg: float = 0.0,
                    gravity_m_s2: float = STANDARD_GRAVITY_M_S2,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True ``(time_s (N,), acc_m_s2 (N, 3), gyr_rad_s (N, 3))`` of the guided procedure, sensor axes.

    ``face_tilt_deg``: each hold tilted by a random angle of up to this much (faces not square);
    ``housing_deg``: one common rotation of up to this much (the chip turned in its case: the
    faces are square to each other but not to the chip's axes; harmless to the calibration).
    """
    rng = np.random.default_rng(seed)
    housing = Rotation.from_rotvec(rng.normal(size=3) / np.sqrt(3) * np.radians(housing_deg))
    plan = timeline(steps, transition_s)
    key_t, key_r, turn = [0.0], [], []  # turn[i]: the sensor moves between key i and key i + 1
    for i, ts in enumerate(plan):
        tilt = rng.normal(size=3)
        tilt *= np.radians(face_tilt_deg) * rng.uniform(0.5, 1.0) / max(np.linalg.norm(tilt), 1e-12)
        rot = _pose_rotation(ts.step.pose, rng.uniform(-np.pi, np.pi), tilt) * housing
        if i == 0:
            key_r.append(rot)
        key_t += [ts.hold_from_s, ts.hold_to_s]
        key_r += [rot, rot]
        turn += [i > 0, False]
    end_s = plan[-1].hold_to_s + 1.0
    key_t.append(end_s)
    key_r.append(key_r[-1])
    turn.append(False)
    t = np.arange(0.0, end_s, 1.0 / rate_hz)
    # smooth the turns: each segment between key times runs on a smoothstep (zero rate at the holds)
    seg = np.clip(np.searchsorted(key_t, t, side="right") - 1, 0, len(key_t) - 2)
    t0, t1 = np.asarray(key_t)[seg], np.asarray(key_t)[seg + 1]
    frac = np.clip((t - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
    smooth = frac * frac * (3 - 2 * frac)
    quats = Rotation.concatenate(key_r)
    rots = Slerp(np.arange(len(key_r)), quats)(seg + smooth)
    # rate in sensor axes from consecutive orientations; specific force: gravity plus the lift of each turn
    delta = (rots[:-1].inv() * rots[1:]).as_rotvec() * rate_hz
    gyr = np.vstack([delta, delta[-1:]]) if len(t) > 1 else np.zeros((1, 3))
    moving = np.asarray(turn)[seg] & (frac > 0) & (frac < 1)
    lift = np.where(moving, 2.0 * np.sin(2 * np.pi * frac), 0.0)
    force_earth = np.column_stack([np.zeros_like(t), np.zeros_like(t), gravity_m_s2 + lift])
    acc = rots.inv().apply(force_earth)
    return t, acc, gyr


def simulate_six_pose(errors: InjectedErrors, sensor: str = "sacrum", *, rate_hz: float = 104.0,
                      acc_noise_m_s2: float = 0.02, gyr_noise_rad_s: float = 0.003, face_tilt_deg: float = 0.0,
                      housing_deg: float = 0.0, gravity_m_s2: float = STANDARD_GRAVITY_M_S2, seed: int = 0,
                      steps: tuple[GuideStep, ...] = GUIDE) -> SensorStream:
    """A recorded six-pose session: the true motion (:func:`six_pose_motion`), ``errors``, white noise."""
    t, acc_true, gyr_true = six_pose_motion(rate_hz, steps=steps, face_tilt_deg=face_tilt_deg,
                                            housing_deg=housing_deg, gravity_m_s2=gravity_m_s2, seed=seed)
    acc, gyr = errors.corrupt(acc_true, gyr_true)
    rng = np.random.default_rng(seed + 7)
    acc = acc + rng.normal(0.0, acc_noise_m_s2, acc.shape)
    gyr = gyr + rng.normal(0.0, gyr_noise_rad_s, gyr.shape)
    return SensorStream(sensor, t, acc, gyr)
