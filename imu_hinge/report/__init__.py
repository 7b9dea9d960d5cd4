"""Session reports: one self-contained HTML file (inline SVG plots) a physiotherapist can email.

    from imu_hinge.report import from_store, render
    html = render(from_store(store, session_id))

Modules: :mod:`.data` (what is shown, from the store, a recording or an analysis JSON),
:mod:`.svg` (small inline-SVG charts), :mod:`.tables` and :mod:`.html` (the page).
"""

from __future__ import annotations

from .data import ReportData, Traces, from_json, from_recording, from_result, from_store
from .html import render

__all__ = ["ReportData", "Traces", "from_json", "from_recording", "from_result", "from_store", "render"]
