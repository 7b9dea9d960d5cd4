"""The package's layout (docs/architecture.md): a room map per package, unique file names, no import cycles."""

from __future__ import annotations

import ast
import importlib
from collections import Counter
from pathlib import Path

import pytest

import imu_hinge

ROOT = Path(imu_hinge.__file__).parent
PACKAGES = sorted(p.parent for p in ROOT.rglob("__init__.py"))


def _dotted(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def test_every_directory_of_the_package_is_a_package() -> None:
    dirs = {p.parent for p in ROOT.rglob("*.py")}
    assert not [d for d in dirs if not (d / "__init__.py").exists()]


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: _dotted(p / "__init__.py"))
def test_each_package_has_a_checked_all_and_names_its_modules(pkg: Path) -> None:
    name = _dotted(pkg / "__init__.py")
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"
    for entry in module.__all__:  # every entry is an attribute or a submodule
        assert hasattr(module, entry) or importlib.util.find_spec(f"{name}.{entry}") is not None, (name, entry)
    if pkg == ROOT or pkg.name == "commands":  # the top level and the subcommands are mapped elsewhere
        return
    doc = module.__doc__ or ""
    public = [p.stem for p in pkg.glob("*.py") if not p.stem.startswith("_")]
    unmapped = [m for m in public if f":mod:`.{m}`" not in doc]
    assert not unmapped, f"{name}'s docstring does not say what {unmapped} hold"


def test_file_names_are_unique_across_the_package() -> None:
    names = Counter(p.name for p in ROOT.rglob("*.py") if p.name != "__init__.py")
    assert [n for n, c in names.items() if c > 1] == []


def _package_imports() -> dict[str, set[str]]:
    """Package -> packages it imports at module level (lazy imports inside functions do not count)."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        mod = _dotted(path)
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps = graph.setdefault(pkg, set())
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            for t in targets:
                if t.startswith("imu_hinge."):
                    parts = t.split(".")
                    target_pkg = ".".join(parts[:2])
                    if (ROOT.parent / Path(*parts[:2])).is_dir() and target_pkg != pkg:
                        deps.add(target_pkg)
    return graph


def test_no_import_cycles_between_packages() -> None:
    graph = _package_imports()
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if seen.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(dep):], dep]))
            if dep not in seen:
                visit(dep)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)


def test_the_runtime_core_does_not_import_emulation_or_test_doubles() -> None:
    graph = _package_imports()
    core = ["imu_hinge.analysis", "imu_hinge.fusion", "imu_hinge.kinematics", "imu_hinge.detection",
            "imu_hinge.recording", "imu_hinge.sources", "imu_hinge.protocol"]
    assert not [p for p in core if "imu_hinge.emulation" in graph.get(p, set())]


def test_the_analysis_parameters_load_without_the_numerical_core() -> None:
    """A batch sent to a cluster builds and pickles its parameters in a process that analyses nothing."""
    import subprocess
    import sys

    code = ("import pickle, sys\nfrom imu_hinge.analysis.analysis_params import AnalysisParams\n"
            "from imu_hinge.fusion import METHODS\n"
            "assert pickle.loads(pickle.dumps(AnalysisParams())) == AnalysisParams()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'vqf', 'scipy', 'ahrs')\n"
            "             or m.startswith(('imu_hinge.fusion.', 'imu_hinge.kinematics.', 'imu_hinge.analysis.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['imu_hinge.analysis.analysis_params',", "'imu_hinge.analysis.stance_params',",
                           "'imu_hinge.fusion.gap_repair_params',", "'imu_hinge.fusion.reanchor_params',",
                           "'imu_hinge.kinematics.axis_params']"]
