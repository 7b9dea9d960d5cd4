"""Walking bouts: body progression, heading changes, step bounce and the segment oscillations of gait.

During a bout the whole body moves along its heading at 1.0..1.4 m/s (smooth start and
stop), turns by 60..180 deg, bounces 2..3 cm vertically at step frequency (1.7..2.0 Hz:
about +-3 m/s^2), sways 1.5..2.5 cm laterally at stride frequency, leans the trunk forward
a few degrees and oscillates the pelvis and thorax in all three planes. Trunk flexion
stays well below 20 deg, so no rep should be counted.

A stair bout is slower (0.45..0.6 m/s, 1.4..1.8 steps/s) and climbs 15..18 cm a step for its
first half, turns about at the landing (150..180 deg) and comes down again; the trunk and
pelvis lean further forward (5..12 and 3..8 deg) and bounce more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu_hinge.simulation.trajectory import smoothstep_envelope


@dataclass
class GaitSignals:
    """Walking contributions on the simulation grid (all (N,)): heading (rad), body translation
    in earth axes (m, ``(N, 3)``), sagittal angle additions (deg, part of the truth) and
    out-of-plane angles of each segment (deg)."""

    heading_rad: np.ndarray
    translation_m: np.ndarray
    pelvis_deg: np.ndarray
    trunk_deg: np.ndarray
    pelvis_bend_deg: np.ndarray
    pelvis_twist_deg: np.ndarray
    thorax_bend_deg: np.ndarray
    thorax_twist_deg: np.ndarray


def _cumtrapz(y: np.ndarray, dt_s: float) -> np.ndarray:
    out = np.zeros_like(y)
    out[1:] = np.cumsum(0.5 * (y[1:] + y[:-1])) * dt_s
    return out


def gait_signals(time_s: np.ndarray, bouts: list[tuple[float, float]], heading0_rad: float,
                 rng: np.random.Generator, stairs: list[tuple[float, float]] | None = None) -> GaitSignals:
    """Walking signals for ``bouts`` and stair bouts ``stairs`` [(start_s, end_s)] on the uniform grid
    ``time_s`` (N,)."""
    n = len(time_s)
    dt_s = float(time_s[1] - time_s[0]) if n > 1 else 1.0
    heading = np.full(n, heading0_rad)
    speed = np.zeros(n)
    up = np.zeros(n)
    lateral = np.zeros(n)
    climb_m_s = np.zeros(n)
    ang = {k: np.zeros(n) for k in ("pel", "tru", "pb", "pt", "tb", "tt")}
    for (start, end), on_stairs in [(b, False) for b in bouts] + [(b, True) for b in stairs or []]:
        env = smoothstep_envelope(time_s, start, end, 1.0)
        step_hz = rng.uniform(1.4, 1.8) if on_stairs else rng.uniform(1.7, 2.0)
        ph = 2 * np.pi * step_hz * (time_s - start)
        stride = 0.5 * ph + rng.uniform(0, 2 * np.pi)
        v_walk = rng.uniform(0.45, 0.6) if on_stairs else rng.uniform(1.0, 1.4)
        speed += env * v_walk * (1.0 + 0.08 * np.cos(ph + 0.5))
        up += env * (rng.uniform(0.03, 0.045) if on_stairs else rng.uniform(0.02, 0.03)) * -np.cos(ph)
        lateral += env * rng.uniform(0.015, 0.025) * np.sin(stride)
        turn = np.deg2rad(rng.uniform(150, 180) if on_stairs else rng.uniform(60, 180)) * rng.choice([-1.0, 1.0])
        mid = end - start
        s = np.clip((time_s - (start + 0.25 * mid)) / (0.5 * mid), 0.0, 1.0)
        heading += turn * (10 * s**3 - 15 * s**4 + 6 * s**5)
        if on_stairs:  # up before the landing's turn, down after it
            climb_m_s += env * rng.uniform(0.15, 0.18) * step_hz * (1.0 - 2.0 * (10 * s**3 - 15 * s**4 + 6 * s**5))
        pel_lean, tru_lean = ((3.0, 8.0), (5.0, 12.0)) if on_stairs else ((0.0, 3.0), (3.0, 7.0))
        for key, osc_deg, lean_deg in (("pel", (1.0, 3.0), pel_lean), ("tru", (0.8, 2.0), tru_lean)):
            osc = rng.uniform(*osc_deg) * np.cos(ph + rng.uniform(0, 2 * np.pi))
            ang[key] += env * (osc + rng.uniform(*lean_deg))
        ang["pb"] += env * rng.uniform(2.0, 4.0) * np.sin(stride)
        ang["pt"] += env * rng.uniform(3.0, 6.0) * np.sin(stride + 0.3)
        ang["tb"] += env * rng.uniform(1.0, 2.0) * np.sin(stride + np.pi)
        ang["tt"] += env * rng.uniform(2.0, 4.0) * np.sin(stride + np.pi + 0.3)
    fwd = np.stack([np.cos(heading), np.sin(heading), np.zeros(n)], axis=1)
    left = np.stack([-np.sin(heading), np.cos(heading), np.zeros(n)], axis=1)
    translation = np.zeros((n, 3))
    translation[:, 0] = _cumtrapz(speed * fwd[:, 0], dt_s)
    translation[:, 1] = _cumtrapz(speed * fwd[:, 1], dt_s)
    translation += lateral[:, None] * left
    translation[:, 2] = up + _cumtrapz(climb_m_s, dt_s)
    return GaitSignals(heading, translation, ang["pel"], ang["tru"], ang["pb"], ang["pt"], ang["tb"],
                       ang["tt"])
