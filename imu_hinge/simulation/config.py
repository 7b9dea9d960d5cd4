"""Simulation parameters: one flat, frozen dataclass of knobs (no state), and its validation.

Every stochastic choice the simulator makes (rep depths, tempi, fault placement, body
sizes, sensor error realisations, random mountings, drop-outs) is drawn from ``seed``,
so a :class:`SimConfig` fully determines a case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imu_hinge.errors import UsageError

EXERCISES: tuple[str, ...] = ("rdl", "hinge", "good_morning", "kb_swing", "long_hold", "wall_hinge",
                              "fatigue", "walk", "mixed", "seated_bend")
"""Exercise names :func:`~imu_hinge.simulation.simulate` knows (``hinge`` is an alias of ``rdl``;
``walk`` is walking only, no reps; ``mixed`` draws a different exercise for every set;
``seated_bend`` is a trunk bend from a stool: the pelvis barely tilts, the lumbar spine flexes a lot,
and the truth angles are relative to upright sitting)."""

MOVES: tuple[str, ...] = ("side_bend", "twist", "back_bend", "walk", "stairs", "sit_down")
"""Non-hinge movements a session can make before its first rep (``first_moves``) or between reps
(``between_moves``): none of them is a rep in the truth."""

SEATED_MOVES: tuple[str, ...] = ("side_bend", "twist", "back_bend")
"""The moves a seated session can make."""

NOISE_COLOURS: tuple[str, ...] = ("white", "pink", "ar1")
"""Spectra of the sensor noise: white, 1/f (pink) or first-order autoregressive (``noise_ar_coef``)."""

CATALOGUE_MOTIONS: dict[str, str] = {
    "barbell_rdl": "rdl", "dumbbell_rdl": "rdl", "landmine_rdl": "rdl", "kettlebell_deadlift": "rdl",
    "stiff_leg_deadlift_pins": "rdl", "dowel_hinge": "hinge", "three_point_hinge": "hinge",
    "kettlebell_swing": "kb_swing", "swing": "kb_swing", "good_morning": "good_morning", "wall_hinge": "wall_hinge",
}
"""Exercise names of the catalogue (``imu-hinge exercises``) -> the simulated motion that plays them, so one
vocabulary works for ``simulate`` and for ``analyze --exercise`` / the store (which takes ``rdl`` and
``kb_swing`` as aliases the other way)."""


def simulated_exercise(name: str) -> str:
    """The simulator's exercise for ``name``: its own names as they are, catalogue names mapped."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return key if key in EXERCISES else CATALOGUE_MOTIONS.get(key, key)


NAMED_MOUNTS: dict[str, tuple[float, float, float]] = {
    "identity": (0.0, 0.0, 0.0),
    "sideways": (0.0, 0.0, 90.0),
    "upside_down": (180.0, 0.0, 0.0),
    "backwards": (0.0, 180.0, 0.0),
}
"""Named sensor mountings as (roll, pitch, yaw) deg; ``"random"`` draws a uniform rotation."""

Mount = str | tuple[float, float, float]
"""A mounting: a name from :data:`NAMED_MOUNTS`, ``"random"``, or (roll, pitch, yaw) in deg."""


@dataclass(frozen=True)
class SimConfig:
    """Parameters of one simulated two-sensor session (units in the names; no state).

    Motion: ``n_sets`` sets of ``n_reps`` reps of ``exercise`` separated by ``rest_s`` of
    standing (or walking when ``walk_between_sets``), after ``stand_start_s`` of quiet standing
    and before ``stand_end_s`` of it. Fractions ``*_frac`` are the share of reps carrying a
    fault (placed at random); ``fatigue_creep_deg`` raises the lumbar peak linearly over a set.
    Sensors: sampled at ``rate_hz`` (sacrum) and ``thoracic_rate_hz`` (``None``: the same),
    each with its own realisation of the MEMS errors below; noise figures are standard
    deviations per sample, biases per-axis magnitudes (drawn 0.5..1 x, random sign),
    ``scale_error`` a per-axis bound, ``misalignment_deg`` the cross-axis spread.
    Clocks: each sensor's oscillator is off by up to ``+-clock_ppm`` while the host stamps
    samples at the nominal rate (so the stamps drift), plus ``jitter_s`` (std) of timestamp
    noise; the thoracic stamps are late by ``thoracic_offset_s`` (a synchronisation error).
    ``arrival_latency_s`` > 0: the host stamps each notification of ``arrival_packet`` samples
    when it arrives instead (a phone app or BLE bridge): the radio's latency, exponential with
    that mean, held in order (a late notification holds up the ones behind it), stamps in whole
    ms; a lost notification loses its samples. The host clock is set so the latency's mean and
    the packet's depth read as no delay (a constant delay of every angle is not the analysis' error).
    ``drop_fraction`` of the rows are removed, ``drop_burst_share`` of them in bursts.
    ``sample_averaging``: each sample is the mean over its sample period (ODR-matched
    low-pass) rather than an instantaneous value; ``adc_bits`` 0 turns quantisation off.
    ``duration_s`` fixes the total length (reps that do not fit are left out).

    ``sway_deg`` is the RMS of the postural sway of the trunk (0.05..0.4 Hz; peaks reach about
    3 x it: 1.5 sways up to about 5 deg).

    Real-world conditions: ``stand_start_s`` may be 0 (movement right away; the truth is then
    relative to the body model's upright posture instead of the mean of the first stance);
    ``first_moves`` are non-hinge movements (:data:`MOVES`) made before the first rep,
    ``between_moves`` are made one after each rep (cycling through the tuple; never after a
    set's last rep), ``between_sets_moves`` one in each rest between sets (instead of
    ``walk_between_sets``; the rest lasts at least until 1.5 s after it); ``tissue_deg`` is the
    peak soft-tissue wobble of the thoracic sensor on its segment (5..10 Hz, excited by
    movement); the gyro bias of each axis moves exponentially from its power-on value to one
    ``gyro_bias_warmup_dps`` (x 0.5..1, random sign) away with time constant
    ``gyro_bias_warmup_tau_s``; ``noise_colour`` shapes the noise spectrum at the same per-sample
    standard deviations; ``outage_s`` (start, end) removes the ``outage_role`` sensor's rows in that
    span of the recording (it resumes afterwards); ``slip`` (role, time_s, angle_deg): that sensor
    slips on its segment by ``angle_deg`` about the segment's left (sagittal) axis within 0.3 s
    from ``time_s`` and stays so (the truth, the segment's angle, does not change).
    """

    seed: int = 0
    name: str = "sim"
    exercise: str = "rdl"
    n_reps: int = 8
    n_sets: int = 1
    rest_s: float = 8.0
    walk_between_sets: bool = False
    walk_after_s: float = 0.0
    stand_start_s: float = 4.0
    stand_end_s: float = 3.0
    duration_s: float | None = None
    peak_trunk_deg: tuple[float, float] | None = None
    tempo_scale: float = 1.0
    clean_lumbar_deg: tuple[float, float] = (2.0, 11.0)
    rounding_lumbar_deg: tuple[float, float] = (25.0, 35.0)
    rounding_frac: float = 0.0
    back_first_frac: float = 0.0
    lockout_arch_frac: float = 0.0
    fatigue_creep_deg: float = 0.0
    wobble_deg: float = 2.0
    sway_deg: float = 0.4
    heading_deg: float | None = None
    randomize_body: bool = True
    # sensors
    rate_hz: float = 100.0
    thoracic_rate_hz: float | None = None
    mount_sacrum: Mount = (0.0, 0.0, 0.0)
    mount_thoracic: Mount = (0.0, 0.0, 0.0)
    gyro_bias_dps: float = 0.5
    gyro_bias_walk_dps_rt_s: float = 0.005
    gyro_noise_rad_s: float = 0.003
    acc_noise_m_s2: float = 0.02
    acc_bias_m_s2: float = 0.05
    scale_error: float = 0.005
    misalignment_deg: float = 0.3
    acc_range_g: float = 16.0
    gyro_range_dps: float = 2000.0
    adc_bits: int = 16
    sample_averaging: bool = True
    clock_ppm: float = 30.0
    jitter_s: float = 0.0002
    arrival_latency_s: float = 0.0
    arrival_packet: int = 1
    thoracic_offset_s: float = 0.0
    drop_fraction: float = 0.0
    drop_burst_share: float = 0.5
    # real-world conditions
    first_moves: tuple[str, ...] = ()
    between_moves: tuple[str, ...] = ()
    between_sets_moves: tuple[str, ...] = ()
    tissue_deg: float = 0.0
    gyro_bias_warmup_dps: float = 0.0
    gyro_bias_warmup_tau_s: float = 90.0
    noise_colour: str = "white"
    noise_ar_coef: float = 0.9
    outage_role: str = "thoracic"
    outage_s: tuple[float, float] | None = None
    slip: tuple[str, float, float] | None = None
    # grids
    truth_rate_hz: float = 100.0
    internal_rate_hz: float = 1000.0
    gravity_m_s2: float = 9.81

    @property
    def seated(self) -> bool:
        """Whether the session is performed sitting on a stool (truth relative to upright sitting)."""
        return self.exercise == "seated_bend"

    @property
    def thoracic_rate(self) -> float:
        """The thoracic sensor's nominal rate in Hz."""
        return self.rate_hz if self.thoracic_rate_hz is None else self.thoracic_rate_hz


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def parse_mount(value: Mount) -> str | tuple[float, float, float]:
    """Normalise a mounting: ``"random"``, or (roll, pitch, yaw) deg. Raises :class:`UsageError`."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "random":
            return "random"
        if text in NAMED_MOUNTS:
            return NAMED_MOUNTS[text]
        parts = text.split(",")
        try:
            angles = tuple(float(p) for p in parts)
        except ValueError:
            angles = ()
        if len(angles) != 3 or not _finite(*angles):
            names = ", ".join(["random", *NAMED_MOUNTS])
            raise UsageError(f"mounting {value!r}: give {names} or three angles 'roll,pitch,yaw' in deg")
        return (angles[0], angles[1], angles[2])
    if len(value) != 3 or not _finite(*value):
        raise UsageError(f"mounting {value!r}: need three finite angles (roll, pitch, yaw) in deg")
    return (float(value[0]), float(value[1]), float(value[2]))


def validate(cfg: SimConfig) -> None:
    """Raise :class:`UsageError` (one line) for any parameter out of its physical range."""
    _check(cfg.exercise in EXERCISES,
           f"unknown exercise {cfg.exercise!r}; choose from {', '.join(EXERCISES)}")
    _check(0 <= cfg.n_reps <= 500, f"reps must be 0..500, got {cfg.n_reps}")
    _check(1 <= cfg.n_sets <= 50, f"sets must be 1..50, got {cfg.n_sets}")
    _check(_finite(cfg.rest_s, cfg.walk_after_s) and 0 <= cfg.rest_s <= 600 and 0 <= cfg.walk_after_s <= 600,
           "rest and walk durations must be 0..600 s")
    _check(_finite(cfg.stand_start_s) and 0.0 <= cfg.stand_start_s <= 60,
           f"quiet standing at the start must be 0..60 s, got {cfg.stand_start_s}")
    allowed = SEATED_MOVES if cfg.seated else MOVES
    for move in (*cfg.first_moves, *cfg.between_moves, *cfg.between_sets_moves):
        _check(move in allowed, f"unknown move {move!r} for a {'seated' if cfg.seated else 'standing'} session; "
                                f"choose from {', '.join(allowed)}")
    _check(_finite(cfg.tissue_deg) and 0 <= cfg.tissue_deg <= 10, "soft-tissue wobble must be 0..10 deg")
    _check(_finite(cfg.gyro_bias_warmup_dps, cfg.gyro_bias_warmup_tau_s) and 0 <= cfg.gyro_bias_warmup_dps <= 20
           and 1 <= cfg.gyro_bias_warmup_tau_s <= 3600,
           "gyro bias warm-up must be 0..20 dps with a time constant of 1..3600 s")
    _check(cfg.noise_colour in NOISE_COLOURS,
           f"unknown noise colour {cfg.noise_colour!r}; choose from {', '.join(NOISE_COLOURS)}")
    _check(_finite(cfg.noise_ar_coef) and 0 <= cfg.noise_ar_coef < 1, "noise AR coefficient must be 0..0.999")
    _check(cfg.outage_role in ("sacrum", "thoracic"), "outage role must be sacrum or thoracic")
    if cfg.slip is not None:
        _check(len(cfg.slip) == 3 and cfg.slip[0] in ("sacrum", "thoracic") and _finite(cfg.slip[1], cfg.slip[2])
               and cfg.slip[1] > 0 and abs(cfg.slip[2]) <= 30,
               "slip must be (sacrum|thoracic, time_s > 0, angle within 30 deg)")
    if cfg.outage_s is not None:
        _check(len(cfg.outage_s) == 2 and _finite(*cfg.outage_s) and 0 < cfg.outage_s[0] < cfg.outage_s[1],
               "outage must be (start_s, end_s) with 0 < start < end")
    _check(_finite(cfg.stand_end_s) and 0.5 <= cfg.stand_end_s <= 60,
           "quiet standing at the end must be 0.5..60 s")
    _check(cfg.duration_s is None or (_finite(cfg.duration_s) and 5.0 <= cfg.duration_s <= 7200),
           f"duration must be 5..7200 s, got {cfg.duration_s}")
    if cfg.peak_trunk_deg is not None:
        lo, hi = cfg.peak_trunk_deg
        _check(_finite(lo, hi) and 30 <= lo <= hi <= 120, "peak trunk flexion range must lie in 30..120 deg")
    _check(_finite(cfg.tempo_scale) and 0.3 <= cfg.tempo_scale <= 3, "tempo scale must be 0.3..3")
    for label, (lo, hi) in (("clean", cfg.clean_lumbar_deg), ("rounding", cfg.rounding_lumbar_deg)):
        _check(_finite(lo, hi) and 0 <= lo <= hi <= 60, f"{label} lumbar range must lie in 0..60 deg")
    for label, frac in (("rounding", cfg.rounding_frac), ("back-first", cfg.back_first_frac),
                        ("lockout-arch", cfg.lockout_arch_frac), ("drop burst share", cfg.drop_burst_share)):
        _check(_finite(frac) and 0 <= frac <= 1, f"{label} fraction must be 0..1, got {frac}")
    _check(_finite(cfg.fatigue_creep_deg) and 0 <= cfg.fatigue_creep_deg <= 40,
           "fatigue creep must be 0..40 deg")
    _check(_finite(cfg.wobble_deg, cfg.sway_deg) and 0 <= cfg.wobble_deg <= 15 and 0 <= cfg.sway_deg <= 5,
           "wobble must be 0..15 deg and sway 0..5 deg")
    _check(cfg.heading_deg is None or _finite(cfg.heading_deg), "heading must be a finite angle in deg")
    for label, rate in (("sacrum", cfg.rate_hz), ("thoracic", cfg.thoracic_rate)):
        _check(_finite(rate) and 10 <= rate <= 1000, f"{label} rate must be 10..1000 Hz, got {rate}")
    parse_mount(cfg.mount_sacrum)
    parse_mount(cfg.mount_thoracic)
    nonneg = dict(gyro_bias_dps=cfg.gyro_bias_dps, gyro_bias_walk=cfg.gyro_bias_walk_dps_rt_s,
                  gyro_noise=cfg.gyro_noise_rad_s, acc_noise=cfg.acc_noise_m_s2, acc_bias=cfg.acc_bias_m_s2,
                  scale_error=cfg.scale_error, misalignment=cfg.misalignment_deg, jitter=cfg.jitter_s)
    for label, v in nonneg.items():
        _check(_finite(v) and v >= 0, f"{label.replace('_', ' ')} must be a non-negative number, got {v}")
    _check(cfg.gyro_bias_dps <= 100 and cfg.acc_bias_m_s2 <= 5 and cfg.scale_error <= 0.2
           and cfg.misalignment_deg <= 10,
           "sensor errors out of range (bias <= 100 dps and 5 m/s^2, scale <= 0.2, misalignment <= 10 deg)")
    _check(_finite(cfg.acc_range_g, cfg.gyro_range_dps) and 2 <= cfg.acc_range_g <= 400
           and 125 <= cfg.gyro_range_dps <= 10000, "sensor ranges must be 2..400 g and 125..10000 dps")
    _check(cfg.adc_bits == 0 or 8 <= cfg.adc_bits <= 32, "adc bits must be 0 (no quantisation) or 8..32")
    _check(_finite(cfg.clock_ppm) and abs(cfg.clock_ppm) <= 2000, "clock error must be within +-2000 ppm")
    _check(_finite(cfg.thoracic_offset_s) and abs(cfg.thoracic_offset_s) <= 1.0,
           "thoracic offset must be within 1 s")
    _check(_finite(cfg.drop_fraction) and 0 <= cfg.drop_fraction <= 0.5, "drop fraction must be 0..0.5")
    _check(_finite(cfg.truth_rate_hz) and 10 <= cfg.truth_rate_hz <= 1000, "truth rate must be 10..1000 Hz")
    _check(_finite(cfg.internal_rate_hz) and 200 <= cfg.internal_rate_hz <= 20000,
           "internal rate must be 200..20000 Hz")
    _check(_finite(cfg.gravity_m_s2) and 9.7 <= cfg.gravity_m_s2 <= 9.9, "gravity must be 9.7..9.9 m/s^2")
