"""``people``, ``history`` and ``analyze --person`` through ``python -m imu_hinge`` on real store files."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from imu_hinge.simulation import SimConfig, simulate, write_case
from imu_hinge.store import Store
from imu_hinge.store.db import ENV_BUSY_TIMEOUT_S, ENV_DB

from .helpers import REPO
from .store_fakes import cli, fake_result
from .test_cli_bad_input import assert_one_line_error

STORE_EXIT = 6


def run_env(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "imu_hinge", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, **env})


@pytest.fixture(scope="module")
def session_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rec")
    csv, _, _ = write_case(simulate(SimConfig(seed=11, exercise="rdl", n_reps=5, rounding_frac=0.4)),
                           folder / "rdl.csv")
    return csv


def test_people_add_list_show_set(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert cli("people", "add", "Alex", "--notes", "knee op 2023", "--db", db).returncode == 0
    assert cli("people", "add", "Bea", "--db", db).returncode == 0
    assert_one_line_error(cli("people", "add", "alex", "--db", db), STORE_EXIT, "already exists")
    listing = cli("people", "list", "--db", db)
    assert listing.returncode == 0 and [ln.split()[0] for ln in listing.stdout.splitlines()[1:]] == ["Alex", "Bea"]
    as_json = json.loads(cli("people", "list", "--json", "--db", db).stdout)
    assert as_json[0]["name"] == "Alex" and as_json[0]["sessions"] == 0
    proc = cli("people", "set", "alex", "--exercise", "swing", "--threshold-deg", "18", "--db", db)
    assert proc.returncode == 0 and "kettlebell_swing set to 18 deg" in proc.stdout
    proc = cli("people", "set", "alex", "--threshold-pct", "60", "--db", db)
    assert "no range calibration yet" in proc.stdout
    shown = cli("people", "show", "ALEX", "--db", db)
    assert shown.returncode == 0
    assert "Alex (added" in shown.stdout and "knee op 2023" in shown.stdout
    assert "threshold, every exercise: 60% of Lmax (needs Lmax)" in shown.stdout
    assert "threshold, kettlebell_swing: 18 deg" in shown.stdout and "range: not calibrated" in shown.stdout
    doc = json.loads(cli("people", "show", "Alex", "--json", "--db", db).stdout)
    assert {s["exercise"] for s in doc["settings"]} == {"*", "kettlebell_swing"}
    assert cli("people", "set", "Alex", "--exercise", "swing", "--clear", "--db", db).returncode == 0
    assert len(json.loads(cli("people", "show", "Alex", "--json", "--db", db).stdout)["settings"]) == 1


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    assert_one_line_error(cli("history", "Alex", "--db", db), STORE_EXIT, "no store at")
    assert not db.exists()  # reading commands never create a store
    assert cli("people", "add", "Alex", "--db", db).returncode == 0
    assert_one_line_error(cli("history", "Zed", "--db", db), STORE_EXIT, "unknown person 'Zed'", "people list")
    assert_one_line_error(cli("people", "set", "Alex", "--exercise", "zumba", "--threshold-pct", "50",
                                  "--db", db), 2, "unknown exercise 'zumba'")
    assert_one_line_error(cli("people", "set", "Alex", "--threshold-pct", "-5", "--db", db), 2, "positive")
    assert_one_line_error(cli("people", "add", "x", "--db", tmp_path / "no" / "dir.db"), STORE_EXIT,
                          "folder does not exist")
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(os.urandom(4096))
    for args in (("people", "list"), ("history", "Alex"), ("people", "add", "Bob")):
        assert_one_line_error(cli(*args, "--db", corrupt), STORE_EXIT, "not a readable imu-hinge store")


def test_locked_store_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    Store(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = run_env("people", "add", "Alex", "--db", db, env={ENV_BUSY_TIMEOUT_S: "0.2"})
        assert_one_line_error(proc, STORE_EXIT, "locked by another program")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(db) as s:
        assert s.people() == []


def test_env_var_names_the_store(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    assert run_env("people", "add", "Alex", env={ENV_DB: str(db)}).returncode == 0
    with Store(db) as s:
        assert s.person("Alex").name == "Alex"


def test_analyze_person_files_the_session(tmp_path: Path, session_csv: Path) -> None:
    db = tmp_path / "a.db"
    assert_one_line_error(cli("analyze", session_csv, "--person", "Alex", "--db", db), STORE_EXIT, "no store")
    assert cli("people", "add", "Alex", "--db", db).returncode == 0
    assert_one_line_error(cli("analyze", session_csv, "--person", "Bob", "--db", db), STORE_EXIT,
                          "unknown person 'Bob'")
    out = tmp_path / "a.json"
    proc = cli("analyze", session_csv, "--person", "alex", "--exercise", "rdl", "--db", db, "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "filed session #1 for Alex (barbell_rdl" in proc.stdout
    doc = json.loads(out.read_text())
    with Store(db) as s:
        filed = s.session(1)
        assert s.counts()["sessions"] == 1
    assert filed["source"] == str(session_csv.resolve()) and filed["exercise"] == "barbell_rdl"
    assert filed["params"] == json.loads(json.dumps(doc["params"]))
    [st] = filed["sets"]
    assert [r["rep_index"] for r in st["reps"]] == [r["index"] for r in doc["reps"]]
    assert [r["faults"] for r in st["reps"]] == [sorted(r["faults"]) for r in doc["reps"]]
    assert [r["peak_lumbar_flexion_deg"] for r in st["reps"]] == pytest.approx(
        [r["peak_lumbar_flexion_deg"] for r in doc["reps"]], abs=1e-3)
    assert [(a["fault"], a["rep_index"]) for a in filed["alerts"]] == [(a["fault"], a["rep_index"])
                                                                        for a in doc["alerts"]]
    assert filed["calibration"]["base_sensor"] == doc["calibration"]["base_sensor"]


def test_analyze_person_thresholds_and_command_line_precedence(tmp_path: Path, session_csv: Path) -> None:
    db = tmp_path / "t.db"
    with Store(db) as s:
        s.add_person("Alex")
        s.add_range_calibration("Alex", 30.0, 10.0, "cal.csv")
        s.set_threshold("Alex", "rdl", pct_lmax=50)
    out = tmp_path / "t.json"
    assert cli("analyze", session_csv, "--person", "Alex", "--exercise", "rdl", "--db", db, "--json", out,
                   "--quiet").returncode == 0
    faults = json.loads(out.read_text())["params"]["detector"]["faults"]
    assert (faults["lmax_deg"], faults["lumbar_flexion_pct_lmax"]) == (30.0, 50.0)
    assert cli("analyze", session_csv, "--person", "Alex", "--exercise", "good_morning", "--db", db, "--json",
                   out, "--quiet").returncode == 0  # no setting for good mornings: the catalogue threshold
    faults = json.loads(out.read_text())["params"]["detector"]["faults"]
    assert (faults["lmax_deg"], faults["lumbar_flexion_pct_lmax"], faults["lumbar_flexion_deg"]) == (30.0, None, 20.0)
    assert cli("analyze", session_csv, "--person", "Alex", "--exercise", "rdl", "--threshold-deg", "25",
                   "--db", db, "--json", out, "--quiet").returncode == 0
    faults = json.loads(out.read_text())["params"]["detector"]["faults"]
    assert faults["lumbar_flexion_pct_lmax"] is None and faults["lumbar_flexion_deg"] == 25.0
    with Store(db) as s:
        # one recording is one session: each filing replaced the one before (issue 16: filing is idempotent)
        assert [x.threshold_deg for x in s.sessions("Alex")] == [25.0]


def test_history_table_trend_and_json(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with Store(db) as s:
        s.add_person("Alex")
        for week in range(6):  # peak lumbar flexion rising 2 deg a week, more reps flagged
            peaks = [14.0 + 2 * week + k for k in range(6)]
            s.file_session("Alex", "rdl", fake_result(peaks), f"w{week}.csv",
                           started_utc=dt.datetime(2024, 4, 1, 9, tzinfo=dt.UTC) + dt.timedelta(weeks=week))
        s.file_session("Alex", "swing", fake_result([5.0] * 10), "swing.csv", started_utc="2024-05-20T09:00:00Z")
    proc = cli("history", "Alex", "--db", db)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Alex: 7 session(s), 2024-04-01 .. 2024-05-20")
    assert sum("barbell_rdl" in ln for ln in lines) == 6 and any("kettlebell_swing" in ln for ln in lines)
    assert any(ln.strip().startswith("peak lumbar flexion") and "deg/week" in ln for ln in lines)
    assert any(ln.strip().startswith("flagged-rep rate") for ln in lines)
    rdl = json.loads(cli("history", "Alex", "--exercise", "rdl", "--json", "--db", db).stdout)
    assert len(rdl["sessions"]) == 6
    assert rdl["trend"]["peak_lumbar_slope_deg_per_week"] == pytest.approx(2.0, abs=1e-6)
    assert rdl["trend"]["flagged_slope_pct_per_week"] > 0
    short = cli("history", "Alex", "--limit", "2", "--ascii", "--db", db)
    assert "(the last 2 of 7 sessions" in short.stdout and "▁" not in short.stdout
