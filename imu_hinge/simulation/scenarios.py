"""The named scenario catalogue: ready-made :class:`SimConfig` s (seed 0; replace ``seed`` for more).

Each scenario stresses one thing: a movement fault, an exercise, a mounting, a sensor
error or a sampling set-up. ``mixed`` combines them all. The real-world ones
(:data:`REAL_WORLD`) do what people and their sensors do: start moving at once, sway, sit,
bend sideways, twist, walk and climb stairs between sets, make a non-hinge movement first,
and their sensors wobble on soft tissue, slip, warm up, have coloured noise or drop out and return.
"""

from __future__ import annotations

from imu_hinge.simulation.config import SimConfig


def _make(name: str, **overrides: object) -> SimConfig:
    return SimConfig(name=name, **overrides)  # type: ignore[arg-type]


SCENARIOS: dict[str, SimConfig] = {
    cfg.name: cfg
    for cfg in (
        _make("rdl_good", exercise="rdl", n_reps=8),
        _make("rdl_rounding", exercise="rdl", n_reps=8, rounding_frac=0.5),
        _make("back_first", exercise="rdl", n_reps=8, back_first_frac=0.5),
        _make("lockout_arch", exercise="rdl", n_reps=8, lockout_arch_frac=0.5),
        _make("kb_swings", exercise="kb_swing", n_reps=12),
        _make("kb_swings_rounding", exercise="kb_swing", n_reps=12, rounding_frac=0.25),
        _make("long_holds", exercise="long_hold", n_reps=4, rounding_frac=0.25),
        _make("fatigue_set", exercise="fatigue", n_reps=8),
        _make("good_morning", exercise="good_morning", n_reps=6, rounding_frac=0.2, lockout_arch_frac=0.2),
        _make("wall_hinge", exercise="wall_hinge", n_reps=6, back_first_frac=0.2),
        _make("walk_between", exercise="rdl", n_reps=5, n_sets=2, walk_between_sets=True, rest_s=14.0,
              walk_after_s=6.0, rounding_frac=0.2),
        _make("walk_only", exercise="walk", walk_after_s=30.0),
        _make("mixed_mount", exercise="rdl", n_reps=8, mount_sacrum="random", mount_thoracic="upside_down",
              rounding_frac=0.3, lockout_arch_frac=0.2),
        _make("high_bias", exercise="rdl", n_reps=8, gyro_bias_dps=3.0, acc_bias_m_s2=0.3, scale_error=0.02,
              rounding_frac=0.3),
        _make("large_gyro_bias", exercise="rdl", n_reps=8, gyro_bias_dps=6.0, rounding_frac=0.3),
        _make("cheap_sensor", exercise="rdl", n_reps=8, gyro_noise_rad_s=0.015, acc_noise_m_s2=0.12,
              gyro_bias_dps=1.5, gyro_bias_walk_dps_rt_s=0.03, misalignment_deg=1.5, scale_error=0.02,
              adc_bits=12, jitter_s=0.002, rounding_frac=0.3),
        _make("low_rate_drops", exercise="rdl", n_reps=8, rate_hz=50.0, drop_fraction=0.01,
              rounding_frac=0.3),
        _make("unequal_rates", exercise="rdl", n_reps=8, rate_hz=52.0, thoracic_rate_hz=208.0,
              rounding_frac=0.3, back_first_frac=0.2),
        _make("rate_25hz", exercise="rdl", n_reps=8, rate_hz=25.0, rounding_frac=0.3),
        _make("rate_400hz", exercise="rdl", n_reps=8, rate_hz=400.0, rounding_frac=0.3),
        _make("mixed", exercise="mixed", n_reps=5, n_sets=3, walk_between_sets=True, rest_s=12.0,
              rounding_frac=0.25, back_first_frac=0.15, lockout_arch_frac=0.15, mount_sacrum="random",
              mount_thoracic="random", drop_fraction=0.005, thoracic_rate_hz=104.0),
        # real-world conditions
        _make("no_quiet_start", exercise="rdl", n_reps=6, stand_start_s=0.25, sway_deg=0.8, rounding_frac=0.3),
        _make("standing_sway", exercise="rdl", n_reps=6, sway_deg=1.5, wobble_deg=3.0, rounding_frac=0.3),
        _make("seated_bends", exercise="seated_bend", n_reps=4, stand_start_s=0.8, sway_deg=0.3,
              between_moves=("side_bend", "twist", "side_bend")),
        _make("side_bends_twists", exercise="rdl", n_reps=6, rounding_frac=0.3,
              between_moves=("side_bend", "twist")),
        _make("walk_stairs", exercise="rdl", n_reps=3, n_sets=3, rest_s=10.0, rounding_frac=0.3,
              between_sets_moves=("walk", "stairs")),
        _make("soft_tissue", exercise="rdl", n_reps=8, tissue_deg=2.5, rounding_frac=0.3),
        _make("arrival_stamps", exercise="rdl", n_reps=8, rounding_frac=0.3, arrival_latency_s=0.008,
              arrival_packet=4, drop_fraction=0.01),
        _make("bias_warmup", exercise="rdl", n_reps=6, n_sets=2, rest_s=12.0, gyro_bias_warmup_dps=1.5,
              gyro_bias_warmup_tau_s=60.0, gyro_bias_walk_dps_rt_s=0.0, rounding_frac=0.3),
        _make("coloured_noise", exercise="rdl", n_reps=8, noise_colour="pink", gyro_noise_rad_s=0.006,
              acc_noise_m_s2=0.04, rounding_frac=0.3),
        _make("outage_return", exercise="rdl", n_reps=8, outage_s=(14.0, 20.0), rounding_frac=0.3),
        _make("sensor_slip", exercise="rdl", n_reps=8, slip=("thoracic", 20.0, 5.0), rounding_frac=0.3),
        *(_make(f"bad_start_{kind}", exercise="rdl", n_reps=6, stand_start_s=1.5, first_moves=(kind,),
                rounding_frac=0.3)
          for kind in ("side_bend", "twist", "back_bend", "walk", "sit_down")),
    )
}
"""Scenario name -> configuration (seed 0)."""

REAL_WORLD: tuple[str, ...] = ("no_quiet_start", "standing_sway", "seated_bends", "side_bends_twists", "walk_stairs",
                               "soft_tissue", "bias_warmup", "coloured_noise", "rate_25hz", "outage_return",
                               "sensor_slip", "bad_start_side_bend", "bad_start_twist", "bad_start_back_bend",
                               "bad_start_walk", "bad_start_sit_down")
"""The scenarios of real-world conditions (``rate_25hz`` is older but belongs here too)."""
