"""``imu-hinge sensors``: connect to each sensor in turn and show role, battery, firmware, rate, ranges."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..errors import SensorLinkError
from ..jsonable import dumps
from ._link_cli import add_link_options, describe, open_link


def register(sub: Any) -> None:
    p = sub.add_parser("sensors", help="connect to the sensors and show role, battery, firmware and rate",
                       description="Find both sensors, connect to each in turn (nothing is streamed) and show "
                                   "what they report: role, battery, firmware, protocol, sample rate, ranges, MTU.")
    add_link_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from ..samples import SENSOR_ROLES
    from ..sources.discovery import scan
    from ..sources.sensor_link import LinkOptions, Retry, SensorLink

    rows: list[dict[str, Any]] = []
    async with open_link(args, duration_s=args.timeout) as ctx:
        if (line := describe(ctx, args)) is not None:
            print(line, file=sys.stderr)
        found = await scan(args.timeout, backend=ctx.backend, until_roles=SENSOR_ROLES)
        if not found:
            raise SensorLinkError(f"no imu-hinge sensor advertising within {args.timeout:g} s; switch the sensors "
                                  "on and bring them closer")

        async def ignore(_item: object) -> None:
            return None

        for f in found:  # one after the other (bleak #1858)
            link = SensorLink(f.role, backend=ctx.backend, options=LinkOptions(), clock=ctx.clock,
                              t0_s=ctx.clock.now(), emit=ignore)
            row: dict[str, Any] = {"role": f.role, "address": f.address, "rssi": f.rssi}
            try:
                await link.connect(f, start=False)
            except Retry as exc:
                row["error"] = str(exc)
            else:
                info = link.info
                assert info is not None
                row.update(battery_percent=link.battery_percent, firmware=link.firmware,
                           protocol_version=info.protocol_version, rate_hz=info.rate_hz,
                           acc_range_g=info.acc_range_g, gyr_range_dps=info.gyr_range_dps,
                           acc_m_s2_per_lsb=info.acc_m_s2_per_lsb, gyr_rad_s_per_lsb=info.gyr_rad_s_per_lsb,
                           mtu=link.mtu)
            finally:
                await link.drop_client()
            rows.append(row)
    if args.json:
        print(dumps(rows, indent=1))
    else:
        _print_table(rows)
    return 0 if all("error" not in r for r in rows) else 5


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'role':10} {'address':20} {'battery':>7} {'firmware':9} {'rate':>8} {'ranges':>14} {'mtu':>4}")
    for r in rows:
        if "error" in r:
            print(f"{r['role']:10} {r['address']:20} could not connect: {r['error']}")
            continue
        battery = "-" if r["battery_percent"] is None else f"{r['battery_percent']}%"
        ranges = f"±{r['acc_range_g']} g/±{r['gyr_range_dps']}"
        print(f"{r['role']:10} {r['address']:20} {battery:>7} {r['firmware'] or '-':9} {r['rate_hz']:>5g} Hz "
              f"{ranges:>14} {r['mtu']:>4}")
