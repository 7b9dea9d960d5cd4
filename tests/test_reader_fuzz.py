"""The interchange CSV reader under fuzzed input: only imu-hinge's own errors ever escape.

CI runs a fixed, derandomised budget; a longer run: ``IMU_HINGE_FUZZ_EXAMPLES=20000 pytest tests/test_reader_fuzz.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu_hinge.errors import ImuHingeError
from imu_hinge.recording import read_interchange_csv

from .helpers import standing_rows

EXAMPLES = int(os.environ.get("IMU_HINGE_FUZZ_EXAMPLES", "150"))
HEADER = "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"
VALID = [HEADER, *standing_rows(1.0, rate_hz=20.0)]
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _read(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "fuzz.csv"
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            rec = read_interchange_csv(p)
        except ImuHingeError as exc:
            assert "\n" not in str(exc)
            return
        for s in rec.streams.values():  # what is returned is usable
            assert len(s) >= 10 and (s.time_s[1:] > s.time_s[:-1]).all()


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _read(data)


cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6),
                 st.sampled_from(["sacrum", "thoracic", "", "nan", "1e309", "-", "#x", '"']))


@FUZZ
@given(st.lists(st.lists(cell, min_size=0, max_size=10).map(",".join), max_size=40), st.booleans())
def test_random_rows_under_a_valid_header(rows: list[str], keep_valid: bool) -> None:
    _read("\n".join([*(VALID if keep_valid else [HEADER]), *rows]))


@FUZZ
@given(st.integers(0, len("\n".join(VALID))), st.binary(min_size=1, max_size=8), st.booleans())
def test_corrupted_valid_file(pos: int, junk: bytes, truncate: bool) -> None:
    raw = "\n".join(VALID).encode()
    _read(raw[:pos] if truncate else raw[:pos] + junk + raw[pos:])
