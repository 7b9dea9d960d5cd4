"""``imu-hinge conformance [ADDRESS | --emulate]``: check one sensor against SPEC.md, clause by clause."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from imu_hinge.errors import SensorLinkError, UsageError
from imu_hinge.jsonable import dumps


def register(sub: Any) -> None:
    p = sub.add_parser("conformance", help="check one sensor against the protocol SPEC.md, clause by clause",
                       description="Connect to one sensor and check it against firmware_protocol/SPEC.md: "
                                   "advertising, info, every command and its errors, rates, packing per MTU, the "
                                   "20 ms flush rule, index and clock continuity, overflow flag, haptic states, "
                                   "time pings. Prints PASS/FAIL per clause with its SPEC section, then one JSON "
                                   "line. Exit code 0 if every clause passes, 1 otherwise. The sensor is started, "
                                   "buzzed and has its role set and restored: keep it on the desk.")
    p.add_argument("address", nargs="?", help="the sensor's address (default: the first imu-hinge sensor seen)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds to scan (default 10)")
    emu = p.add_argument_group("emulated sensor (no hardware)")
    emu.add_argument("--emulate", action="store_true",
                     help="check the project's emulated sensor (bumble, in this process) instead")
    emu.add_argument("--emulate-fault", metavar="NAME",
                     help="plant this fault in the emulated sensor (see --list-faults)")
    emu.add_argument("--emulate-mtu", type=int, default=247, metavar="N", help="ATT MTU (23..517, default 247)")
    emu.add_argument("--list-faults", action="store_true", help="list the plantable faults and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from imu_hinge.emulation.conformance_faults import FAULTS

    if args.list_faults:
        for name, (clause, what) in FAULTS.items():
            print(f"{name:26} {clause:17} {what}")
        return 0
    if args.emulate_fault is not None and not args.emulate:
        raise UsageError("--emulate-fault needs --emulate")
    if args.emulate_fault is not None and args.emulate_fault not in FAULTS:
        raise UsageError(f"unknown fault {args.emulate_fault!r}; `imu-hinge conformance --list-faults` lists them")
    if args.emulate and args.address:
        raise UsageError("give an ADDRESS or --emulate, not both")
    if not 23 <= args.emulate_mtu <= 517:
        raise UsageError(f"--emulate-mtu must be 23..517, got {args.emulate_mtu}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout}")
    return asyncio.run(_run(args))


def _print(result: Any) -> None:
    print(result.line(), flush=True)


async def _run(args: argparse.Namespace) -> int:
    from imu_hinge.conformance.kit import SPEC_VERSION, check_sensor, summary

    print(f"imu-hinge conformance: SPEC.md {SPEC_VERSION}", flush=True)
    if args.emulate:
        from imu_hinge.emulation.conformance_faults import emulated_sensor

        async with emulated_sensor(args.emulate_fault, mtu=args.emulate_mtu) as target:
            results = await check_sensor(target.backend, target.clock, scan_timeout_s=args.timeout,
                                         readvertise_timeout_s=args.timeout, report=_print)
        name = "emulated" + (f" (fault {args.emulate_fault})" if args.emulate_fault else "")
    else:
        from bleak.exc import BleakError

        from imu_hinge.sources.backend import LinkBackend, SystemClock, bluetooth_unavailable

        try:
            results = await check_sensor(LinkBackend(), SystemClock(), args.address, scan_timeout_s=args.timeout,
                                         report=_print)
        except (OSError, TimeoutError, BleakError) as exc:
            clear = bluetooth_unavailable(exc)
            if clear is not None:
                raise clear from None
            raise SensorLinkError(f"conformance run stopped: {type(exc).__name__}: {exc}; check the sensor is on "
                                  "and in range, then run again", address=args.address) from None
        name = args.address or "first sensor seen"
    out = summary(results, target=name)
    print(f"{out['passed']} PASS, {out['failed']} FAIL", file=sys.stderr)
    print(dumps(out), flush=True)
    return 0 if out["ok"] else 1
