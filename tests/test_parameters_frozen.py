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


def test_a_stance_is_a_frozen_value() -> None:
    """The stance a pipeline found (its span and each sensor's estimate) is shared by the trackers and the summary:
    a frozen value, changed only by making a new one (``dataclasses.replace``, as the pipeline does)."""
    import dataclasses

    import numpy as np
    import pytest

    from imu_hinge.analysis.stance import StanceEstimate, StanceResult

    est = StanceEstimate("sacrum", np.array([0.0, 0.0, 9.81]), np.zeros(3), np.array([0.0, 0.0, 9.81]), 100, 100.0)
    result = StanceResult(0.0, 1.0, 1.0, {"sacrum": est})
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.gyr_bias_rad_s = np.ones(3)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.end_s = 2.0  # type: ignore[misc]
    assert dataclasses.replace(est, n_samples=5).n_samples == 5 and est.n_samples == 100
