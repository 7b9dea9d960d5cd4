"""Options shared by the commands that run the live path (``train``, ``replay``):
analysis parameters and the feedback policy. :func:`imu_hinge.commands.replay.policy_from_args`
and :func:`imu_hinge.commands.analyze.build_params` read what these add."""

from __future__ import annotations

import argparse
import sys

from imu_hinge.feedback.audio import AudioSink
from imu_hinge.feedback.policy import MODES, SCHEDULES
from imu_hinge.fusion import METHODS


def audio_sink() -> AudioSink:
    """The cue player of a session; a one-line note on stderr when it stays silent (no output device)."""
    audio = AudioSink("auto")
    if audio.silent:
        print(f"imu-hinge: note: audio cues are silent: {audio.reason}", file=sys.stderr)
    return audio


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """``--exercise``, ``--config``, ``--filter`` (causal filters only), thresholds."""
    p.add_argument("--exercise", metavar="NAME", help="exercise name (sets its default thresholds)")
    p.add_argument("--config", metavar="FILE", help="TOML or JSON file with analysis parameters")
    causal = [m for m in METHODS if m != "vqf_offline"]
    p.add_argument("--filter", metavar="NAME", choices=causal, help=f"orientation filter ({', '.join(causal)})")
    p.add_argument("--threshold-deg", type=float, metavar="DEG", help="lumbar flexion alert threshold (default 20)")
    p.add_argument("--lmax-deg", type=float, metavar="DEG", help="the person's calibrated maximum lumbar flexion")
    p.add_argument("--threshold-pct", type=float, metavar="PCT", help="threshold as %% of --lmax-deg")
    p.set_defaults(offline=False)


def add_feedback_options(p: argparse.ArgumentParser) -> None:
    """The feedback policy group (mode, schedule, bandwidth, hold, hysteresis)."""
    fb = p.add_argument_group("feedback policy")
    fb.add_argument("--feedback-mode", choices=MODES, default="concurrent",
                    help="concurrent: rounding cue during the rep; end_of_rep: all cues when the rep completes")
    fb.add_argument("--schedule", choices=SCHEDULES, default="every",
                    help="every rep, faded (every --fade-every reps), or summary every --summary-every reps")
    fb.add_argument("--fade-every", type=int, default=2, metavar="N")
    fb.add_argument("--summary-every", type=int, default=5, metavar="N")
    fb.add_argument("--bandwidth-deg", type=float, default=0.0, metavar="DEG",
                    help="cue only errors beyond the threshold by more than this")
    fb.add_argument("--hold-ms", type=float, default=150.0, metavar="MS",
                    help="lumbar flexion must stay beyond the level this long before a cue (default 150)")
    fb.add_argument("--hysteresis-deg", type=float, default=3.0, metavar="DEG")


__all__ = ["add_analysis_options", "add_feedback_options"]
