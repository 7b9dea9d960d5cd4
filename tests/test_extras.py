"""A command that needs a missing extra says in one line which one to install (the packages are hidden
from a fresh interpreter by a None entry in sys.modules, as if they were not installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imu_hinge.extras import EXTRA_OF_MODULE

from .helpers import REPO

HIDE_AND_RUN = """
import sys
for name in {hidden!r}:
    sys.modules[name] = None
from imu_hinge.cli import main
sys.exit(main({argv!r}))
"""


def _run(hidden: list[str], *argv: object) -> subprocess.CompletedProcess[str]:
    code = HIDE_AND_RUN.format(hidden=hidden, argv=[str(a) for a in argv])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # a display exists: only the missing Qt stops the window
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=env)


@pytest.mark.parametrize(("hidden", "argv", "extra"), [
    (["bleak", "bumble"], ["scan"], "ble"),
    (["bleak", "bumble"], ["train", "--emulate", "--no-gui"], "ble"),
    (["distributed", "dask"], ["analyze", "recordings/demo_rdl_session.csv", "--cluster", "local:1"], "dask"),
    (["pyarrow"], ["analyze", "recordings/demo_rdl_session.csv", "--summary", "{tmp}/r.parquet"], "parquet"),
])
def test_missing_extra_is_one_line_naming_it(hidden: list[str], argv: list[str], extra: str, tmp_path: Path) -> None:
    proc = _run(hidden, *(a.format(tmp=tmp_path) for a in argv))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"needs the '{extra}' extra" in lines[0] and f"pip install 'imu-hinge[{extra}]'" in lines[0]
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_replay_gui_without_qt_goes_on_in_the_terminal() -> None:
    proc = _run(["pyqtgraph", "PySide6", "qasync"], "replay", "recordings/demo_rdl_session.csv", "--gui",
                "--speed", "max", "--no-audio")
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if "--gui" in ln]
    assert len(warned) == 1 and "pip install 'imu-hinge[gui]'" in warned[0]


def test_every_optional_top_level_module_maps_to_a_declared_extra() -> None:
    text = (REPO / "pyproject.toml").read_text()
    for extra in set(EXTRA_OF_MODULE.values()):
        assert f"\n{extra} = [" in text
