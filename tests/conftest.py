"""Fixtures shared across test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from imu_hinge.recording import recording_to_interchange_csv
from imu_hinge.samples import Recording
from imu_hinge.simulation import SimConfig, SimResult, simulate


@pytest.fixture(scope="session")
def rounding_session() -> SimResult:
    """Six RDL reps, half of them rounded, a third arched at lockout (about 40 s), with ground truth.
    Shared: tests must not modify it."""
    return simulate(SimConfig(seed=11, exercise="rdl", n_reps=6, rounding_frac=0.5, lockout_arch_frac=0.34))


@pytest.fixture(scope="session")
def rounding_rec(rounding_session: SimResult) -> Recording:
    return rounding_session.recording


@pytest.fixture(scope="session")
def rounding_csv(rounding_rec: Recording, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same session as an interchange CSV."""
    path = tmp_path_factory.mktemp("rounding") / "rounding.csv"
    recording_to_interchange_csv(rounding_rec, path)
    return path


@pytest.fixture
def store(tmp_path: Path):
    """A fresh SQLite store file with one person, Alex (modules may define their own ``store``)."""
    from imu_hinge.store import Store

    with Store(tmp_path / "store.db") as s:
        s.add_person("Alex")
        yield s
