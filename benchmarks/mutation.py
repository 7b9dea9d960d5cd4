"""Mutation testing of the numerical core with cosmic-ray: how many planted one-line bugs the tests catch.

Usage: ``python benchmarks/mutation.py [--sample N] [--seed S] [--module PATH ...]``

The whole tree is copied to a temporary directory (the working tree is never touched). cosmic-ray
lists every mutant of the core modules below (operators swapped, numbers changed, comparisons
flipped, loops skipped, ...); mutants inside type annotations are left out (never evaluated under
``from __future__ import annotations``: equivalent by construction). ``--sample N`` draws N of them
reproducibly from ``--seed`` (0 = all of them: several thousand mutants, many hours of CPU). Each
mutant is applied to the copy and only the fast tests of its module's group run (seconds), with a
timeout of 3x that group's clean run + 20 s: a mutant that hangs is killed by the timeout. Prints
one line per mutant, a table of the survivors (file:line, operator, the changed line) and, last,
one JSON line with killed / total.
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

from cosmic_ray.commands.init import init
from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome

REPO = Path(__file__).resolve().parents[1]

_DETECTOR_TESTS = ("tests/test_detector.py", "tests/test_detector_truth.py")
_CORE_TESTS = ("tests/test_pipeline.py", "tests/test_accuracy.py", "tests/test_core_truth.py",
               "tests/test_ideal_sensors.py", "tests/test_stance_search.py", "tests/test_reanchor.py")
_FUSION_TESTS = ("tests/test_fusion.py", "tests/test_quiet_bias.py", "tests/test_quiet_bias_axes.py")

GROUPS: dict[str, tuple[str, ...]] = {
    "imu_hinge/detection/": _DETECTOR_TESTS,
    "imu_hinge/kinematics/alignment.py": ("tests/test_alignment.py", "tests/test_pipeline.py"),
    "imu_hinge/kinematics/sagittal.py": _CORE_TESTS,
    "imu_hinge/calibration/stance.py": _CORE_TESTS,
    "imu_hinge/calibration/stance_search.py": _CORE_TESTS,
    "imu_hinge/fusion/reanchor.py": ("tests/test_reanchor.py", "tests/test_pipeline.py"),
    "imu_hinge/pipeline.py": _CORE_TESTS,
    "imu_hinge/fusion/quiet_bias.py": (*_FUSION_TESTS, "tests/test_accuracy.py"),
    "imu_hinge/fusion/": _FUSION_TESTS,
}
"""Source path prefix -> the tests run for its mutants (first matching prefix wins)."""

MODULES = ("imu_hinge/fusion", "imu_hinge/kinematics", "imu_hinge/detection", "imu_hinge/calibration/stance.py",
           "imu_hinge/calibration/stance_search.py", "imu_hinge/pipeline.py")


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


def pytest_command(tests: tuple[str, ...]) -> str:
    return " ".join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                     *tests])


def changed_line(diff: str) -> str:
    lines = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return lines[0] if lines else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=20, help="mutants to draw (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--module", action="append", help="mutate only these paths (default: the whole core)")
    ap.add_argument("--timeout-factor", type=float, default=3.0)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the temporary copy is removed on a kill too

    with tempfile.TemporaryDirectory(prefix="imu-hinge-mutation-") as tmp:
        root = Path(tmp)
        copy_tree(root)
        os.chdir(root)  # cosmic-ray mutates relative paths and runs the tests in the current directory
        os.environ["PYTHONPATH"] = str(root)  # the copy's package, not the installed (editable) one
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
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

        # the clean run of every test group needed: it must pass, and it sets the group's timeout
        timeouts: dict[tuple[str, ...], float] = {}
        for group in sorted({tests_for(str(w.mutations[0].module_path)) for w in chosen}):
            t0 = time.perf_counter()
            res = subprocess.run(pytest_command(group).split(), capture_output=True, text=True, cwd=root)
            took = time.perf_counter() - t0
            if res.returncode != 0:
                print(f"error: the unmutated tests fail ({' '.join(group)}); fix them first:\n"
                      f"{res.stdout[-2000:]}", file=sys.stderr)
                return 2
            timeouts[group] = args.timeout_factor * took + 20.0
            print(f"clean run {took:5.1f} s: {' '.join(group)}", flush=True)

        counts = {"killed": 0, "timeout": 0, "survived": 0, "incompetent": 0}
        survivors: list[tuple[str, str, str]] = []
        for k, item in enumerate(chosen, 1):
            spec = item.mutations[0]
            group = tests_for(str(spec.module_path))
            t0 = time.perf_counter()
            result = mutate_and_test([spec], pytest_command(group), timeouts[group])
            where = f"{spec.module_path}:{spec.start_pos[0]}"
            op = spec.operator_name.removeprefix("core/")
            if result.worker_outcome != WorkerOutcome.NORMAL or result.test_outcome == TestOutcome.INCOMPETENT:
                outcome = "incompetent"
            elif result.test_outcome == TestOutcome.SURVIVED:
                outcome = "survived"
                survivors.append((where, op, changed_line(result.diff)))
            elif result.output == "timeout":
                outcome = "timeout"
            else:
                outcome = "killed"
            counts[outcome] += 1
            print(f"[{k:3d}/{len(chosen)}] {outcome:11s} {time.perf_counter() - t0:5.1f} s  {where}  {op}", flush=True)

    total = counts["killed"] + counts["timeout"] + counts["survived"]
    killed = counts["killed"] + counts["timeout"]
    print()
    if survivors:
        print(f"{'surviving mutant':48s} {'operator':36s} mutated line")
        for where, op, line in survivors:
            print(f"{where:48s} {op:36s} {line[:90]}")
    else:
        print("no surviving mutants")
    summary = {"killed": killed, "total": total, "killed_pct": round(100.0 * killed / total, 1) if total else None,
               "timeouts": counts["timeout"], "survived": counts["survived"], "incompetent": counts["incompetent"],
               "mutants_in_core": n_all, "sample": len(chosen), "seed": args.seed,
               "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
