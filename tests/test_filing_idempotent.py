"""Filing is idempotent: the same recording filed again for the same person is the same session (updated, same id);
`sessions delete` takes a filing back. Through the real CLI on a real SQLite store."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from imu_hinge.cli import main
from imu_hinge.store import Store

from .helpers import run_cli


def _history(db: Path, person: str) -> list[dict[str, object]]:
    proc = run_cli("history", person, "--json", "--db", db)
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout)["sessions"])


def test_filing_one_recording_three_times_files_one_session(rounding_csv: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.db"
    assert run_cli("people", "add", "Pat", "--db", db).returncode == 0
    said = []
    for _ in range(3):
        assert main(["analyze", str(rounding_csv), "--person", "Pat", "--db", str(db), "--quiet"]) == 0
        said.append(capsys.readouterr().err)
    assert "filed session #1" in said[0] and "filed before" not in said[0]
    assert "filed session #1" in said[2] and "filed before" in said[2]
    sessions = _history(db, "Pat")
    assert [s["id"] for s in sessions] == [1]
    with Store(db, create=False) as st:  # nothing left over from the replaced filings
        counts = st.counts()
        assert counts["sessions"] == 1 and counts["sets"] == 1 and counts["reps"] == sessions[0]["reps"] == 6
    # a different file (a copy with one byte changed in a comment) is a different session
    other = tmp_path / "other.csv"
    shutil.copy(rounding_csv, other)
    with open(other, "a", encoding="utf-8") as f:
        f.write("# another take\n")
    assert main(["analyze", str(other), "--person", "Pat", "--db", str(db), "--quiet"]) == 0
    assert [s["id"] for s in _history(db, "Pat")] == [1, 2]
    # the undo
    proc = run_cli("sessions", "delete", "#2", "--db", db)
    assert proc.returncode == 0 and "deleted session #2" in proc.stdout, proc.stderr
    assert [s["id"] for s in _history(db, "Pat")] == [1]
    proc = run_cli("sessions", "delete", "2", "--db", db)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "no session #2" in proc.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM reps WHERE session_id = 2").fetchone()[0] == 0
