"""Numbers for output: the one JSON writer of imu-hinge (strict JSON, RFC 8259, everywhere; conventions in
``docs/json.md``), and the text form of a missing number (:func:`format_number`).

Every JSON the package writes (``analyze/replay/train --json``, :meth:`imu_hinge.api.Analysis.to_json`,
the ``--json`` listings of the store commands, session-file metadata and event lines, the store's JSON
columns, sensor calibration files, the batch spool, conformance results, simulator truth) goes through
:func:`dumps`:

- an undefined number (NaN, +-inf) is written as ``null``: :func:`jsonable` turns it into None;
- numpy scalars become Python numbers, arrays and tuples become lists, mapping keys become strings;
- ``allow_nan=False`` stays on underneath, so a non-finite number that slips past :func:`jsonable`
  (a bug) raises instead of writing ``NaN``, which strict parsers reject.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from typing import Any

import numpy as np


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite (also for non-numbers and bools)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return None


def finite_values(values: Iterable[Any]) -> list[float]:
    """The finite numbers among ``values``, as floats (missing, NaN, infinite and non-numbers left out)."""
    return [x for x in map(finite_or_none, values) if x is not None]


def format_number(value: Any, spec: str = ".1f", missing: str = "-") -> str:
    """``value`` formatted with ``spec`` for text (tables, the terminal, reports), or ``missing`` (right-aligned
    to the spec's width) when it is None, NaN, infinite or no number: the text form of JSON's ``null``.

    ``spec`` is a :func:`format` spec; one ending in ``d`` rounds to a whole number. Never ``-0.0``: a value
    that rounds to zero is written unsigned.
    """
    x = finite_or_none(value)
    width = spec.split(".")[0].rstrip("dfeg%")
    if x is None:
        return missing.rjust(int(width) if width.isdigit() else 0)
    number: float | int = int(round(x)) if spec.endswith("d") else x
    text = format(number, spec)
    if "-" in text and not text.strip(" -0."):
        text = format(type(number)(0), spec)
    return text


def jsonable(value: Any, *, ndigits: int | None = None, fallback: Callable[[Any], Any] | None = None) -> Any:
    """A copy of ``value`` that :func:`json.dumps` writes as strict JSON.

    Non-finite floats -> None; numpy scalars -> Python numbers; arrays, tuples, sets -> lists; mapping keys
    -> ``str``; path-like -> ``str``. ``ndigits`` rounds every float. Anything else goes to ``fallback``
    (default: a :class:`TypeError` -- an unexpected object in a document is a bug, not data).
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            return None
        return round(f, ndigits) if ndigits is not None else f
    if isinstance(value, np.generic):  # numpy ints and bools
        return jsonable(value.item(), ndigits=ndigits, fallback=fallback)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, ndigits=ndigits, fallback=fallback) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v, ndigits=ndigits, fallback=fallback) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v, ndigits=ndigits, fallback=fallback) for v in sorted(value, key=str)]
    if isinstance(value, PathLike):
        return str(value)
    if fallback is not None:
        return jsonable(fallback(value), ndigits=ndigits)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any, *, indent: int | None = None, compact: bool = False,
          fallback: Callable[[Any], Any] | None = None) -> str:
    """``value`` as strict JSON text (see the module docstring); ``compact``: no spaces (one-line records)."""
    return json.dumps(jsonable(value, fallback=fallback), indent=indent, allow_nan=False,
                      separators=(",", ":") if compact else None)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def loads_strict(text: str | bytes) -> Any:
    """Parse ``text`` refusing ``NaN``, ``Infinity`` and ``-Infinity`` (which :func:`json.loads` accepts)."""
    return json.loads(text, parse_constant=_refuse_constant)


__all__ = ["dumps", "finite_or_none", "finite_values", "format_number", "jsonable", "loads_strict"]
