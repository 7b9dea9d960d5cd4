"""Offline: peaks for a rep the trunk saw while the pelvis was not measured.

When the sacrum sensor is out for a whole rep (a lost link, an outage in a file), the trunk still
shows the rep, but its pelvic tilt and lumbar flexion have no sample: their peaks are undefined. A
table of reps with holes in it is hard to use (and a JSON consumer that expects a number per rep
fails on it), so ``analyze`` fills these two peaks with an estimate from what was measured: the rep's
peak trunk flexion times the median ratio of this session's measured reps (peak pelvic tilt / peak
trunk flexion and peak lumbar flexion / peak trunk flexion: the person's own hinge). The rep stays
``complete: false``, a note says the two numbers are estimates and from what, and no fault is judged on
them. Without a measured rep in the session nothing is estimated (the peaks stay undefined).
"""

from __future__ import annotations

import math
import statistics

from imu_hinge.detection.rep_events import Rep

ESTIMATE_PREFIX = "pelvis not measured in this rep"
ESTIMATE_NOTE = (ESTIMATE_PREFIX + ": peak pelvic tilt and peak lumbar flexion are estimates (peak trunk flexion x "
                 "this session's median ratio over {n} measured reps), no fault judged on them")


def estimate_unmeasured_peaks(reps: list[Rep]) -> int:
    """Fill the undefined peak pelvic tilt and peak lumbar flexion of reps whose trunk peak is known (in place, see
    the module docstring); returns how many reps were filled."""
    measured = [r for r in reps if r.complete and math.isfinite(r.peak_lumbar_flexion_deg)
                and math.isfinite(r.peak_pelvic_tilt_deg) and r.peak_trunk_flexion_deg > 0]
    todo = [r for r in reps if math.isnan(r.peak_lumbar_flexion_deg) and math.isfinite(r.peak_trunk_flexion_deg)]
    if not measured or not todo:
        return 0
    pelvis = statistics.median(r.peak_pelvic_tilt_deg / r.peak_trunk_flexion_deg for r in measured)
    lumbar = statistics.median(r.peak_lumbar_flexion_deg / r.peak_trunk_flexion_deg for r in measured)
    for r in todo:
        if math.isnan(r.peak_pelvic_tilt_deg):
            r.peak_pelvic_tilt_deg = pelvis * r.peak_trunk_flexion_deg
        r.peak_lumbar_flexion_deg = lumbar * r.peak_trunk_flexion_deg
        r.notes.append(ESTIMATE_NOTE.format(n=len(measured)))
    return len(todo)


def has_estimates(rep: Rep) -> bool:
    """Whether :func:`estimate_unmeasured_peaks` filled this rep's peaks."""
    return any(n.startswith(ESTIMATE_PREFIX) for n in rep.notes)


__all__ = ["ESTIMATE_NOTE", "ESTIMATE_PREFIX", "estimate_unmeasured_peaks", "has_estimates"]
