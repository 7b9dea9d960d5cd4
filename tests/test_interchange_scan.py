"""The interchange CSV's C scanner reads exactly what pandas reads, and `analyze` of a CSV never imports pandas.

Truth is pandas itself (the reader's other path, ``read_csv``): each file is read twice, once as the reader
does (the scanner first) and once with the scanner switched off; arrays, warnings and errors must agree to
the bit. Awkward files the scanner takes (comments, CRLF, blank lines, extra columns, another column order,
equal timestamps, exponents, 17-digit numbers, no final newline, rows split across its read blocks) and
files it leaves to pandas (missing values, quotes, spaces, a '#' inside a line, unknown sensors, ...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu_hinge.errors import ImuHingeError
from imu_hinge.recording import interchange, read_interchange_csv

from .helpers import standing_rows

HEADER = "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"
ROWS = standing_rows(1.0, rate_hz=20.0)  # 40 rows, 20 per sensor


def _outcome(path: Path, threads: int | None = None) -> tuple[str, object]:
    try:
        rec = read_interchange_csv(path, threads=threads)
    except ImuHingeError as exc:
        return "error", str(exc)
    arrays = {r: [a.tobytes() for a in (s.time_s, s.acc_m_s2, s.gyr_rad_s)] + [s.acc_m_s2.shape]
              for r, s in rec.streams.items()}
    return "ok", (arrays, rec.warnings, rec.metadata)


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[str, object], tuple[str, object], bool]:
    """(the reader's outcome, pandas' outcome, whether the scanner took the file). The scanner reads it both ways
    (each role's lines on a thread of its own, or both on one): the same outcome, the same decision to take it."""
    took = interchange._scanned(path) is not None
    assert (interchange._scanned(path, threads=2) is not None) == took
    mine = _outcome(path, threads=2)
    assert _outcome(path, threads=1) == mine
    with monkeypatch.context() as m:
        m.setattr(interchange, "_scanned", lambda _path, _threads=1: None)
        theirs = _outcome(path)
    return mine, theirs, took


def _shuffled(rows: list[str], order: list[int], extra: dict[int, str]) -> list[str]:
    out = []
    for row in rows:
        cells = row.split(",")
        cells = [cells[i] for i in order]
        for at, value in sorted(extra.items()):
            cells.insert(at, value)
        out.append(",".join(cells))
    return out


TAKEN = {  # name -> file text: all read by the scanner
    "plain": "\n".join([HEADER, *ROWS]) + "\n",
    "comments": "\n".join(["# a comment", "#another", HEADER, *ROWS[:10], "# mid-file", *ROWS[10:], "# end"]) + "\n",
    "crlf": "\r\n".join([HEADER, *ROWS]) + "\r\n",
    "blank lines": "\n".join(["", HEADER, "", *ROWS[:7], "", "\r", *ROWS[7:], ""]) + "\n",
    "no final newline": "\n".join([HEADER, *ROWS]),
    "crlf, no final newline": "\r\n".join([HEADER, *ROWS]),
    "column order and extra columns": "\n".join(
        _shuffled([HEADER], [7, 2, 1, 0, 5, 6, 3, 4], {0: "note", 4: "comment", 10: ""})
        + _shuffled(ROWS, [7, 2, 1, 0, 5, 6, 3, 4], {0: "a", 4: "x y z!", 10: ""})) + "\n",
    "equal timestamps": "\n".join([HEADER, *[r.replace(r.split(",")[0], f"{i // 2 * 0.05:.6f}", 1)
                                            for i, r in enumerate(ROWS)]]) + "\n",
    "upper-case names": "\n".join([HEADER, *[r.replace("sacrum", "SACRUM").replace("thoracic", "Thoracic")
                                            for r in ROWS]]) + "\n",
    "exponents and long digits": "\n".join([HEADER, *[
        ",".join([c if j < 2 else (f"{float(c):.3e}" if j % 3 == 0 else f"{float(c):E}" if j % 3 == 1
                                   else repr(float(c) + 1e-13 * j)) for j, c in enumerate(r.split(","))])
        for r in ROWS]]) + "\n",
    "negative zero and integers": "\n".join([HEADER, *[
        ",".join(r.split(",")[:5] + ["-0.000000", "-0", "0"]) if i % 3
        else ",".join(r.split(",")[:2] + ["10", "0", "-0", "0", "0", "0"]) for i, r in enumerate(ROWS)]]) + "\n",
    "too few samples": "\n".join([HEADER, *ROWS[:8]]) + "\n",  # an error, after the scan
}

LEFT = {  # name -> file text: the scanner leaves these to pandas
    "missing value": "\n".join([HEADER, *ROWS[:5], ROWS[5].rsplit(",", 1)[0] + ",", *ROWS[6:]]) + "\n",
    "truncated last line": "\n".join([HEADER, *ROWS, ROWS[0][:12]]) + "\n",
    "nan": "\n".join([HEADER, *ROWS[:5], ROWS[5].rsplit(",", 1)[0] + ",nan", *ROWS[6:]]) + "\n",
    "overflow": "\n".join([HEADER, *ROWS[:5], ROWS[5].rsplit(",", 1)[0] + ",1e999", *ROWS[6:]]) + "\n",
    "quoted": "\n".join([HEADER, *ROWS[:5], ROWS[5].replace("sacrum", '"sacrum"').replace("thoracic", '"thoracic"'),
                         *ROWS[6:]]) + "\n",
    "spaces": "\n".join([HEADER.replace(",", ", "), *[r.replace(",", ", ") for r in ROWS]]) + "\n",
    "comment inside a line": "\n".join([HEADER, *ROWS[:5], ROWS[5] + " # note", *ROWS[6:]]) + "\n",
    "unknown sensor": "\n".join([HEADER, *ROWS, ROWS[0].replace("sacrum", "wrist")]) + "\n",
    "extra field": "\n".join([HEADER, *ROWS[:5], ROWS[5] + ",1", *ROWS[6:]]) + "\n",
    "leading dot and plus": "\n".join([HEADER, *[r.replace(",0.", ",.").replace(",-0.", ",+0.") for r in ROWS]]) + "\n",
    "lone CR": "\r".join([HEADER, *ROWS]) + "\r",
    "byte order mark": "\ufeff" + "\n".join([HEADER, *ROWS]) + "\n",
    "missing column": "\n".join([HEADER.replace("gyr_z", "gyr_q"), *ROWS]) + "\n",
    "duplicate column": "\n".join([HEADER + ",time_s", *[r + ",9" for r in ROWS]]) + "\n",
    "header only": HEADER + "\n",
}


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_files_the_scanner_takes_read_as_pandas_reads_them(name: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(TAKEN[name].encode())
    mine, theirs, took = _both(path, monkeypatch)
    assert took
    assert mine == theirs and (mine[0] == "ok") == (name != "too few samples")


@pytest.mark.parametrize("name", sorted(LEFT))
def test_files_the_scanner_leaves_to_pandas_keep_their_meaning_and_errors(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(LEFT[name].encode())
    mine, theirs, took = _both(path, monkeypatch)
    assert not took
    assert mine == theirs


@pytest.mark.parametrize("block", [7, 64, 333])
def test_rows_split_across_read_blocks(block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every way a line can be cut: inside a number, at a comma, after a sensor name, between CR and LF, inside a
    # comment; the first read takes 64 KiB (the header), so the file is longer than that and the cuts come after
    rows = standing_rows(12.0, rate_hz=100.0)  # 2400 rows, ~110 KB
    comment = "# a comment line longer than a block " * 3
    text = "\r\n".join(["# c", HEADER, *rows[:9], comment, *rows[9:1500], comment, *rows[1500:]]) + "\r\n"
    assert len(text) > 1 << 16
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode())
    whole = _outcome(path)
    monkeypatch.setattr(interchange, "SCAN_BLOCK_BYTES", block)
    mine, theirs, took = _both(path, monkeypatch)
    assert took and mine == theirs == whole


def test_arrays_grow_when_the_first_row_underestimates_the_rows(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the arrays are sized from the first row's length: a long first row makes them far too small
    rows = standing_rows(30.0, rate_hz=50.0)  # 3000 rows
    text = "\n".join([HEADER + ",note", rows[0] + "," + "x" * 5000, *[r + "," for r in rows[1:]]]) + "\n"
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode())
    mine, theirs, took = _both(path, monkeypatch)
    assert took and mine == theirs


number = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
                   st.floats(-1e-3, 1e-3, allow_nan=False, allow_infinity=False))
fmt = st.sampled_from(["{!r}", "{:.6f}", "{:.3e}", "{:.17g}", "{:E}", "{:.0f}", "{:.20f}"])


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.lists(st.tuples(number, fmt), min_size=7, max_size=7), st.integers(0, 2 ** 32 - 1))
def test_numbers_in_any_plain_notation_parse_to_the_same_double(cells: list[tuple[float, str]], seed: int) -> None:
    import tempfile

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(24):
        values = [fmt_.format(v * rng.uniform(0.5, 2.0)) for v, fmt_ in cells[1:]]
        rows.append(",".join([f"{i * 0.01:.6f}", "sacrum" if i % 2 else "thoracic", *values]))
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        path = Path(d) / "x.csv"
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        mine, theirs, took = _both(path, mp)
    assert took and mine == theirs


def test_analyze_of_an_interchange_csv_does_not_import_pandas(tmp_path: Path) -> None:
    # pandas (with pyarrow) was a third of a short analysis' time (0.3 s of imports); scipy.optimize (the
    # clock fit of jittered stamps only) another 0.3 s
    from imu_hinge.recording import recording_to_interchange_csv
    from imu_hinge.simulation import SimConfig, simulate

    path = tmp_path / "x.csv"
    recording_to_interchange_csv(simulate(SimConfig(seed=3, n_reps=3, duration_s=25.0)).recording, path)
    code = ("import sys; from imu_hinge.cli import main; rc = main(['analyze', sys.argv[1], '--quiet']); "
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'pyarrow')"
            " or m == 'scipy.optimize'))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "[]"], out.stderr


odd = st.sampled_from(["", "nan", "1e", "-", ".5", "5.", "+1", " 1", "1 ", '"1"', "#", "1e999", "0x1p3", "1,5",
                       "inf", "1e+0", "-0", "007", "1.5E-3", "\t2", "\0", "2\r"])


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(0, 7), odd), max_size=3),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_plain_files_with_odd_cells_read_as_pandas_reads_them(edits: list[tuple[int, int, str]], eol: str,
                                                               final_newline: bool) -> None:
    # a few cells of a plain file replaced by odd tokens: each file is either taken by the scanner or left to
    # pandas, and reads the same either way (arrays, warnings, or the one-line error)
    import tempfile

    rows = [r.split(",") for r in ROWS]
    for row, col, token in edits:
        rows[row][col] = token
    text = eol.join([HEADER, *(",".join(r) for r in rows)]) + (eol if final_newline else "")
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        path = Path(d) / "x.csv"
        path.write_bytes(text.encode())
        mine, theirs, _ = _both(path, mp)
    assert mine == theirs


def test_a_sensor_with_most_of_the_rows_grows_its_arrays_alone(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the arrays are sized for two sensors alike: a sacrum at 200 Hz beside a thoracic at 20 Hz outgrows them
    sacrum = [r for r in standing_rows(40.0, rate_hz=200.0) if ",sacrum," in r]  # 8000 rows
    thoracic = [r for r in standing_rows(40.0, rate_hz=20.0, seed=1) if ",thoracic," in r]  # 800 rows
    path = tmp_path / "x.csv"
    path.write_text("\n".join([HEADER, *sorted(sacrum + thoracic, key=lambda r: float(r.split(",")[0]))]) + "\n")
    grown: list[int] = []
    real = interchange._grown
    monkeypatch.setattr(interchange, "_grown", lambda a, n: grown.append(n) or real(a, n))
    mine, theirs, took = _both(path, monkeypatch)
    assert took and mine == theirs
    assert grown and all(n > 800 for n in grown)  # only the sacrum's arrays grew (one role per thread or both)
