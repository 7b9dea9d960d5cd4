"""A small text progress bar for long batch jobs (no dependency).

Writes ``label [#####.....] 45/200  22%  3.1 s elapsed, ~11 s left`` on one line of a text
stream (stderr by default), redrawn in place with ``\\r`` at most ``max_hz`` times a second,
and ends the line on :meth:`Progress.close`. A disabled bar writes nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def progress_wanted(option: bool | None, stream: TextIO | None = None) -> bool:
    """``--progress`` / ``--no-progress`` decide; without either, show it only on a terminal."""
    if option is not None:
        return option
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Count ``total`` steps; ``update()`` after each, ``close()`` at the end (or use as a context manager)."""

    def __init__(self, total: int, label: str = "", *, enabled: bool = True, stream: TextIO | None = None,
                 width: int = 30, max_hz: float = 10.0) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self._min_interval_s = 1.0 / max_hz
        self._t0_s = time.monotonic()
        self._last_draw_s = -1e9

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def line(self) -> str:
        """The bar as text (without the leading carriage return)."""
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        elapsed_s = time.monotonic() - self._t0_s
        text = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {frac:4.0%}"
        text += f"  {elapsed_s:.1f} s elapsed"
        if 0 < self.done < self.total:
            text += f", ~{elapsed_s / self.done * (self.total - self.done):.0f} s left"
        return text.lstrip()

    def update(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        if not self.enabled:
            return
        now_s = time.monotonic()
        if self.done >= self.total or now_s - self._last_draw_s >= self._min_interval_s:
            self._draw()
            self._last_draw_s = now_s

    def _draw(self) -> None:
        self.stream.write("\r" + self.line())
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (once)."""
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False
