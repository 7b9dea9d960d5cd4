"""``imu-hinge scan``: list the sensors advertising nearby (brand, role, battery, signal), every registered brand."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from imu_hinge.commands._link_cli import add_link_options, describe, open_link
from imu_hinge.errors import SensorLinkError


def register(sub: Any) -> None:
    p = sub.add_parser("scan", help="list the imu-hinge sensors advertising nearby",
                       description="Scan for sensors advertising the imu-hinge service and show their role, "
                                   "battery level and signal strength (nothing is connected).")
    add_link_options(p, scan_timeout_s=5.0)
    p.add_argument("--all", action="store_true", help="scan the whole timeout even after both roles were seen")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from imu_hinge.samples import SENSOR_ROLES
    from imu_hinge.sources.discovery import scan

    async with open_link(args, duration_s=args.timeout) as ctx:
        if (line := describe(ctx, args)) is not None:
            print(line, file=sys.stderr)
        found = await scan(args.timeout, backend=ctx.backend, until_roles=() if args.all else SENSOR_ROLES,
                           assignments=ctx.assignments)
    if not found:
        raise SensorLinkError(f"no imu-hinge sensor advertising within {args.timeout:g} s; switch the sensors on "
                              "and bring them closer")
    from imu_hinge.sources.brands import BRANDS

    print(f"{'role':10} {'address':20} {'battery':>7} {'rssi':>5}  {'state':9} {'brand':10} name")
    for f in found:
        battery = "-" if f.battery_percent is None else f"{f.battery_percent}%"
        state = "streaming" if f.streaming else "idle" if BRANDS[f.brand].advertises_role else "-"
        print(f"{f.role:10} {f.address:20} {battery:>7} {f.rssi:>5}  {state:9} {f.brand:10} {f.name or '-'}")
    if any(f.role == "unassigned" and not BRANDS[f.brand].advertises_role for f in found):
        print("imu-hinge: note: give each sensor of another brand its role: imu-hinge sensors assign ADDRESS "
              "sacrum|thoracic", file=sys.stderr)
    missing = [r for r in SENSOR_ROLES if r not in {f.role for f in found}]
    if missing:
        print(f"imu-hinge: warning: no {' or '.join(missing)} sensor seen", file=sys.stderr)
    return 0
