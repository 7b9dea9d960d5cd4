"""Mutation testing of the numerical core with cosmic-ray: how many planted one-line bugs the tests catch.

Usage: ``python benchmarks/mutation.py [--sample N] [--seed S] [--module PATH ...] [--since REV] [--workers W]
[--resume FILE] [--tree DIR]``

The tree is copied to a temporary directory, once to read and once per worker (the working tree is never
touched). cosmic-ray lists every mutant of the core modules below (operators swapped, numbers changed,
comparisons flipped, loops skipped, ...); mutants inside type annotations are left out (never evaluated under
``from __future__ import annotations``: equivalent by construction). ``--sample N`` draws N of them
reproducibly from ``--seed`` (0 = all of them); ``--since REV`` keeps only those on lines a change added or
altered (``git diff REV``: a change's own code, every mutant of it with ``--sample 0``). One process imports
the tests' third-party dependencies once
(numpy, scipy, pandas, pytest and its plugins); each mutant is written to a free worker's copy and its tests
run in a fork of that process (the package imported afresh from the mutated file), ``--workers`` mutants at
a time.

Which tests: the clean run of each module group (below) records, per test, the core lines it executes (a fixture's
lines count for every test that uses it; lines run at import time, also of a module imported lazily, for all
tests). A mutant runs only the tests that execute its line, the tests that killed the module's earlier mutants
first: a test that never reaches the line behaves exactly as on the clean tree (``--whole-groups`` runs the whole
group instead). A mutant on a line no test of its group runs is reported as surviving ("not_covered") without a
run: a test elsewhere may reach it, so the group may need that test file. A hang is killed after 3x the selected
tests' clean run + 10 s (counted killed). Mutants reviewed as equivalent (``benchmarks/mutation_equivalent.json``,
each with its reason) are not run and are reported apart. ``--resume FILE`` appends every outcome to FILE and
takes the outcomes FILE already holds for exactly this tree (package, tests, pyproject), so a full run can stop
and go on later; ``--tree`` mutates another checkout (a worktree of the commit a full run measures). Prints one
line per mutant, a table of the survivors (file:line, operator, the changed line) and, last, one JSON line with
killed / total and killed / (total - equivalent).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from cosmic_ray.commands.init import init
from cosmic_ray.mutating import mutate_code
from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import MutationSpec

REPO = Path(__file__).resolve().parents[1]

_PARAMS_TESTS = ("tests/test_parameters_frozen.py",)
_DETECTOR_TESTS = ("tests/test_detector.py", "tests/test_detector_truth.py", "tests/test_detector_contract.py",
                   "tests/test_detector_tables.py", "tests/test_compiled_layouts.py",
                   *_PARAMS_TESTS)
_GUARD_TESTS = ("tests/test_accuracy_guard.py",)  # one session per scenario family: a stage's effect on accuracy
_CORE_TESTS = ("tests/test_pipeline.py", "tests/test_accuracy.py", "tests/test_core_truth.py",
               "tests/test_ideal_sensors.py", "tests/test_stance_search.py", "tests/test_reanchor.py",
               "tests/test_gap_repair.py", "tests/test_gap_bridge.py", *_GUARD_TESTS, *_PARAMS_TESTS)
_FUSION_TESTS = ("tests/test_fusion.py", "tests/test_fusion_api.py", "tests/test_quiet_bias.py",
                 "tests/test_gap_bridge.py", "tests/test_quiet_bias_axes.py", "tests/test_compiled_loops.py",
                 "tests/test_compiled_layouts.py", *_GUARD_TESTS, *_PARAMS_TESTS)

GROUPS: dict[str, tuple[str, ...]] = {
    "imu_hinge/detection/role_check.py": ("tests/test_pipeline.py",),  # used by analyze, not the detector
    "imu_hinge/detection/mount_check.py": ("tests/test_mount_check.py", *_PARAMS_TESTS),  # on analysis results
    "imu_hinge/detection/sync_check.py": ("tests/test_sync_check.py", *_PARAMS_TESTS),
    "imu_hinge/detection/session_checks.py": ("tests/test_mount_check.py", "tests/test_sync_check.py"),
    "imu_hinge/detection/rep_estimates.py": ("tests/test_gap_repair.py", "tests/test_json_strict.py"),  # analyze's
    "imu_hinge/detection/": _DETECTOR_TESTS,
    "imu_hinge/kinematics/alignment.py": ("tests/test_alignment.py", "tests/test_pipeline.py"),
    "imu_hinge/kinematics/sagittal.py": (*_CORE_TESTS, "tests/test_compiled_loops.py",
                                         "tests/test_compiled_layouts.py"),
    "imu_hinge/kinematics/axis_params.py": (*_CORE_TESTS, "tests/test_compiled_loops.py"),
    "imu_hinge/analysis/stance_params.py": _CORE_TESTS,
    "imu_hinge/analysis/stance.py": _CORE_TESTS,
    "imu_hinge/analysis/stance_search.py": _CORE_TESTS,
    "imu_hinge/fusion/reanchor.py": ("tests/test_reanchor.py", "tests/test_pipeline.py", "tests/test_gap_bridge.py"),
    "imu_hinge/fusion/reanchor_params.py": ("tests/test_reanchor.py", "tests/test_pipeline.py", *_PARAMS_TESTS),
    "imu_hinge/fusion/gap_repair.py": ("tests/test_gap_repair.py", "tests/test_reanchor.py",
                                       "tests/test_json_strict.py"),
    "imu_hinge/fusion/gap_repair_params.py": ("tests/test_gap_repair.py", "tests/test_reanchor.py",
                                              "tests/test_gap_bridge.py", *_GUARD_TESTS, *_PARAMS_TESTS),
    "imu_hinge/fusion/gap_bridge.py": ("tests/test_gap_bridge.py", "tests/test_gap_repair.py", *_GUARD_TESTS),
    "imu_hinge/analysis/pipeline.py": (*_CORE_TESTS, "tests/test_sample_clock.py",  # its guard on unchecked time
                                       "tests/test_json_strict.py",  # the estimates of analyze's reps
                                       "tests/test_mount_check.py"),  # a moved sensor's step taken out
    "imu_hinge/sensor_threads.py": ("tests/test_sensor_threads.py", "tests/test_pipeline.py",
                                    "tests/test_stance_search.py"),
    "imu_hinge/fusion/quiet_bias.py": (*_FUSION_TESTS, "tests/test_accuracy.py"),
    "imu_hinge/fusion/": _FUSION_TESTS,
    "imu_hinge/recording/time_order.py": ("tests/test_sample_clock.py",),  # with --module only: not in the core
    "imu_hinge/recording/sample_clock.py": ("tests/test_sample_clock.py",),
    "imu_hinge/recording/frame_check.py": ("tests/test_input_checks.py",),
}
"""Source path prefix -> the tests run for its mutants (first matching prefix wins)."""

MODULES = ("imu_hinge/fusion", "imu_hinge/kinematics", "imu_hinge/detection", "imu_hinge/analysis/stance.py",
           "imu_hinge/analysis/stance_params.py", "imu_hinge/analysis/stance_search.py",
           "imu_hinge/analysis/pipeline.py", "imu_hinge/sensor_threads.py")


def tests_for(module_path: str) -> tuple[str, ...]:
    for prefix, tests in GROUPS.items():
        if module_path.startswith(prefix):
            return tests
    raise KeyError(module_path)


def module_files(root: Path, selection: list[str]) -> list[Path]:
    files: list[Path] = []
    for entry in selection:
        path = root / entry
        found = sorted(path.glob("*.py")) if path.is_dir() else [path]
        files += [f.relative_to(root) for f in found if f.exists()]
    return files


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) (line, col) of every type annotation: with ``from __future__ import annotations``
    they are never evaluated, so a mutant inside one (``X | None`` -> ``X * None``) is equivalent."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations"
               for a in n.names) for n in tree.body):
        return []
    spans = []
    for node in ast.walk(tree):
        anns: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            anns.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            anns.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            anns.append(node.annotation)
        for a in anns:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def in_annotation(spec: MutationSpec, spans: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]]) -> bool:
    pos = tuple(spec.start_pos)
    return any(a <= pos < b for a, b in spans[str(spec.module_path)])


def copy_tree(dest: Path, source: Path = REPO) -> None:
    """The working tree as it is (uncommitted edits included), without the venv, git data and caches."""
    skip = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache",
                                  ".pytest_cache", "*.egg-info", "mutants", "build", "dist")
    shutil.copytree(source, dest, ignore=skip, dirs_exist_ok=True)


PYTEST_FLAGS = ("-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                "-W", "ignore::pytest.PytestAssertRewriteWarning")  # plugins preloaded by the runner

EQUIVALENT_FILE = REPO / "benchmarks" / "mutation_equivalent.json"
"""Reviewed equivalent mutants: no observable behaviour changes (see the file's ``reason`` of each)."""


def pytest_command(tests: tuple[str, ...]) -> str:
    return " ".join([sys.executable, "-m", "pytest", *PYTEST_FLAGS, *tests])


def changed_line(diff: str) -> str:
    lines = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return lines[0] if lines else ""


# ---- the runner: one process imports the test dependencies once, a fork per mutant runs its tests ----

def preload(groups: set[tuple[str, ...]], root: Path) -> int:
    """Import, in this process, every third-party module the tests load (numpy, scipy, pandas, pytest and
    its plugins, ...), so that each forked test run starts in a fraction of a second. The package under
    test is never imported here: each fork imports the (mutated) copy from disk."""
    names: set[str] = set()
    for group in groups:
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            code = ("import json, sys, pytest; pytest.main(['--co', '-q', '-p', 'no:cacheprovider', *sys.argv[2:]]);"
                    "json.dump(sorted(sys.modules), open(sys.argv[1], 'w'))")
            subprocess.run([sys.executable, "-c", code, out.name, *group], cwd=root, capture_output=True)
            names.update(json.load(out))
    n = 0
    for name in sorted(names):
        if name.split(".")[0] in {"imu_hinge", "tests", "conftest", "__main__"} or "__editable__" in name:
            continue
        try:
            __import__(name)
            n += 1
        except BaseException:
            pass
    for name in list(sys.modules):  # whatever pulled the package in: the forks import it afresh
        if name.split(".")[0] in {"imu_hinge", "tests", "conftest"}:
            del sys.modules[name]
    return n


class _Failures:
    """pytest plugin: the tests that failed, appended to a file the parent reads."""

    def __init__(self, path: str) -> None:
        self.path = path

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(report.nodeid + "\n")


class _Select:
    """pytest plugin: run only the given tests, in the given order (the others are deselected). A selected test
    that is not collected is written to ``missing`` (a mutant that breaks collection fails the run anyway; a
    survivor with a lost test would be a false claim)."""

    def __init__(self, order: list[str], missing: str) -> None:
        self.rank = {nodeid: i for i, nodeid in enumerate(order)}
        self.missing = missing

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: Any, items: list[Any]) -> None:
        keep = sorted((it for it in items if it.nodeid in self.rank), key=lambda it: self.rank[it.nodeid])
        dropped = [it for it in items if it.nodeid not in self.rank]
        if len(keep) != len(self.rank):
            with open(self.missing, "w", encoding="utf-8") as f:
                f.write("\n".join(sorted(set(self.rank) - {it.nodeid for it in keep})))
        items[:] = keep
        if dropped:
            config.hook.pytest_deselected(items=dropped)


GLOBAL = "G"
"""Coverage context of the lines run outside any test or fixture: imports (also a module imported lazily
inside a test) and collection. A mutant on such a line runs its whole group."""


def _fixture_key(fixturedef: Any) -> str:
    return f"{fixturedef.baseid}::{fixturedef.argname}"


class _Coverage:
    """pytest plugin of a group's clean run: every executed line of the core, filed under the test or fixture
    that ran it. A fixture's lines count for every test that uses the fixture (a module- or session-scoped
    fixture runs once, in the first such test's set-up); lines run at import time count for all tests."""

    def __init__(self, files: set[str], root: Path, out: str) -> None:
        self.files = files
        self.root = root
        self.out = out
        self.lines: dict[str, dict[str, set[int]]] = {GLOBAL: {f: set() for f in files}}
        self.stack = [GLOBAL]
        self.current = [self.lines[GLOBAL]]
        self.fixtures: dict[str, list[str]] = {}
        self.order: list[str] = []
        self.durations: dict[str, float] = {}

    def _push(self, ctx: str) -> None:
        self.stack.append(ctx)
        self.current[0] = self.lines.setdefault(ctx, {f: set() for f in self.files})

    def _pop(self) -> None:
        self.stack.pop()
        self.current[0] = self.lines[self.stack[-1]]

    def start(self) -> None:
        import threading

        files, current, glob_lines = self.files, self.current, self.lines[GLOBAL]
        roots = (str(self.root / "imu_hinge"), str(self.root / "tests"))

        def at_import(frame: Any) -> bool:
            while frame is not None:
                if frame.f_code.co_name == "<module>" and frame.f_code.co_filename.startswith(roots):
                    return True
                frame = frame.f_back
            return False

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                current[0][frame.f_code.co_filename].add(frame.f_lineno)
            return local

        def local_import(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                glob_lines[frame.f_code.co_filename].add(frame.f_lineno)
            return local_import

        def glob(frame: Any, event: str, arg: Any) -> Any:
            if frame.f_code.co_filename in files:
                if at_import(frame):
                    glob_lines[frame.f_code.co_filename].add(frame.f_lineno)
                    return local_import
                current[0][frame.f_code.co_filename].add(frame.f_lineno)
                return local
            return None

        sys.settrace(glob)
        threading.settrace(glob)

    def finish(self) -> None:
        sys.settrace(None)
        prefix = len(str(self.root)) + 1
        lines = {ctx: {f[prefix:]: sorted(v) for f, v in by_file.items() if v} for ctx, by_file in self.lines.items()}
        with open(self.out, "w", encoding="utf-8") as f:
            json.dump({"lines": lines, "fixtures": self.fixtures, "order": self.order,
                       "durations": self.durations}, f)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            self.order.append(item.nodeid)
            info = getattr(item, "_fixtureinfo", None)
            defs = info.name2fixturedefs if info is not None else {}
            self.fixtures[item.nodeid] = [_fixture_key(defs[name][-1]) for name in item.fixturenames
                                          if defs.get(name)]

    def _within(self, ctx: str) -> Any:
        """A hook wrapper's body: the lines the hook runs are filed under ``ctx``."""
        self._push(ctx)
        try:
            return (yield)
        finally:
            self._pop()

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Any:
        return (yield from self._within("f:" + _fixture_key(fixturedef)))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: Any) -> Any:
        return (yield from self._within("t:" + item.nodeid))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        return (yield from self._within("t:" + item.nodeid))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: Any, nextitem: Any) -> Any:
        return (yield from self._within("t:" + item.nodeid))

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration


class GroupCoverage:
    """A group's clean-run coverage: which of its tests execute a line (directly or through a fixture)."""

    def __init__(self, data: dict[str, Any]) -> None:
        lines = data["lines"]
        self.global_lines = {f: set(v) for f, v in lines.get(GLOBAL, {}).items()}
        fixture_lines = {ctx[2:]: by_file for ctx, by_file in lines.items() if ctx.startswith("f:")}
        self.order: list[str] = list(data["order"])
        self.durations: dict[str, float] = data["durations"]
        self.tests: dict[str, dict[str, set[int]]] = {}
        for nodeid in self.order:
            merged: dict[str, set[int]] = {}
            sources = [lines.get("t:" + nodeid, {})]
            sources += [fixture_lines.get(k, {}) for k in data["fixtures"].get(nodeid, [])]
            for by_file in sources:
                for f, v in by_file.items():
                    merged.setdefault(f, set()).update(v)
            self.tests[nodeid] = merged

    def tests_running(self, module: str, first_line: int, last_line: int) -> list[str]:
        """The tests that execute any of these lines of ``module``, in run order (all of them for a line run
        at import time; none for a line no test runs)."""
        span = range(first_line, last_line + 1)
        if any(ln in self.global_lines.get(module, ()) for ln in span):
            return list(self.order)
        return [t for t in self.order if any(ln in self.tests[t].get(module, ()) for ln in span)]

    def run_order(self, selected: list[str], killers: list[str]) -> list[str]:
        """Tests that killed this module's earlier mutants first (most recent first), then the others a test
        file at a time (a module-scoped fixture is built once), the quickest files first."""
        chosen = set(selected)
        first = [t for t in killers if t in chosen][:4]
        rest = [t for t in selected if t not in first]
        by_file: dict[str, list[str]] = {}
        for t in rest:
            by_file.setdefault(t.split("::")[0], []).append(t)
        files = sorted(by_file, key=lambda f: sum(self.durations.get(t, 0.0) for t in by_file[f]))
        return first + [t for f in files for t in by_file[f]]


def start_child(root: Path, pytest_args: list[str], plugins: list[Any], log_path: str) -> int:
    """Fork a child that runs pytest in ``root`` (the package imported afresh from that copy) in its own
    process group (a timeout kills what it started too), its output to ``log_path``; return its pid."""
    pid = os.fork()
    if pid != 0:
        return pid
    rc = 3
    try:
        os.setpgid(0, 0)
        os.chdir(root)
        sys.path.insert(0, str(root))
        os.environ["PYTHONPATH"] = str(root)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for plugin in plugins:
            if hasattr(plugin, "start"):
                plugin.start()
        rc = int(pytest.main([*PYTEST_FLAGS, f"--basetemp={root / '.pytest-tmp'}", *pytest_args], plugins=plugins))
        for plugin in plugins:
            if hasattr(plugin, "finish"):
                plugin.finish()
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 3
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


class Workers:
    """Forked pytest runs, at most one at a time in each worker's copy of the tree, each with a deadline."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = roots
        self.free = list(range(len(roots)))
        self.running: dict[int, tuple[int, Any, float, float | None]] = {}  # pid -> (worker, tag, start, deadline)

    def idle(self) -> bool:
        return bool(self.free)

    def busy(self) -> bool:
        return bool(self.running)

    def next_root(self) -> Path:
        """The copy the next ``start`` runs in (to mutate before starting)."""
        return self.roots[self.free[0]]

    def start(self, pytest_args: list[str], plugins: list[Any], log_path: str, tag: Any,
              timeout_s: float | None = None) -> None:
        slot = self.free.pop(0)
        t0 = time.perf_counter()
        pid = start_child(self.roots[slot], pytest_args, plugins, log_path)
        self.running[pid] = (slot, tag, t0, None if timeout_s is None else t0 + timeout_s)

    def finished(self) -> list[tuple[Any, Path, int | None, float]]:
        """The runs that ended since the last call: (tag, their copy, exit code or None on timeout, seconds);
        a run past its deadline is killed with what it started. Waits a moment when none ended."""
        ended = []
        for pid, (slot, tag, t0, deadline) in list(self.running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                rc: int | None = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.perf_counter() > deadline:
                self._kill(pid)
                rc = None
            else:
                continue
            del self.running[pid]
            self.free.append(slot)
            ended.append((tag, self.roots[slot], rc, time.perf_counter() - t0))
        if not ended:
            time.sleep(0.01)
        return ended

    def stop(self) -> None:
        """Kill every run still going (on an interrupt)."""
        for pid in list(self.running):
            self._kill(pid)
        self.running.clear()

    @staticmethod
    def _kill(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)


def tree_hash(root: Path) -> str:
    """What a mutant's outcome depends on: the package, the tests and the project file (a resumed run reuses
    outcomes only for exactly this tree)."""
    h = hashlib.sha256()
    paths = [root / "pyproject.toml", *sorted((root / "imu_hinge").rglob("*")), *sorted((root / "tests").rglob("*"))]
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".so", ".o"}:
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def mutant_key(spec: MutationSpec) -> str:
    return f"{spec.module_path}|{spec.operator_name}|{spec.occurrence}"


def load_equivalent(path: Path = EQUIVALENT_FILE) -> list[dict[str, str]]:
    if not path.exists():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))["equivalent"]
    for e in entries:
        missing = {"file", "operator", "code", "mutated", "reason"} - set(e)
        if missing:
            raise SystemExit(f"error: {path.name}: an entry lacks {sorted(missing)}: {e}")
    return list(entries)


def stale_equivalent(entries: list[dict[str, str]], root: Path = REPO) -> list[dict[str, str]]:
    """The reviewed entries whose line (``code``) is no longer in their file: they match no mutant any more
    (the line changed: review the mutant again, then update or remove the entry)."""
    lines: dict[str, set[str]] = {}
    stale = []
    for e in entries:
        if e["file"] not in lines:
            path = root / e["file"]
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            lines[e["file"]] = {ln.strip() for ln in text.splitlines()}
        if e["code"] not in lines[e["file"]]:
            stale.append(e)
    return stale


def source_and_mutant(root: Path, spec: MutationSpec) -> tuple[str, str]:
    """The mutated line as it is and as the mutant writes it (stripped)."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    code = (root / spec.module_path).read_text(encoding="utf-8")
    operator = cosmic_ray.plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))
    mutated = mutate_code(code, operator, spec.occurrence) or code
    line = spec.start_pos[0] - 1
    before, after = code.splitlines(), mutated.splitlines()
    return before[line].strip(), after[line].strip() if line < len(after) else ""


def reviewed_equivalent(root: Path, spec: MutationSpec, entries: list[dict[str, str]]) -> dict[str, str] | None:
    """The reviewed entry this mutant matches (same file and operator, same line before and after the
    mutation: the key survives edits elsewhere in the file and goes stale when the line changes)."""
    op = spec.operator_name.removeprefix("core/")
    candidates = [e for e in entries if e["file"] == str(spec.module_path) and e["operator"] == op]
    if not candidates:
        return None
    code, mutated = source_and_mutant(root, spec)
    for e in candidates:
        if e["code"] == code and e["mutated"] == mutated:
            return e
    return None


def load_named(path: Path) -> set[tuple[str, str, str, str]]:
    """(file, operator, line, mutated line) of the mutants ``path`` names: a JSON list of objects, or JSON
    lines (a --resume file: its survivors, which carry their lines)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: --only {path}: not a JSON list or JSON lines ({exc})") from None
    named = {(e["file"], e["operator"].removeprefix("core/"), e["code"], e["mutated"]) for e in data
             if {"file", "operator", "code", "mutated"} <= set(e)}
    if not named:
        raise SystemExit(f"error: --only {path}: it names no mutant (entries need file, operator, code and mutated)")
    return named


def changed_lines(repo: Path, since: str, files: list[str]) -> dict[str, set[int]]:
    """Per file (relative to ``repo``), the line numbers in the working tree that ``git diff since`` adds or changes."""
    out = subprocess.run(["git", "-C", str(repo), "diff", "--unified=0", "--no-color", since, "--", *files],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"error: --since {since}: {out.stderr.strip() or 'git diff failed'}")
    lines: dict[str, set[int]] = {}
    current = None
    for text in out.stdout.splitlines():
        if text.startswith("+++ "):
            current = text[6:] if text.startswith("+++ b/") else None
        elif text.startswith("@@") and current is not None:
            new = text.split(" ")[2]  # +start[,count]
            start, _, count = new[1:].partition(",")
            n = int(count) if count else 1
            lines.setdefault(current, set()).update(range(int(start), int(start) + n))
    return lines


def named_mutants(items: list[Any], root: Path, named: set[tuple[str, str, str, str]]) -> list[Any]:
    """The work items whose mutant is one of ``named`` (by its line before and after: see reviewed_equivalent)."""
    lines = {(f, op, code) for f, op, code, _ in named}
    sources = {f: [ln.strip() for ln in (root / f).read_text(encoding="utf-8").splitlines()]
               for f, _, _ in lines if (root / f).exists()}
    found = []
    for w in items:
        spec = w.mutations[0]
        f, op = str(spec.module_path), spec.operator_name.removeprefix("core/")
        src = sources.get(f)
        if src is None or (f, op, src[spec.start_pos[0] - 1]) not in lines:
            continue  # cheap: the line itself is not named; mutate only the candidates
        code, mutated = source_and_mutant(root, spec)
        if (f, op, code, mutated) in named:
            found.append(w)
    return found


def clean_runs(workers: Workers, groups: list[tuple[str, ...]], mods: list[Path], tmp: Path
               ) -> tuple[dict[tuple[str, ...], GroupCoverage], dict[tuple[str, ...], float]]:
    """The unmutated run of every test group needed, on the workers in parallel: it must pass; it records which
    tests execute which lines of the core (a mutant runs only those) and the time that is not the tests' own
    (start, collection, imports: part of a mutant's timeout)."""
    coverage: dict[tuple[str, ...], GroupCoverage] = {}
    overheads: dict[tuple[str, ...], float] = {}
    pending = list(enumerate(groups))
    while pending or workers.busy():
        while pending and workers.idle():
            k, group = pending.pop(0)
            wroot = workers.next_root()
            plugin = _Coverage({str(wroot / m) for m in mods}, wroot, str(tmp / f"lines{k}.json"))
            workers.start(list(group), [plugin], str(tmp / f"clean{k}.log"), tag=k)
        for k, _, rc, took in workers.finished():
            group = groups[k]
            if rc != 0:
                log = (tmp / f"clean{k}.log").read_text(encoding="utf-8", errors="replace")
                print(f"error: the unmutated tests fail ({' '.join(group)}); fix them first "
                      f"(`{pytest_command(group)}`):\n{log[-3000:]}", file=sys.stderr)
                raise SystemExit(2)
            with open(tmp / f"lines{k}.json", encoding="utf-8") as f:
                coverage[group] = GroupCoverage(json.load(f))
            overheads[group] = max(0.0, took - sum(coverage[group].durations.values()))
            print(f"clean run {took:5.1f} s ({len(coverage[group].order)} tests): {' '.join(group)}", flush=True)
    return coverage, overheads


class Tally:
    """The outcomes as they come: printed, counted, the survivors' and equivalents' rows kept, and each run's
    outcome appended to the resume file."""

    def __init__(self, root: Path, tree: str, n_chosen: int, resume_file: Path | None) -> None:
        self.root = root
        self.tree = tree
        self.n_chosen = n_chosen
        self.counts = dict.fromkeys(("killed", "timeout", "survived", "not_covered", "equivalent", "incompetent"), 0)
        self.survivors: list[tuple[str, str, str, str]] = []
        self.equivalents: list[tuple[str, str, str, str]] = []
        self.resumed = 0
        self.runs = 0
        self.tests_run = 0
        self.out = open(resume_file, "a", encoding="utf-8") if resume_file is not None else None

    def add(self, spec: MutationSpec, outcome: str, seconds: float = 0.0, *, note: str = "", killer: str = "",
            n_tests: int = 0, resumed: bool = False) -> None:
        self.counts[outcome] += 1
        where = f"{spec.module_path}:{spec.start_pos[0]}"
        op = spec.operator_name.removeprefix("core/")
        if outcome in {"survived", "not_covered"}:
            self.survivors.append((where, op, source_and_mutant(self.root, spec)[1], note))
        if outcome == "equivalent":
            self.equivalents.append((where, op, source_and_mutant(self.root, spec)[1], note))
        self.resumed += resumed
        if n_tests:
            self.runs += 1
            self.tests_run += n_tests
        if self.out is not None and not resumed and outcome != "equivalent":
            record = {"tree": self.tree, "key": mutant_key(spec), "outcome": outcome, "seconds": round(seconds, 2),
                      "killer": killer, "tests": n_tests}
            if outcome in {"survived", "not_covered"}:  # named by its lines too: --only finds it after edits
                code, mutated = source_and_mutant(self.root, spec)
                record |= {"file": str(spec.module_path), "operator": op, "code": code, "mutated": mutated}
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        n = sum(self.counts.values())
        print(f"[{n:4d}/{self.n_chosen}] {outcome:11s} {seconds:5.1f} s  {where}  {op}"
              + (f"  ({n_tests} tests)" if n_tests else "") + ("  (resumed)" if resumed else ""), flush=True)

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


def run_mutants(chosen: list[Any], root: Path, workers: Workers, coverage: dict[tuple[str, ...], GroupCoverage],
                 overheads: dict[tuple[str, ...], float], equivalent_entries: list[dict[str, str]],
                 done: dict[str, dict[str, Any]], tally: Tally, timeout_factor: float, whole_groups: bool) -> None:
    """Each mutant written to a free worker's copy, the tests that execute its line run there (the tests that
    killed the module's earlier mutants first), the copy restored when they end."""
    killers: dict[str, list[str]] = {}  # module -> tests that killed its mutants, most recent first

    def killed_by(module: str, test: str) -> None:
        killers[module] = [test] + [t for t in killers.get(module, []) if t != test]

    queue = list(chosen)
    try:
        while queue or workers.busy():
            while queue and workers.idle():
                spec = queue.pop(0).mutations[0]
                module = str(spec.module_path)
                group = tests_for(module)
                entry = reviewed_equivalent(root, spec, equivalent_entries)
                prior = done.get(mutant_key(spec))
                cov = coverage[group]
                selected = cov.tests_running(module, spec.start_pos[0], spec.end_pos[0])
                code = (root / module).read_text(encoding="utf-8")
                run = entry is None and prior is None and bool(selected)
                mutated = mutate_code(code, _operator(spec), spec.occurrence) if run else None
                if entry is not None:
                    tally.add(spec, "equivalent", note=entry["reason"])
                elif prior is not None:
                    if prior.get("killer"):
                        killed_by(module, prior["killer"])
                    tally.add(spec, prior["outcome"], prior["seconds"], killer=prior.get("killer", ""), resumed=True)
                elif not selected:
                    tally.add(spec, "not_covered", note="no test of its group runs this line")
                elif mutated is None:
                    tally.add(spec, "incompetent")
                else:
                    wroot = workers.next_root()
                    (wroot / module).write_text(mutated, encoding="utf-8")
                    failures = str(wroot / "failures.txt")
                    for stale in (failures, failures + ".missing"):
                        if os.path.exists(stale):
                            os.remove(stale)
                    order = cov.run_order(cov.order if whole_groups else selected, killers.get(module, []))
                    # a hang is killed after the timeout factor times the selected tests' clean (traced) run + 10 s
                    timeout_s = timeout_factor * (overheads[group] + sum(cov.durations.get(t, 0.0) for t in order))
                    workers.start(sorted({t.split("::")[0] for t in order}),
                                  [_Failures(failures), _Select(order, failures + ".missing")], failures + ".log",
                                  tag=(spec, code, len(order)), timeout_s=timeout_s + 10.0)
            for (spec, code, n_tests), wroot, rc, took in workers.finished():
                module = str(spec.module_path)
                (wroot / module).write_text(code, encoding="utf-8")  # the unmutated file back
                failures = str(wroot / "failures.txt")
                failed: list[str] = []
                if os.path.exists(failures):
                    with open(failures, encoding="utf-8") as f:
                        failed = [ln.strip() for ln in f if ln.strip()]
                # killed: a test failed, or the mutant broke the import or the collection (exit 2)
                outcome = "timeout" if rc is None else "survived" if rc == 0 else "killed"
                if outcome == "survived" and os.path.exists(failures + ".missing"):
                    lost = Path(failures + ".missing").read_text(encoding="utf-8")[:300]
                    print(f"error: the runner lost tests of {module}'s mutant (not collected: {lost}); "
                          "run with --whole-groups", file=sys.stderr)
                    raise SystemExit(3)
                if outcome == "killed" and failed:
                    killed_by(module, failed[0])
                tally.add(spec, outcome, took, killer=failed[0] if failed else "", n_tests=n_tests)
    finally:  # interrupted (Ctrl-C, SIGTERM): no mutant's tests left running; the outcomes so far are kept
        workers.stop()
        tally.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=20, help="mutants to draw (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--module", action="append", help="mutate only these paths (default: the whole core)")
    ap.add_argument("--timeout-factor", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                    help="mutants tested at once, each in its own copy of the tree (default: 2 or the CPUs)")
    ap.add_argument("--whole-groups", action="store_true",
                    help="run each mutant's whole test group, not only the tests that execute its line")
    ap.add_argument("--tree", type=Path, default=REPO, metavar="DIR",
                    help="the checkout to mutate (default: this one), e.g. a worktree of a fixed commit for a "
                         "full run spread over several sittings (the reviewed equivalents are this checkout's)")
    ap.add_argument("--only", type=Path, metavar="FILE",
                    help="test only the mutants FILE names by file, operator and line before and after (the "
                         "survivors of an earlier run: its --resume file, or a JSON list like "
                         "mutation_equivalent.json's entries), found again after edits elsewhere in their files")
    ap.add_argument("--since", metavar="REV",
                    help="test only the mutants on lines added or changed since git revision REV (the change's own "
                         "code: `git diff REV` of the tree mutated)")
    ap.add_argument("--resume", type=Path, metavar="FILE",
                    help="append each outcome to FILE (JSON lines) and skip the mutants FILE already holds for "
                         "exactly this tree (package, tests, pyproject): a long run continues where it stopped")
    args = ap.parse_args(argv)
    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the temporary copies are removed on a kill too
    equivalent_entries = load_equivalent()
    for e in stale_equivalent(equivalent_entries):
        print(f"warning: {EQUIVALENT_FILE.name}: stale entry, its line is no longer in {e['file']} "
              f"({e['operator']}: {e['code'][:80]})", file=sys.stderr)
    resume_file = args.resume.resolve() if args.resume else None

    with tempfile.TemporaryDirectory(prefix="imu-hinge-mutation-") as tmp_dir:
        tmp = Path(tmp_dir)
        root = tmp / "src"  # never mutated: the mutants are listed and their lines read here
        roots = [tmp / f"w{i}" for i in range(args.workers)]  # a copy per worker, mutated in turn
        for r in (root, *roots):
            copy_tree(r, args.tree.resolve())
        os.chdir(root)  # cosmic-ray lists mutants by paths relative to the current directory
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # a mutant's file must never be read from a stale .pyc
        sys.dont_write_bytecode = True
        tree = tree_hash(root)
        done: dict[str, dict[str, Any]] = {}
        if resume_file is not None and resume_file.exists():
            for line in resume_file.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if rec.get("tree") == tree:
                    done[rec["key"]] = rec
        mods = module_files(root, args.module or list(MODULES))
        with use_db(str(tmp / "session.sqlite")) as db:
            init(mods, db, {})
            items = sorted(db.work_items, key=lambda w: (str(w.mutations[0].module_path), w.mutations[0].start_pos,
                                                           w.mutations[0].operator_name, w.mutations[0].occurrence))
        spans = {str(m): annotation_spans(root / m) for m in mods}
        n_listed = len(items)
        items = [w for w in items if not in_annotation(w.mutations[0], spans)]
        n_all = len(items)
        if args.only is not None:
            items = named_mutants(items, root, load_named(args.only))
        if args.since is not None:
            changed = changed_lines(args.tree.resolve(), args.since, [str(m) for m in mods])
            items = [w for w in items
                     if w.mutations[0].start_pos[0] in changed.get(str(w.mutations[0].module_path), ())]
        rng = random.Random(args.seed)
        chosen = items if args.sample <= 0 or args.sample >= len(items) else rng.sample(items, args.sample)
        n_resumed = sum(mutant_key(w.mutations[0]) in done for w in chosen)
        print(f"{n_all} mutants in {len(mods)} modules ({n_listed - n_all} in type annotations left out: "
              f"equivalent); testing {len(chosen)} (seed {args.seed}) on {args.workers} worker(s); tree {tree[:12]}"
              + (f"; {n_resumed} outcomes resumed from {resume_file}" if n_resumed else ""), flush=True)
        groups = sorted({tests_for(str(w.mutations[0].module_path)) for w in chosen})
        print(f"preloaded {preload(set(groups), root)} modules the tests import", flush=True)
        workers = Workers(roots)
        coverage, overheads = clean_runs(workers, groups, mods, tmp)
        tally = Tally(root, tree, len(chosen), resume_file)
        run_mutants(chosen, root, workers, coverage, overheads, equivalent_entries, done, tally,
                     args.timeout_factor, args.whole_groups)

    counts = tally.counts
    total = len(chosen) - counts["incompetent"]
    killed = counts["killed"] + counts["timeout"]
    print()
    if tally.survivors:
        print(f"{'surviving mutant':48s} {'operator':36s} mutated line")
        for where, op, line, note in tally.survivors:
            print(f"{where:48s} {op:36s} {line[:90]}" + (f"  ({note})" if note else ""))
    else:
        print("no surviving mutants")
    if tally.equivalents:
        print(f"\n{'equivalent mutant (reviewed)':48s} {'operator':36s} mutated line / why")
        for where, op, line, reason in tally.equivalents:
            print(f"{where:48s} {op:36s} {line[:90]}\n{'':85s} {reason}")
    live = total - counts["equivalent"]
    summary = {"killed": killed, "total": total, "killed_pct": round(100.0 * killed / total, 1) if total else None,
               "equivalent": counts["equivalent"],
               "killed_pct_of_non_equivalent": round(100.0 * killed / live, 1) if live else None,
               "timeouts": counts["timeout"], "survived": counts["survived"] + counts["not_covered"],
               "not_covered": counts["not_covered"], "incompetent": counts["incompetent"],
               "mutants_in_core": n_all, "sample": len(chosen), "seed": args.seed,
               "modules": args.module or "core", "only": str(args.only) if args.only else None,
               "workers": args.workers,
               "tests_per_mutant_run": round(tally.tests_run / tally.runs, 1) if tally.runs else None,
               "resumed": tally.resumed, "tree": tree[:12], "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary))
    return 0


def _operator(spec: MutationSpec) -> Any:
    import cosmic_ray.plugins

    return cosmic_ray.plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))


if __name__ == "__main__":
    sys.exit(main())
