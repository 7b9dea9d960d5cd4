"""Silently wrong input is caught (issue 12 item 4): the same stream under both roles, accelerometer
and gyroscope in different frames, time in ms/us, a flat-lined sensor, a recording too short; and
honest data (simulated sessions of every kind, the bundled recordings) pass without a word."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import imu_hinge as ih
from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.batch.runner import Setting, run_batch
from imu_hinge.errors import DataCheckError, InputError
from imu_hinge.recording import load_recording, recording_to_interchange_csv
from imu_hinge.recording.checks import SAME_REL, checked, stream_difference
from imu_hinge.recording.frame_check import FIT_BAD, frame_misfits
from imu_hinge.recording.sample_clock import MIN_JITTER_SHARE
from imu_hinge.samples import Recording
from imu_hinge.simulation import SCENARIOS, simulate

from .helpers import REPO, run_cli
from .test_cli_bad_input import assert_one_line_error

DEV = REPO.parent / "shared" / "eval" / "dev"


def altered(rec: Recording, role: str, **arrays: np.ndarray) -> Recording:
    """A copy of ``rec`` with some arrays of one sensor replaced."""
    streams = dict(rec.streams)
    streams[role] = replace(rec[role], clipped=None, **arrays)
    return Recording(streams, dict(rec.metadata), list(rec.warnings), "")


def bad_cases(rec: Recording) -> dict[str, Recording]:
    sac, tho = rec["sacrum"], rec["thoracic"]
    rng = np.random.default_rng(3)
    # samples 0.3 units apart: 3.3 Hz in s, 3333 Hz in ms: no plausible rate in any unit
    nonsense = Recording({r: replace(s, time_s=s.time_s * 30.0) for r, s in rec.streams.items()})
    return {
        "same": altered(rec, "thoracic", time_s=sac.time_s + 0.0023,  # a copy with a little noise
                        acc_m_s2=sac.acc_m_s2 + rng.normal(0, 0.05, (len(sac), 3)),
                        gyr_rad_s=sac.gyr_rad_s + rng.normal(0, 0.005, (len(sac), 3))),
        "shifted": altered(rec, "sacrum", time_s=tho.time_s - 0.31, acc_m_s2=tho.acc_m_s2, gyr_rad_s=tho.gyr_rad_s),
        "acc_xz": altered(rec, "sacrum", acc_m_s2=sac.acc_m_s2[:, [2, 1, 0]]),
        "gyr_sign": altered(rec, "thoracic", gyr_rad_s=-tho.gyr_rad_s),
        "flat": altered(rec, "thoracic", acc_m_s2=np.tile([0.1, 9.7, 0.3], (len(tho), 1)),
                        gyr_rad_s=np.zeros((len(tho), 3))),
        "short": Recording({r: s.slice(0, int(0.6 * s.nominal_rate_hz)) for r, s in rec.streams.items()}),
        "rate": nonsense,
    }


EXPECTED = {  # case -> (problem, role, words in the message)
    "same": ("same_stream", None, "same stream"),
    "shifted": ("same_stream", None, "shifted by +0.31 s"),
    "acc_xz": ("frames", "sacrum", "x and z axes swapped"),
    "gyr_sign": ("frames", "thoracic", "gyroscope's sign inverted"),
    "flat": ("flat", "thoracic", "flat-lined"),
    "short": ("too_short", None, "too short"),
    "rate": ("sample_rate", "sacrum", "no plausible rate"),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_input_through_the_api(rounding_rec: Recording, case: str) -> None:
    problem, role, words = EXPECTED[case]
    with pytest.raises(DataCheckError) as info:
        ih.run(bad_cases(rounding_rec)[case])
    err = info.value
    assert (err.problem, err.role) == (problem, role)
    assert words in str(err) and "\n" not in str(err)
    assert isinstance(err, InputError) and err.exit_code == 3


def test_frame_misfit_separates_wrong_frames_from_right(rounding_rec: Recording) -> None:
    cases = bad_cases(rounding_rec)
    used, fits = frame_misfits(cases["acc_xz"]["sacrum"])
    identity = next(f[0] for f in fits if f[2] > 0 and f[3] == 1.0 and np.trace(f[1]) == 3)
    assert used >= 40  # measured 84
    assert identity > 1.5 and fits[0][0] < 0.05  # measured 2.0 as given, 0.01 with x and z swapped back
    _, honest = frame_misfits(rounding_rec["sacrum"])
    assert honest[0][0] < 0.05 and next(f[0] for f in honest if np.trace(f[1]) == 3 and f[2] > 0 and f[3] == 1.0) < 0.05


@pytest.mark.parametrize("scale,unit", [(1e3, "ms"), (1e6, "us")])
def test_time_in_ms_or_us_is_converted_with_a_warning(rounding_rec: Recording, scale: float, unit: str) -> None:
    scaled = Recording({r: replace(s, time_s=s.time_s * scale + 12345.0) for r, s in rounding_rec.streams.items()})
    analysis = ih.run(scaled)
    assert any(f"time_s looks like {unit}" in w and "converted to seconds" in w for w in analysis.warnings)
    truth = ih.run(rounding_rec)
    assert [r.faults for r in analysis.reps] == [r.faults for r in truth.reps] and len(truth.reps) == 6


def test_gyroscope_unit_slips(rounding_rec: Recording, rounding_csv: Path) -> None:
    tho = rounding_rec["thoracic"]
    slipped = altered(rounding_rec, "thoracic", gyr_rad_s=np.rad2deg(tho.gyr_rad_s))
    analysis = ih.run(slipped)
    assert any("thoracic" in w and "deg/s given as rad/s" in w for w in analysis.warnings)
    assert len(analysis.reps) == 6
    with pytest.raises(DataCheckError, match="deg/s given as rad/s"):
        ih.run(slipped, gyr_unit="si")  # the user said rad/s: refused, not guessed
    with pytest.raises(DataCheckError, match="rad/s converted as if it were deg/s") as info:
        ih.run(rounding_csv, gyr_unit="deg/s")  # rad/s data read as deg/s: turns 57x too little
    assert info.value.role == "sacrum" and "--gyr-unit" in str(info.value)


def test_the_frame_checks_side_by_side_give_the_same_warnings_in_order_and_errors(rounding_rec: Recording) -> None:
    """checked(threads=2) runs the two sensors' frame checks side by side: both sensors' deg/s slips are converted
    and warned in the sensors' order, and each sensor's wrong frames raise its own error, as on one thread."""
    both = altered(altered(rounding_rec, "thoracic", gyr_rad_s=np.rad2deg(rounding_rec["thoracic"].gyr_rad_s)),
                   "sacrum", gyr_rad_s=np.rad2deg(rounding_rec["sacrum"].gyr_rad_s))
    one, two = checked(both), checked(both, threads=2)
    assert [w.split(":")[0] for w in two.warnings] == ["sacrum", "thoracic"] and two.warnings == one.warnings
    for role in ("sacrum", "thoracic"):
        np.testing.assert_array_equal(two[role].gyr_rad_s, one[role].gyr_rad_s)
    for case, role in (("acc_xz", "sacrum"), ("gyr_sign", "thoracic")):
        with pytest.raises(DataCheckError) as info:
            checked(bad_cases(rounding_rec)[case], threads=2)
        assert info.value.role == role


# -- the CLI: one line, non-zero exit, no traceback ---------------------------------------------
@pytest.fixture(scope="module")
def bad_csvs(rounding_rec: Recording, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    out = {}
    for case, rec in bad_cases(rounding_rec).items():
        if case in ("same", "acc_xz", "flat", "short", "rate"):
            out[case] = folder / f"{case}.csv"
            recording_to_interchange_csv(rec, out[case])
    return out


@pytest.mark.parametrize("case", ["same", "acc_xz", "flat", "short", "rate"])
def test_bad_input_through_analyze(bad_csvs: dict[str, Path], case: str) -> None:
    problem, role, words = EXPECTED[case]
    assert_one_line_error(run_cli("analyze", bad_csvs[case]), 3, words, *([role] if role else []))


def test_replay_and_batch_refuse_the_same_stream(bad_csvs: dict[str, Path], rounding_csv: Path) -> None:
    assert_one_line_error(run_cli("replay", bad_csvs["same"], "--speed", "max", "--no-audio"), 3, "same stream")
    outcomes = run_batch([rounding_csv, bad_csvs["acc_xz"]], [Setting("base", AnalysisParams())])
    assert outcomes[0].ok and not outcomes[1].ok
    assert "sacrum" in outcomes[1].error and "x and z axes swapped" in outcomes[1].error


def test_import_of_one_file_as_both_sensors(tmp_path: Path, rounding_rec: Recording) -> None:
    s = rounding_rec["sacrum"]
    one = tmp_path / "sacrum.csv"
    rows = np.column_stack([s.time_s, s.acc_m_s2, s.gyr_rad_s])
    np.savetxt(one, rows, delimiter=",", fmt="%.6f", header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z", comments="")
    out = tmp_path / "out.csv"
    assert_one_line_error(run_cli("import", "--sacrum", one, "--thoracic", one, out), 3, "same stream",
                          "sacrum.csv")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(one.read_bytes())
    assert_one_line_error(run_cli("import", "--sacrum", one, "--thoracic", copy, out), 3, "same stream")
    assert not out.exists()  # nothing written


# -- honest data: no false alarm -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulated_sessions_pass_silently(name: str) -> None:
    cfg = replace(SCENARIOS[name], seed=5)
    rec = simulate(cfg).recording
    if cfg.arrival_latency_s > 0:  # stamped per packet on arrival: put back on the sensors' clocks, told
        out = checked(rec)
        assert len(out.warnings) == 2 and all("timestamps are per packet" in w for w in out.warnings)
        rec = out
    elif cfg.jitter_s * cfg.rate_hz >= MIN_JITTER_SHARE:  # stamps scattered around the clock (cheap_sensor: 2 ms)
        out = checked(rec)
        assert len(out.warnings) == 2 and all("put back on the sensor's regular" in w for w in out.warnings)
    else:
        assert checked(rec) is rec  # nothing changed, nothing warned
    _, rel_acc, rel_gyr = stream_difference(rec["sacrum"], rec["thoracic"])
    assert max(rel_acc, rel_gyr) > 3 * SAME_REL  # measured >= 0.47 over 80 sessions (seeds 1-4)
    for role in ("sacrum", "thoracic"):
        used, fits = frame_misfits(rec[role])
        identity = next((f[0] for f in fits if f[2] > 0 and f[3] == 1.0 and np.trace(f[1]) == 3), 0.0)
        # measured <= 0.07 with >= 12 stretches, but 0.33 with the thoracic soft-tissue wobble (2.5 deg at
        # 5-10 Hz): still well under the error level FIT_BAD (0.6); wrong frames measure >= 0.92
        assert used < 12 or identity < 0.75 * FIT_BAD


def test_twists_between_reps_do_not_make_a_wrong_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """A random real-world session of benchmarks/real_world_mix.py (seed 28020: 11 RDLs, a twist after each rep,
    soft tissue, stamps on arrival) refused as "accelerometer and gyroscope disagree": a twist's horizontal
    acceleration tilts the thoracic accelerometer by 3-6 deg while gravity does not turn, and over all its stretches
    the data as given misfit 0.61 (over FIT_BAD) while a mirrored frame happened to fit 0.17. Over the stretches in
    which gravity turns by BIG_TURN or more (37), the data as given fit 0.05: accepted. With that confirmation
    switched off (BIG_TURN above every turn) the recording is refused, as it was. (The session below is that one
    with its drawn values rounded: 0.63 and 0.19 over all 90 stretches, 0.045 over its 40 big turns.)"""
    import imu_hinge.recording.frame_check as frame_check
    from imu_hinge.simulation import SimConfig

    cfg = SimConfig(seed=28020, name="mix28020", n_reps=11, stand_start_s=0.25, lockout_arch_frac=0.2,
                    wobble_deg=3.6, sway_deg=1.47, thoracic_rate_hz=104.0, mount_sacrum="random",
                    mount_thoracic="random", arrival_latency_s=0.008, arrival_packet=4,
                    between_moves=("twist", "twist"), tissue_deg=1.32)
    rec = simulate(cfg).recording
    out = checked(rec)
    _, fits = frame_misfits(out["thoracic"])
    given = next(f[0] for f in fits if f[2] > 0 and f[3] == 1.0 and np.trace(f[1]) == 3)
    assert given > FIT_BAD and fits[0][0] < frame_check.FIT_GOOD  # measured 0.63 and 0.19: the rule alone refuses
    monkeypatch.setattr(frame_check, "BIG_TURN", np.inf)
    with pytest.raises(DataCheckError, match="accelerometer and gyroscope disagree"):
        checked(rec)


def test_bundled_recordings_pass_silently() -> None:
    for path in sorted((REPO / "recordings").glob("*.csv")):
        if path.name.endswith("truth_angles.csv"):
            continue
        rec = load_recording(path)
        assert not any("looks like" in w for w in rec.warnings), (path, rec.warnings)


@pytest.mark.skipif(not DEV.is_dir(), reason="the shared evaluation cases are not next to this checkout")
def test_shared_dev_cases_pass_silently() -> None:
    paths = sorted(p for p in DEV.glob("dev_*.csv") if not p.name.endswith("truth_angles.csv"))
    assert len(paths) >= 19
    for path in paths:
        rec = load_recording(path)
        assert not any("looks like" in w for w in rec.warnings), (path, rec.warnings)


def test_packet_stamped_csv_is_spread_not_thinned(tmp_path: Path) -> None:
    """Loggers that stamp every sample of a notification with the packet's time (10 samples share a stamp):
    the samples are kept and spread between stamps, so the analysis matches the evenly stamped file.
    Before, the interchange reader kept the first sample of each stamp (a tenth of the data)."""
    sim = simulate(replace(SCENARIOS["rdl_rounding"], seed=7000))
    plain, packed = tmp_path / "plain.csv", tmp_path / "packed.csv"
    recording_to_interchange_csv(sim.recording, plain)
    streams = {}
    for role, s in sim.recording.streams.items():
        first_of_packet = (np.arange(len(s)) // 10) * 10
        streams[role] = replace(s, time_s=s.time_s[first_of_packet])
    recording_to_interchange_csv(Recording(streams), packed)
    rec = load_recording(packed)
    assert all(len(rec[r]) == len(sim.recording[r]) for r in rec.streams)  # nothing dropped
    assert sum("timestamps are per packet (10.0 samples share each)" in w for w in rec.warnings) == 2

    def lumbar_rmse(run: ih.Analysis) -> float:
        res = run.result
        truth = np.interp(res.time_s, sim.truth_time_s, sim.truth_lumbar_flexion_deg)
        m = np.isfinite(res.lumbar_flexion_deg) & (res.time_s > sim.stand_start_s)
        return float(np.sqrt(np.mean((res.lumbar_flexion_deg[m] - truth[m]) ** 2)))

    a, b = ih.run(plain), ih.run(packed)
    assert [(r.index, r.faults) for r in b.reps] == [(r.index, r.faults) for r in a.reps]
    assert lumbar_rmse(b) < lumbar_rmse(a) + 0.03  # measured 0.315 vs 0.303 deg


def test_the_python_api_takes_packet_stamps_and_refuses_time_going_backwards() -> None:
    sim = simulate(replace(SCENARIOS["rdl_rounding"], seed=7000))
    packed = Recording({r: replace(s, time_s=s.time_s[(np.arange(len(s)) // 10) * 10])
                        for r, s in sim.recording.streams.items()})
    a = ih.run(packed)  # before: ZeroDivisionError from the time-unit check (median interval 0)
    assert len(a.reps) == 8 and sum("per packet" in w for w in a.warnings) == 2  # the simulator's 8 reps
    backwards = Recording({r: replace(s, time_s=s.time_s[::-1].copy()) for r, s in sim.recording.streams.items()})
    with pytest.raises(InputError, match="time goes backwards for the sacrum sensor"):
        ih.run(backwards)


def test_nan_samples_given_to_the_python_api_are_dropped_and_told_not_analysed() -> None:
    sim = simulate(replace(SCENARIOS["rdl_rounding"], seed=7000))
    th = sim.recording["thoracic"]
    acc = th.acc_m_s2.copy()
    acc[1000:1005] = np.nan  # five samples a logger could not fill
    holed = Recording({"sacrum": sim.recording["sacrum"], "thoracic": replace(th, acc_m_s2=acc)})
    a = ih.run(holed)  # before: NaN went through the filters: 3 reps, lumbar RMSE 42 deg, no word
    assert [r.faults for r in a.reps] == [r.faults for r in ih.run(sim.recording).reps]  # 8 reps, 4 flagged
    assert "thoracic: 5 sample(s) with NaN or infinite values: dropped" in a.warnings
    acc[::3] = np.inf
    with pytest.raises(DataCheckError, match="thoracic: .* samples have NaN or infinite values") as err:
        ih.run(Recording({"sacrum": sim.recording["sacrum"], "thoracic": replace(th, acc_m_s2=acc)}))
    assert err.value.problem == "not_finite" and err.value.role == "thoracic"
