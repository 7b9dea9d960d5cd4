"""``imu-hinge sensors``: connect to each sensor in turn and show brand, model, role, battery, firmware, rates.

``imu-hinge sensors assign ADDRESS sacrum|thoracic`` remembers the role of a sensor that does not
advertise one (Polar, Movesense) in ``sensor-roles.json`` beside the store (:mod:`~imu_hinge.sources.sensor_roles`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from imu_hinge.commands._link_cli import add_link_options, describe, open_link
from imu_hinge.commands.storeopts import add_db_argument
from imu_hinge.errors import SensorLinkError, UsageError
from imu_hinge.jsonable import dumps
from imu_hinge.sources.brands import BRANDS


def register(sub: Any) -> None:
    p = sub.add_parser("sensors", help="connect to the sensors and show role, battery, firmware and rate",
                       description="Find both sensors, connect to each in turn (nothing is streamed) and show "
                                   "what they report: role, battery, firmware, protocol, sample rate, ranges, MTU.")
    add_link_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("assign", nargs="*", metavar="assign ADDRESS ROLE",
                   help="remember the role (sacrum or thoracic) of the sensor at ADDRESS (sensors of other brands "
                        "do not advertise one)")
    add_db_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.assign:
        return _assign(args)
    return asyncio.run(_run(args))


def _assign(args: argparse.Namespace) -> int:
    from imu_hinge.samples import SENSOR_ROLES
    from imu_hinge.sources.sensor_roles import assign_role, roles_path

    words = list(args.assign)
    if len(words) != 3 or words[0] != "assign" or words[2] not in SENSOR_ROLES:
        raise UsageError(f"expected `imu-hinge sensors assign ADDRESS {'|'.join(SENSOR_ROLES)}`, got "
                         f"{' '.join(words)!r}")
    roles = assign_role(words[1], words[2], getattr(args, "db", None))
    print(f"{words[1].upper()} is the {words[2]} sensor (saved in {roles_path(getattr(args, 'db', None))}; "
          f"{len(roles)} sensor role(s) remembered)")
    return 0


async def _run(args: argparse.Namespace) -> int:
    from imu_hinge.samples import SENSOR_ROLES
    from imu_hinge.sources.discovery import scan
    from imu_hinge.sources.sensor_link import LinkOptions, Retry

    rows: list[dict[str, Any]] = []
    async with open_link(args, duration_s=args.timeout) as ctx:
        if (line := describe(ctx, args)) is not None:
            print(line, file=sys.stderr)
        found = await scan(args.timeout, backend=ctx.backend, until_roles=SENSOR_ROLES, assignments=ctx.assignments)
        if not found:
            raise SensorLinkError(f"no imu-hinge sensor advertising within {args.timeout:g} s; switch the sensors "
                                  "on and bring them closer")

        async def ignore(_item: object) -> None:
            return None

        for f in found:  # one after the other (bleak #1858)
            b = BRANDS[f.brand]
            link = b.link_class()(f.role, backend=ctx.backend, options=LinkOptions(), clock=ctx.clock,
                                  t0_s=ctx.clock.now(), emit=ignore)
            row: dict[str, Any] = {"role": f.role, "address": f.address, "rssi": f.rssi, "brand": b.label,
                                   "has_motor": b.has_motor}
            try:
                await link.connect(f, start=False)
                rates = await link.offered_rates_hz() if hasattr(link, "offered_rates_hz") else None
            except (Retry, SensorLinkError) as exc:
                row["error"] = str(exc)
            else:
                info = link.info
                row.update(battery_percent=link.battery_percent, firmware=link.firmware, mtu=link.mtu,
                           model=getattr(link, "model", None) or b.label)
                if info is not None:
                    row.update(protocol_version=info.protocol_version, rate_hz=info.rate_hz,
                               acc_range_g=info.acc_range_g, gyr_range_dps=info.gyr_range_dps,
                               acc_m_s2_per_lsb=info.acc_m_s2_per_lsb, gyr_rad_s_per_lsb=info.gyr_rad_s_per_lsb)
                row["rates_hz"] = list(rates) if rates else list(b.rates_hz)
            finally:
                await link.drop_client()
            rows.append(row)
    if args.json:
        print(dumps(rows, indent=1))
    else:
        _print_table(rows)
    return 0 if all("error" not in r for r in rows) else 5


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'role':10} {'address':20} {'brand':18} {'model':20} {'battery':>7} {'firmware':9} {'rate':>8} "
          f"{'rates (Hz)':22} {'ranges':>14} {'mtu':>4} motor")
    for r in rows:
        if "error" in r:
            print(f"{r['role']:10} {r['address']:20} {r['brand']:18} could not connect: {r['error']}")
            continue
        battery = "-" if r["battery_percent"] is None else f"{r['battery_percent']}%"
        ranges = f"±{r['acc_range_g']} g/±{r['gyr_range_dps']}" if "acc_range_g" in r else "-"
        rate = f"{r['rate_hz']:>5g} Hz" if "rate_hz" in r else "-"
        rates = ",".join(f"{x:g}" for x in r["rates_hz"])
        print(f"{r['role']:10} {r['address']:20} {r['brand']:18} {r['model']:20} {battery:>7} {r['firmware'] or '-':9} "
              f"{rate:>8} {rates:22} {ranges:>14} {r['mtu']:>4} {'yes' if r['has_motor'] else 'no'}")
