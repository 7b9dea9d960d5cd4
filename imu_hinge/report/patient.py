"""The report's first page, for the patient: plain words, no codes, no numbers beyond counts.

What went well, what to work on, the cue to remember, the next step (``advise``'s rule, for a
session filed in the store) and the physio's own notes (``report --notes``). The clinician's
detail follows on the next printed page.
"""

from __future__ import annotations

from html import escape
from typing import Any

from imu_hinge.report.data import ReportData

WORK_ON = {
    "lumbar_flexion": "Your lower back rounded near the bottom of {n}. Stop the bend a little higher, where your "
                      "back stays flat.",
    "lumbar_led": "In {n} your lower back started bending before your hips. Begin each rep by pushing your hips "
                  "back.",
    "lockout_hyperextension": "In {n} you leaned back at the top. Finish standing tall: squeeze your glutes, ribs "
                              "down.",
}
FAULT_CUE = {"lumbar_flexion": "Long flat back: hips back, chest proud, stop before the back rounds.",
             "lumbar_led": "Hips back first, then let the chest follow.",
             "lockout_hyperextension": "Stand tall at the top: glutes tight, ribs down, no lean back."}
ACTION_TEXT = {"advance": "Move on to {targets}.", "regress": "Go back a step to {targets} for now.",
               "stay": "Stay with this exercise for now."}


def _reps(n: int) -> str:
    return f"{n} rep" + ("" if n == 1 else "s")


def _label(key: str) -> str:
    from imu_hinge.rehab.exercise_catalogue import catalogue

    return str(catalogue().get(key, {}).get("label") or key.replace("_", " "))


def plain_summary(data: ReportData) -> dict[str, Any]:
    """The patient page's content as plain data (``went_well``, ``work_on``, ``cue``, ``next_step``, ``notes``)."""
    reps = data.reps
    clean = [r for r in reps if not r.get("faults")]
    counts = {f: sum(1 for r in reps if f in (r.get("faults") or [])) for f in WORK_ON}
    went_well: list[str] = []
    if reps and clean:
        went_well.append(f"{len(clean)} of {len(reps)} reps were done with a well-controlled lower back.")
    shares = [float(r["hinge_share"]) for r in reps if isinstance(r.get("hinge_share"), int | float)]
    if shares and sum(shares) / len(shares) >= 0.65:
        went_well.append("Your hips did most of the bending, as they should.")
    hist = data.history
    if len(hist) >= 2 and hist[-2].get("reps") and hist[-1].get("reps"):
        before = hist[-2]["flagged"] / hist[-2]["reps"]
        now = hist[-1]["flagged"] / hist[-1]["reps"]
        if now < before:
            went_well.append("Fewer reps needed correcting than last time.")
    if not reps:
        went_well.append("No reps were recorded in this session.")
    work_on = [WORK_ON[f].format(n=_reps(n)) for f, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    top = max(counts, key=lambda f: counts[f]) if any(counts.values()) else None
    cue = FAULT_CUE[top] if top else None
    if cue is None and data.exercise:
        from imu_hinge.rehab.exercise_catalogue import catalogue

        cues = catalogue().get(data.exercise, {}).get("cues") or []
        cue = str(cues[0]).capitalize() + "." if cues else None
    return {"went_well": went_well, "work_on": work_on or ["Nothing stood out: keep doing what you did."],
            "cue": cue or "Hips back, back long, move slowly.", "next_step": data.next_step,
            "notes": data.physio_notes}


def next_step_text(advice: Any) -> str | None:
    """One or two plain sentences from :func:`imu_hinge.rehab.progression.advise`'s result."""
    if advice is None or advice.action not in ACTION_TEXT:
        return None
    targets = " or ".join(_label(t) for t in advice.targets if t != advice.exercise)
    text = ACTION_TEXT["stay" if not targets else advice.action].format(targets=targets)
    tip = advice.fired.rule.advice if advice.fired is not None and advice.fired.rule.advice else ""
    return f"{text} {tip[0].upper() + tip[1:]}." if tip else text


def patient_html(data: ReportData) -> str:
    s = plain_summary(data)

    def items(lines: list[str], css: str) -> str:
        return f'<ul class="{css}">' + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>"

    who = f" — {escape(data.person)}" if data.person else ""
    parts = [f'<section id="patient-page" class="patient"><h2>Your session in brief{who}</h2>',
             "<h3>What went well</h3>", items(s["went_well"], "went-well"),
             "<h3>What to work on</h3>", items(s["work_on"], "work-on"),
             f'<h3>The cue to remember</h3><p class="cue" id="cue">{escape(s["cue"])}</p>']
    if s["next_step"]:
        parts.append(f'<h3>Next step</h3><p id="next-step">{escape(s["next_step"])}</p>')
    if s["notes"]:
        parts.append(f'<h3>From your physiotherapist</h3><p id="physio-notes">{escape(s["notes"])}</p>')
    parts.append("</section>")
    return "".join(parts)


__all__ = ["patient_html", "next_step_text", "plain_summary"]
