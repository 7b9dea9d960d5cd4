"""The ``imu-hinge`` command line: parse, call, print. Each subcommand lives in
``imu_hinge.commands.<name>`` and exposes ``register(subparsers)``; the registered
handler takes the parsed arguments and returns an exit code.

User mistakes arrive here as :class:`~imu_hinge.errors.ImuHingeError` and leave as one
line on stderr plus the error's exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from imu_hinge import __version__
from imu_hinge.errors import ImuHingeError
from imu_hinge.extras import extra_for

# Set before numpy loads (nothing above imports it): the commands' arrays are long but their matrices tiny
# (3 x 3), so OpenBLAS' thread pool only costs start-up and spinning CPU (0.15 s of CPU of an hour's analyze
# on 2 cores) and changes no result (measured: the same bits). The user's own setting wins; batch workers
# inherit it (several single-threaded processes, not threads fighting over the cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Subcommand modules, in the order ``--help`` lists them. Add a module here to add a command.
COMMANDS: tuple[str, ...] = (
    "analyze",
    "simulate",
    "replay",
    "export",
    "people",
    "history",
    "sessions",
    "advise",
    "exercises",
    "calibrate",
    "import_",
    "report",
    "scan",
    "sensors",
    "conformance",
    "record",
    "train",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``only``: just that command's module (the others are not imported,
    which saves a third of a second of start-up)."""
    parser = argparse.ArgumentParser(
        prog="imu-hinge",
        description="Hip-hinge trainer on two IMUs (sacrum + thoracic): angles, reps, lumbar-flexion alerts.",
    )
    parser.add_argument("--version", action="version", version=f"imu-hinge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"imu_hinge.commands.{name}")
        module.register(sub)
    return parser


def _command_module(argv: Sequence[str]) -> str | None:
    """The module of the command ``argv`` names first (None: no or no known command, or a top-level option)."""
    if not argv or argv[0].startswith("-"):
        return None
    name = "import_" if argv[0] == "import" else argv[0]
    return name if name in COMMANDS else None


def _missing_extra(exc: ModuleNotFoundError, argv: Sequence[str]) -> int:
    """One line naming the extra to install (``pip install 'imu-hinge[ble]'``); other import errors propagate."""
    missing = extra_for(exc)
    if missing is None:
        raise exc
    command = f"imu-hinge {argv[0]}" if argv and not argv[0].startswith("-") else "imu-hinge"
    print(f"imu-hinge: error: {command} needs the '{missing.extra}' extra ({missing.module} is not installed): "
          f"pip install 'imu-hinge[{missing.extra}]'", file=sys.stderr)
    return missing.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(_command_module(argv))
    except ModuleNotFoundError as exc:  # a command module that needs an extra at import time
        return _missing_extra(exc, argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ImuHingeError as exc:
        print(f"imu-hinge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        return _missing_extra(exc, argv)
    except KeyboardInterrupt:
        print("imu-hinge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    """The ``imu-hinge`` program (``python -m imu_hinge`` too): :func:`main`, then exit with its code.

    Before the interpreter shuts down, the objects still alive are taken out of the cycle collector's
    reach (:func:`gc.freeze`): its final pass over everything the command imported is skipped (measured
    at exit: a ``--cluster`` batch 65 -> 15 ms, analyze of an hour 22 -> 8 ms). Nothing relies on it: the
    commands close their files and the store themselves. (Not in :func:`main`, which tests call in process.)
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
