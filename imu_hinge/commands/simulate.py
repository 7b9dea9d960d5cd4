"""``imu-hinge simulate OUT.csv``: write a simulated two-sensor recording with its ground truth.

Starts from a named scenario (or the defaults), applies the options given, and writes
``OUT.csv`` (interchange CSV), ``OUT.truth.json`` and ``OUT.truth_angles.csv``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from imu_hinge.errors import UsageError

# option dest -> SimConfig field, for the options that map one to one
_SAME = ("exercise", "seed", "rate_hz", "thoracic_rate_hz", "mount_sacrum", "mount_thoracic", "gyro_bias_dps",
         "acc_bias_m_s2", "gyro_noise_rad_s", "acc_noise_m_s2", "scale_error", "duration_s", "fatigue_creep_deg",
         "rest_s", "walk_after_s", "heading_deg", "clock_ppm", "thoracic_offset_s", "jitter_s", "wobble_deg",
         "stand_start_s", "truth_rate_hz", "name", "arrival_latency_s", "arrival_packet")
_FIELDS = {**{k: k for k in _SAME}, "reps": "n_reps", "sets": "n_sets", "drops": "drop_fraction",
           "rounding": "rounding_frac", "back_first": "back_first_frac", "lockout_arch": "lockout_arch_frac"}
_NOISELESS = dict(gyro_bias_dps=0.0, gyro_bias_walk_dps_rt_s=0.0, gyro_noise_rad_s=0.0, acc_noise_m_s2=0.0,
                  acc_bias_m_s2=0.0, scale_error=0.0, misalignment_deg=0.0, adc_bits=0, jitter_s=0.0,
                  clock_ppm=0.0)


def register(subparsers: Any) -> None:
    """Add the ``simulate`` sub-command to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "simulate", help="write a simulated recording with ground truth (no sensors needed)",
        description="Simulate a two-IMU hinge session (sacrum + T12) from a biomechanical model and write "
                    "OUT.csv (interchange CSV) with OUT.truth.json and OUT.truth_angles.csv beside it.")
    p.add_argument("out", nargs="?", type=Path, metavar="OUT.csv", help="output recording (.csv)")
    p.add_argument("--list-scenarios", action="store_true", help="print the scenario names and exit")
    p.add_argument("--scenario", help="start from this named scenario (default: plain settings)")
    p.add_argument("--exercise",
                   help="rdl, hinge, good_morning, kb_swing, long_hold, wall_hinge, fatigue, walk, mixed; or a name "
                        "from `imu-hinge exercises` (barbell_rdl, kettlebell_swing, ...: played as the nearest of "
                        "these)")
    p.add_argument("--reps", type=int, help="reps per set (default 8; with --duration-s: as many as fit)")
    p.add_argument("--sets", type=int, help="number of sets (default 1)")
    p.add_argument("--rest-s", type=float, help="rest between sets, s")
    p.add_argument("--walk-between", action="store_true", help="walk (with turns) in the rests between sets")
    p.add_argument("--walk-after-s", type=float, help="walk this long after the last set, s")
    p.add_argument("--seed", type=int, help="random seed (same seed, same output)")
    p.add_argument("--name", help="case name stored in the truth file (default: OUT's stem)")
    p.add_argument("--duration-s", type=float,
                   help="total length, s (padded with standing; reps that do not fit are left out)")
    p.add_argument("--stand-start-s", type=float, help="quiet standing before the first rep, s (default 4)")
    faults = p.add_argument_group("faults (share of reps, 0..1)")
    faults.add_argument("--rounding", type=float, help="reps with lumbar flexion > 20 deg")
    faults.add_argument("--back-first", type=float, help="reps where the lumbar spine flexes before the pelvis")
    faults.add_argument("--lockout-arch", type=float, help="reps ending in a lumbar arch (not for kb_swing)")
    faults.add_argument("--fatigue-creep-deg", type=float, help="rise of peak lumbar flexion over a set, deg")
    sens = p.add_argument_group("sensors")
    sens.add_argument("--rate-hz", type=float, help="sample rate of the sacrum (and thoracic) sensor")
    sens.add_argument("--thoracic-rate-hz", type=float, help="sample rate of the thoracic sensor")
    sens.add_argument("--mount-sacrum", help="random, identity, sideways, upside_down, backwards or R,P,Y")
    sens.add_argument("--mount-thoracic", help="as --mount-sacrum")
    sens.add_argument("--gyro-bias-dps", type=float, help="gyro bias per axis, deg/s")
    sens.add_argument("--acc-bias-m-s2", type=float, help="accelerometer bias per axis, m/s^2")
    sens.add_argument("--gyro-noise-rad-s", type=float, help="gyro noise per sample, rad/s")
    sens.add_argument("--acc-noise-m-s2", type=float, help="accelerometer noise per sample, m/s^2")
    sens.add_argument("--scale-error", type=float, help="per-axis scale error bound (0.02 = 2%%)")
    sens.add_argument("--drops", type=float, help="fraction of samples dropped (rows removed), 0..0.5")
    sens.add_argument("--clock-ppm", type=float, help="sensor clock error bound, ppm")
    sens.add_argument("--jitter-s", type=float, help="timestamp jitter (standard deviation), s")
    sens.add_argument("--thoracic-offset-s", type=float, help="sync error of the thoracic stream, s")
    sens.add_argument("--arrival-latency-s", type=float,
                      help="stamp samples when they arrive (a phone app or BLE bridge): the radio's latency, mean s")
    sens.add_argument("--arrival-packet", type=int,
                      help="samples per notification with --arrival-latency-s (default 1)")
    sens.add_argument("--noiseless", action="store_true", help="ideal sensors: no bias, noise, clock errors")
    body = p.add_argument_group("body")
    body.add_argument("--heading-deg", type=float, help="body heading (default: random)")
    body.add_argument("--wobble-deg", type=float, help="out-of-plane wobble (lateral bend, twist), deg")
    p.add_argument("--truth-rate-hz", type=float, help="rate of the truth angle file (default 100)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~imu_hinge.simulation.SimConfig` the parsed options describe."""
    from imu_hinge.simulation import SCENARIOS, SimConfig

    if args.scenario is not None:
        if args.scenario not in SCENARIOS:
            raise UsageError(f"unknown scenario {args.scenario!r}; choose from {', '.join(SCENARIOS)}")
        cfg = SCENARIOS[args.scenario]
    else:
        cfg = SimConfig()
    changes: dict[str, Any] = {f: getattr(args, dest) for dest, f in _FIELDS.items()
                               if getattr(args, dest, None) is not None}
    if args.name is None and args.out is not None:
        changes["name"] = args.out.stem
    if "exercise" in changes:
        from imu_hinge.simulation.config import simulated_exercise

        changes["exercise"] = simulated_exercise(changes["exercise"])
    if args.walk_between:
        changes["walk_between_sets"] = True
    if args.duration_s is not None and args.reps is None:
        changes["n_reps"] = 500  # as many as fit in the duration
    if args.noiseless:
        changes.update(_NOISELESS)
    return replace(cfg, **changes)


def run(args: argparse.Namespace) -> int:
    from imu_hinge.simulation import SCENARIOS, case_paths, simulate, write_case

    if args.list_scenarios:
        for name, cfg in SCENARIOS.items():
            what = f"{cfg.exercise}, {cfg.n_sets} x {cfg.n_reps} reps"
            what = "walking only" if cfg.exercise == "walk" else what
            print(f"{name:16s} {what}, {cfg.rate_hz:g}/{cfg.thoracic_rate:g} Hz")
        return 0
    if args.out is None:
        raise UsageError("give the output file, e.g. imu-hinge simulate session.csv")
    case_paths(args.out)  # a bad file name fails before the work
    cfg = config_from_args(args)
    res = simulate(cfg)
    csv_p, _, _ = write_case(res, args.out)
    rates = f"{cfg.rate_hz:g}" if cfg.thoracic_rate == cfg.rate_hz else f"{cfg.rate_hz:g}/{cfg.thoracic_rate:g}"
    print(f"wrote {csv_p} (+ .truth.json, .truth_angles.csv): {cfg.exercise}, {len(res.reps)} reps, "
          f"{res.duration_s:.1f} s, {rates} Hz, seed {cfg.seed}")
    return 0
