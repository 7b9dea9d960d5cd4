"""``simulate(config)``: plan the motion, move the body, sample the sensors, record the truth.

Random streams are independent children of ``SeedSequence(config.seed)`` (motion, body,
walking, and per sensor: errors, mounting, sampling), so changing e.g. one sensor's
mounting or rate leaves the movement and the other sensor untouched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .. import __version__
from ..samples import SENSOR_ROLES, Recording
from .body import BodyGeometry, SegmentAngles, random_geometry, sensor_kinematics
from .config import SimConfig, validate
from .gait import gait_signals
from .motion import build_script
from .sensor_model import SampledSensor, SensorRealisation, draw_realisation, sample_sensor
from .trajectory import smooth_noise
from .truth import rep_truth, resample


@dataclass
class SimResult:
    """A simulated session: the recording, the truth angle traces (deg, uniform grid), rep truth.

    ``sensors[role]`` also holds each kept sample's true sampling instant and true
    sensor -> earth orientation; ``realisations[role]`` the drawn sensor errors.
    """

    config: SimConfig
    recording: Recording
    truth_time_s: np.ndarray
    truth_pelvic_tilt_deg: np.ndarray
    truth_trunk_flexion_deg: np.ndarray
    truth_lumbar_flexion_deg: np.ndarray
    reps: list[dict]
    stand_start_s: float
    duration_s: float
    heading_deg: float
    geometry: BodyGeometry
    sensors: dict[str, SampledSensor] = field(default_factory=dict)
    realisations: dict[str, SensorRealisation] = field(default_factory=dict)
    walks: list[tuple[float, float]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """JSON-ready description of the case (the truth file's header fields)."""
        cfg = self.config
        sac, tho = self.realisations["sacrum"], self.realisations["thoracic"]
        return {
            "name": cfg.name, "seed": cfg.seed, "fs": cfg.rate_hz, "fs_thoracic": cfg.thoracic_rate,
            "stand_start": round(self.stand_start_s, 4), "exercise": cfg.exercise,
            "duration_s": round(self.duration_s, 4),
            "walk_after": cfg.walk_after_s, "walks": [[round(a, 3), round(b, 3)] for a, b in self.walks],
            "heading_deg": round(self.heading_deg, 3),
            "mount_sacrum": [round(v, 4) for v in sac.mount_rpy_deg],
            "mount_thoracic": [round(v, 4) for v in tho.mount_rpy_deg],
            "gyro_bias_dps": cfg.gyro_bias_dps, "gyro_noise": cfg.gyro_noise_rad_s,
            "acc_noise": cfg.acc_noise_m_s2, "acc_bias": cfg.acc_bias_m_s2, "scale_err": cfg.scale_error,
            "drop_fraction": cfg.drop_fraction, "clock_ppm": cfg.clock_ppm,
            "thoracic_offset_s": cfg.thoracic_offset_s, "wobble_deg": cfg.wobble_deg,
            "stand_end": cfg.stand_end_s,
            "dropped": {r: s.n_dropped for r, s in self.sensors.items()},
            "samples": {r: len(s.stream) for r, s in self.sensors.items()},
            "clock_ppm_drawn": {r: round(x.clock_ppm, 3) for r, x in self.realisations.items()},
            "geometry": asdict(self.geometry),
            "generator": f"imu-hinge {__version__} simulate",
            "config": _jsonable(asdict(cfg)),
        }


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def simulate(config: SimConfig) -> SimResult:
    """Simulate one two-sensor session from ``config`` (deterministic in ``config.seed``)."""
    validate(config)
    streams = np.random.SeedSequence(config.seed).spawn(10)
    rng = [np.random.default_rng(s) for s in streams]
    r_motion, r_body, r_gait, r_sway = rng[:4]
    script = build_script(config, r_motion)
    fs = max(config.internal_rate_hz, 4.0 * max(config.rate_hz, config.thoracic_rate))
    dt = 1.0 / fs
    t = np.arange(0.0, script.duration_s + 0.5 / config.rate_hz + 2 * dt, dt)
    pel_plan = script.pelvis_deg.evaluate(t)
    trunk_plan = pel_plan + script.lumbar_deg.evaluate(t)

    heading_deg = config.heading_deg if config.heading_deg is not None else float(r_body.uniform(0.0, 360.0))
    geometry = random_geometry(r_body) if config.randomize_body else BodyGeometry()
    gait = gait_signals(t, script.walks, np.deg2rad(heading_deg), r_gait)
    sway = smooth_noise(r_sway, t, config.sway_deg, (0.05, 0.4))
    sway_pel = sway * r_sway.uniform(0.6, 0.9) + smooth_noise(r_sway, t, 0.2 * config.sway_deg, (0.1, 0.6))
    sway_tru = sway + smooth_noise(r_sway, t, 0.2 * config.sway_deg, (0.1, 0.6))
    pel_abs = pel_plan + sway_pel + gait.pelvis_deg  # sagittal change from the upright body model
    trunk_abs = trunk_plan + sway_tru + gait.trunk_deg
    quiet = (t >= 0.5) & (t <= config.stand_start_s - 0.2)  # truth reference: mean posture of the first stand
    pelvic = pel_abs - float(np.mean(pel_abs[quiet]))
    trunk = trunk_abs - float(np.mean(trunk_abs[quiet]))

    # out-of-plane wobble (deg): slight while standing, up to ~wobble_deg at depth, partly tied to depth
    w = config.wobble_deg
    depth = trunk_plan / 60.0
    wob = {k: smooth_noise(r_sway, t, 0.15 * w, (0.05, 0.4))
           + depth**2 * smooth_noise(r_sway, t, 0.5 * w, (0.1, 0.8)) + r_sway.uniform(-1, 1) * w * depth
           for k in ("pb", "pt", "tb", "tt")}
    pelvis = SegmentAngles(np.deg2rad(pel_abs), np.deg2rad(wob["pb"] + gait.pelvis_bend_deg),
                           np.deg2rad(wob["pt"] + gait.pelvis_twist_deg))
    thorax = SegmentAngles(np.deg2rad(trunk_abs), np.deg2rad(wob["tb"] + gait.thorax_bend_deg),
                           np.deg2rad(wob["tt"] + gait.thorax_twist_deg))

    pel_rad = np.deg2rad(pel_plan)
    hips_fwd = -script.hip_back_m.evaluate(t) * np.sin(pel_rad) + 0.9 * np.sin(np.deg2rad(sway))
    hips_up = -script.hip_down_m.evaluate(t) * (1.0 - np.cos(pel_rad))
    hip = gait.translation_m.copy()
    hip[:, 0] += hips_fwd * np.cos(gait.heading_rad)
    hip[:, 1] += hips_fwd * np.sin(gait.heading_rad)
    hip[:, 2] += geometry.hip_height_m + hips_up

    realisations = {role: draw_realisation(config, role, rng[4 + 3 * k], rng[5 + 3 * k])
                    for k, role in enumerate(SENSOR_ROLES)}
    kin = sensor_kinematics(dt, hip, gait.heading_rad, pelvis, thorax, geometry,
                            {r: x.mount for r, x in realisations.items()}, config.gravity_m_s2)
    sampled = {role: sample_sensor(kin[role], t, realisations[role], config, rng[6 + 3 * k])
               for k, role in enumerate(SENSOR_ROLES)}

    truth_t, truth_p = resample(t, pelvic, config.truth_rate_hz, script.duration_s)
    _, truth_tr = resample(t, trunk, config.truth_rate_hz, script.duration_s)
    truth_l = truth_tr - truth_p
    reps = rep_truth(t, trunk_plan, script.reps, truth_t, truth_p, truth_tr, truth_l)
    stand_start = reps[0]["start_s"] if reps else config.stand_start_s
    recording = Recording({r: s.stream for r, s in sampled.items()},
                          metadata={"simulated": True, "seed": config.seed, "name": config.name,
                                    "exercise": config.exercise},
                          source=f"simulate:{config.name}")
    return SimResult(config, recording, truth_t, truth_p, truth_tr, truth_l, reps, float(stand_start),
                     script.duration_s, heading_deg, geometry, sampled, realisations, script.walks)
