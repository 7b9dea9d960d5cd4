"""Parameters apart from state: every parameter set of the package is a frozen value."""

from __future__ import annotations


def test_every_parameter_set_is_a_frozen_value() -> None:
    """Parameters apart from state: every ``*Params`` dataclass of the package is frozen (one set is shared by
    the pipelines a batch or a sweep builds; none may change it), found by reading the sources."""
    import dataclasses
    import importlib
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted((root / "imu_hinge").rglob("*.py")):
        names = re.findall(r"^class (\w+Params)\b", path.read_text(encoding="utf-8"), flags=re.M)
        if names:
            module = importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
            found += [(module.__name__, n, getattr(module, n)) for n in names]
    assert len(found) >= 16  # measured 16 in 11 modules
    for module_name, name, cls in found:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, f"{module_name}.{name}"
