"""The one exception tree of imu-hinge.

Every error a user can cause (a bad file, a wrong option, a sensor that is not there)
is an :class:`ImuHingeError` carrying a one-line message that says what is wrong and
what to do, the process exit code the CLI uses for it, and the data it is about as
attributes (the names in each class's ``data``: ``path``, ``role``, ``address``, ``opcode`` ...)::

    ImuHingeError                 exit 1   base class, never raised directly          path
    ├── UsageError                exit 2   bad option or configuration value          path
    │   ├── ConfigError                    config file unreadable or invalid          path
    │   └── MissingExtra                   an optional package is not installed      extra, module
    │                                      (:mod:`imu_hinge.extras`)
    ├── InputError                exit 3   a recording or data file that cannot be used   path
    │   ├── RecordingNotFound              missing file
    │   ├── RecordingFormatError           empty, wrong columns, unknown sensor, non-numeric
    │   ├── CalibrationError               no quiet standing, no hinge to find the axis
    │   └── DataCheckError                 reads fine but cannot be right: one stream    role, problem
    │                                      under both roles, acc and gyro in different frames,
    │                                      a flat-lined sensor, too short
    ├── ProtocolError             exit 4   a sensor packet that cannot be decoded         opcode
    │   └── DecodeError                    truncated, wrong version, bad count
    │       └── ProtocolDecodeError        ... and which rule failed                      kind
    │                                      (also importable from :mod:`imu_hinge.protocol`)
    ├── SensorLinkError           exit 5   BLE: no adapter, sensor not found, lost        role, address
    ├── StoreError                exit 6   the SQLite store: corrupt, locked, unknown person   path
    ├── RecordingWriteError       exit 7   a session recording could not be written   path, samples_kept
    │                                      (disk full, I/O error)
    └── ClusterError              exit 8   Dask: scheduler unreachable, workers       address
                                           lacking or unlike imu-hinge

An attribute is None where the error is not about one such thing (``SensorLinkError`` for "no
Bluetooth on this machine" has no role). ``str(exc)`` is the one-line message, prefixed with
``path`` for the input and usage errors that name no file themselves.

Warnings the user should see but that leave a usable result are not exceptions:
they are collected as plain strings in the ``warnings`` list of the result objects
(:class:`imu_hinge.analysis.pipeline.AnalysisResult`).
"""

from __future__ import annotations

from os import PathLike

_Path = str | PathLike[str]


class ImuHingeError(Exception):
    """Base of every error imu-hinge raises on purpose. ``str(exc)`` is one line."""

    exit_code = 1
    data: tuple[str, ...] = ("path",)
    """The attributes this class carries (a test checks every class sets them)."""
    show_path = True
    """Whether ``str(exc)`` starts with ``path``; False where the message names the file itself."""

    def __init__(self, message: str, *, path: _Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path and self.show_path else self.message


class UsageError(ImuHingeError):
    exit_code = 2


class ConfigError(UsageError):
    pass


class InputError(ImuHingeError):
    exit_code = 3


class RecordingNotFound(InputError):
    pass


class RecordingFormatError(InputError):
    pass


class CalibrationError(InputError):
    pass


class DataCheckError(InputError):
    """Input that reads fine but cannot be right (:mod:`imu_hinge.recording.checks`).

    ``role``: the sensor concerned (None when both); ``problem``: a short code (``same_stream``,
    ``frames``, ``flat``, ``too_short``, ``no_overlap``, ``sample_rate``, ``time_unit``, ``missing_sensor``,
    ``not_finite``, ``time_order``: a recording handed to the analysis without the checks).
    """

    data: tuple[str, ...] = ("path", "role", "problem")

    def __init__(self, message: str, *, path: _Path | None = None, role: str | None = None,
                 problem: str = "") -> None:
        super().__init__(message, path=path)
        self.role = role
        self.problem = problem


class ProtocolError(ImuHingeError):
    """A sensor message that cannot be used; ``opcode``: the command opcode concerned, when there is one."""

    exit_code = 4
    data: tuple[str, ...] = ("path", "opcode")

    def __init__(self, message: str, *, path: _Path | None = None, opcode: int | None = None) -> None:
        super().__init__(message, path=path)
        self.opcode = opcode


class DecodeError(ProtocolError):
    pass


class ProtocolDecodeError(DecodeError):
    """A :class:`DecodeError` that also says which rule failed.

    ``kind`` is one of :data:`imu_hinge.protocol.spec.ERROR_KINDS` (the same names the C codec's
    ``imu_err_name`` returns and ``vectors.json`` expects); ``str(exc)`` is one line.
    """

    data: tuple[str, ...] = ("path", "opcode", "kind")

    def __init__(self, kind: str, message: str, *, opcode: int | None = None) -> None:
        super().__init__(message, opcode=opcode)
        self.kind = kind


class SensorLinkError(ImuHingeError):
    """A sensor cannot be reached or used: ``role`` and ``address`` of the sensor, when one is concerned."""

    exit_code = 5
    data: tuple[str, ...] = ("path", "role", "address")

    def __init__(self, message: str, *, role: str | None = None, address: str | None = None) -> None:
        super().__init__(message)
        self.role = role
        self.address = address


class StoreError(ImuHingeError):
    """The store cannot be used; ``path``: the store file (its messages name it themselves)."""

    exit_code = 6
    show_path = False


class RecordingWriteError(ImuHingeError):
    """The session writer stopped: the file is closed, readable, and holds ``samples_kept`` samples."""

    exit_code = 7
    data: tuple[str, ...] = ("path", "samples_kept")

    def __init__(self, message: str, *, path: _Path | None = None, samples_kept: int = 0) -> None:
        super().__init__(message, path=path)
        self.samples_kept = samples_kept


class ClusterError(ImuHingeError):
    """The Dask cluster of a batch cannot be used (rows finished before are written first);
    ``address``: the scheduler's, when known."""

    exit_code = 8
    data: tuple[str, ...] = ("path", "address")

    def __init__(self, message: str, *, address: str | None = None) -> None:
        super().__init__(message)
        self.address = address


__all__ = [
    "CalibrationError",
    "ClusterError",
    "ConfigError",
    "DataCheckError",
    "DecodeError",
    "ImuHingeError",
    "InputError",
    "ProtocolDecodeError",
    "ProtocolError",
    "RecordingFormatError",
    "RecordingNotFound",
    "RecordingWriteError",
    "SensorLinkError",
    "StoreError",
    "UsageError",
]
