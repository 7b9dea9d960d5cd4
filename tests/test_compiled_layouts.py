"""The compiled loops' array layouts, declared twice: as C enums (the loops index the arrays by them) and as
Python constants (the drivers allocate, fill and read the arrays by them). A mismatch would let the C code
read or write the wrong entries (or past an array's end) without any error, so each pair is compared here."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import numpy as np

from imu_hinge.detection import detector
from imu_hinge.fusion import quiet_bias
from imu_hinge.kinematics import sagittal

PACKAGE = Path(detector.__file__).resolve().parents[1]


def c_enum_values(path: Path) -> dict[str, int]:
    """Every enumerator of the C file's enums (C's rules: from 0 or ``= N``, then one more each)."""
    values: dict[str, int] = {}
    for body in re.findall(r"enum\s*\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)):
        nxt = 0
        for item in (x.strip() for x in body.split(",") if x.strip()):
            name, _, value = (s.strip() for s in item.partition("="))
            nxt = int(value) if value else nxt
            values[name] = nxt
            nxt += 1
    return values


def python_layout(module: ModuleType, renames: dict[str, str] | None = None) -> dict[str, int]:
    """The module's integer constants named as C enumerators (a leading underscore dropped; ``renames``)."""
    renames = renames or {}
    return {renames.get(name, name.lstrip("_")): value for name, value in vars(module).items()
            if name.lstrip("_").isupper() and type(value) is int}


def check(module: ModuleType, c_file: str, expected_pairs: int, renames: dict[str, str] | None = None) -> None:
    c = c_enum_values(PACKAGE / c_file)
    py = {k: v for k, v in python_layout(module, renames).items() if k in c}
    assert len(py) == expected_pairs, sorted(py)  # the constants the module declares (none missed by the parser)
    assert py == {k: c[k] for k in py}


def test_the_detectors_layout_is_its_loops() -> None:
    c = c_enum_values(PACKAGE / "detection" / "_detect.c")
    check(detector, "detection/_detect.c", 29)
    assert detector._N_FS == c["IDLE_VALLEY_L"] + 1  # the float state's last entry
    assert detector._N_ST == c["SEEN_T"] + 1  # the int state's
    assert len(detector.HingeDetector()._par) == c["SEAT_MAX_PEAK_DEG"] + 1  # the parameters, in the loop's order


def test_the_quiet_window_estimators_layout_is_its_loops() -> None:
    check(quiet_bias, "fusion/_fusion_loops.c", 41)
    c = c_enum_values(PACKAGE / "fusion" / "_fusion_loops.c")
    for history in (1, 8):  # the pairing state: parameters and counters, then the kept windows' means, nothing more
        est = quiet_bias.QuietBiasEstimator(quiet_bias.QuietBiasParams(history=history), 100.0,
                                            np.array([1.0, 0.0, 0.0, 0.0]))
        assert est._k.shape == (c["K_HIST"] + history * c["W_LEN"],)
    assert quiet_bias._Q_LEN == c["Q_SIGMA"] + 1  # the state's last entry
    assert c["Q_COV"] == c["Q_E"] + c["E_LEN"] and c["Q_MEAN_N"] == c["Q_MEAN"] + c["W_LEN"]  # blocks of their size
    assert c["Q_ENDS"] == c["Q_COV"] + 9 and c["Q_MEAN"] == c["Q_ENDS"] + 16


def test_vqfs_parameters_go_to_its_constructor_in_the_shims_order() -> None:
    """VqfFilter hands vqf's parameters to the C++ constructor as one array, in the order of the shim's enum."""
    from imu_hinge.fusion import vqf_filter

    c = c_enum_values(PACKAGE / "fusion" / "_vqf_shim.h")
    order = sorted((v, k) for k, v in c.items() if k != "VQFC_N_PARAMS")
    named = [re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper() for key in vqf_filter._VQF_PARAM_KEYS]
    assert [k for _, k in order] == ["VQFC_" + n for n in (
        "TAU_ACC", "MOTION_BIAS", "REST_BIAS", "BIAS_SIGMA_INIT", "BIAS_FORGETTING", "BIAS_CLIP", "REST_MIN_T",
        "REST_TH_GYR", "REST_TH_ACC")]
    assert named == ["TAU_ACC", "MOTION_BIAS_EST_ENABLED", "REST_BIAS_EST_ENABLED", "BIAS_SIGMA_INIT",
                     "BIAS_FORGETTING_TIME", "BIAS_CLIP", "REST_MIN_T", "REST_TH_GYR", "REST_TH_ACC"]
    assert c["VQFC_N_PARAMS"] == len(vqf_filter._VQF_PARAM_KEYS)


def test_the_sagittal_axis_state_layout_is_its_loop() -> None:
    check(sagittal, "kinematics/_kinematics_loops.c", 9, renames={"_N": "NSUM"})
