"""Optional parts of imu-hinge and the extra that installs each.

``pip install imu-hinge`` is the analysis core (analyze, simulate, import, report, the store, the
Python API). The sensors, the live window, sound, Dask and Parquet are extras::

    ble      bleak, bumble            scan, sensors, record, train (real or emulated sensors)
    gui      PySide6, pyqtgraph, qasync   the live window (--gui)
    audio    sounddevice (PortAudio)  audio cues in replay and train
    dask     dask, distributed        analyze --cluster, analyze_batch(..., cluster=...)
    parquet  pyarrow                  --summary OUT.parquet, --angles-dir

A command that needs a missing one stops with one line naming the extra (:class:`MissingExtra`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from imu_hinge.errors import UsageError

EXTRA_OF_MODULE: dict[str, str] = {
    "bleak": "ble", "bumble": "ble",
    "PySide6": "gui", "shiboken6": "gui", "pyqtgraph": "gui", "qasync": "gui",
    "sounddevice": "audio",
    "dask": "dask", "distributed": "dask",
    "pyarrow": "parquet",
}


class MissingExtra(UsageError):
    """A feature needs an optional package that is not installed (exit 2)."""

    data: tuple[str, ...] = ("path", "extra", "module")

    def __init__(self, extra: str, module: str, what: str = "this") -> None:
        super().__init__(f"{what} needs the '{extra}' extra ({module} is not installed): "
                         f"pip install 'imu-hinge[{extra}]'")
        self.extra = extra
        self.module = module


def extra_for(exc: BaseException) -> MissingExtra | None:
    """The :class:`MissingExtra` an ImportError stands for, or None when it is not an optional package."""
    name = getattr(exc, "name", None) or ""
    top = name.split(".", 1)[0]
    extra = EXTRA_OF_MODULE.get(top)
    return MissingExtra(extra, top) if extra and isinstance(exc, ModuleNotFoundError) else None


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = extra_for(exc)
        if missing is None:
            raise
        raise MissingExtra(missing.extra, missing.module, what) from None


__all__ = ["EXTRA_OF_MODULE", "MissingExtra", "extra_for", "require"]
