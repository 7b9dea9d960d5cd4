"""Which files a batch analysis takes: folders (recursive ``*.csv``), glob patterns and plain paths."""

from __future__ import annotations

import glob
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imu_hinge.errors import UsageError

GLOB_CHARS = frozenset("*?[")
SIDECAR_SUFFIXES = (".truth_angles.csv",)
"""CSV files that sit beside simulated recordings in a folder and are not recordings."""

# -- inputs ----------------------------------------------------------------------------------
def is_batch_input(inputs: Sequence[str]) -> bool:
    """True for several inputs, a folder or a glob pattern; False for one plain file path."""
    if len(inputs) != 1:
        return True
    one = inputs[0]
    return Path(one).is_dir() or (any(c in GLOB_CHARS for c in one) and not Path(one).exists())


def _looks_like_recording(path: Path) -> bool:
    """A ``.csv`` in a folder counts as a recording when its header names ``time_s`` and ``sensor``."""
    if path.name.lower().endswith(SIDECAR_SUFFIXES):
        return False
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in itertools.islice(fh, 50):
                if line.strip() and not line.startswith("#"):
                    cols = {c.strip() for c in line.split(",")}
                    return {"time_s", "sensor"} <= cols
    except OSError:
        return True  # let the analysis report why it cannot be read
    return True


@dataclass
class Inputs:
    files: list[Path]
    """Recordings to analyse, in the order given (folders and globs expanded sorted), without duplicates."""
    skipped: list[Path] = field(default_factory=list)
    """CSV files in the folders given whose header is not a recording's (reported, not analysed)."""


def expand_inputs(inputs: Sequence[str]) -> Inputs:
    """Folders (searched recursively for ``*.csv``), glob patterns and plain paths -> files.

    A plain path that does not exist is kept (its analysis fails with a clear reason); a folder
    or pattern that matches nothing raises :class:`UsageError`.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
            kept = {p: _looks_like_recording(p) for p in found}  # one pass: a `not in keep` list was O(n^2)
            keep = [p for p, ok in kept.items() if ok]
            skipped.extend(p for p, ok in kept.items() if not ok)
            if not keep:
                raise UsageError(f"{item}: no recordings (*.csv with a time_s,sensor,... header) in this folder")
            files.extend(keep)
        elif any(c in GLOB_CHARS for c in item) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise UsageError(f"{item}: the pattern matches no files")
            files.extend(matches)
        else:
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return Inputs(unique, skipped)


__all__ = ["GLOB_CHARS", "Inputs", "expand_inputs", "is_batch_input"]
