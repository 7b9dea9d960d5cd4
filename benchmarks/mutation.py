"""Mutation testing of the numerical core with cosmic-ray: how many planted one-line bugs the tests catch.

Usage: ``python benchmarks/mutation.py [--sample N] [--seed S] [--module PATH ...]``

The whole tree is copied to a temporary directory (the working tree is never touched). cosmic-ray
lists every mutant of the core modules below (operators swapped, numbers changed, comparisons
flipped, loops skipped, ...); mutants inside type annotations are left out (never evaluated under
``from __future__ import annotations``: equivalent by construction). ``--sample N`` draws N of them
reproducibly from ``--seed`` (0 = all of them). One process imports the tests' third-party
dependencies once (numpy, scipy, pandas, pytest and its plugins); each mutant is written to the copy
and its module group's fast tests run in a fork of that process (the package is imported afresh from
the mutated file), the tests that killed the module's earlier mutants first. A timeout of 3x the
group's clean run + 20 s kills a mutant that hangs. The clean run of each group also records which
core lines its tests execute: a mutant on a line none of them runs is reported as surviving
("not_covered") without a run. Mutants reviewed as equivalent (``benchmarks/mutation_equivalent.json``,
each with its reason) are not run and are reported apart. Prints one line per mutant, a table of the
survivors (file:line, operator, the changed line) and, last, one JSON line with killed / total and
killed / (total - equivalent).
"""

from __future__ import annotations

import argparse
import ast
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

from cosmic_ray.commands.init import init
from cosmic_ray.mutating import use_mutation
from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import MutationSpec

REPO = Path(__file__).resolve().parents[1]

_PARAMS_TESTS = ("tests/test_parameters_frozen.py",)
_DETECTOR_TESTS = ("tests/test_detector.py", "tests/test_detector_truth.py", "tests/test_detector_contract.py",
                   *_PARAMS_TESTS)
_CORE_TESTS = ("tests/test_pipeline.py", "tests/test_accuracy.py", "tests/test_core_truth.py",
               "tests/test_ideal_sensors.py", "tests/test_stance_search.py", "tests/test_reanchor.py", *_PARAMS_TESTS)
_FUSION_TESTS = ("tests/test_fusion.py", "tests/test_fusion_api.py", "tests/test_quiet_bias.py",
                 "tests/test_quiet_bias_axes.py", "tests/test_compiled_loops.py", *_PARAMS_TESTS)

GROUPS: dict[str, tuple[str, ...]] = {
    "imu_hinge/detection/role_check.py": ("tests/test_pipeline.py",),  # used by analyze, not the detector
    "imu_hinge/detection/mount_check.py": ("tests/test_mount_check.py", *_PARAMS_TESTS),  # on analysis results
    "imu_hinge/detection/sync_check.py": ("tests/test_sync_check.py", *_PARAMS_TESTS),
    "imu_hinge/detection/session_checks.py": ("tests/test_mount_check.py", "tests/test_sync_check.py"),
    "imu_hinge/detection/": _DETECTOR_TESTS,
    "imu_hinge/kinematics/alignment.py": ("tests/test_alignment.py", "tests/test_pipeline.py"),
    "imu_hinge/kinematics/sagittal.py": (*_CORE_TESTS, "tests/test_compiled_loops.py"),
    "imu_hinge/kinematics/axis_params.py": (*_CORE_TESTS, "tests/test_compiled_loops.py"),
    "imu_hinge/analysis/stance_params.py": _CORE_TESTS,
    "imu_hinge/analysis/stance.py": _CORE_TESTS,
    "imu_hinge/analysis/stance_search.py": _CORE_TESTS,
    "imu_hinge/fusion/reanchor.py": ("tests/test_reanchor.py", "tests/test_pipeline.py"),
    "imu_hinge/fusion/reanchor_params.py": ("tests/test_reanchor.py", "tests/test_pipeline.py", *_PARAMS_TESTS),
    "imu_hinge/analysis/pipeline.py": _CORE_TESTS,
    "imu_hinge/fusion/quiet_bias.py": (*_FUSION_TESTS, "tests/test_accuracy.py"),
    "imu_hinge/fusion/": _FUSION_TESTS,
}
"""Source path prefix -> the tests run for its mutants (first matching prefix wins)."""

MODULES = ("imu_hinge/fusion", "imu_hinge/kinematics", "imu_hinge/detection", "imu_hinge/analysis/stance.py",
           "imu_hinge/analysis/stance_params.py", "imu_hinge/analysis/stance_search.py",
           "imu_hinge/analysis/pipeline.py")


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


def copy_tree(dest: Path) -> None:
    """The working tree as it is (uncommitted edits included), without the venv, git data and caches."""
    skip = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache",
                                  ".pytest_cache", "*.egg-info", "mutants", "build", "dist")
    shutil.copytree(REPO, dest, ignore=skip, dirs_exist_ok=True)


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


def _trace_lines(files: set[str], lines: dict[str, set[int]]) -> None:
    """Record every executed line of ``files`` (absolute paths), in this thread and new ones."""
    import threading

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            lines[frame.f_code.co_filename].add(frame.f_lineno)
        return local

    def glob(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename in files:
            lines[frame.f_code.co_filename].add(frame.f_lineno)
            return local
        return None

    sys.settrace(glob)
    threading.settrace(glob)


def run_forked(runs: list[tuple[str, ...]], timeout_s: float, failures: str,
               trace: tuple[set[str], str] | None = None) -> tuple[int | None, float]:
    """Run the pytest selections one after the other in a fork (stopping at the first that fails);
    return (exit code or None on timeout, seconds)."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: its own process group (a timeout kills what it started too), quiet
        rc = 3
        try:
            os.setpgid(0, 0)
            log = os.open(failures + ".log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            import pytest

            lines: dict[str, set[int]] = {f: set() for f in trace[0]} if trace else {}
            if trace:
                _trace_lines(trace[0], lines)
            for tests in runs:
                rc = int(pytest.main([*PYTEST_FLAGS, *tests], plugins=[_Failures(failures)]))
                if rc != 0:
                    break
            if trace:
                sys.settrace(None)
                with open(trace[1], "w", encoding="utf-8") as f:
                    json.dump({k: sorted(v) for k, v in lines.items()}, f)
        except BaseException:
            import traceback

            traceback.print_exc()
            rc = 3
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    deadline = t0 + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.perf_counter() - t0
        if time.perf_counter() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
            return None, time.perf_counter() - t0
        time.sleep(0.02)


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=20, help="mutants to draw (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--module", action="append", help="mutate only these paths (default: the whole core)")
    ap.add_argument("--timeout-factor", type=float, default=3.0)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the temporary copy is removed on a kill too
    equivalent_entries = load_equivalent()
    for e in stale_equivalent(equivalent_entries):
        print(f"warning: {EQUIVALENT_FILE.name}: stale entry, its line is no longer in {e['file']} "
              f"({e['operator']}: {e['code'][:80]})", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="imu-hinge-mutation-") as tmp:
        root = Path(tmp)
        copy_tree(root)
        os.chdir(root)  # cosmic-ray mutates relative paths and the tests run in the current directory
        os.environ["PYTHONPATH"] = str(root)  # the copy's package, not the installed (editable) one
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        sys.path.insert(0, str(root))
        sys.dont_write_bytecode = True  # a mutant's file must never be read from a stale .pyc
        mods = module_files(root, args.module or list(MODULES))
        with use_db(str(root / "session.sqlite")) as db:
            init(mods, db, {})
            items = sorted(db.work_items, key=lambda w: (str(w.mutations[0].module_path), w.mutations[0].start_pos,
                                                           w.mutations[0].operator_name, w.mutations[0].occurrence))
        spans = {str(m): annotation_spans(root / m) for m in mods}
        n_listed = len(items)
        items = [w for w in items if not in_annotation(w.mutations[0], spans)]
        n_all = len(items)
        rng = random.Random(args.seed)
        chosen = items if args.sample <= 0 or args.sample >= n_all else rng.sample(items, args.sample)
        print(f"{n_all} mutants in {len(mods)} modules ({n_listed - n_all} in type annotations left out: "
              f"equivalent); testing {len(chosen)} (seed {args.seed})", flush=True)
        groups = {tests_for(str(w.mutations[0].module_path)) for w in chosen}
        print(f"preloaded {preload(groups, root)} modules the tests import", flush=True)

        # the clean run of every test group needed: it must pass, it sets the group's timeout and
        # records which lines of the core its tests execute (a mutant on a line never run cannot be killed)
        failures = str(root / "failures.txt")
        files = {str(root / m) for m in mods}
        timeouts: dict[tuple[str, ...], float] = {}
        covered: dict[tuple[str, ...], dict[str, set[int]]] = {}
        for group in sorted(groups):
            out = str(root / "lines.json")
            rc, took = run_forked([group], 3600.0, failures, trace=(files, out))
            if rc != 0:
                print(f"error: the unmutated tests fail ({' '.join(group)}); fix them first "
                      f"(`{pytest_command(group)}`):\n{Path(failures + '.log').read_text()[-3000:]}", file=sys.stderr)
                return 2
            with open(out, encoding="utf-8") as f:
                covered[group] = {k: set(v) for k, v in json.load(f).items()}
            timeouts[group] = args.timeout_factor * took + 20.0
            print(f"clean run {took:5.1f} s: {' '.join(group)}", flush=True)

        counts = {"killed": 0, "timeout": 0, "survived": 0, "not_covered": 0, "equivalent": 0, "incompetent": 0}
        survivors: list[tuple[str, str, str, str]] = []
        equivalents: list[tuple[str, str, str, str]] = []
        killers: dict[str, list[str]] = {}  # module -> tests that killed its mutants, most recent first
        for k, item in enumerate(chosen, 1):
            spec = item.mutations[0]
            module = str(spec.module_path)
            group = tests_for(module)
            where = f"{module}:{spec.start_pos[0]}"
            op = spec.operator_name.removeprefix("core/")
            t0 = time.perf_counter()
            lines_run = covered[group].get(str(root / module), set())
            entry = reviewed_equivalent(root, spec, equivalent_entries)
            if entry is not None:
                outcome = "equivalent"
                equivalents.append((where, op, source_and_mutant(root, spec)[1], entry["reason"]))
            elif not any(ln in lines_run for ln in range(spec.start_pos[0], spec.end_pos[0] + 1)):
                outcome = "not_covered"
                survivors.append((where, op, source_and_mutant(root, spec)[1], "no test runs this line"))
            else:
                runs = [tuple(killers.get(module, [])[:4]), group] if killers.get(module) else [group]
                if os.path.exists(failures):
                    os.remove(failures)
                with use_mutation(spec.module_path, _operator(spec), spec.occurrence) as (_, mutated):
                    if mutated is None:
                        rc, _took = 0, 0.0
                        outcome = "incompetent"
                    else:
                        rc, _took = run_forked(runs, timeouts[group], failures)
                        outcome = "timeout" if rc is None else "survived" if rc == 0 else "killed"
                if outcome == "survived":
                    survivors.append((where, op, source_and_mutant(root, spec)[1], ""))
                elif outcome == "killed" and os.path.exists(failures):
                    with open(failures, encoding="utf-8") as f:
                        failed = [ln.strip() for ln in f if ln.strip()]
                    if failed:
                        killers[module] = [failed[0]] + [t for t in killers.get(module, []) if t != failed[0]]
            counts[outcome] += 1
            print(f"[{k:3d}/{len(chosen)}] {outcome:11s} {time.perf_counter() - t0:5.1f} s  {where}  {op}", flush=True)

    total = len(chosen) - counts["incompetent"]
    killed = counts["killed"] + counts["timeout"]
    print()
    if survivors:
        print(f"{'surviving mutant':48s} {'operator':36s} mutated line")
        for where, op, line, note in survivors:
            print(f"{where:48s} {op:36s} {line[:90]}" + (f"  ({note})" if note else ""))
    else:
        print("no surviving mutants")
    if equivalents:
        print(f"\n{'equivalent mutant (reviewed)':48s} {'operator':36s} mutated line / why")
        for where, op, line, reason in equivalents:
            print(f"{where:48s} {op:36s} {line[:90]}\n{'':85s} {reason}")
    live = total - counts["equivalent"]
    summary = {"killed": killed, "total": total, "killed_pct": round(100.0 * killed / total, 1) if total else None,
               "equivalent": counts["equivalent"],
               "killed_pct_of_non_equivalent": round(100.0 * killed / live, 1) if live else None,
               "timeouts": counts["timeout"], "survived": counts["survived"] + counts["not_covered"],
               "not_covered": counts["not_covered"], "incompetent": counts["incompetent"],
               "mutants_in_core": n_all, "sample": len(chosen), "seed": args.seed,
               "modules": args.module or "core", "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary))
    return 0


def _operator(spec: MutationSpec) -> Any:
    import cosmic_ray.plugins

    return cosmic_ray.plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))


if __name__ == "__main__":
    sys.exit(main())
