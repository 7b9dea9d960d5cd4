"""The one exception tree of imu-hinge.

Every error a user can cause (a bad file, a wrong option, a sensor that is not there)
is an :class:`ImuHingeError` carrying a one-line message that says what is wrong and
what to do, and the process exit code the CLI uses for it::

    ImuHingeError                 exit 1   base class, never raised directly
    ├── UsageError                exit 2   bad option or configuration value
    │   └── ConfigError                    config file unreadable or invalid
    ├── InputError                exit 3   a recording or data file that cannot be used
    │   ├── RecordingNotFound              missing file
    │   ├── RecordingFormatError           empty, wrong columns, unknown sensor, non-numeric
    │   ├── CalibrationError               no quiet standing, no hinge to find the axis
    │   └── DataCheckError                 reads fine but cannot be right: one stream under both roles,
    │                                      acc and gyro in different frames, a flat-lined sensor, too short
    ├── ProtocolError             exit 4   a sensor packet that cannot be decoded
    │   └── DecodeError                    truncated, wrong version, bad count
    ├── SensorLinkError           exit 5   BLE: no adapter, sensor not found, lost
    ├── StoreError                exit 6   the SQLite store: corrupt, locked, unknown person
    ├── RecordingWriteError       exit 7   a session recording could not be written (disk full, I/O error)
    └── ClusterError              exit 8   Dask: scheduler unreachable, workers lacking or unlike imu-hinge

Warnings the user should see but that leave a usable result are not exceptions:
they are collected as :class:`DataWarning` strings on the result objects.
"""

from __future__ import annotations


class ImuHingeError(Exception):
    """Base of every error imu-hinge raises on purpose. ``str(exc)`` is one line."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


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
    ``frames``, ``flat``, ``too_short``, ``no_overlap``, ``sample_rate``, ``time_unit``, ``missing_sensor``).
    """

    def __init__(self, message: str, *, path: str | None = None, role: str | None = None,
                 problem: str = "") -> None:
        super().__init__(message, path=path)
        self.role = role
        self.problem = problem


class ProtocolError(ImuHingeError):
    exit_code = 4


class DecodeError(ProtocolError):
    pass


class SensorLinkError(ImuHingeError):
    exit_code = 5


class StoreError(ImuHingeError):
    exit_code = 6


class RecordingWriteError(ImuHingeError):
    """The session writer stopped: the file is closed, readable, and holds ``samples_kept`` samples."""

    exit_code = 7

    def __init__(self, message: str, *, path: str | None = None, samples_kept: int = 0) -> None:
        super().__init__(message, path=path)
        self.samples_kept = samples_kept


class ClusterError(ImuHingeError):
    """The Dask cluster of a batch cannot be used (rows finished before are written first)."""

    exit_code = 8


__all__ = [
    "CalibrationError",
    "ClusterError",
    "ConfigError",
    "DataCheckError",
    "DecodeError",
    "ImuHingeError",
    "InputError",
    "ProtocolError",
    "RecordingFormatError",
    "RecordingNotFound",
    "RecordingWriteError",
    "SensorLinkError",
    "StoreError",
    "UsageError",
]
