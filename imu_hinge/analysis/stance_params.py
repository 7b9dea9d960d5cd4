"""Parameters of the stance (no state): the live stance detector, the search through a recording, the forward axis.

Used by :mod:`.stance` and :mod:`.stance_search`; apart from them so that :class:`~.analysis_params.AnalysisParams`
is built and sent (a batch on a cluster) without loading the numerical core.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StanceParams:
    min_stand_s: float = 1.0
    """Shortest usable quiet stance. A motion sooner starts the stance over (the lifter is asked again)."""
    max_stand_s: float = 5.0
    """The stance is closed after this much quiet standing even without motion."""
    ref_s: float = 0.5
    """The first ``ref_s`` seconds set the reference the motion test compares with."""
    smooth_s: float = 0.1
    motion_gyr_rad_s: float = 0.35
    """Smoothed gyro deviation from the reference above this is motion (sway stays < ~0.15)."""
    motion_acc_m_s2: float = 1.5
    """Smoothed |acc| deviation from the reference above this is motion."""
    max_ref_gyr_rad_s: float = 0.2
    """A reference over which gravity turned faster than this (11.5 deg/s; the mean gyro less the bias the
    accelerometer allows, :func:`~.stance.sway_corrected_bias`, so a large gyro bias is no turn) was taken
    in a motion (a steady turn, then its stop, passed the motion test as stillness): the attempt starts over."""
    max_gyro_bias_rad_s: float = 0.6
    """A reference whose mean gyro is beyond this is a turn whatever the accelerometer saw (a turn about gravity
    shows it nothing): 20 deg/s on each axis, an uncalibrated MEMS gyro's specified zero-rate offset."""
    max_ref_rms_rad_s: float = 0.1
    """Likewise a reference whose gyro varies about its mean by more than this RMS (the end of a motion; sway
    and sensor noise stay under ~0.02)."""
    margin_s: float = 0.5
    """Samples this close before the detected motion are left out of the stance averages."""
    edge_s: float = 0.3
    """Averaging window at the start of the data for the filter's first gravity (``acc_first_m_s2``)."""
    edge_turn_deg: float = 1.0
    """The first ``edge_s`` of the data count as still when the gyro (bias removed) turned less than this
    over them; otherwise their mean gravity is off by about half the turn and a stance found after a start-over
    starts the filter from the first sample's orientation run back from the stance (when it is still)."""
    still_rms_rad_s: float = 0.05
    """A stance whose gyro (bias removed) has an RMS below this is still: its mean gravity is exact (quiet
    standing sways at ~0.005-0.02; a stance that took in the end of a motion measured 0.2-0.25)."""


@dataclass(frozen=True)
class StanceSearchParams:
    min_stand_s: float = 0.5
    """Shortest quiet stretch that serves as the stance."""
    max_stand_s: float = 5.0
    """Only the first ``max_stand_s`` of a long quiet stretch are averaged."""
    smooth_s: float = 0.1
    quiet_gyr_rad_s: float = 0.35
    """Smoothed gyro rate (rough bias removed) below this is quiet: sway of 5 deg stays < ~0.2."""
    quiet_acc_m_s2: float = 1.5
    """Smoothed |acc| within this of gravity is quiet."""
    steady_deg: float = 5.0
    """A quiet stretch may be cut where a segment tilts by this much within ``steady_window_s`` (deg; the gyro's turn
    across gravity): a slow bend (back or forward, 10-15 deg at up to 16 deg/s) stays under ``quiet_gyr_rad_s`` yet
    its mean is no posture to stand on. Sway tilts too (the shared dev case of standing sway: 7 deg within 0.8 s),
    so such a tilt cuts only where it changes the posture: ``steady_lumbar_deg``, ``steady_segment_deg``."""
    steady_window_s: float = 0.8
    """The span over which that tilt is measured, centred on each sample (within the stretch), s."""
    steady_lumbar_deg: float = 6.0
    """... where the trunk's tilt relative to the pelvis' changes this much within ``steady_window_s`` (deg,
    sagittal): a bend of the back, a stand settling from an arch; a sway leans both segments alike (cut at each
    lean, the dev case's stance when its recording starts moving read lumbar RMSE 2.58 deg instead of 1.31).
    Sitting still drifts too: the dev case of seated bends turns its trunk 4.1 deg within 0.5 s at its start
    (cut there, its zero moved: 0.82 -> 1.61 deg) ..."""
    steady_segment_deg: float = 12.0
    """... or where either segment's own tilt changes this much (deg, sagittal): a slow hinge at the hips."""
    same_posture_deg: float = 3.0
    """Of the parts of a stretch so cut that match the start, the stance is the one whose posture the quiet stretches
    hold longest in all, counting those within this (deg, both sensors): the person comes back to standing; a
    posture on the way (a slow bend held, the end of a rep settling) is not held again."""
    max_gyro_bias_rad_s: float = 0.6
    """The largest gyro bias (norm) the rough bias removed before the quiet test may be: 20 deg/s on each axis,
    an uncalibrated MEMS gyro's specified zero-rate offset. A steady rate beyond it is a turn, not a bias."""
    quiet_gap_s: float = 0.5
    """A gap in a sensor's samples (packets lost) up to this long does not end a quiet stretch when the samples on
    both sides are quiet and gravity's direction is the same across it (within ``same_posture_deg``): at 25 Hz with
    6 % of samples lost, single losses (an 80 ms gap) cut every stand into pieces shorter than ``settle_s`` +
    ``margin_s`` + ``min_stand_s``, and such a recording had no quiet stretch at all. A movement does not come and go
    inside half a second with the body still on both sides."""
    settle_s: float = 0.3
    """Left out at the start of a quiet stretch after a movement (the body settles)."""
    margin_s: float = 0.6
    """Left out before the movement that ends a quiet stretch: a slow start of a movement stays under
    the quiet threshold for a few tenths of a second."""
    start_s: float = 0.25
    """The posture at the start: mean gravity direction over the first ``start_s`` of each sensor."""
    match_deg: float = 12.0
    """A quiet stretch within this of the start posture (both sensors) is upright."""
    bias_min_s: float = 1.0
    """A stance shorter than this takes its gyro bias from the first quiet stretch this long."""
    still_gyr_rad_s: float = 1.0
    """The stillest moments must at least be this still (smoothed gyro), else the data is refused."""
    pool_s: float = 60.0
    """A stance after the start takes its gyro bias with the quiet stretches up to this much later."""
    end_stand_within_s: float = 1.0
    """A recording never still near its start whose quiet posture (``held_min_s`` long, held once) ends this close
    to its end takes that as its zero rather than being refused (a set ending standing). Measured: 20 simulated
    kettlebell sets moving from 0.05 s, 2 refused before, now 0.48 and 0.53 deg lumbar RMSE."""
    end_over_start_deg: float = 5.0
    """... and such a posture at the end is the zero, too, when the start's posture wanders by more than this
    (its zero is uncertain by as much: a set moving from its first sample)."""
    fallback_within_s: float = 3.0
    """Without an upright quiet stretch, the data must be still somewhere this close to the start."""
    fallback_min_s: float = 0.1
    """... and the zero is the posture over the still start of the recording, at least this long."""
    held_min_s: float = 2.0
    """A recording whose start matches no quiet posture takes the posture held longest as its zero, when
    held this long in all ..."""
    held_ratio: float = 2.0
    """... and this many times as long as any other posture ..."""
    held_min_count: int = 2
    """... and come back to at least this many times (a stand between reps recurs; one held hinge is one)."""
    seat_pelvis_deg: float = 6.0
    """A zero is taken for a seat (:func:`~.stance_search.standing_after_seat`) when quiet stretches hold the
    pelvis this much further forward than it (sitting tilts it back by 10-20 deg) ..."""
    seat_trunk_deg: float = 6.0
    """... with the trunk within this of it (sitting keeps the trunk about upright; a hinge tips it) ..."""
    seat_min_s: float = 2.0
    """... for this long in all (a moment's arch at a lockout is not a stand) ..."""
    seat_excursion_deg: float = 20.0
    """... unless, after the trunk tipped past this (a hinge), the person stood in the zero's posture again ..."""
    seat_back_s: float = 0.3
    """... for this long (a lockout between reps; a sensor that slips later holds the pelvis forward from then on)."""
    seat_smooth_s: float = 0.2
    """The accelerometer's tilts in that test are smoothed over this long (hides a hinge's own acceleration)."""
    arch_lumbar_deg: float = 10.0
    """A zero is taken for a lockout held arched (:func:`~.stance_search.standing_after_arch`) when the stands, and the
    start of the recording (half this), hold the trunk tilted this much further forward than the pelvis, relative to
    it (an arch extends the lumbar spine by 10-20 deg; standing sway tilts both segments alike) ..."""
    arch_trunk_deg: float = 12.0
    """... with the trunk within this of it (the arch leans it back by up to ~10 deg; a held bend tips it further)."""
    override_ratio: float = 3.0
    """A start that is not quiet itself, whose posture a later quiet stretch matches, still takes the posture
    held longest when that one is held this many times as long as the start's in all."""


@dataclass(frozen=True)
class ForwardParams:
    smooth_s: float = 0.3
    """Accelerometer low-pass before its tilt is taken (hides the linear acceleration of a hinge)."""
    min_tilt_deg: float = 20.0
    """Trunk tilts beyond this count (hinges reach 30-90 deg; sway, walking and most side bends less)."""
    min_mean_deg: float = 3.0
    """A summed tilt weaker than this per counted sample has no usable direction (a still pelvis)."""
