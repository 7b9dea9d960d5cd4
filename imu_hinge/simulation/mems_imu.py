"""A MEMS IMU on a body: mounting, sampling clock, errors, range clipping, quantisation, drop-outs.

Per sensor, one realisation is drawn from the seed (:func:`draw_realisation`):
mounting (sensor -> surface), clock error within ``+-clock_ppm``, start phase, per-axis
biases (magnitude 0.5..1 x the configured value, random sign), scale errors within
``+-scale_error`` and a non-orthogonal cross-axis matrix (off-diagonals ~ ``misalignment_deg``).

Sampling (:func:`sample_sensor`): the sensor samples at its *true* instants
``tau_k`` (its oscillator is off by the ppm error); each sample is the mean of the true
signal over the preceding sample period when ``sample_averaging`` (an ODR-matched
digital low-pass, as MEMS parts do) or the instantaneous value otherwise. The host stamps
samples as ``tau_0 + k / rate_hz`` (nominal rate, so the clock drifts), plus timestamp
jitter and, for the thoracic sensor, a constant synchronisation offset. Then::

    gyr = M_g ((1 + s_g) * omega) + b_g + w_g (1 - exp(-tau / T_warm)) + random_walk + noise
    acc = M_a ((1 + s_a) * f) + b_a + noise

clipped to the range and quantised to ``adc_bits``. ``w_g`` is the warm-up drift of the gyro
bias (per axis 0.5..1 x ``gyro_bias_warmup_dps``, random sign: the bias moves exponentially
from its power-on value); the noise is white, 1/f (pink) or AR(1) with the configured standard
deviation per sample. Dropped samples, and those of an outage, are removed rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter
from scipy.spatial.transform import Rotation

from imu_hinge.samples import SensorStream
from imu_hinge.simulation.body import SensorKinematics
from imu_hinge.simulation.config import SimConfig, parse_mount


@dataclass
class SensorRealisation:
    """Drawn error state of one sensor (fixed for the session)."""

    role: str
    rate_hz: float
    clock_ppm: float
    start_phase_s: float
    time_offset_s: float
    mount: Rotation
    mount_rpy_deg: tuple[float, float, float]
    gyro_bias_rad_s: np.ndarray
    acc_bias_m_s2: np.ndarray
    gyro_scale: np.ndarray
    acc_scale: np.ndarray
    gyro_cross: np.ndarray
    acc_cross: np.ndarray
    gyro_warmup_rad_s: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class SampledSensor:
    """One sensor's recorded stream plus, per kept row, the true sampling instant (s), the true
    sensor -> earth orientation (w, x, y, z) and the true linear acceleration of the sensor point
    (m/s^2, earth axes, gravity excluded) at it; counts of generated and dropped rows."""

    stream: SensorStream
    true_time_s: np.ndarray
    orientation_wxyz: np.ndarray
    lin_acc_m_s2: np.ndarray
    n_generated: int
    n_dropped: int


def _signed(rng: np.random.Generator, magnitude: float) -> np.ndarray:
    return magnitude * rng.uniform(0.5, 1.0, 3) * rng.choice([-1.0, 1.0], 3)


def _cross(rng: np.random.Generator, misalignment_deg: float) -> np.ndarray:
    off = rng.normal(0.0, np.deg2rad(misalignment_deg), (3, 3))
    np.fill_diagonal(off, 0.0)
    return np.eye(3) + off


def draw_realisation(cfg: SimConfig, role: str, rng: np.random.Generator,
                     mount_rng: np.random.Generator, extra_rng: np.random.Generator | None = None
                     ) -> SensorRealisation:
    """Draw the fixed error state of sensor ``role`` ('sacrum' or 'thoracic') from ``rng``
    (a random mounting from ``mount_rng``, so that choosing one leaves the other errors unchanged;
    the bias warm-up from ``extra_rng``)."""
    rate_hz = cfg.rate_hz if role == "sacrum" else cfg.thoracic_rate
    mount_spec = parse_mount(cfg.mount_sacrum if role == "sacrum" else cfg.mount_thoracic)
    if mount_spec == "random":
        mount = Rotation.random(rng=mount_rng)
        yaw, pitch, roll = mount.as_euler("ZYX", degrees=True)
        rpy = (float(roll), float(pitch), float(yaw))
    else:
        rpy = (float(mount_spec[0]), float(mount_spec[1]), float(mount_spec[2]))
        mount = Rotation.from_euler("ZYX", [rpy[2], rpy[1], rpy[0]], degrees=True)
    return SensorRealisation(
        role=role, rate_hz=rate_hz, clock_ppm=cfg.clock_ppm * rng.uniform(-1.0, 1.0),
        start_phase_s=rng.uniform(0.0, 1.0 / rate_hz),
        time_offset_s=cfg.thoracic_offset_s if role == "thoracic" else 0.0,
        mount=mount, mount_rpy_deg=rpy,
        gyro_bias_rad_s=_signed(rng, np.deg2rad(cfg.gyro_bias_dps)),
        acc_bias_m_s2=_signed(rng, cfg.acc_bias_m_s2),
        gyro_scale=rng.uniform(-cfg.scale_error, cfg.scale_error, 3) if cfg.scale_error else np.zeros(3),
        acc_scale=rng.uniform(-cfg.scale_error, cfg.scale_error, 3) if cfg.scale_error else np.zeros(3),
        gyro_cross=_cross(rng, cfg.misalignment_deg), acc_cross=_cross(rng, cfg.misalignment_deg),
        gyro_warmup_rad_s=(_signed(extra_rng, np.deg2rad(cfg.gyro_bias_warmup_dps))
                           if extra_rng is not None and cfg.gyro_bias_warmup_dps > 0 else np.zeros(3)),
    )


def coloured(white: np.ndarray, colour: str, ar_coef: float) -> np.ndarray:
    """Noise (n, 3) of spectrum ``colour`` with the per-sample standard deviation of ``white``'s source.

    ``white``: i.i.d. draws; ``pink``: shaped to 1/f power between 1/(n samples) and Nyquist, scaled
    back to the same standard deviation; ``ar1``: x_k = a x_(k-1) + sqrt(1 - a^2) e_k, stationary.
    """
    if colour == "white" or len(white) < 4:
        return white
    if colour == "ar1":
        out = np.empty_like(white)
        out[0] = white[0]
        out[1:] = lfilter([np.sqrt(1.0 - ar_coef**2)], [1.0, -ar_coef], white[1:], axis=0,
                          zi=ar_coef * white[:1])[0]
        return out
    spec = np.fft.rfft(white, axis=0)
    freq = np.fft.rfftfreq(len(white))
    shape = 1.0 / np.sqrt(np.maximum(freq, freq[1]))
    pink = np.fft.irfft(spec * shape[:, None], n=len(white), axis=0)
    sigma = np.sqrt(np.mean(white**2, axis=0))
    return pink * (sigma / np.maximum(pink.std(axis=0), 1e-300))


def arrival_stamps(stamp: np.ndarray, packet: int, latency_s: float, period_s: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Host stamps of samples sent ``packet`` to a notification: each notification's arrival (its last
    sample's time + exponential latency, in order, whole ms), less the mean latency and the packet's depth."""
    n = len(stamp)
    last = stamp[np.minimum(np.arange(0, n, packet) + packet - 1, n - 1)]
    arrival = np.maximum.accumulate(last + rng.exponential(latency_s, last.size))
    first = np.round(arrival - latency_s - (packet - 1) * period_s, 3)
    return np.repeat(first, packet)[:n]


def drop_mask(n: int, fraction: float, burst_share: float, rng: np.random.Generator) -> np.ndarray:
    """Keep-mask (n,) removing exactly ``round(fraction * n)`` rows: a ``burst_share`` of them in
    bursts of 3..25 consecutive samples, the rest singly. First and last rows are always kept."""
    keep = np.ones(n, dtype=bool)
    n_drop = min(int(round(fraction * n)), max(n - 2, 0))
    target = int(round(n_drop * burst_share))
    for _ in range(10 * n_drop + 10):
        missing = n - int(keep.sum())
        if missing >= target or n < 30:
            break
        length = min(int(rng.integers(3, 26)), target - missing)
        start = int(rng.integers(1, n - length - 1))
        keep[start:start + length] = False
    missing = n - int(keep.sum())
    if n_drop > missing:
        candidates = np.flatnonzero(keep[1:-1]) + 1
        keep[rng.choice(candidates, size=n_drop - missing, replace=False)] = False
    return keep


def _window_mean(grid_t: np.ndarray, values: np.ndarray, t_end: np.ndarray, period_s: float) -> np.ndarray:
    """Mean of ``values`` (N, 3) over [t - period, t] for each t in ``t_end`` (M,) -> (M, 3)."""
    dt = grid_t[1] - grid_t[0]
    cum = np.zeros_like(values)
    cum[1:] = np.cumsum(0.5 * (values[1:] + values[:-1]), axis=0) * dt
    out = np.empty((len(t_end), 3))
    for k in range(3):
        later, earlier = np.interp(t_end, grid_t, cum[:, k]), np.interp(t_end - period_s, grid_t, cum[:, k])
        out[:, k] = (later - earlier) / period_s
    return out


def _interp_rows(grid_t: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(t, grid_t, values[:, k]) for k in range(values.shape[1])], axis=1)


def _quantise(x: np.ndarray, full_scale: float, bits: int) -> tuple[np.ndarray, np.ndarray]:
    clipped = np.any(np.abs(x) >= full_scale, axis=1)
    x = np.clip(x, -full_scale, full_scale)
    if bits:
        lsb = full_scale / 2 ** (bits - 1)
        x = np.clip(np.round(x / lsb), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) * lsb
    return x, clipped


def _orientation_at(grid_t: np.ndarray, matrices: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sensor -> earth quaternions (M, 4) (w, x, y, z) at ``t`` (M,), nlerp between grid matrices (N, 3, 3)."""
    dt = grid_t[1] - grid_t[0]
    pos = np.clip((t - grid_t[0]) / dt, 0.0, len(grid_t) - 1.000001)
    i = np.floor(pos).astype(int)
    frac = (pos - i)[:, None]
    q0 = Rotation.from_matrix(matrices[i]).as_quat()[:, [3, 0, 1, 2]]
    q1 = Rotation.from_matrix(matrices[i + 1]).as_quat()[:, [3, 0, 1, 2]]
    q1 *= np.where(np.sum(q0 * q1, axis=1) < 0, -1.0, 1.0)[:, None]
    q = (1 - frac) * q0 + frac * q1
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def sample_sensor(kin: SensorKinematics, grid_t: np.ndarray, real: SensorRealisation, cfg: SimConfig,
                  rng: np.random.Generator) -> SampledSensor:
    """Sample one sensor's true kinematics on ``grid_t`` (N,) into a recorded :class:`SensorStream`."""
    nominal_s = 1.0 / real.rate_hz
    true_period_s = nominal_s / (1.0 + real.clock_ppm * 1e-6)
    first_s = real.start_phase_s + nominal_s
    n = int(np.floor((grid_t[-1] - first_s) / true_period_s)) + 1
    k = np.arange(n)
    tau = first_s + k * true_period_s
    if cfg.sample_averaging:
        force = _window_mean(grid_t, kin.specific_force_m_s2, tau, true_period_s)
        omega = _window_mean(grid_t, kin.gyr_rad_s, tau, true_period_s)
    else:
        force = _interp_rows(grid_t, kin.specific_force_m_s2, tau)
        omega = _interp_rows(grid_t, kin.gyr_rad_s, tau)
    walk_step = np.deg2rad(cfg.gyro_bias_walk_dps_rt_s) * np.sqrt(nominal_s)
    walk = np.cumsum(rng.normal(0.0, walk_step, (n, 3)), axis=0)
    gyr = ((1.0 + real.gyro_scale) * omega) @ real.gyro_cross.T + real.gyro_bias_rad_s + walk
    if cfg.gyro_bias_warmup_dps > 0:
        gyr += real.gyro_warmup_rad_s * (1.0 - np.exp(-tau / cfg.gyro_bias_warmup_tau_s))[:, None]
    gyr += coloured(rng.normal(0.0, cfg.gyro_noise_rad_s, (n, 3)), cfg.noise_colour, cfg.noise_ar_coef)
    acc = ((1.0 + real.acc_scale) * force) @ real.acc_cross.T + real.acc_bias_m_s2
    acc += coloured(rng.normal(0.0, cfg.acc_noise_m_s2, (n, 3)), cfg.noise_colour, cfg.noise_ar_coef)
    acc, acc_clip = _quantise(acc, cfg.acc_range_g * cfg.gravity_m_s2, cfg.adc_bits)
    gyr, gyr_clip = _quantise(gyr, np.deg2rad(cfg.gyro_range_dps), cfg.adc_bits)
    jitter = np.clip(rng.normal(0.0, cfg.jitter_s, n), -0.3 * nominal_s, 0.3 * nominal_s)
    stamp = first_s + k * nominal_s + real.time_offset_s + jitter
    if cfg.arrival_latency_s > 0:
        stamp = arrival_stamps(stamp, cfg.arrival_packet, cfg.arrival_latency_s, nominal_s, rng)
        per_packet = drop_mask(-(-n // cfg.arrival_packet), cfg.drop_fraction, cfg.drop_burst_share, rng)
        keep = np.repeat(per_packet, cfg.arrival_packet)[:n] & (stamp >= 0.0)
    else:
        keep = drop_mask(n, cfg.drop_fraction, cfg.drop_burst_share, rng) & (stamp >= 0.0)
    if cfg.outage_s is not None and real.role == cfg.outage_role:  # the link is lost, the sensor runs on
        keep &= (stamp < cfg.outage_s[0]) | (stamp >= cfg.outage_s[1])
    q = _orientation_at(grid_t, kin.orientation, tau[keep])
    stream = SensorStream(real.role, stamp[keep], acc[keep], gyr[keep], (acc_clip | gyr_clip)[keep])
    lin_acc = _interp_rows(grid_t, kin.lin_acc_m_s2, tau[keep])
    return SampledSensor(stream, tau[keep], q, lin_acc, n, int(n - keep.sum()))
