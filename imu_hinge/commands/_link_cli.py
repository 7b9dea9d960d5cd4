"""What ``scan``, ``sensors`` and ``record`` share: the ``--emulate`` options and the link they open.

``--emulate`` runs the command on two emulated sensors (bumble GATT servers in this process,
:mod:`imu_hinge.emulation.emulator`) through the real BLE path: the unmodified ``BleakClient`` and
``BleakScanner`` over the project's bumble backend. ``--emulate REC.csv`` makes them play that
recording (interchange CSV or session file); a bare ``--emulate`` plays simulated hinges.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from imu_hinge.errors import RecordingNotFound, UsageError

SIMULATED = "simulated hinges"


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def _speed(text: str) -> float | None:
    return None if text.strip().lower() == "max" else _positive(text)


def _mtu(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ATT MTU 23..517, got {text!r}") from None
    if not 23 <= v <= 517:
        raise argparse.ArgumentTypeError(f"expected an ATT MTU 23..517, got {text!r}")
    return v


def add_link_options(p: argparse.ArgumentParser, *, scan_timeout_s: float = 10.0) -> None:
    """``--timeout``, ``--emulate [REC]``, ``--emulate-speed``, ``--emulate-mtu``."""
    p.add_argument("--timeout", type=_positive, default=scan_timeout_s, metavar="S",
                   help=f"seconds to scan for sensors (default {scan_timeout_s:g})")
    emu = p.add_argument_group("emulated sensors (no hardware: bumble, in this process)")
    emu.add_argument("--emulate", nargs="?", const=SIMULATED, metavar="RECORDING.csv",
                     help="use two emulated sensors through the real BLE path, playing this recording "
                          "(interchange CSV or session file) or, without one, simulated hinges")
    emu.add_argument("--emulate-speed", type=_speed, default=1.0, metavar="X|max",
                     help="run the emulated world X times faster than real time (default 1), or 'max': from event "
                          "to event as fast as the link takes them")
    emu.add_argument("--emulate-mtu", type=_mtu, default=247, metavar="N",
                     help="ATT MTU the host asks the emulated sensors for (23..517, default 247)")
    emu.add_argument("--emulate-kind", metavar="BRAND[,BRAND]",
                     help="brand of each emulated sensor, sacrum first: imu-hinge (default), polar, ... "
                          "(e.g. polar,imu-hinge; one brand: both)")


@dataclass
class LinkContext:
    """What a command needs to reach the sensors: bleak backend, host clock, the emulator (if any)."""

    backend: Any
    clock: Any
    emulator: Any = None
    assignments: dict[str, str] | None = None
    """Address -> role for sensors that do not advertise one (``sensors assign``; the emulator's own)."""

    @property
    def emulated(self) -> bool:
        return self.emulator is not None


@contextlib.asynccontextmanager
async def open_link(args: argparse.Namespace, *, duration_s: float = 600.0) -> AsyncIterator[LinkContext]:
    """The platform's BLE, or (``--emulate``) a running emulator and its backend and clock."""
    from imu_hinge.samples import SENSOR_ROLES
    from imu_hinge.sources.backend import LinkBackend, SystemClock
    from imu_hinge.sources.brands import parse_kinds

    kind_text = getattr(args, "emulate_kind", None)
    if args.emulate is None:
        if kind_text is not None:
            raise UsageError("--emulate-kind needs --emulate (it picks the brand of the emulated sensors)")
        from imu_hinge.sources.sensor_roles import load_roles

        yield LinkContext(LinkBackend(), SystemClock(), assignments=load_roles(getattr(args, "db", None)))
        return
    kinds = parse_kinds(kind_text, SENSOR_ROLES)
    from imu_hinge.emulation.emulator import Emulator

    motion: str | None = None
    if args.emulate != SIMULATED:
        if not Path(args.emulate).exists():
            raise RecordingNotFound("no such recording (--emulate)", path=str(args.emulate))
        motion = args.emulate
    async with Emulator(motion, mtu=args.emulate_mtu, speed=args.emulate_speed,
                        duration_s=min(max(duration_s + 30.0, 60.0), 7200.0), kinds=kinds) as emu:
        yield LinkContext(emu.backend, emu.clock, emu, assignments=emu.assignments)


def describe(ctx: LinkContext, args: argparse.Namespace) -> str | None:
    """One line saying which emulated sensors these are (``None`` for the real adapter)."""
    if not ctx.emulated:
        return None
    what = "simulated hinges" if args.emulate == SIMULATED else Path(args.emulate).name
    speed = "as fast as the link goes" if args.emulate_speed is None else f"{args.emulate_speed:g}x real time"
    kinds = getattr(ctx.emulator, "kinds", {})
    brands = "" if set(kinds.values()) <= {"imu-hinge"} else f" ({', '.join(f'{r} {k}' for r, k in kinds.items())})"
    return f"Bluetooth: emulated sensors{brands} playing {what} (bumble LocalLink, MTU {args.emulate_mtu}, {speed})"


async def find_roles(ctx: LinkContext, args: argparse.Namespace, roles: tuple[str, ...],
                     ask: Callable[[str], str] | None) -> dict[str, Any] | None:
    """Before a live set: scan once; if a role has no sensor but sensors of another brand have no role yet,
    ask (``ask``: ``input`` on a terminal) which one plays it, remember the answer (``sensors assign``; in memory
    only for emulated sensors) and return role -> found sensor. ``None``: nothing to ask (the source scans as
    usual and names what is missing in one line)."""
    from imu_hinge.sources.brands import BRANDS
    from imu_hinge.sources.discovery import scan
    from imu_hinge.sources.sensor_roles import assign_role

    if ask is None or ctx.assignments is None:
        return None
    found = await scan(args.timeout, backend=ctx.backend, assignments=ctx.assignments, until_count=len(roles))
    have = {f.role: f for f in found if f.role in roles}
    free = [f for f in found if f.role not in roles and not BRANDS[f.brand].advertises_role]
    missing = [r for r in roles if r not in have]
    if not missing or not free:
        return None
    for role in missing:
        if not free:
            return None
        menu = "; ".join(f"{i + 1}) {f.name or f.brand} {f.address}" for i, f in enumerate(free))
        answer = ask(f"which sensor is on the {role}? {menu} [1-{len(free)}]: ").strip()
        if not answer.isdigit() or not 1 <= int(answer) <= len(free):
            raise UsageError(f"no sensor chosen for the {role} (answer 1-{len(free)}); or run `imu-hinge sensors "
                             f"assign ADDRESS {role}` first")
        chosen = free.pop(int(answer) - 1)
        ctx.assignments[chosen.address.upper()] = role
        if not ctx.emulated:
            assign_role(chosen.address, role, getattr(args, "db", None))
        have[role] = replace(chosen, role=role)
    return {r: have[r] for r in roles}
