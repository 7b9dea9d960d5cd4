"""Audio sink: a short tone through the sound device for each cue that reports a fault.

The tone is made here (a sine burst with 5 ms ramps, numpy) and played without blocking by
``sounddevice`` (PortAudio; the ``audio`` extra, and ``libportaudio2`` on Debian, which
``scripts/setup.sh`` installs) when an output device exists. Otherwise the
sink is *silent*: it logs why once (``logging``, INFO; the reason stays in ``reason``), records
every cue it would have played with ``status: silent``, and never raises. (Qt Multimedia is
not a backend: it is not part of PySide6-Essentials, and Qt stays confined to the live window.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from imu_hinge.detection.rep_events import Event
from imu_hinge.feedback.policy import Cue

log = logging.getLogger(__name__)

TONE_RATE_HZ = 44100
CUE_TONES_HZ: dict[str, float] = {"concurrent": 880.0, "end_of_rep": 660.0, "summary": 520.0}
"""Tone pitch per cue kind: higher = more urgent."""
TONE_DURATION_S = 0.12
TONE_VOLUME = 0.3


class ToneBackend(Protocol):
    """Plays a mono float32 buffer without blocking."""

    name: str

    def play(self, samples: np.ndarray, rate_hz: int) -> None: ...


class SounddeviceBackend:
    name = "sounddevice"

    def __init__(self, sd: Any) -> None:
        self._sd = sd

    def play(self, samples: np.ndarray, rate_hz: int) -> None:
        self._sd.play(samples, rate_hz, blocking=False)


def find_backend() -> tuple[ToneBackend | None, str]:
    """The first working backend, or None with the reason there is none."""
    try:
        import sounddevice as sd  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None, "sounddevice is not installed (pip install 'imu-hinge[audio]')"
    except OSError as exc:  # the PortAudio shared library is missing
        return None, f"sounddevice cannot load PortAudio ({exc}; on Debian: apt-get install libportaudio2)"
    try:
        sd.query_devices(kind="output")
    except Exception as exc:  # PortAudioError / ValueError: no default output device
        return None, f"no output sound device (PortAudio: {exc})"
    return SounddeviceBackend(sd), "sounddevice"


def tone(freq_hz: float, duration_s: float = TONE_DURATION_S, rate_hz: int = TONE_RATE_HZ,
         volume: float = TONE_VOLUME) -> np.ndarray:
    """(N,) float32 sine burst with 5 ms linear fade-in/out (no clicks)."""
    n = max(1, int(round(duration_s * rate_hz)))
    t = np.arange(n) / rate_hz
    wave = volume * np.sin(2 * np.pi * freq_hz * t)
    ramp = min(n // 2, int(0.005 * rate_hz))
    if ramp > 0:
        env = np.ones(n)
        env[:ramp] = np.linspace(0.0, 1.0, ramp)
        env[-ramp:] = np.linspace(1.0, 0.0, ramp)
        wave *= env
    return wave.astype(np.float32)


class AudioSink:
    """Plays a tone per cue with faults (or every cue with ``tone_when_clean``).

    ``backend``: a :class:`ToneBackend`, or ``"auto"`` to look for one (:func:`find_backend`),
    or None for a deliberately silent sink. ``log`` holds one entry per cue it handled.
    """

    name = "audio"

    def __init__(self, backend: ToneBackend | str | None = "auto", *, tone_when_clean: bool = False,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if backend == "auto":
            found, why = find_backend()
        elif backend is None:
            found, why = None, "audio disabled"
        else:
            assert not isinstance(backend, str), f"unknown audio backend {backend!r}"
            found, why = backend, backend.name
        self.backend: ToneBackend | None = found
        self.reason = why
        """Backend name, or why the sink is silent."""
        self.tone_when_clean = tone_when_clean
        self._clock = clock
        self._t0 = clock()
        self._tones = {kind: tone(f) for kind, f in CUE_TONES_HZ.items()}
        self.log: list[dict[str, Any]] = []
        if found is None and backend is not None:
            log.info("audio feedback is silent: %s", why)

    @property
    def silent(self) -> bool:
        return self.backend is None

    def on_event(self, event: Event) -> None:
        """Audio follows the policy's cues only."""

    def on_cue(self, cue: Cue) -> None:
        if not cue.faults and not self.tone_when_clean:
            return
        entry: dict[str, Any] = {"time_s": round(cue.time_s, 6), "wall_s": round(self._clock() - self._t0, 6),
                                 "kind": cue.kind, "rep_index": cue.rep_index,
                                 "tone_hz": CUE_TONES_HZ.get(cue.kind, 660.0), "duration_ms": TONE_DURATION_S * 1e3}
        if self.backend is None:
            entry["status"] = f"silent: {self.reason}"
        else:
            try:
                self.backend.play(self._tones.get(cue.kind, self._tones["end_of_rep"]), TONE_RATE_HZ)
                entry["status"] = "played"
            except Exception as exc:  # a device that vanished must not stop the session
                entry["status"] = f"error: {type(exc).__name__}: {exc}"
                log.warning("audio cue failed: %s", exc)
        self.log.append(entry)

    async def aclose(self) -> None:
        """Nothing to wait for: tones are fire-and-forget."""


__all__ = ["CUE_TONES_HZ", "AudioSink", "SounddeviceBackend", "ToneBackend", "find_backend", "tone"]
