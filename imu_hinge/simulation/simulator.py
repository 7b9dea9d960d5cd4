"""``simulate(config)``: plan the motion, move the body, sample the sensors, record the truth.

Random streams are independent children of ``SeedSequence(config.seed)`` (motion, body,
walking, and per sensor: errors, mounting, sampling; then non-hinge moves, seat posture,
soft tissue and per sensor the bias warm-up), so changing e.g. one sensor's mounting or rate
leaves the movement and the other sensor untouched, and a session without the real-world
conditions is the same as before they existed.

Truth reference (contracts section 3): the mean posture of the first quiet stance from 0.5 s to
0.2 s before it ends when that is at least 0.5 s long; otherwise (movement right away) the body
model's upright posture, standing or, for a seated session, sitting upright.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from imu_hinge import __version__
from imu_hinge.jsonable import jsonable
from imu_hinge.samples import SENSOR_ROLES, Recording
from imu_hinge.simulation.body import BodyGeometry, SegmentAngles, random_geometry, sensor_kinematics
from imu_hinge.simulation.config import SimConfig, validate
from imu_hinge.simulation.gait import gait_signals
from imu_hinge.simulation.mems_imu import SampledSensor, SensorRealisation, draw_realisation, sample_sensor
from imu_hinge.simulation.motion_plan import build_script
from imu_hinge.simulation.trajectory import smooth_noise
from imu_hinge.simulation.truth import rep_truth, resample

SLIP_S = 0.3
"""How long a sensor takes to slip on its segment, s."""


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
    stairs: list[tuple[float, float]] = field(default_factory=list)
    moves: list[tuple[str, float, float]] = field(default_factory=list)
    tissue_amplitude_deg: float = 0.0

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
            "sway_deg": cfg.sway_deg, "seated": cfg.seated,
            "moves": [[k, round(a, 3), round(b, 3)] for k, a, b in self.moves],
            "stairs": [[round(a, 3), round(b, 3)] for a, b in self.stairs],
            "tissue_deg": cfg.tissue_deg,
            "bias_warmup_dps": cfg.gyro_bias_warmup_dps, "bias_warmup_tau_s": cfg.gyro_bias_warmup_tau_s,
            "bias_warmup_drawn_dps": {r: [round(float(v), 4) for v in np.rad2deg(x.gyro_warmup_rad_s)]
                                      for r, x in self.realisations.items()},
            "noise_colour": cfg.noise_colour,
            "outage": [cfg.outage_role, *cfg.outage_s] if cfg.outage_s else [],
            "slip": list(cfg.slip) if cfg.slip else [],
            "dropped": {r: s.n_dropped for r, s in self.sensors.items()},
            "samples": {r: len(s.stream) for r, s in self.sensors.items()},
            "clock_ppm_drawn": {r: round(x.clock_ppm, 3) for r, x in self.realisations.items()},
            "geometry": asdict(self.geometry),
            "generator": f"imu-hinge {__version__} simulate",
            "config": jsonable(asdict(cfg)),
        }


def simulate(config: SimConfig) -> SimResult:
    """Simulate one two-sensor session from ``config`` (deterministic in ``config.seed``)."""
    validate(config)
    streams = np.random.SeedSequence(config.seed).spawn(15)
    rng = [np.random.default_rng(s) for s in streams]
    r_motion, r_body, r_gait, r_sway = rng[:4]
    r_moves, r_seat, r_tissue = rng[10:13]
    script = build_script(config, r_motion, r_moves)
    fs = max(config.internal_rate_hz, 4.0 * max(config.rate_hz, config.thoracic_rate))
    dt = 1.0 / fs
    t = np.arange(0.0, script.duration_s + 0.5 / config.rate_hz + 2 * dt, dt)
    pel_plan = script.pelvis_deg.evaluate(t)
    trunk_plan = pel_plan + script.lumbar_deg.evaluate(t)

    heading_deg = config.heading_deg if config.heading_deg is not None else float(r_body.uniform(0.0, 360.0))
    geometry = random_geometry(r_body) if config.randomize_body else BodyGeometry()
    gait = gait_signals(t, script.walks, np.deg2rad(heading_deg), r_gait, script.stairs)
    mv = script.moves
    sway = smooth_noise(r_sway, t, config.sway_deg, (0.05, 0.4))
    sway_pel = sway * r_sway.uniform(0.6, 0.9) + smooth_noise(r_sway, t, 0.2 * config.sway_deg, (0.1, 0.6))
    sway_tru = sway + smooth_noise(r_sway, t, 0.2 * config.sway_deg, (0.1, 0.6))
    # sitting upright on a stool: the pelvis tilts back from its standing posture, the lumbar spine flattens
    seat_pel = -float(r_seat.uniform(8.0, 15.0)) if config.seated else 0.0
    seat_tru = seat_pel + float(r_seat.uniform(6.0, 14.0)) if config.seated else 0.0
    # sagittal change from the upright (standing) body model
    pel_abs = pel_plan + mv.pelvis_deg.evaluate(t) + sway_pel + gait.pelvis_deg + seat_pel
    trunk_abs = trunk_plan + mv.trunk_deg.evaluate(t) + sway_tru + gait.trunk_deg + seat_tru
    quiet = (t >= 0.5) & (t <= config.stand_start_s - 0.2)  # truth reference: mean posture of the first stand
    if config.stand_start_s - 0.7 >= 0.5:
        pelvic = pel_abs - float(np.mean(pel_abs[quiet]))
        trunk = trunk_abs - float(np.mean(trunk_abs[quiet]))
    else:  # no quiet stance to speak of: the upright posture (standing, or sitting upright)
        pelvic, trunk = pel_abs - seat_pel, trunk_abs - seat_tru

    # out-of-plane wobble (deg): slight while standing, up to ~wobble_deg at depth, partly tied to depth
    w = config.wobble_deg
    depth = trunk_plan / 60.0
    wob = {k: smooth_noise(r_sway, t, 0.15 * w, (0.05, 0.4))
           + depth**2 * smooth_noise(r_sway, t, 0.5 * w, (0.1, 0.8)) + r_sway.uniform(-1, 1) * w * depth
           for k in ("pb", "pt", "tb", "tt")}
    thorax_bend = wob["tb"] + gait.thorax_bend_deg + mv.thorax_bend_deg.evaluate(t)
    thorax_twist = wob["tt"] + gait.thorax_twist_deg + mv.thorax_twist_deg.evaluate(t)
    pelvis = SegmentAngles(np.deg2rad(pel_abs),
                           np.deg2rad(wob["pb"] + gait.pelvis_bend_deg + mv.pelvis_bend_deg.evaluate(t)),
                           np.deg2rad(wob["pt"] + gait.pelvis_twist_deg + mv.pelvis_twist_deg.evaluate(t)))
    thorax = SegmentAngles(np.deg2rad(trunk_abs), np.deg2rad(thorax_bend), np.deg2rad(thorax_twist))

    pel_rad = np.deg2rad(pel_plan)
    # standing sway pivots about the ankles and carries the hips; on a stool the hips stay put
    sway_hips = 0.0 if config.seated else 0.9 * np.sin(np.deg2rad(sway))
    hips_fwd = -script.hip_back_m.evaluate(t) * np.sin(pel_rad) + sway_hips + mv.hip_fwd_m.evaluate(t)
    hips_up = -script.hip_down_m.evaluate(t) * (1.0 - np.cos(pel_rad)) + mv.hip_up_m.evaluate(t)
    hip = gait.translation_m.copy()
    hip[:, 0] += hips_fwd * np.cos(gait.heading_rad)
    hip[:, 1] += hips_fwd * np.sin(gait.heading_rad)
    hip[:, 2] += (float(r_seat.uniform(0.46, 0.52)) if config.seated else geometry.hip_height_m) + hips_up

    on_body: dict[str, np.ndarray] = {}  # the sensors' rocking and slipping on their segments (rotation vectors)
    if config.tissue_deg > 0:
        on_body["thoracic"] = _tissue_rotvec(t, trunk_abs, thorax_bend, thorax_twist, hip, config.tissue_deg,
                                             r_tissue)
    if config.slip is not None:
        role, t_slip, angle_deg = config.slip
        s = np.clip((t - t_slip) / SLIP_S, 0.0, 1.0)
        slip = np.zeros((len(t), 3))
        slip[:, 1] = np.deg2rad(angle_deg) * (10 * s**3 - 15 * s**4 + 6 * s**5)
        on_body[role] = on_body.get(role, 0.0) + slip
    realisations = {role: draw_realisation(config, role, rng[4 + 3 * k], rng[5 + 3 * k], rng[13 + k])
                    for k, role in enumerate(SENSOR_ROLES)}
    kin = sensor_kinematics(dt, hip, gait.heading_rad, pelvis, thorax, geometry,
                            {r: x.mount for r, x in realisations.items()}, config.gravity_m_s2, on_body)
    sampled = {role: sample_sensor(kin[role], t, realisations[role], config, rng[6 + 3 * k])
               for k, role in enumerate(SENSOR_ROLES)}

    truth_t, truth_p = resample(t, pelvic, config.truth_rate_hz, script.duration_s)
    _, truth_tr = resample(t, trunk, config.truth_rate_hz, script.duration_s)
    truth_l = truth_tr - truth_p
    reps = rep_truth(t, trunk_plan, script.reps, truth_t, truth_p, truth_tr, truth_l)
    firsts = [reps[0]["start_s"]] if reps else []
    firsts += [start for _, start, _ in mv.moves[:1]]
    stand_start = min(firsts) if firsts else config.stand_start_s  # the end of the first quiet stance
    recording = Recording({r: s.stream for r, s in sampled.items()},
                          metadata={"simulated": True, "seed": config.seed, "name": config.name,
                                    "exercise": config.exercise},
                          source=f"simulate:{config.name}")
    return SimResult(config, recording, truth_t, truth_p, truth_tr, truth_l, reps, float(stand_start),
                     script.duration_s, heading_deg, geometry, sampled, realisations, script.walks, script.stairs,
                     list(mv.moves), config.tissue_deg)


def _tissue_rotvec(t: np.ndarray, trunk_deg: np.ndarray, bend_deg: np.ndarray, twist_deg: np.ndarray,
                   hip_m: np.ndarray, amplitude_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Soft-tissue rocking of the thoracic sensor (N, 3) rad, segment axes: 5..10 Hz oscillations
    whose envelope follows how fast the thorax turns (full at 30 deg/s) and how hard the hips
    accelerate (full at 4 m/s^2: steps), smoothed (0.1 s); ``amplitude_deg`` peak about the
    sagittal (left) axis, half of it about the other two."""
    dt = float(t[1] - t[0])
    rate = np.sqrt(sum(np.gradient(a, dt) ** 2 for a in (trunk_deg, bend_deg, twist_deg)))
    hip_acc = np.linalg.norm(np.gradient(np.gradient(hip_m, dt, axis=0), dt, axis=0), axis=1)
    env = gaussian_filter1d(np.clip(rate / 30.0 + hip_acc / 4.0, 0.0, 1.0), 0.1 / dt, mode="nearest")
    out = np.empty((len(t), 3))
    for axis, share in ((0, 0.5), (1, 1.0), (2, 0.5)):
        f_hz, phase = rng.uniform(5.0, 10.0), rng.uniform(0.0, 2 * np.pi)
        out[:, axis] = np.deg2rad(share * amplitude_deg) * env * np.sin(2 * np.pi * f_hz * t + phase)
    return out
