"""HTML pieces of the report: summary cards, the rep table, the session comparison, calibration."""

from __future__ import annotations

import math
from html import escape
from statistics import fmean
from typing import Any

import numpy as np

from imu_hinge.jsonable import finite_or_none as num
from imu_hinge.jsonable import finite_values, format_number
from imu_hinge.report.data import ReportData
from imu_hinge.report.svg import Chart, Series, legend, line_chart

FAULT_TEXT = {"lumbar_flexion": "the lower back rounded beyond the threshold during the rep",
              "lockout_hyperextension": "the lower back arched beyond the limit around lockout",
              "lumbar_led": "the lower back flexed before the pelvis tilted (back-first descent)"}
REP_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("set", "Set", "d"), ("index", "Rep", "d"), ("start_s", "Start s", ".1f"), ("descent_s", "Down s", ".1f"),
    ("bottom_hold_s", "Hold s", ".1f"), ("ascent_s", "Up s", ".1f"), ("peak_pelvic_tilt_deg", "Peak P°", ".1f"),
    ("peak_trunk_flexion_deg", "Peak T°", ".1f"), ("peak_lumbar_flexion_deg", "Peak L°", ".1f"),
    ("peak_lumbar_pct_lmax", "L % Lmax", ".0f"), ("min_lumbar_flexion_deg", "Min L°", ".1f"),
    ("hinge_share", "Hinge share", ".2f"), ("onset_lag_s", "Onset lag s", ".2f"),
    ("lockout_extension_deg", "Lockout ext.°", ".1f"), ("time_above_threshold_s", "Above thr. s", ".2f"),
)


def mean_or_none(values: list[Any]) -> float | None:
    nums = finite_values(values)
    return fmean(nums) if nums else None


def fmt(v: Any, spec: str = ".1f", missing: str = "–") -> str:
    return format_number(v, spec, missing)


def fault_chips(faults: list[str]) -> str:
    if not faults:
        return '<span class="ok">ok</span>'
    return "".join(f'<span class="fault {escape(f)}" data-fault="{escape(f)}" title="{escape(FAULT_TEXT.get(f, f))}">'
                   f"{escape(f)}</span>" for f in faults)


def summary_html(data: ReportData) -> str:
    reps = data.reps
    flagged = [r for r in reps if r.get("faults")]
    peaks = [r.get("peak_lumbar_flexion_deg") for r in reps]
    max_peak = max((x for x in map(num, peaks) if x is not None), default=None)
    cards = [("reps", str(len(reps)), "reps"), ("flagged", str(len(flagged)), "flagged reps"),
             *((f, str(sum(1 for r in reps if f in (r.get("faults") or []))), f) for f in FAULT_TEXT),
             ("peak-max", fmt(max_peak) + "°", "highest peak lumbar flexion"),
             ("peak-mean", fmt(mean_or_none(peaks)) + "°", "mean peak lumbar flexion"),
             ("share", fmt(mean_or_none([r.get("hinge_share") for r in reps]), ".2f"), "mean hinge share"),
             ("alerts", str(len(data.alerts)), "live alerts"),
             ("threshold", fmt(data.threshold_deg, ".1f") + "°", "lumbar threshold")]
    return '<div class="cards">' + "".join(f'<div class="card" id="card-{k}"><b>{escape(v)}</b><span>{escape(label)}'
                                           "</span></div>" for k, v, label in cards) + "</div>"


def rep_table_html(data: ReportData) -> str:
    if not data.reps:
        return '<p class="note" id="no-reps">No reps were found in this session.</p>'
    head = "".join(f"<th>{escape(label)}</th>" for _, label, _ in REP_COLUMNS) + '<th class="text">Faults</th>'
    rows = []
    for r in data.reps:
        faults = list(r.get("faults") or [])
        cls = "rep flagged" if faults else "rep"
        cells = "".join(f"<td>{fmt(r.get(k), spec)}</td>" for k, _, spec in REP_COLUMNS)
        extra = "" if r.get("complete", True) else ' <span class="note">(incomplete: sensor gap)</span>'
        rows.append(f'<tr class="{cls}" data-rep="{escape(str(r.get("index")))}" '
                    f'data-faults="{escape(" ".join(faults))}">{cells}'
                    f'<td class="text">{fault_chips(faults)}{extra}</td></tr>')
    return (f'<table id="reps"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            '<p class="note">P pelvic tilt, T trunk flexion, L lumbar flexion (deg, peaks per rep); Down / Hold / Up: '
            "phase durations (tempo).</p>")


def comparison_html(data: ReportData) -> str:
    hist = data.history
    if not hist:
        return ('<p class="note" id="no-history">Not filed in the store, so there are no previous sessions to '
                "compare with (file sessions with <code>imu-hinge analyze RECORDING --person NAME</code>).</p>")
    rows = []
    for h in hist:
        pct = 100.0 * h["flagged"] / h["reps"] if h["reps"] else None
        rows.append(f'<tr class="session{" current" if h["current"] else ""}" data-session="{h["id"]}">'
                    f'<td class="text">{escape(str(h["started_utc"]))[:16].replace("T", " ")}</td>'
                    f'<td>#{h["id"]}</td><td>{h["reps"]}</td><td>{h["flagged"]}</td><td>{fmt(pct, ".0f")}</td>'
                    f'<td>{fmt(h["peak_lumbar_mean_deg"])}</td><td>{fmt(h["peak_lumbar_max_deg"])}</td>'
                    f'<td>{fmt(h["threshold_deg"], ".1f")}</td></tr>')
    table = ('<table id="history"><thead><tr><th class="text">Date (UTC)</th><th>Session</th><th>Reps</th>'
             "<th>Flagged</th><th>Flagged %</th><th>Mean peak L°</th><th>Max peak L°</th><th>Threshold°</th></tr>"
             f'</thead><tbody>{"".join(rows)}</tbody></table>')
    text = _change_text(hist) if len(hist) > 1 or not data.earlier_sessions else (
        f"{data.earlier_sessions} earlier session(s) in the store, not shown (--previous).")
    if len(hist) < 2:
        return f'<p class="note" id="first-session">{escape(text)}</p>{table}'
    x = np.arange(1, len(hist) + 1, dtype=float)
    mean = np.array([num(h["peak_lumbar_mean_deg"]) or np.nan for h in hist])
    peak = np.array([num(h["peak_lumbar_max_deg"]) or np.nan for h in hist])
    hi = max(float(np.nanmax(np.r_[peak, mean, 10.0])), max((num(h["threshold_deg"]) or 0) for h in hist)) + 5
    thr = num(hist[-1]["threshold_deg"])
    hlines = [(thr, "#b71c1c", f"lumbar threshold {thr:.1f}°")] if thr is not None else []
    chart = Chart(560, 220, (0.5, len(hist) + 0.5), (0.0, math.ceil(hi / 5) * 5), "session (oldest → this one)",
                  "peak lumbar flexion (deg)",
                  series=[Series("mean peak L", x, mean, "#d62728", 2.0), Series("max peak L", x, peak, "#7f7f7f", 1.5,
                                                                                 "5 3")],
                  hlines=hlines,
                  markers=[(float(i), float(m), "#d62728", f"session #{h['id']}: mean peak {m:.1f}°")
                           for i, m, h in zip(x, mean, hist, strict=True) if math.isfinite(m)],
                  x_ticks=[(float(i), f"#{h['id']}") for i, h in zip(x, hist, strict=True)])
    svg = line_chart(chart, "history-chart", "h")
    keys = legend([("#d62728", "mean peak L"), ("#7f7f7f", "max peak L")], hlines, ("#d62728", "a session's mean peak"))
    return (f'<p id="change">{escape(text)}</p>{keys}'
            f"{svg}{table}")


def _change_text(hist: list[dict[str, Any]]) -> str:
    cur = hist[-1]
    if len(hist) < 2:
        return "This is the first session of this exercise in the store."
    prev = hist[-2]
    parts = [f"Compared with the previous session (#{prev['id']}, {str(prev['started_utc'])[:10]}):"]
    a, b = num(cur["peak_lumbar_mean_deg"]), num(prev["peak_lumbar_mean_deg"])
    if a is not None and b is not None:
        parts.append(f"mean peak lumbar flexion {a:.1f}° ({a - b:+.1f}°);")
    if cur["reps"] and prev["reps"]:
        pa, pb = 100.0 * cur["flagged"] / cur["reps"], 100.0 * prev["flagged"] / prev["reps"]
        parts.append(f"flagged reps {pa:.0f}% ({pa - pb:+.0f} points).")
    return " ".join(parts)


def calibration_html(data: ReportData) -> str:
    cal, rows = data.calibration or {}, []
    if cal.get("stand_start_s") is not None:
        window = f"{fmt(cal.get('stand_start_s'), '.1f')}–{fmt(cal.get('stand_end_s'), '.1f')} s"
        rows.append(("Standing reference", f"{window} of quiet standing at the start (sets 0° for every angle)"))
    rows.append(("Orientation filter", str(cal.get("fusion_method") or data.params.get("fusion_method") or "–")))
    for role, s in (cal.get("sensors") or {}).items():
        bias = s.get("gyr_bias_rad_s") or []
        bias_dps = math.degrees(float(np.linalg.norm(bias))) if bias else None
        axis = "found from the first hinge" if s.get("forward") else "not found"
        rows.append((f"{role.capitalize()} sensor", f"{fmt(s.get('rate_hz'), '.1f')} Hz; gyro bias "
                                                    f"{fmt(bias_dps, '.2f')} deg/s; forward axis {axis}"))
    rc = data.range_calibration
    if rc:
        when = f" ({str(rc['created_utc'])[:10]})" if rc.get("created_utc") else ""
        rows.append(("Range calibration", f"Lmax {fmt(rc.get('lmax_deg'))}°" +
                     (f", Lext {fmt(rc.get('lext_deg'))}°" if num(rc.get("lext_deg")) is not None else "") + when))
    else:
        rows.append(("Range calibration", "none (thresholds in degrees)"))
    rows.append(("Lumbar-flexion threshold", f"{fmt(data.threshold_deg, '.1f')}°"))
    for role, q in (data.quality or {}).items():
        if isinstance(q, dict):
            dropped = fmt(100 * (num(q.get("drop_fraction")) or 0), ".1f")
            rows.append((f"{role.capitalize()} data", f"{q.get('samples', '–')} samples, {dropped}% dropped, "
                                                      f"longest gap {fmt(q.get('longest_gap_s'), '.2f')} s"))
    return ('<dl class="facts" id="calibration">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>"
                                                             for k, v in rows) + "</dl>")
