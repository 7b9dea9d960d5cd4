"""The SQLite store on real files: schema and pragmas, round trips, transactions, migrations, bad files, locks."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.errors import StoreError, UsageError
from imu_hinge.store import LATEST_VERSION, Store, default_db_path
from imu_hinge.store import migrations as mig
from imu_hinge.store import session_store as store_sessions
from imu_hinge.store.db import APPLICATION_ID, ENV_DB, connect

from .store_fakes import fake_rep, fake_result


def test_new_store_schema_version_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Store(path) as s:
        assert s.version == LATEST_VERSION
        c = s.conn
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert c.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert c.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
        indexes = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"sessions_by_person_time", "reps_by_session", "alerts_by_session"} <= indexes
    with Store(path) as again:  # reopening changes nothing
        assert again.version == LATEST_VERSION


def test_default_path_env_var_and_platformdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DB, str(tmp_path / "env.db"))
    assert default_db_path() == tmp_path / "env.db"
    with Store() as s:
        assert s.path == tmp_path / "env.db"
    monkeypatch.delenv(ENV_DB)
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "data" / "imu-hinge"))
    assert default_db_path() == tmp_path / "data" / "imu-hinge" / "store.sqlite3"
    with Store() as s:  # the data folder is created on first use
        assert s.path.exists()


def test_the_db_options_help_names_the_variable_the_store_reads() -> None:
    """The commands' ``--db`` help names the environment variable without loading the store package (start-up):
    it must be the one the store reads."""
    import argparse

    from imu_hinge.commands.storeopts import ENV_DB_HELP, add_db_argument

    assert ENV_DB_HELP == ENV_DB
    parser = argparse.ArgumentParser()
    add_db_argument(parser)
    assert f"${ENV_DB}" in parser.format_help()


def test_people(store: Store) -> None:
    assert store.person("alex").name == "Alex"
    assert store.person("  ALEX ").id == store.person("Alex").id
    with pytest.raises(StoreError, match="already exists"):
        store.add_person("aLeX")
    with pytest.raises(StoreError, match="empty"):
        store.add_person("   ")
    with pytest.raises(StoreError, match="unknown person 'Bob'.*people list") as err:
        store.person("Bob")
    assert "Alex" not in str(err.value)  # nobody else's name in an error (privacy)
    store.add_person("Bea", notes="physio client")
    assert [p.person.name for p in store.people()] == ["Alex", "Bea"]


def test_file_session_round_trip(store: Store) -> None:
    res = fake_result([5.0, 12.0, 24.0, 9.0], extra_faults={4: "lumbar_led"})
    params = AnalysisParams()
    sid = store.file_session("alex", "rdl", res, "/data/s1.csv", params=params, started_utc="2024-05-01T12:00:00+02:00")
    doc = store.session(sid)
    assert doc["exercise"] == "barbell_rdl" and doc["source"] == "/data/s1.csv" and doc["kind"] == "analyze"
    assert doc["started_utc"] == "2024-05-01T10:00:00Z"
    assert doc["params"]["detector"]["faults"]["lumbar_flexion_deg"] == 20.0
    assert doc["calibration"]["stand_end_s"] == 3.5 and doc["warnings"] == ["a warning"]
    assert doc["n_reps"] == 4 and doc["n_flagged"] == 2 and doc["peak_lumbar_max_deg"] == 24.0
    assert doc["threshold_deg"] == 20.0
    [st] = doc["sets"]
    assert st["n_rounding"] == 1 and st["n_lumbar_led"] == 1 and st["n_reps"] == 4
    reps = st["reps"]
    assert [r["rep_index"] for r in reps] == [1, 2, 3, 4]
    assert reps[2]["faults"] == ["lumbar_flexion"] and reps[3]["faults"] == ["lumbar_led"]
    assert reps[1]["peak_lumbar_flexion_deg"] == 12.0 and reps[1]["hinge_share"] == pytest.approx(0.8)
    assert doc["alerts"] == [{"time_s": pytest.approx(13.3), "fault": "lumbar_flexion", "value_deg": 20.1,
                              "rep_index": 3}]
    [summary] = store.sessions("Alex")
    assert summary.flagged_rate == 0.5 and summary.exercise == "barbell_rdl"


def test_file_session_several_sets_and_missing_numbers(store: Store) -> None:
    res = fake_result([5.0, 6.0, 7.0, 30.0, 8.0])
    res.reps[1].onset_lag_s = None
    res.reps[2].hinge_share = float("nan")
    sid = store.file_session("Alex", None, res, None, sets=[res.reps[:2], res.reps[2:]])
    doc = store.session(sid)
    assert doc["exercise"] == "hinge"
    assert [s["n_reps"] for s in doc["sets"]] == [2, 3]
    assert doc["sets"][1]["n_flagged"] == 1
    assert doc["sets"][0]["reps"][1]["onset_lag_s"] is None
    assert doc["sets"][1]["reps"][0]["hinge_share"] is None  # NaN stored as NULL


def test_failure_mid_file_session_leaves_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = store.counts()

    def boom(*args, **kwargs):
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(store_sessions, "_insert_alerts", boom)  # after the session, set and reps rows
    with pytest.raises(RuntimeError):
        store.file_session("Alex", "rdl", fake_result([5.0, 25.0]), "x.csv")
    assert store.counts() == before

    calls = {"n": 0}
    real = store_sessions._insert_reps

    def interrupt_second_set(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(store_sessions, "_insert_reps", interrupt_second_set)
    res = fake_result([5.0, 6.0, 7.0])
    with pytest.raises(KeyboardInterrupt):
        store.file_session("Alex", "rdl", res, "x.csv", sets=[res.reps[:1], res.reps[1:]])
    assert store.counts() == before
    assert not store.conn.in_transaction


def test_unknown_person_or_exercise_writes_nothing(store: Store) -> None:
    before = store.counts()
    with pytest.raises(StoreError, match="unknown person 'Zed'"):
        store.file_session("Zed", "rdl", fake_result([5.0]), "x.csv")
    with pytest.raises(UsageError, match="unknown exercise 'zumba'"):
        store.file_session("Alex", "zumba", fake_result([5.0]), "x.csv")
    with pytest.raises(UsageError, match="unknown exercise"):
        store.set_threshold("Alex", "zumba", pct_lmax=50)
    with pytest.raises(StoreError, match="not an ISO 8601"):
        store.file_session("Alex", "rdl", fake_result([5.0]), "x.csv", started_utc="2024-04-36T09:00:00Z")
    assert store.counts() == before


def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    data = os.urandom(8192)
    path.write_bytes(data)
    with pytest.raises(StoreError, match="not a readable imu-hinge store") as info:
        Store(path)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == data


def test_truncated_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trunc.db"
    with Store(path) as s:
        s.add_person("Alex")
        for i in range(30):
            s.file_session("Alex", "rdl", fake_result([5.0] * 8), f"{i}.csv")
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes()
    path.write_bytes(raw[:100] + os.urandom(len(raw) - 100))  # header intact, pages garbage
    with pytest.raises(StoreError, match="not a readable imu-hinge store|malformed|corrupt"):
        with Store(path) as s:
            s.sessions("Alex")


def test_foreign_sqlite_file_and_newer_schema(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE recipes (name TEXT)")
    c.close()
    with pytest.raises(StoreError, match="not an imu-hinge store"):
        Store(other)
    newer = tmp_path / "newer.db"
    Store(newer).close()
    c = sqlite3.connect(newer)
    c.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    c.close()
    with pytest.raises(StoreError, match="newer imu-hinge"):
        Store(newer)


def test_missing_store_or_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        Store(tmp_path / "nope.db", create=False)
    with pytest.raises(StoreError, match="folder does not exist"):
        Store(tmp_path / "no" / "such" / "dir.db")
    assert not (tmp_path / "nope.db").exists()


def test_locked_store_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        with Store(path, timeout_s=0.2) as s:
            assert s.people() == []  # WAL: reading still works
            t0 = time.perf_counter()
            with pytest.raises(StoreError, match="locked by another program"):
                s.add_person("Alex")
            assert time.perf_counter() - t0 < 3.0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(path) as s:
        assert s.people() == []
        s.add_person("Alex")  # works once the lock is gone


def test_exclusively_locked_store_cannot_even_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "excl.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
    try:
        with pytest.raises(StoreError, match="locked"):
            Store(path, timeout_s=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _v1_file(path: Path) -> None:
    """A store as the first release wrote it (schema v1), with a person and a session."""
    conn = connect(path)
    assert mig.migrate(conn, path, target=1) == 1
    conn.execute("INSERT INTO people (name, created_utc) VALUES ('Old Timer', '2023-01-01T00:00:00Z')")
    conn.execute("INSERT INTO sessions (person_id, started_utc, filed_utc, kind, exercise, n_reps, n_flagged, "
                 "peak_lumbar_max_deg) VALUES (1, '2023-01-02T00:00:00Z', '2023-01-02T00:00:00Z', 'analyze', "
                 "'barbell_rdl', 6, 1, 22.5)")
    conn.close()


def test_migrates_an_old_version_file(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _v1_file(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'person_settings'").fetchone()
    raw.close()
    with Store(path) as s:
        assert s.version == LATEST_VERSION
        [old] = s.sessions("old timer")
        assert old.n_reps == 6 and old.peak_lumbar_max_deg == 22.5
        s.set_threshold("Old Timer", pct_lmax=60)  # the v2 table works
        assert s.settings("Old Timer")[0].threshold_pct_lmax == 60


def test_failed_migration_rolls_back_to_the_previous_version(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v1.db"
    _v1_file(path)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute(mig.schema.V2[0])  # the settings table...
        raise sqlite3.OperationalError("disk I/O error")  # ...then the disk fails

    monkeypatch.setattr(mig, "MIGRATIONS", (mig.MIGRATIONS[0], mig.Migration(2, "v2", half_done)))
    with pytest.raises(StoreError, match="disk I/O error"):
        Store(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'person_settings'").fetchone()
    raw.close()


def test_range_calibration_settings_and_params(store: Store) -> None:
    assert store.range_calibration("Alex") is None
    with pytest.raises(StoreError, match="Lmax"):
        store.add_range_calibration("Alex", -3.0)
    cal = store.add_range_calibration("Alex", 40.0, 12.0, "cal.csv", {"hold": [6, 10]})
    assert (cal.lmax_deg, cal.lext_deg, cal.data["hold"]) == (40.0, 12.0, [6, 10])
    store.set_threshold("Alex", pct_lmax=50)
    store.set_threshold("Alex", "rdl", deg=18)
    with pytest.raises(StoreError, match="one of them"):
        store.set_threshold("Alex", "rdl", pct_lmax=50, deg=18)
    base = AnalysisParams()
    p_all, th = store.params_for("Alex", "good_morning", base)
    assert p_all.detector.faults.lumbar_threshold_deg == pytest.approx(20.0)  # 50 % of 40
    assert th.setting is not None and th.setting.exercise == "*" and "Lmax 40.0" in th.describe()
    p_rdl, _ = store.params_for("Alex", "barbell_rdl", base)
    assert p_rdl.detector.faults.lumbar_threshold_deg == 18.0 and p_rdl.detector.faults.lmax_deg == 40.0
    p_cli, _ = store.params_for("Alex", "good_morning", base, keep={"lumbar_flexion_deg"})
    assert p_cli.detector.faults.lumbar_flexion_pct_lmax is None  # the command line's threshold wins
    assert store.clear_threshold("Alex", "rdl") and not store.clear_threshold("Alex", "rdl")
    sid = store.file_session("Alex", "rdl", fake_result([5.0]), "x.csv", params=p_all,
                             range_calibration_id=cal.id)
    assert store.session(sid)["range_calibration_id"] == cal.id
    assert store.session(sid)["threshold_deg"] == pytest.approx(20.0)


def test_sensor_calibration_reference(store: Store) -> None:
    cid = store.add_sensor_calibration("XIAO-1234", {"file": "calibration/xiao-1234.json", "format_version": 1})
    found = store.sensor_calibration("XIAO-1234")
    assert found is not None and found["id"] == cid and found["data"]["file"].endswith(".json")
    assert store.sensor_calibration("other") is None


def test_json_columns_are_valid_json(store: Store) -> None:
    res = fake_result([5.0])
    res.quality["weird"] = float("inf")
    sid = store.file_session("Alex", "rdl", res, "x.csv")
    raw = store.conn.execute("SELECT quality_json FROM sessions WHERE id = ?", (sid,)).fetchone()[0]
    assert json.loads(raw)["weird"] is None
    assert fake_rep(1).index == 1
