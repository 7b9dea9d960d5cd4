"""The kinematic chain: hip joint -> pelvis -> lumbar joint -> thorax, and the two sensor points on it.

Earth frame: x, y horizontal (heading arbitrary), z up. Segment frame (both segments,
standing upright): x superior, y left, z posterior (out of the back). A segment's
orientation is ``Rz(heading) * Ry(sagittal) * Ry(-90 deg) * Rx(twist) * Rz(bend)``:
sagittal flexion is a rotation about the body's left axis (forward positive), axial twist
about the segment's long axis, lateral bend about its antero-posterior axis. A sensor's
orientation is ``segment * Ry(surface tilt) * mounting``.

Sensor readings are physical: the accelerometer measures specific force
``R_sensor^T (p_ddot + g z)`` at the sensor point ``p`` (so linear accelerations of the
hips, the segment rotations' tangential and centripetal terms and gravity are all in it),
and the gyroscope the segment's angular velocity in sensor axes. Derivatives are taken by
central differences on the fine uniform simulation grid (O(h^2), h = 1 ms by default).

Soft tissue and slip: a sensor can rock (or slip) on the skin by a small time-varying rotation
``R_t`` (segment axes) about a point ``TISSUE_DEPTH_M`` in front of it (inside the soft tissue), so its
orientation is ``segment * R_t * surface * mounting`` and its position moves by
``R_seg (R_t l - l)`` with ``l`` the lever from that point to the sensor: the gyroscope
reads the rocking and the accelerometer its tangential and centripetal accelerations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

_UPRIGHT = Rotation.from_euler("y", -90.0, degrees=True)  # segment axes -> earth when standing, heading 0
TISSUE_DEPTH_M = 0.03
"""Distance from a rocking sensor to the point of the soft tissue it rocks about, m."""


@dataclass(frozen=True)
class BodyGeometry:
    """Segment offsets in segment axes (superior, posterior), in m, and sensor surface tilts in deg."""

    hip_height_m: float = 0.95
    sacrum_sensor_m: tuple[float, float] = (0.10, 0.14)
    lumbar_joint_m: tuple[float, float] = (0.30, 0.05)
    thoracic_sensor_m: tuple[float, float] = (0.30, 0.075)
    sacrum_surface_deg: float = 22.0
    thoracic_surface_deg: float = 2.0


def random_geometry(rng: np.random.Generator) -> BodyGeometry:
    """Anthropometry drawn around adult values: T12 sensor 0.25..0.35 m above the lumbar joint."""
    sac_up = rng.uniform(0.08, 0.12)
    return BodyGeometry(
        hip_height_m=rng.uniform(0.85, 1.02),
        sacrum_sensor_m=(sac_up, rng.uniform(0.12, 0.16)),
        lumbar_joint_m=(sac_up + rng.uniform(0.17, 0.23), rng.uniform(0.04, 0.07)),
        thoracic_sensor_m=(rng.uniform(0.25, 0.35), rng.uniform(0.06, 0.09)),
        sacrum_surface_deg=rng.uniform(15.0, 30.0),
        thoracic_surface_deg=rng.uniform(-5.0, 8.0),
    )


@dataclass
class SegmentAngles:
    """Segment angles on the grid, all (N,) in rad: sagittal (absolute change from upright), bend, twist."""

    sagittal_rad: np.ndarray
    bend_rad: np.ndarray
    twist_rad: np.ndarray


@dataclass
class SensorKinematics:
    """True motion of one sensor on the fine grid: orientation matrices (N, 3, 3) (sensor -> earth:
    columns are the sensor axes in earth axes), position (N, 3) m, linear acceleration (N, 3)
    m/s^2 in earth axes, specific force (N, 3) m/s^2 and angular velocity (N, 3) rad/s in sensor axes."""

    orientation: np.ndarray
    position_m: np.ndarray
    lin_acc_m_s2: np.ndarray
    specific_force_m_s2: np.ndarray
    gyr_rad_s: np.ndarray


def _elementary(axis: int, angle_rad: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) about earth/body axis 0, 1 or 2 by ``angle_rad`` (N,)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.zeros((len(angle_rad), 3, 3))
    m[:, axis, axis] = 1.0
    m[:, i, i], m[:, j, j] = c, c
    m[:, i, j], m[:, j, i] = -s, s
    return m


def segment_rotation(heading_rad: np.ndarray, seg: SegmentAngles) -> np.ndarray:
    """Segment -> earth rotation matrices (N, 3, 3) from heading and segment angles."""
    upright = _UPRIGHT.as_matrix()
    outer = _elementary(2, heading_rad) @ _elementary(1, seg.sagittal_rad) @ upright
    return outer @ _elementary(0, seg.twist_rad) @ _elementary(2, seg.bend_rad)


def _second_derivative(x: np.ndarray, dt_s: float) -> np.ndarray:
    out = np.empty_like(x)
    out[1:-1] = (x[2:] - 2 * x[1:-1] + x[:-2]) / dt_s**2
    out[0], out[-1] = out[1], out[-2]
    return out


def body_rate(orientation: np.ndarray, dt_s: float) -> np.ndarray:
    """Angular velocity in body axes (N, 3) rad/s of rotation matrices (N, 3, 3) on a uniform grid.

    Central differences on the rotation group: ``log(R[i-1]^T R[i+1]) / (2 dt)``.
    """
    rel = np.einsum("nji,njk->nik", orientation[:-2], orientation[2:])
    skew = rel - np.transpose(rel, (0, 2, 1))
    vee = 0.5 * np.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], axis=1)
    sin_a = np.linalg.norm(vee, axis=1)
    cos_a = 0.5 * (np.trace(rel, axis1=1, axis2=2) - 1.0)
    angle = np.arctan2(sin_a, cos_a)
    gain = np.where(sin_a > 1e-12, angle / np.maximum(sin_a, 1e-300), 1.0)
    out = np.empty((len(orientation), 3))
    out[1:-1] = vee * gain[:, None] / (2 * dt_s)
    out[0], out[-1] = out[1], out[-2]
    return out


def _offset(sup_post_m: tuple[float, float]) -> np.ndarray:
    return np.array([sup_post_m[0], 0.0, sup_post_m[1]])


def sensor_kinematics(dt_s: float, hip_m: np.ndarray, heading_rad: np.ndarray, pelvis: SegmentAngles,
                      thorax: SegmentAngles, geometry: BodyGeometry, mounts: dict[str, Rotation],
                      gravity_m_s2: float, tissue_rad: dict[str, np.ndarray] | None = None
                      ) -> dict[str, SensorKinematics]:
    """True kinematics of the ``sacrum`` and ``thoracic`` sensors on a uniform grid of step ``dt_s``.

    ``hip_m`` (N, 3): hip joint centre in earth axes; ``mounts``: sensor -> surface rotation per role;
    ``tissue_rad``: per role, the sensor's rocking and slipping on its segment as rotation vectors
    (N, 3) in segment axes.
    """
    r_pelvis = segment_rotation(heading_rad, pelvis)
    r_thorax = segment_rotation(heading_rad, thorax)
    lumbar_joint = hip_m + r_pelvis @ _offset(geometry.lumbar_joint_m)
    chain = {
        "sacrum": (r_pelvis, hip_m + r_pelvis @ _offset(geometry.sacrum_sensor_m),
                   geometry.sacrum_surface_deg),
        "thoracic": (r_thorax, lumbar_joint + r_thorax @ _offset(geometry.thoracic_sensor_m),
                     geometry.thoracic_surface_deg),
    }
    out = {}
    for role, (r_seg, pos, surface_deg) in chain.items():
        fixed = (Rotation.from_euler("y", surface_deg, degrees=True) * mounts[role]).as_matrix()
        if tissue_rad and role in tissue_rad:
            r_t = Rotation.from_rotvec(tissue_rad[role]).as_matrix()
            lever = np.array([0.0, 0.0, TISSUE_DEPTH_M])
            pos = pos + np.einsum("nij,nj->ni", r_seg, r_t @ lever - lever)
            r_seg = r_seg @ r_t
        r_sensor = r_seg @ fixed
        lin_acc = _second_derivative(pos, dt_s)
        force_earth = lin_acc + np.array([0.0, 0.0, gravity_m_s2])
        out[role] = SensorKinematics(
            orientation=r_sensor,
            position_m=pos,
            lin_acc_m_s2=lin_acc,
            specific_force_m_s2=np.einsum("nji,nj->ni", r_sensor, force_earth),
            gyr_rad_s=body_rate(r_sensor, dt_s),
        )
    return out
