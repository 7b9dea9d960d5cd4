"""Terminal sink: one line per rep verdict, alert and cue as they happen; a set summary at the end.

Three lumbar numbers can describe one rounded rep, each labelled: the alert's L (when the
threshold was crossed, ``L +22.3 deg as it crossed``), the cue's L (when the buzz was sent, after
the hold), and the rep's peak L (``peak ... L 34``). Faults are told in words (``rounded``,
``arched at lockout``, ``back moved first``)."""

from __future__ import annotations

import math
import sys
from collections import Counter
from typing import Any, TextIO

from imu_hinge.analysis.pipeline import AnalysisResult
from imu_hinge.detection.detector_params import FaultParams
from imu_hinge.detection.rep_events import CalibrationDone, Event, FaultRaised, Notice, RepCompleted
from imu_hinge.detection.role_check import SWAP_WARNING, roles_look_swapped
from imu_hinge.feedback.policy import _FAULT_WORDS, Cue, rep_verdict
from imu_hinge.jsonable import format_number

ALERT_WORDS = {"lumbar_flexion": "ROUNDING: lumbar flexion passed the threshold",
               "lockout_hyperextension": "ARCHED: lumbar extension past the lockout limit",
               "lumbar_led": "BACK FIRST: the lower back bent before the hips"}


def fault_words(fault: str) -> str:
    """A fault in words (``lumbar_flexion`` -> ``rounded``)."""
    return _FAULT_WORDS.get(fault, fault.replace("_", " "))


def _deg(v: float) -> str:
    return format_number(v, "3.0f")


def threshold_line(faults: FaultParams) -> str:
    """Which lumbar threshold this set uses, and where it comes from."""
    thr = faults.lumbar_threshold_deg
    pct, lmax = faults.lumbar_flexion_pct_lmax, faults.lmax_deg
    how = f"{pct:g} % of this person's Lmax {lmax:.1f} deg" if pct is not None and lmax else "in degrees"
    return (f"lumbar threshold: {thr:.1f} deg ({how}); lockout extension limit: "
            f"-{faults.lockout_extension_deg:.1f} deg")


class TerminalSink:
    """Prints live lines to ``out`` (stdout by default); ``show_cues`` adds the feedback issued."""

    name = "terminal"

    def __init__(self, out: TextIO | None = None, show_cues: bool = True) -> None:
        self.out = out or sys.stdout
        self.show_cues = show_cues

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def on_event(self, event: Event) -> None:
        if isinstance(event, RepCompleted):
            r = event.rep
            extra = "" if r.complete else "  (incomplete: sensor gap)"
            self._print(f"rep {r.index:>2}  {r.start_s:7.2f}-{r.end_s:7.2f} s  peak P {_deg(r.peak_pelvic_tilt_deg)}  "
                        f"T {_deg(r.peak_trunk_flexion_deg)}  L {_deg(r.peak_lumbar_flexion_deg)} deg  "
                        f"hinge share {r.hinge_share:4.2f}  {rep_verdict(r)}{extra}")
        elif isinstance(event, FaultRaised):
            self._print(f"  ! {event.time_s:7.2f} s  rep {event.rep_index:>2}  "
                        f"{ALERT_WORDS.get(event.fault, fault_words(event.fault))}: L {event.value_deg:+.1f} deg "
                        "as it crossed")
        elif isinstance(event, CalibrationDone):
            self._print(f"calibrated at {event.time_s:.2f} s (standing {event.stand_start_s:.2f}-"
                        f"{event.stand_end_s:.2f} s)")
        elif isinstance(event, Notice):
            self._print(f"note: {event.message}")

    def on_cue(self, cue: Cue) -> None:
        if self.show_cues:
            when = " (L when the cue was given)" if cue.value_deg is not None and "deg" in cue.message else ""
            self._print(f"  > {cue.time_s:7.2f} s  feedback ({cue.kind.replace('_', ' ')}): {cue.message}{when}")

    async def aclose(self) -> None:
        """Nothing buffered."""


def summary_lines(result: AnalysisResult, feedback: dict[str, Any]) -> list[str]:
    """The set summary: reps, flagged, alerts, feedback issued, role check."""
    reps = result.reps
    counts = Counter(f for r in reps for f in r.faults)
    flagged = sum(1 for r in reps if r.faults)
    lines = [f"set: {len(reps)} reps, {flagged} flagged"
             + (f" ({', '.join(f'{n} {fault_words(f)}' for f, n in counts.items())})" if counts else "")
             + f"; {len(result.alerts)} alert(s), "
             f"{sum(1 for a in result.alerts if a.fault == 'lumbar_flexion')} for rounding"]
    peaks = [r.peak_lumbar_flexion_deg for r in reps if math.isfinite(r.peak_lumbar_flexion_deg)]
    if peaks:
        lines.append(f"peak lumbar flexion: mean {sum(peaks) / len(peaks):.1f} deg, range {min(peaks):.1f}-"
                     f"{max(peaks):.1f} deg")
    parts = [f"{len(feedback.get('cues', []))} cue(s)"]
    haptic = feedback.get("haptic")
    if haptic is not None:
        status = Counter(str(h.get("status", "")).split(":")[0] for h in haptic)
        parts.append(f"{len(haptic)} haptic command(s)" + (f" ({', '.join(f'{n} {s}' for s, n in status.items())})"
                                                            if status else ""))
    audio = feedback.get("audio")
    if audio is not None:
        parts.append(f"{len(audio)} audio cue(s) ({feedback.get('audio_backend', '')})")
    lines.append("feedback: " + ", ".join(parts))
    if roles_look_swapped(result):
        lines.append(f"warning: {SWAP_WARNING}")
    return lines


__all__ = ["ALERT_WORDS", "TerminalSink", "fault_words", "summary_lines", "threshold_line"]
