"""The one exception tree (imu_hinge/errors.py): every public error of the package is in it, has its
exit code, and carries the data it is about (path, role, address, opcode ...) as attributes."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.device import BLEDevice

import imu_hinge.extras
import imu_hinge.protocol
import imu_hinge.protocol.spec
from imu_hinge import errors
from imu_hinge.errors import ImuHingeError, ProtocolDecodeError, SensorLinkError, StoreError
from imu_hinge.protocol.commands import decode_command, decode_response
from imu_hinge.sources.discovery import FoundSensor, pick_roles

PACKAGE = Path(errors.__file__).resolve().parent
EXIT_CODES = {"ImuHingeError": 1, "UsageError": 2, "InputError": 3, "ProtocolError": 4, "SensorLinkError": 5,
              "StoreError": 6, "RecordingWriteError": 7, "ClusterError": 8}  # contracts: never change
SAMPLE = {"path": "rec.csv", "role": "sacrum", "address": "AA:BB:CC:DD:EE:01", "opcode": 0x03,
          "kind": "truncated", "problem": "flat", "samples_kept": 12, "extra": "ble", "module": "bleak"}


def _tree() -> list[type[ImuHingeError]]:
    out, todo = [], [ImuHingeError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in out if c.__module__.startswith("imu_hinge.") and not c.__module__.startswith("imu_hinge.tests")]


def _make(cls: type[ImuHingeError]) -> ImuHingeError:
    """An instance with every declared datum set (through the constructor where it takes it)."""
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: SAMPLE[k] for k in cls.data if k in params}
    if "message" in params:
        kwargs["message"] = "something is wrong; do this"
    exc = cls(**kwargs)
    return exc


# exceptions that never reach the user: control flow inside one module, caught there
SIGNALS = {"sources/sensor_link.py:Retry", "conformance/kit.py:ClauseFailed"}


def test_every_public_error_class_of_the_package_is_in_the_tree() -> None:
    defined = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
            if any(b.endswith(("Error", "Exception")) or b in {c.__name__ for c in _tree()} for b in bases):
                defined.append(f"{path.relative_to(PACKAGE).as_posix()}:{node.name}")
                # the module is imported, so its classes are in the tree the next lines look at
                importlib.import_module("imu_hinge." + path.relative_to(PACKAGE).with_suffix("").as_posix()
                                        .replace("/", ".").removesuffix(".__init__"))
    in_tree = {c.__name__ for c in _tree()}
    outside = [d for d in defined if d.rsplit(":", 1)[1] not in in_tree and d not in SIGNALS]
    assert outside == [], "subclass imu_hinge.errors.ImuHingeError: " + ", ".join(outside)
    assert len(defined) >= 18  # measured 18: 16 in the tree, 2 signals
    assert set(errors.__all__) <= in_tree


@pytest.mark.parametrize("cls", _tree(), ids=lambda c: c.__name__)
def test_each_error_carries_its_declared_data_and_its_exit_code(cls: type[ImuHingeError]) -> None:
    assert issubclass(cls, ImuHingeError) and "path" in cls.data
    assert all(k in SAMPLE for k in cls.data), f"{cls.__name__}.data names an unknown datum"
    exc = _make(cls)
    for key in cls.data:
        expected = SAMPLE[key] if key in inspect.signature(cls.__init__).parameters else getattr(exc, key)
        assert hasattr(exc, key) and getattr(exc, key) == expected, key
    base = next(c for c in cls.__mro__ if c.__name__ in EXIT_CODES)
    assert exc.exit_code == EXIT_CODES[base.__name__]
    assert "\n" not in str(exc) and str(exc)


def test_the_message_is_unchanged_by_the_data() -> None:
    assert str(SensorLinkError("the sacrum sensor is not connected", role="sacrum", address="AA")) == \
        "the sacrum sensor is not connected"
    assert str(StoreError("no store at /x.sqlite3 yet", path="/x.sqlite3")) == "no store at /x.sqlite3 yet"
    assert str(errors.RecordingFormatError("no rows", path="a.csv")) == "a.csv: no rows"
    assert str(ProtocolDecodeError("unknown_opcode", "unknown command opcode 0x7f", opcode=0x7F)) == \
        "unknown command opcode 0x7f"


def test_protocol_decode_error_lives_in_the_tree_and_keeps_its_old_import_paths() -> None:
    assert imu_hinge.protocol.spec.ProtocolDecodeError is ProtocolDecodeError
    assert imu_hinge.protocol.ProtocolDecodeError is ProtocolDecodeError
    assert issubclass(ProtocolDecodeError, errors.DecodeError)
    assert issubclass(imu_hinge.extras.MissingExtra, errors.UsageError)


def test_raised_errors_carry_their_opcode_role_and_address() -> None:
    with pytest.raises(ProtocolDecodeError) as unknown:
        decode_command(b"\x7f")
    assert unknown.value.kind == "unknown_opcode" and unknown.value.opcode == 0x7F
    with pytest.raises(ProtocolDecodeError) as short:
        decode_response(b"\x83")
    assert short.value.kind == "truncated" and short.value.opcode == 0x03
    with pytest.raises(ProtocolDecodeError) as empty:
        decode_command(b"")
    assert empty.value.opcode is None  # no byte, no opcode

    def sensor(address: str, role: str) -> Any:
        return FoundSensor(BLEDevice(address, None, None), role, 90, False, -50)

    with pytest.raises(SensorLinkError) as two:
        pick_roles([sensor("AA:01", "sacrum"), sensor("AA:02", "sacrum")], ("sacrum", "thoracic"))
    assert (two.value.role, two.value.address) == ("sacrum", "AA:02")
    with pytest.raises(SensorLinkError) as missing:
        pick_roles([sensor("AA:01", "sacrum")], ("sacrum", "thoracic"))
    assert (missing.value.role, missing.value.address) == ("thoracic", None)
