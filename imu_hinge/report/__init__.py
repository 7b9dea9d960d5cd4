"""Session reports: one self-contained HTML file (inline SVG plots) a physiotherapist can email.

    from imu_hinge.report import from_store, render
    html = render(from_store(store, session_id))

Modules: :mod:`.data` (what is shown, from the store, a recording or an analysis JSON),
:mod:`.svg` (small inline-SVG charts), :mod:`.html_parts` and :mod:`.html` (the page),
:mod:`.patient` (the patient's first page).
"""

from __future__ import annotations

from imu_hinge.report.data import ReportData, Traces, from_json, from_recording, from_result, from_store
from imu_hinge.report.html import render

__all__ = ["ReportData", "Traces", "from_json", "from_recording", "from_result", "from_store", "render"]
