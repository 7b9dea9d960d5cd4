"""`imu-hinge report`: the HTML file rendered by a real headless browser (Debian chromium), read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.pipeline import analyze
from imu_hinge.recording import load_recording
from imu_hinge.report.svg import decimate, nice_ticks
from imu_hinge.simulation import SimConfig, simulate, write_case
from imu_hinge.store import Store

from .helpers import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TRACE_RGB = {"pelvic tilt": (31, 119, 180), "trunk flexion": (44, 160, 44), "lumbar flexion": (214, 39, 40)}
FLAGGED_BAND_RGB = (249, 217, 217)


class Elements(HTMLParser):
    """Every start tag as (tag, attrs) and the text inside elements with a class, for DOM checks."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def having(self, tag: str, css_class: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and css_class in a.get("class", "").split()]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, list[dict[str, object]]]:
    """A store with Alex's three RDL sessions (getting better); returns (db, last session id, its reps)."""
    d = tmp_path_factory.mktemp("report")
    db = d / "store.sqlite3"
    reps: list[dict[str, object]] = []
    with Store(db) as st:
        st.add_person("Alex")
        rc = st.add_range_calibration("Alex", 42.0, 12.0, source="test hold")
        sid = 0
        for i, rounding in enumerate((0.75, 0.5, 0.4)):
            rec = d / f"session{i}.csv"
            write_case(simulate(SimConfig(seed=20 + i, n_reps=4, rounding_frac=rounding, lockout_arch_frac=0.25,
                                          stand_start_s=3.0)), rec)
            params = AnalysisParams()
            res = analyze(load_recording(rec), params)
            sid = st.file_session("Alex", "barbell_rdl", res, str(rec), params=params,
                                  started_utc=f"2024-05-0{i + 1}T10:00:00Z",
                                  range_calibration_id=rc.id if i == 2 else None)
            reps = [r.to_dict() for r in res.reps]
    return db, sid, reps


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def _png_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a PNG, decoded by Qt (a dependency already; no imaging library needed)."""
    from PySide6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not img.isNull(), f"cannot read {path}"
    w, h = img.width(), img.height()
    raw = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    return raw[:, : w * 3].reshape(h, w, 3).copy()


def _near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return np.abs(img.astype(int) - np.array(rgb)).max(axis=2) <= tol


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (CI installs it: .ci/run)")
def test_store_session_report_in_headless_chromium(store: tuple[Path, int, list[dict[str, object]]],
                                                   tmp_path: Path) -> None:
    db, sid, reps = store
    out = tmp_path / "report.html"
    proc = run_cli("report", str(sid), "--db", db, "--out", out)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    dom = _chromium(out.as_uri(), tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0 and "<table" in dom.stdout, dom.stderr[-500:]
    doc = Elements(dom.stdout)
    rows = doc.having("tr", "rep")
    assert len(rows) == len(reps) >= 3
    assert [r["data-rep"] for r in rows] == [str(r["index"]) for r in reps]
    assert [r["data-faults"].split() for r in rows] == [r["faults"] for r in reps]
    chips = [a["data-fault"] for a in doc.having("span", "fault")]
    assert sorted(chips) == sorted(f for r in reps for f in r["faults"])
    assert {"lumbar_flexion", "lockout_hyperextension"} <= set(chips)
    assert len(doc.having("tr", "session")) == 3 and len(doc.having("tr", "current")) == 1
    assert len(doc.having("polyline", "trace")) >= 3 and doc.having("rect", "flagged")
    text = " ".join(doc.texts)
    assert "Alex" in text and "2024-05-03" in text and "Lmax 42.0°" in text

    shot = tmp_path / "report.png"
    proc2 = _chromium(out.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    assert proc2.returncode == 0 and shot.is_file(), proc2.stderr[-500:]
    img = _png_rgb(shot)
    assert img.shape[:2] == (2000, 1280) and img.std() > 20  # not blank
    band = _near(img, FLAGGED_BAND_RGB, 6)
    assert band.sum() > 2000, "no flagged-rep shading in the screenshot"
    ys, xs = np.nonzero(band)
    plot = img[ys.min(): ys.max() + 1, :]  # the rows of the traces chart
    for name, rgb in TRACE_RGB.items():
        assert _near(plot, rgb).sum() > 400, f"the {name} trace colour is missing from the plot area"


def test_missing_session_is_one_line_and_exit_code(store: tuple[Path, int, list[dict[str, object]]],
                                                   tmp_path: Path) -> None:
    db, _, _ = store
    out = tmp_path / "x.html"
    proc = run_cli("report", "9999", "--db", db, "--out", out)
    assert proc.returncode == 6 and proc.stderr.count("\n") == 1 and "9999" in proc.stderr
    assert not out.exists()
    proc = run_cli("report", "3", "--db", tmp_path / "no-store.sqlite3")
    assert proc.returncode == 6 and proc.stderr.count("\n") == 1
    proc = run_cli("report", "not-a-session")
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1


def test_report_of_a_recording_and_of_an_analysis_json(store: tuple[Path, int, list[dict[str, object]]],
                                                       tmp_path: Path) -> None:
    db, _, reps = store
    rec = db.parent / "session2.csv"
    out = tmp_path / "rec.html"
    assert run_cli("report", rec, "--out", out).returncode == 0
    doc = Elements(out.read_text(encoding="utf-8"))
    assert len(doc.having("tr", "rep")) == len(reps) and doc.having("polyline", "trace")
    assert doc.having("p", "note") and not doc.having("tr", "session")
    js = tmp_path / "a.json"
    assert run_cli("analyze", rec, "--json", js, "--quiet").returncode == 0
    out2 = tmp_path / "json.html"
    assert run_cli("report", js, "--out", out2).returncode == 0
    doc2 = Elements(out2.read_text(encoding="utf-8"))
    assert [a["data-faults"] for a in doc2.having("tr", "rep")] == [" ".join(r["faults"]) for r in
                                                                    json.loads(js.read_text())["reps"]]


def test_svg_helpers() -> None:
    assert nice_ticks(0, 50, 5) == [0, 10, 20, 30, 40, 50]
    x = np.linspace(0, 100, 100_000)
    y = np.sin(x)
    y[54_321] = 7.0
    dx, dy = decimate(x, y, 500)
    assert len(dx) <= 1500 and dy.max() == 7.0 and np.all(np.diff(dx) > 0)


def test_report_of_a_recording_takes_person_date_exercise_and_threshold_from_its_metadata(tmp_path: Path) -> None:
    """The recording says who, when, what and which threshold its session used: the report shows those, not
    "not filed" / "not recorded" / "not stated" / the default 20 deg or the day it was analysed."""
    example = Path(__file__).resolve().parents[1] / "recordings" / "example_rdl_session.ihr.csv"
    lines = example.read_text(encoding="utf-8").splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if line.startswith("# meta: "))
    meta = json.loads(lines[i].removeprefix("# meta: "))
    meta.update(subject="Mia Example", exercise="barbell_rdl", created_utc="2025-03-14T09:30:12.000Z",
                session={"command": "train", "lumbar_threshold_deg": 17.55})
    lines[i] = "# meta: " + json.dumps(meta, separators=(",", ":")) + "\n"
    rec = tmp_path / "mia.ihr.csv"
    rec.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "mia.html"
    proc = run_cli("report", rec, "--out", out)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    facts = dict(re.findall(r'<dd id="(fact-[^"]+)">(.*?)</dd>', html))
    assert facts["fact-person"] == "Mia Example"
    assert facts["fact-date"] == "2025-03-14 09:30 UTC"  # when the session took place, not today
    assert facts["fact-exercise"] == "Barbell RDL"  # the catalogue's label
    assert 'id="card-threshold"><b>17.6°' in html and "lumbar threshold 17.6°" in html
    assert "17.5°" not in html and "18°" not in html and "20.0°" not in html  # one threshold number
    # an explicit --threshold-deg still wins over the recording's
    out2 = tmp_path / "mia25.html"
    assert run_cli("report", rec, "--out", out2, "--threshold-deg", "25").returncode == 0
    assert 'id="card-threshold"><b>25.0°' in out2.read_text(encoding="utf-8")


def test_first_page_for_the_patient_in_plain_words(store: tuple[Path, int, list[dict[str, object]]],
                                                   tmp_path: Path) -> None:
    db, sid, reps = store
    out = tmp_path / "patient.html"
    note = "Practise the dowel hinge at home, 3 x 8, twice a week."
    proc = run_cli("report", str(sid), "--db", db, "--out", out, "--notes", note)
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    start, detail = html.index('<section id="patient-page"'), html.index('id="clinician-detail"')
    assert start < detail < html.index("<h2>Summary</h2>")  # the patient's page first, the clinician's after
    page = html[start:html.index("</section>", start)]
    assert note.replace(",", ",") in page.replace("&#x27;", "'")
    for heading in ("What went well", "What to work on", "The cue to remember", "Next step"):
        assert heading in page, heading
    rounded = sum(1 for r in reps if "lumbar_flexion" in r["faults"])  # type: ignore[operator]
    if rounded:
        assert "lower back rounded" in page
    plain = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"\b(lumbar_flexion|lumbar_led|lockout_hyperextension|deg|°)", plain)  # no codes, no angles
    assert re.search(r"(Move on to|Go back a step|Stay with this exercise)", page)
