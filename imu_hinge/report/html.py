"""The session report as one self-contained HTML file (inline CSS and SVG; no scripts, no links out).

Sections: who / when / exercise; summary; calibration and data quality; the angle traces with
reps and alerts marked (flagged reps shaded red); the per-rep table; the comparison with the
previous sessions; notes. Element classes and ``data-*`` attributes name what each thing is, so
tests (and scripts) can read the report back.
"""

from __future__ import annotations

import datetime as _dt
import math
from html import escape

import numpy as np

from imu_hinge import __version__
from imu_hinge.report.data import ReportData
from imu_hinge.report.html_parts import FAULT_TEXT, calibration_html, comparison_html, rep_table_html, summary_html
from imu_hinge.report.patient import patient_html
from imu_hinge.report.svg import Band, Chart, Series, deg_text, legend, line_chart

COLORS = {"pelvic_tilt_deg": "#1f77b4", "trunk_flexion_deg": "#2ca02c", "lumbar_flexion_deg": "#d62728"}
LABELS = {"pelvic_tilt_deg": "pelvic tilt P", "trunk_flexion_deg": "trunk flexion T",
          "lumbar_flexion_deg": "lumbar flexion L = T − P"}
FLAGGED_BAND, OK_BAND = "#f9d9d9", "#e8eef5"
PANEL_MAX_S, MAX_PANELS, CHART_W, CHART_H = 150.0, 8, 1120, 300

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;margin:0;
background:#f4f5f7}
main{max-width:1160px;margin:0 auto;padding:20px;background:#fff}
h1{font-size:24px;margin:4px 0 12px}h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:#666}dd{margin:0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;
text-align:right}th{background:#f0f1f3;position:sticky;top:0}td.text,th.text{text-align:left}
tr.flagged td{background:#fdf0f0}tr.current td{background:#fff7d6;font-weight:600}
.fault{display:inline-block;border-radius:10px;padding:1px 8px;margin:1px 2px;font-size:12px;color:#fff}
.fault.lumbar_flexion{background:#c62828}.fault.lockout_hyperextension{background:#6a1b9a}
.fault.lumbar_led{background:#ef6c00}.ok{color:#2e7d32}
.legend{display:flex;gap:18px;font-size:13px;margin:6px 0}.swatch{display:inline-block;width:22px;height:4px;
margin-right:6px;vertical-align:middle}
.note{color:#555;font-size:13px}.warn{color:#8a4b00}svg{display:block;margin:6px 0}
section.patient{font-size:17px;line-height:1.45}section.patient h3{font-size:17px;margin:14px 0 4px}
section.patient p.cue{font-size:20px;font-weight:600}
@media print{body{background:#fff}main{padding:0}th{position:static}section.patient{break-after:page}}
"""


def _when(utc: str | None) -> str:
    if not utc:
        return "not recorded"
    try:
        t = _dt.datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return utc
    return t.strftime("%Y-%m-%d %H:%M UTC") if t.tzinfo else t.strftime("%Y-%m-%d %H:%M")


def _exercise_name(key: str | None) -> str:
    if not key:
        return "not stated"
    try:
        from imu_hinge.rehab.exercise_catalogue import lookup

        _, entry = lookup(key)
        return str(entry.get("label") or entry.get("name") or key.replace("_", " "))
    except Exception:  # an exercise no longer in the catalogue is still shown
        return key.replace("_", " ")


def _panels(t0: float, t1: float) -> list[tuple[float, float]]:
    n = min(max(1, math.ceil((t1 - t0) / PANEL_MAX_S)), MAX_PANELS)
    edges = np.linspace(t0, t1, n + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def traces_html(data: ReportData) -> str:
    if data.traces is None:
        return f'<p class="note" id="no-traces">{escape(data.traces_note or "angle traces not available")}</p>'
    tr = data.traces
    t = np.asarray(tr.time_s, float)
    if t.size < 2:
        return '<p class="note" id="no-traces">the recording holds too few samples to plot</p>'
    values = {k: np.asarray(getattr(tr, k), float) for k in COLORS}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] + [np.array([0.0])])
    thr = data.threshold_deg
    lo = math.floor(min(float(finite.min()), -10.0) / 10) * 10
    hi = math.ceil(max(float(finite.max()), (thr or 0) + 5, 30.0) / 10) * 10
    bands = [Band(float(r["start_s"]), float(r["end_s"]), FLAGGED_BAND if r.get("faults") else OK_BAND,
                  f"{r['index']}", "band flagged" if r.get("faults") else "band ok") for r in data.reps]
    lockout = ((data.params.get("detector") or {}).get("faults") or {}).get("lockout_extension_deg")
    hlines = [(thr, "#b71c1c", f"lumbar threshold {deg_text(thr)}")] if thr is not None else []
    if isinstance(lockout, int | float):
        hlines.append((-float(lockout), "#6a1b9a", f"lockout extension limit {deg_text(-float(lockout))}"))
    markers = [(float(a["time_s"]), float(a["value_deg"]), "#b71c1c",
                f"{a['fault']} alert at {float(a['time_s']):.2f} s ({float(a['value_deg']):.1f}°)")
               for a in data.alerts if isinstance(a.get("value_deg"), int | float)]
    parts = [legend([(COLORS[k], LABELS[k]) for k in COLORS] + [(FLAGGED_BAND, "flagged rep"), (OK_BAND, "rep")],
                    hlines, ("#b71c1c", "alert (tip at the value)") if markers else None)]
    for i, (a, b) in enumerate(_panels(float(t[0]), float(t[-1]))):
        sel = (t >= a - 0.5) & (t <= b + 0.5)
        chart = Chart(CHART_W, CHART_H, (a, b), (lo, hi), "time (s)", "angle (deg)", bands=bands, hlines=hlines,
                      markers=markers,
                      series=[Series(LABELS[k], t[sel], values[k][sel], COLORS[k], 2.0 if k.startswith("lumbar")
                                     else 1.5) for k in COLORS])
        parts.append(line_chart(chart, "traces", str(i)))
    parts.append('<p class="note">Shaded: each rep from start to end, numbered; red = at least one fault. '
                 'Triangles: alerts, at the moment the live pipeline raised them.</p>')
    return "".join(parts)


def _facts(data: ReportData) -> str:
    rows = [("Person", data.person or "not filed in the store"), ("Date", _when(data.started_utc)),
            ("Exercise", _exercise_name(data.exercise))]
    if data.session_id is not None:
        rows.append(("Session", f"#{data.session_id}" + (f" ({data.kind})" if data.kind else "")))
    rows.append(("Recording", data.source or "not linked"))
    return '<dl class="facts">' + "".join(f'<dt>{escape(k)}</dt><dd id="fact-{escape(k.lower())}">{escape(v)}</dd>'
                                           for k, v in rows) + "</dl>"


def render(data: ReportData, generated_utc: str | None = None) -> str:
    """The whole report (HTML text)."""
    generated = generated_utc or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    notes = [*(f'<li class="warn">{escape(w)}</li>' for w in data.warnings),
             *(f"<li>{escape(n)}</li>" for n in data.notes)]
    body = [
        f"<h1>{escape(data.title)}</h1>", patient_html(data),
        '<h2 class="clinician" id="clinician-detail">Clinician\'s detail</h2>', _facts(data),
        "<h2>Summary</h2>", summary_html(data),
        "<h2>Angle traces</h2>", traces_html(data),
        "<h2>Reps</h2>", rep_table_html(data),
        "<h2>Compared with previous sessions</h2>", comparison_html(data),
        "<h2>Calibration and data quality</h2>", calibration_html(data),
        "<h2>Notes</h2>", f"<ul>{''.join(notes)}</ul>" if notes else '<p class="note">No warnings.</p>',
        '<p class="note">Faults: ' + "; ".join(f"<b>{f}</b> — {escape(d)}" for f, d in FAULT_TEXT.items()) + ". "
        "Hinge share = pelvic tilt / trunk flexion at the bottom (target ≥ 0.65); onset lag = time lumbar flexion "
        "crosses 5° minus time pelvic tilt does (positive is good). These are measurements to discuss, not a "
        "diagnosis; no composite score is given because none is validated.</p>",
        f'<p class="note">Generated by imu-hinge {escape(__version__)} on {escape(generated)}.</p>',
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape(data.title)}"
            f"</title><style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")
