"""Batch tables as pandas DataFrames and Parquet files (the ``parquet`` extra for the files).

* :func:`frames` — the rep and recording tables of ``--summary`` as DataFrames, parsed from the
  very CSV text the CSV tables hold (same rows, same values, same column order);
* :func:`write_parquet_tables` — ``--summary results.parquet``: those frames as two Parquet files;
* :class:`AnglesDataset` — ``--angles-dir DIR``: the angles of every recording as a Parquet dataset
  partitioned by recording (``DIR/recording=<path, URL-encoded>/<setting>.parquet``), written as
  each analysis arrives; ``pandas.read_parquet(DIR)`` and ``dask.dataframe.read_parquet(DIR)`` read it
  with a ``recording`` column.
"""

from __future__ import annotations

import io
import os
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imu_hinge.batch.runner import Outcome
from imu_hinge.batch.tables import RECORDING_COLUMNS, REP_COLUMNS, check_writable, csv_text, recording_rows, rep_rows
from imu_hinge.errors import UsageError
from imu_hinge.extras import require

TEXT_COLUMNS = frozenset({"recording", "setting", "status", "error", "fusion_method", "faults", "notes", "warnings"})
ANGLE_COLUMNS = ("time_s", "pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")


def _frame(header: Sequence[str], rows: Sequence[Sequence[str]]) -> pd.DataFrame:
    text = [c for c in header if c in TEXT_COLUMNS]
    df = pd.read_csv(io.StringIO(csv_text(header, rows)), dtype=dict.fromkeys(text, str), keep_default_na=False,
                     na_values={c: [""] for c in header if c not in TEXT_COLUMNS})
    return df


def frames(outcomes: Sequence[Outcome]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reps, recordings): the two ``--summary`` tables as DataFrames (empty cells: NaN, or '' in text columns)."""
    return _frame(REP_COLUMNS, rep_rows(outcomes)), _frame(RECORDING_COLUMNS, recording_rows(outcomes))


def _write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    pq = require("pyarrow.parquet", "a .parquet summary")
    pa = require("pyarrow", "a .parquet summary")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent)
    os.close(fd)
    try:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet_tables(outcomes: Sequence[Outcome], reps_path: Path, recs_path: Path) -> None:
    require("pyarrow", "a .parquet summary")
    reps, recs = frames(outcomes)
    for df, path in ((reps, reps_path), (recs, recs_path)):
        try:
            _write_parquet_atomic(df, path)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


class AnglesDataset:
    """``--angles-dir``: one Parquet file per (recording, setting) under ``recording=<name>/``."""

    def __init__(self, folder: str | Path) -> None:
        self.pq = require("pyarrow.parquet", "--angles-dir")
        self.pa = require("pyarrow", "--angles-dir")
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write the angles to {self.folder}: {exc.strerror or exc}") from None
        check_writable(self.folder / "x", "the angles to")
        self.written = 0

    def partition(self, recording: str) -> Path:
        return self.folder / f"recording={urllib.parse.quote(recording, safe='')}"

    def add(self, outcome: Outcome) -> None:
        """Write this analysis's angles (nothing for a failed one); the arrays are dropped after."""
        angles = outcome.angles
        outcome.angles = None
        if not outcome.ok or angles is None:
            return
        table = self.pa.table({"setting": self.pa.array([outcome.setting] * len(angles["time_s"]), self.pa.string()),
                               **{c: self.pa.array(np.asarray(angles[c], dtype=np.float64)) for c in ANGLE_COLUMNS}})
        part = self.partition(outcome.recording)
        part.mkdir(exist_ok=True)
        name = urllib.parse.quote(outcome.setting, safe="") + ".parquet"
        tmp = part / f".{name}.tmp"
        try:
            self.pq.write_table(table, tmp)
            os.replace(tmp, part / name)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UsageError(f"cannot write the angles to {part}: {exc.strerror or exc}") from None
        self.written += 1


def read_angles(folder: str | Path) -> Any:
    """The angles dataset as one pandas DataFrame (``recording`` decoded back to the path)."""
    return pd.read_parquet(folder)


__all__ = ["ANGLE_COLUMNS", "AnglesDataset", "check_writable", "frames", "read_angles", "write_parquet_tables"]
