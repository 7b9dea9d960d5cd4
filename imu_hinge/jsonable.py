"""``json.dumps(..., default=json_default)`` for documents holding numpy values (analyze --json, the API,
replay/train --json). Python floats, NaN included, are written as ``json`` writes them."""

from __future__ import annotations

from typing import Any

import numpy as np


def json_default(o: Any) -> Any:
    """numpy scalars -> Python numbers, arrays -> lists; anything else is an error (a bug, not data)."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
