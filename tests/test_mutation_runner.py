"""The mutation runner's test selection (benchmarks/mutation.py): a mutant runs only the tests that execute its
line, so the coverage it selects by must count a fixture's lines for every test using the fixture and lines run
at import time (also of a module a test imports lazily) for all tests; otherwise a killable mutant would be
reported as surviving, or (worse) a selection would miss the one test that kills it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

_CORE = """\
LIMIT = 3


def add_limit(x):
    return x + LIMIT


def double(x):
    return x * 2


def never_called():
    return 0
"""

_LAZY = """\
K = 5


def k():
    return K
"""

_TESTS = """\
import pytest

from imu_hinge.core import add_limit, double


@pytest.fixture(scope="module")
def doubled():
    return double(1)


def test_add():
    assert add_limit(1) == 4


def test_uses_fixture(doubled):
    assert doubled == 2


def test_other_uses_fixture(doubled):
    assert doubled > 0


def test_lazy_import():
    from imu_hinge.lazy import k
    assert k() == 5


def test_nothing():
    assert True
"""

_DRIVER = """\
import json, sys
from pathlib import Path
from typing import Any
sys.path.insert(0, sys.argv[1])
import mutation
root, out = Path(sys.argv[2]), Path(sys.argv[3])
mods = ["imu_hinge/core.py", "imu_hinge/lazy.py"]
workers = mutation.Workers([root])
plugin = mutation._Coverage({str(root / m) for m in mods}, root, str(out))
workers.start(["tests/test_toy.py"], [plugin], str(out) + ".log", tag=0)
ended = []
while not ended:
    ended = workers.finished()
cov = mutation.GroupCoverage(json.loads(out.read_text()))
q = {"rc": ended[0][2], "order": cov.order}
for name, module, line in [("limit", "imu_hinge/core.py", 1), ("add", "imu_hinge/core.py", 5),
                           ("double", "imu_hinge/core.py", 9), ("never", "imu_hinge/core.py", 13),
                           ("lazy_const", "imu_hinge/lazy.py", 1), ("lazy_body", "imu_hinge/lazy.py", 5)]:
    q[name] = [t.split("::")[1] for t in cov.tests_running(module, line, line)]
q["killers_first"] = [t.split("::")[1] for t in cov.run_order(cov.tests_running("imu_hinge/core.py", 1, 1),
                                                                ["tests/test_toy.py::test_other_uses_fixture"])]
print(json.dumps(q))
"""


def test_a_mutant_runs_exactly_the_tests_that_execute_its_line(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "imu_hinge").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "imu_hinge" / "__init__.py").write_text("")
    (root / "imu_hinge" / "core.py").write_text(_CORE)
    (root / "imu_hinge" / "lazy.py").write_text(_LAZY)
    (root / "tests" / "test_toy.py").write_text(_TESTS)
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(_DRIVER))
    run = subprocess.run([sys.executable, str(driver), str(REPO / "benchmarks"), str(root), str(tmp_path / "cov.json")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    q = json.loads(run.stdout.strip().splitlines()[-1])
    assert q["rc"] == 0
    everyone = ["test_add", "test_uses_fixture", "test_other_uses_fixture", "test_lazy_import", "test_nothing"]
    assert [t.split("::")[1] for t in q["order"]] == everyone
    assert q["limit"] == everyone  # a module constant: run at import, every test depends on it
    assert q["add"] == ["test_add"]
    # a module-scoped fixture runs once, in the first user's set-up: both users still select its lines
    assert q["double"] == ["test_uses_fixture", "test_other_uses_fixture"]
    assert q["never"] == []  # no test runs it: reported not covered, never run
    assert q["lazy_const"] == everyone  # run at import although the import happens inside one test
    assert q["lazy_body"] == ["test_lazy_import"]
    # the module's earlier killer first, then the others a test file at a time
    assert q["killers_first"] == ["test_other_uses_fixture", "test_add", "test_uses_fixture", "test_lazy_import",
                                  "test_nothing"]


def test_only_finds_the_named_mutants_again_after_edits_elsewhere(tmp_path: Path, monkeypatch: Any) -> None:
    """``--only``: a survivor named by its file, operator and line before and after is found again when lines
    above it moved (its occurrence number and line number changed), and not when its own line changed."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import mutation
    from cosmic_ray.commands.init import init
    from cosmic_ray.work_db import use_db

    def items_of(core: str) -> tuple[Path, list[Any]]:
        root = tmp_path / f"tree{len(list(tmp_path.iterdir()))}"
        (root / "imu_hinge").mkdir(parents=True)
        (root / "imu_hinge" / "core.py").write_text(core)
        monkeypatch.chdir(root)
        with use_db(str(root / "s.sqlite")) as db:
            init([Path("imu_hinge/core.py")], db, {})
            return root, list(db.work_items)

    named = {("imu_hinge/core.py", "ReplaceBinaryOperator_Mul_Add", "return x * 2", "return x + 2")}
    root, items = items_of(_CORE)
    (found,) = mutation.named_mutants(items, root, named)
    assert found.mutations[0].start_pos[0] == 9
    moved = _CORE.replace("LIMIT = 3\n", "LIMIT = 3\nSCALE = 2 * 2\n\n\ndef shift(x):\n    return x * 3 - 1\n")
    root, items = items_of(moved)
    (found,) = mutation.named_mutants(items, root, named)
    assert found.mutations[0].start_pos[0] == 14  # five lines down, and a Mul -> Add mutant more before it
    assert mutation.source_and_mutant(root, found.mutations[0]) == ("return x * 2", "return x + 2")
    root, items = items_of(_CORE.replace("return x * 2", "return x * 4"))
    assert mutation.named_mutants(items, root, named) == []
    listed = tmp_path / "named.json"
    listed.write_text(json.dumps([{"file": f, "operator": op, "code": c, "mutated": m} for f, op, c, m in named]))
    assert mutation.load_named(listed) == named


def test_since_names_the_lines_a_change_added_or_altered(tmp_path: Path, monkeypatch: Any) -> None:
    """``--since REV``: from a real git repository, the working tree's line numbers that ``git diff REV`` adds or
    changes (a removed line names none; an unchanged file is absent); an unknown revision is a one-line error."""
    import subprocess

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import mutation

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.py").write_text("one\ntwo\nthree\nfour\n")
    (tmp_path / "b.py").write_text("same\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    (tmp_path / "a.py").write_text("zero\none\nTWO\nfour\nfive\n")  # added 1, changed 3 (was 2), removed three, added 5
    assert mutation.changed_lines(tmp_path, "HEAD", ["a.py", "b.py"]) == {"a.py": {1, 3, 5}}
    try:
        mutation.changed_lines(tmp_path, "nope", ["a.py"])
    except SystemExit as exc:
        assert str(exc).startswith("error: --since nope:")
    else:
        raise AssertionError("an unknown revision passed")
