"""Batch analysis: `imu-hinge analyze DIR_OR_GLOB --jobs N --summary OUT.csv`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.batch.progress_bar import Progress, progress_wanted
from imu_hinge.batch.runner import Setting, expand_inputs, is_batch_input, run_batch, sweep_settings
from imu_hinge.batch.tables import REP_COLUMNS, companion_path
from imu_hinge.errors import UsageError
from imu_hinge.simulation import SimConfig, simulate, write_case

from .helpers import run_cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short simulated recordings (truth sidecars beside them) and one broken file."""
    d = tmp_path_factory.mktemp("batch")
    for seed in range(6):
        exercise = ("rdl", "kb_swing", "good_morning")[seed % 3]
        cfg = SimConfig(seed=seed, exercise=exercise, n_reps=3, rounding_frac=0.4, stand_start_s=3.0)
        write_case(simulate(cfg), d / f"rec{seed}.csv")
    (d / "zz_broken.csv").write_text("time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0.0,sacrum,1,2\n")
    return d


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_jobs_1_and_2_give_byte_identical_tables_and_list_failures(folder: Path, tmp_path: Path) -> None:
    outs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}.csv"
        proc = run_cli("analyze", folder, "--jobs", jobs, "--summary", out, "--no-progress")
        assert proc.returncode == 3, proc.stderr  # one recording failed: non-zero, after writing the rest
        assert "zz_broken.csv" in proc.stderr and "failed" in proc.stderr
        assert "truth_angles.csv" in proc.stderr  # the sidecars are reported, not silently skipped
        outs[jobs] = (out.read_bytes(), companion_path(out).read_bytes())
        assert "rec5.csv" in proc.stdout
    assert outs[1] == outs[2]
    reps = _rows(tmp_path / "jobs1.csv")
    recs = _rows(companion_path(tmp_path / "jobs1.csv"))
    assert list(reps[0]) == list(REP_COLUMNS)
    assert [Path(r["recording"]).name for r in recs] == [f"rec{i}.csv" for i in range(6)] + ["zz_broken.csv"]
    assert recs[-1]["status"] == "failed" and recs[-1]["error"]
    assert all(r["status"] == "ok" for r in recs[:-1])
    assert sum(int(r["reps"]) for r in recs[:-1]) == len(reps) >= 12
    flagged = [r for r in reps if r["faults"]]
    assert flagged and all(r["lumbar_flexion"] in ("0", "1") for r in reps)
    assert sum(int(r["lumbar_flexion"]) for r in reps) == sum(int(r["lumbar_flexion"]) for r in recs[:-1])


def test_batch_rows_match_single_file_analysis(folder: Path, tmp_path: Path) -> None:
    one = folder / "rec1.csv"
    proc = run_cli("analyze", one, "--json", tmp_path / "one.json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    single = json.loads((tmp_path / "one.json").read_text())["reps"]
    outcomes = run_batch([one], [Setting("base", AnalysisParams())])
    assert outcomes[0].ok and outcomes[0].reps == single


def test_workers_that_cannot_start_fall_back_to_this_process(folder: Path) -> None:
    """A script read from stdin cannot be re-imported by worker processes: the batch still completes."""
    script = ("from imu_hinge.batch.runner import Setting, run_batch\n"
              "from imu_hinge.analysis.analysis_params import AnalysisParams\n"
              f"files = [{str(folder / 'rec0.csv')!r}, {str(folder / 'rec1.csv')!r}, {str(folder / 'rec2.csv')!r}]\n"
              "notes = []\nsettings = [Setting('base', AnalysisParams())]\n"
              "two = run_batch(files, settings, 2, notes=notes)\none = run_batch(files, settings, 1)\n"
              "assert [o.reps for o in two] == [o.reps for o in one] and all(o.ok for o in two)\n"
              "print('OK', notes)\n")
    proc = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, cwd=folder,
                          timeout=120)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-800:]


def test_single_file_mode_is_unchanged(folder: Path) -> None:
    proc = run_cli("analyze", folder / "rec0.csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:4] == ["rep", "start", "bottom", "end"]
    missing = run_cli("analyze", folder / "nope.csv")
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1


def test_glob_and_sweep_compare_settings(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    proc = run_cli("analyze", str(folder / "rec[0-2].csv"), "--sweep", "threshold_deg=15,40", "--summary", out,
                   "--quiet")
    assert proc.returncode == 0, proc.stderr
    recs = _rows(companion_path(out))
    assert [r["setting"] for r in recs] == ["threshold_deg=15", "threshold_deg=40"] * 3
    assert [r["lumbar_threshold_deg"] for r in recs[:2]] == ["15.0", "40.0"]
    low = sum(int(r["lumbar_flexion"]) for r in recs if r["setting"].endswith("15"))
    high = sum(int(r["lumbar_flexion"]) for r in recs if r["setting"].endswith("40"))
    assert low > high


def test_bad_batch_usage(folder: Path, tmp_path: Path) -> None:
    proc = run_cli("analyze", str(folder / "*.nothing"))
    assert proc.returncode == 2 and "matches no files" in proc.stderr
    proc = run_cli("analyze", folder, "--json", tmp_path / "x.json")
    assert proc.returncode == 2 and "--summary" in proc.stderr
    proc = run_cli("analyze", folder, "--jobs", "-1")
    assert proc.returncode == 2
    with pytest.raises(UsageError):
        sweep_settings(AnalysisParams(), ["filter=nonsense"])
    with pytest.raises(UsageError):
        sweep_settings(AnalysisParams(), ["detector.nope=1"])


def test_inputs_and_settings_helpers(folder: Path) -> None:
    assert not is_batch_input([str(folder / "rec0.csv")])
    assert is_batch_input([str(folder)]) and is_batch_input(["a.csv", "b.csv"]) and is_batch_input(["x/*.csv"])
    inputs = expand_inputs([str(folder), str(folder / "rec0.csv")])
    assert [p.name for p in inputs.files] == [f"rec{i}.csv" for i in range(6)] + ["zz_broken.csv"]
    assert all(p.name.endswith(".truth_angles.csv") for p in inputs.skipped)
    settings = sweep_settings(AnalysisParams(), ["filter=vqf,madgwick", "threshold_deg=18"])
    assert [s.label for s in settings] == ["filter=vqf threshold_deg=18", "filter=madgwick threshold_deg=18"]
    assert settings[1].params.fusion_method == "madgwick"
    assert settings[1].params.detector.faults.lumbar_flexion_deg == 18.0
    assert companion_path("out/results.csv") == Path("out/results_recordings.csv")


def test_progress_bar() -> None:
    buf = io.StringIO()
    with Progress(4, "analyze", stream=buf) as bar:
        for _ in range(4):
            bar.update()
    text = buf.getvalue()
    assert "4/4" in text and "100%" in text and text.endswith("\n")
    quiet = io.StringIO()
    with Progress(4, enabled=False, stream=quiet) as bar:
        bar.update()
    assert quiet.getvalue() == ""
    assert progress_wanted(None, io.StringIO()) is False and progress_wanted(True, io.StringIO()) is True
