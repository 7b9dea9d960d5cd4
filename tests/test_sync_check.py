"""Two sensors not stamped on one clock are told from the hinges; sessions on one clock are not.

Truth from the simulator: the thoracic stream's times shifted by a known offset (as two separate
loggers would stamp it). The check only sees the analysis result."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import imu_hinge as ih
from imu_hinge.detection.sync_check import SyncCheckParams, _fast_len, clock_lag
from imu_hinge.recording import recording_to_interchange_csv
from imu_hinge.samples import Recording
from imu_hinge.simulation import SCENARIOS, SimResult, simulate

from .helpers import run_cli


def shifted(sim: SimResult, offset_s: float) -> Recording:
    th = sim.recording["thoracic"]
    return Recording({"sacrum": sim.recording["sacrum"],
                      "thoracic": dataclasses.replace(th, time_s=th.time_s + offset_s)})


@pytest.fixture(scope="module")
def rounding() -> SimResult:
    return simulate(dataclasses.replace(SCENARIOS["rdl_rounding"], seed=7000))


@pytest.mark.parametrize("offset_s", [0.3, -0.5, 1.5])
def test_a_clock_offset_between_the_sensors_is_measured(rounding: SimResult, offset_s: float) -> None:
    lag = clock_lag(ih.run(shifted(rounding, offset_s)).result)
    assert lag is not None
    assert abs(lag.lag_s - offset_s) <= 0.03  # measured within 0.02 s on 31 of 33 families (one 50 Hz grid step)
    assert lag.correlation > 0.8  # measured 0.83-0.97
    way = "after" if offset_s > 0 else "before"  # the message says which way, and the option that undoes it
    assert f"stamped {abs(lag.lag_s):.2f} s {way} the sacrum's" in lag.message()
    assert f"--thoracic-offset-s {-lag.lag_s:+.2f}" in lag.message()


def test_the_lag_search_reaches_max_lag_s_itself(rounding: SimResult) -> None:
    """The search covers -max_lag_s .. +max_lag_s inclusive: an offset of exactly max_lag_s (0.5 s here: 25 steps
    of the 50 Hz grid, an odd count) is found at its value, not at the last lag short of it (0.48 s)."""
    lag = clock_lag(ih.run(shifted(rounding, 0.5)).result, SyncCheckParams(max_lag_s=0.5))
    assert lag is not None
    assert abs(lag.lag_s - 0.5) < 0.01  # measured 0.50 (the same as with the default 2 s search)


def test_an_offset_under_a_quarter_second_is_not_told(rounding: SimResult) -> None:
    assert clock_lag(ih.run(shifted(rounding, 0.15)).result) is None


@pytest.mark.parametrize("family", ["back_first", "walk_between", "bad_start_walk", "kb_swings", "mixed"])
def test_sensors_on_one_clock_are_not_told(family: str) -> None:
    # honest peaks: 0.00-0.02 s in hinges (walking between sets alone reaches 0.13 s, hence reps only);
    # measured: nothing told on 33 families x 2 seeds nor on the 19 shared dev cases
    sim = simulate(dataclasses.replace(SCENARIOS[family], seed=7001))
    res = ih.run(sim.recording)
    assert clock_lag(res.result) is None
    assert not any("one clock" in w for w in res.warnings)


def test_analyze_tells_it_in_one_line_with_the_import_option_that_aligns(rounding: SimResult, tmp_path: Path) -> None:
    csv = tmp_path / "two_loggers.csv"
    recording_to_interchange_csv(shifted(rounding, 0.4), csv)
    proc = run_cli("analyze", csv)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "one clock" in line]
    assert len(lines) == 1, proc.stderr
    assert "stamped 0.40 s after the sacrum's" in lines[0] and "--thoracic-offset-s -0.40" in lines[0]


def _hinges_stamped_apart(shift_s: float, starts_s: tuple[float, ...] = (5.0, 13.0, 21.0), step_s: float = 0.02):
    """A made-up analysis result on the check's own 50 Hz grid (or rows every ``step_s``): 2 s hinges (three, 8 s
    apart), the pelvis tilting 30 deg and the trunk 60 deg in the same motion, the trunk's samples stamped
    ``shift_s`` later."""
    from types import SimpleNamespace

    import numpy as np

    t = np.arange(0.0, 30.0, step_s)

    def bumps(tt):
        return sum(np.where((tt > s) & (tt < s + 2.0), np.sin(np.pi * (tt - s) / 2.0) ** 2, 0.0) for s in starts_s)

    reps = [SimpleNamespace(start_s=s, end_s=s + 2.0) for s in starts_s]
    return SimpleNamespace(time_s=t, pelvic_tilt_deg=30 * bumps(t), trunk_flexion_deg=60 * bumps(t - shift_s),
                           reps=reps)


@pytest.mark.parametrize("shift_s", [2.0, -2.0, 1.0])
def test_an_offset_at_the_edge_of_the_search_is_measured_exactly(shift_s: float) -> None:
    """Lags are searched over +-2 s, both edges included: an offset of exactly 2 s either way (or 1 s) is
    measured exactly on constructed hinges (the same motion, stamped apart), with a correlation of 1."""
    lag = clock_lag(_hinges_stamped_apart(shift_s))
    assert lag is not None
    assert lag.lag_s == pytest.approx(shift_s, abs=1e-9)
    assert lag.correlation == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("shift_s", [2.1, -2.1])
def test_an_offset_beyond_the_search_reads_at_most_its_edge(shift_s: float) -> None:
    """2.1 s apart either way: beyond the +-2 s searched, the best lag found is 2 s at most (what the check can
    say), on the side of the offset."""
    lag = clock_lag(_hinges_stamped_apart(shift_s))
    assert lag is None or (abs(lag.lag_s) <= 2.0 + 1e-9 and lag.lag_s * shift_s > 0)


def test_fewer_than_three_complete_reps_give_no_verdict() -> None:
    """Two hinges 1 s apart on the clocks are not enough to tell (min_reps 3); a third rep whose start or end is
    unknown (NaN: cut by the recording) does not count; three complete ones are told."""
    import numpy as np

    two = _hinges_stamped_apart(1.0, (5.0, 13.0))
    assert clock_lag(two) is None
    for cut in ("start_s", "end_s"):
        res = _hinges_stamped_apart(1.0)
        setattr(res.reps[2], cut, float("nan"))
        assert clock_lag(res) is None, cut
    lag = clock_lag(_hinges_stamped_apart(1.0))
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)
    # rows missing (NaN: a sensor gap) between the reps are skipped, not compared
    res = _hinges_stamped_apart(1.0)
    res.pelvic_tilt_deg[(res.time_s > 9.0) & (res.time_s < 10.0)] = np.nan
    res.trunk_flexion_deg[(res.time_s > 18.0) & (res.time_s < 19.0)] = np.nan
    lag = clock_lag(res)
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("rock_from_s", "rock_to_s"), [(26.0, 29.9), (0.5, 4.4)], ids=["after", "before"])
def test_walking_outside_the_reps_does_not_count(rock_from_s: float, rock_to_s: float) -> None:
    """Only the reps (0.5 s either side) are compared: 4 s of walking after the last rep (more than 2 s past its
    margin) or before the first rep's margin, the pelvis and the trunk rocking together (8 deg at 0.7 Hz, on one
    clock), leaves the hinges' 1 s offset measured exactly with a correlation of 1. Counted (the reps' windows
    stretched over it), lag 0 would pull the lag away, or pelvis motion that meets no trunk motion 1 s later would
    pull the correlation under 1."""
    import numpy as np

    res = _hinges_stamped_apart(1.0)
    t = res.time_s
    rock = 8.0 * np.sin(2 * np.pi * 0.7 * t) * ((t > rock_from_s) & (t < rock_to_s))
    res.pelvic_tilt_deg = res.pelvic_tilt_deg + rock
    res.trunk_flexion_deg = res.trunk_flexion_deg + rock
    lag = clock_lag(res)
    assert lag is not None
    assert lag.lag_s == pytest.approx(1.0, abs=1e-9)
    assert lag.correlation == pytest.approx(1.0, abs=1e-6)


def test_the_check_takes_its_parameters() -> None:
    """SyncCheckParams are frozen parameters: an offset of 1 s is told by default, not when at least 1.5 s is
    asked for; they cannot be changed on the object."""
    import dataclasses

    from imu_hinge.detection.sync_check import SyncCheckParams

    res = _hinges_stamped_apart(1.0)
    assert clock_lag(res) is not None
    assert clock_lag(res, SyncCheckParams(min_lag_s=1.5)) is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        SyncCheckParams().min_lag_s = 1.5  # type: ignore[misc]
    lag = clock_lag(res)
    assert lag is not None
    with pytest.raises(dataclasses.FrozenInstanceError):  # a verdict, not a value to edit
        lag.lag_s = 0.0  # type: ignore[misc]


def test_motion_at_the_start_of_the_data_does_not_wrap_onto_the_last_rep() -> None:
    """40 s of data (1999 grid points, just under 2048): a trunk-only bend in the first 2 s and a last rep at
    37.9 s whose trunk, stamped 2 s later, runs past the end. The correlation is linear: at the 2 s lag the
    last rep meets no trunk motion from the data's start (circular, on 2048 points, it would: 0.74)."""
    from types import SimpleNamespace

    import numpy as np

    t = np.arange(0.0, 40.0, 0.02)
    starts = (5.0, 13.0, 21.0, 29.0, 37.9)

    def bumps(tt: np.ndarray, at: tuple[float, ...]) -> np.ndarray:
        return sum(np.where((tt > s) & (tt < s + 2.0), np.sin(np.pi * (tt - s) / 2.0) ** 2, 0.0) for s in at)

    result = SimpleNamespace(time_s=t, pelvic_tilt_deg=30 * bumps(t, starts),
                             trunk_flexion_deg=60 * bumps(t - 2.0, starts) + 60 * bumps(t, (0.0,)),
                             reps=[SimpleNamespace(start_s=s, end_s=s + 2.0) for s in starts])
    lag = clock_lag(result)
    assert lag is not None and lag.lag_s == pytest.approx(2.0, abs=1e-9)
    assert lag.correlation > 0.87  # measured 0.895 (the last rep's trunk cut by the end of the data)


def test_the_fft_length_is_the_smallest_with_factors_2_3_5_reaching_the_data() -> None:
    """Every length 1..3000 against a brute-force search: never shorter than the data (a shorter FFT would wrap
    the correlation around), never longer than the smallest 5-smooth length."""
    def smooth(k: int) -> bool:
        for f in (2, 3, 5):
            while k % f == 0:
                k //= f
        return k == 1

    for m in range(1, 3001):
        want = next(k for k in range(m, 2 * m + 2) if smooth(k))
        assert _fast_len(m) == want, m


@pytest.mark.parametrize(("family", "seed"), [("rdl_rounding", 7001), ("good_morning", 7002)])
def test_streams_of_two_different_sessions_are_not_told_as_a_clock_offset(rounding: SimResult, family: str,
                                                                          seed: int) -> None:
    """The sacrum of one simulated session beside the thorax of another (a mix-up of files): their hinges do not
    line up at any lag (best correlation 0.19-0.31, under min_correlation 0.7), so no offset is told, although
    the best lag (-1.78 s, -0.54 s) is beyond min_lag_s."""
    other = simulate(dataclasses.replace(SCENARIOS[family], seed=seed))
    mixed = Recording({"sacrum": rounding.recording["sacrum"], "thoracic": other.recording["thoracic"]})
    assert clock_lag(ih.run(mixed).result) is None


def test_a_lag_of_exactly_min_lag_s_is_told_and_a_search_wider_than_the_data_is_cut_to_it() -> None:
    """min_lag_s is inclusive: with min_lag_s = 0.2 s (10 steps of the 50 Hz grid) an offset of exactly 0.2 s is
    told. A search of +-60 s over 30 s of data looks at every lag the data has and still measures 1 s."""
    lag = clock_lag(_hinges_stamped_apart(0.2), SyncCheckParams(min_lag_s=0.2))
    assert lag is not None and lag.lag_s == pytest.approx(0.2, abs=1e-9)
    lag = clock_lag(_hinges_stamped_apart(1.0), SyncCheckParams(max_lag_s=60.0))
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)


def test_reps_without_two_rows_of_angles_give_no_verdict() -> None:
    """Three reps but the angles missing (a sensor lost the whole time, or all but one or two rows): nothing to
    compare. Two rows one sample (one grid step, 20 ms) apart used to crash the check (no gradient of one point)."""
    import numpy as np

    for kept in (0, 1, 2):
        res = _hinges_stamped_apart(1.0)
        res.trunk_flexion_deg[kept:] = np.nan
        assert clock_lag(res) is None, kept


def test_the_correlation_does_not_depend_on_the_size_of_the_motion() -> None:
    """Normalised cross-correlation: hinges a hundred times smaller (pelvis 0.3 deg, trunk 0.6 deg) stamped 1 s
    apart give the same lag and a correlation of 1, as the full-size ones do."""
    res = _hinges_stamped_apart(1.0)
    res.pelvic_tilt_deg *= 0.01
    res.trunk_flexion_deg *= 0.01
    lag = clock_lag(res)
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)
    assert lag.correlation == pytest.approx(1.0, abs=1e-6)


def test_a_peak_exactly_as_clear_as_min_correlation_is_told() -> None:
    """min_correlation is inclusive ("at least this clear"): hinges stamped 1 s apart with a trunk-only wobble
    (3 Hz) in the first correlate below 1; asking for exactly that correlation still tells the offset, asking for
    a little more does not."""
    import numpy as np

    res = _hinges_stamped_apart(1.0)
    t = res.time_s
    res.trunk_flexion_deg = res.trunk_flexion_deg + 5 * np.sin(2 * np.pi * 3.0 * t) * ((t > 6.0) & (t < 8.0))
    lag = clock_lag(res, SyncCheckParams(min_correlation=0.0))
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)
    assert 0.5 < lag.correlation < 0.999  # the wobble counts in the trunk's energy only
    at = clock_lag(res, SyncCheckParams(min_correlation=lag.correlation))
    assert at is not None and at.correlation == lag.correlation
    assert clock_lag(res, SyncCheckParams(min_correlation=float(np.nextafter(lag.correlation, 2.0)))) is None


def test_a_search_wider_than_half_the_data_reaches_lags_up_to_its_length() -> None:
    """30 s of data, hinges at 2, 6 and 10 s whose trunk is stamped 16 s later (more than half the data apart):
    asked to search +-20 s, the check looks at every lag the data holds (up to 29.98 s) and measures 16 s."""
    lag = clock_lag(_hinges_stamped_apart(16.0, (2.0, 6.0, 10.0)), SyncCheckParams(max_lag_s=20.0))
    assert lag is not None and lag.lag_s == pytest.approx(16.0, abs=1e-9)


def test_a_straight_line_drawn_across_a_gap_is_not_motion() -> None:
    """Rows of angles kept only at two times, every pair of times 0.5 s apart over the 30 s of three hinges
    stamped 1 s apart (1,770 pairs): nothing is told. Interpolated across the gap, the two rows drew the same
    straight line in the pelvis and the trunk, whose rates matched at any lag with a correlation of 1: 78 of the
    pairs were told as a clock offset (-0.42 to -1.98 s) before the rows' gaps were left out."""
    import itertools

    import numpy as np

    told = []
    for i, j in itertools.combinations(range(0, 1500, 25), 2):
        res = _hinges_stamped_apart(1.0)
        keep = np.zeros(res.time_s.size, bool)
        keep[[i, j]] = True
        res.pelvic_tilt_deg[~keep] = np.nan
        if clock_lag(res) is not None:
            told.append((float(res.time_s[i]), float(res.time_s[j])))
    assert told == []


def test_rows_max_gap_s_apart_are_still_compared() -> None:
    """max_gap_s is inclusive: the three hinges stamped 1 s apart, sampled every 0.5 s (exact in binary), are
    measured at 1 s with max_gap_s = 0.5 s, and not at all with max_gap_s a hair under 0.5 s (every row then
    lies across a gap)."""
    import numpy as np

    res = _hinges_stamped_apart(1.0)
    rows = np.arange(0, res.time_s.size, 25)  # every 0.5 s of the 50 Hz rows ...
    res.time_s = np.arange(rows.size) * 0.5  # ... stamped exactly
    res.pelvic_tilt_deg = res.pelvic_tilt_deg[rows]
    res.trunk_flexion_deg = res.trunk_flexion_deg[rows]
    lag = clock_lag(res, SyncCheckParams(max_gap_s=0.5))
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)
    assert lag.correlation > 0.99  # measured 1.0000 (both lines interpolate the same samples, 2 rows apart)
    assert clock_lag(res, SyncCheckParams(max_gap_s=float(np.nextafter(0.5, 0.0)))) is None


@pytest.mark.parametrize(("outage_s", "offset_s"), [((14.0, 16.0), 0.5), ((8.0, 14.0), -1.0)])
def test_a_sensor_lost_for_a_while_still_shows_the_clock_offset(outage_s: tuple[float, float], offset_s: float) -> None:
    """A simulated session whose sensor drops out (2 s, 6 s) and comes back, its thoracic stream stamped apart:
    the offset is measured from the hinges the sensors saw (the outage left out, not drawn across)."""
    sim = simulate(dataclasses.replace(SCENARIOS["outage_return"], seed=7000, outage_s=outage_s))
    lag = clock_lag(ih.run(shifted(sim, offset_s)).result)
    assert lag is not None
    assert abs(lag.lag_s - offset_s) <= 0.05  # measured 0.50 and -0.96 (-0.98 with the gap drawn across)


def test_a_sensor_that_comes_back_at_another_level_is_compared_only_where_it_measured() -> None:
    """The three hinges stamped 1 s apart, both sensors lost twice between the hinges (11.0-12.9 s, just inside
    the second hinge's window; 24.06-25.9 s, where the trunk's third hinge, 1 s later, is still counted) and
    reading 20 deg more when they come back. A line drawn across either gap is a slope where nothing moved: it
    pulled the correlation to 0.9966 (the pelvis's gap) or 0.9989 (the trunk's). Left out, the hinges match as
    they are: 1 s, correlation 0.99996 (the rate at a gap's edge still leans on the line by half a step)."""
    import numpy as np

    res = _hinges_stamped_apart(1.0)
    t = res.time_s
    for a, b in ((11.0, 12.9), (24.06, 25.9)):
        res.pelvic_tilt_deg[(t > a) & (t < b)] = np.nan
        res.pelvic_tilt_deg[t >= b] += 20.0
        res.trunk_flexion_deg[t >= b] += 20.0
    lag = clock_lag(res)
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)
    assert lag.correlation > 0.9999  # measured 0.99996


def test_the_default_gap_lies_between_an_eighth_and_a_quarter_second() -> None:
    """Rows every 0.125 s (8 Hz, a slow logger) are still compared by default and measure the 1 s offset; rows
    every 0.25 s are gaps throughout (default max_gap_s 0.2 s): nothing compared, no verdict. (Both steps binary
    fractions, so the rows are evenly stamped.)"""
    lag = clock_lag(_hinges_stamped_apart(1.0, step_s=0.125))
    assert lag is not None and lag.lag_s == pytest.approx(1.0, abs=1e-9)
    assert clock_lag(_hinges_stamped_apart(1.0, step_s=0.25)) is None
