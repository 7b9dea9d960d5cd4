"""Which role each sensor of another brand plays: ``imu-hinge sensors assign ADDRESS sacrum|thoracic``.

Sensors that do not advertise a role (Polar, Movesense) get theirs from this small JSON file,
``sensor-roles.json`` beside the store file (``--db`` / ``$IMU_HINGE_DB`` decide where), one
``{"ADDRESS": "role"}`` map. Addresses are kept upper case. A role given to a new address is taken
from the address that had it, so each role has one sensor.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from imu_hinge.errors import StoreError, UsageError
from imu_hinge.jsonable import dumps
from imu_hinge.samples import SENSOR_ROLES

FILE_NAME = "sensor-roles.json"


def roles_path(db: str | Path | None = None) -> Path:
    """The roles file beside the store named by ``db`` (or the default store)."""
    from imu_hinge.store.db import resolve_db_path

    return resolve_db_path(db).with_name(FILE_NAME)


def load_roles(db: str | Path | None = None) -> dict[str, str]:
    """Address -> role (empty if nothing was assigned yet)."""
    path = roles_path(db)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read the sensor roles in {path} ({exc}): fix or delete the file, then assign "
                         "the roles again") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is not a map of address -> role: delete it and assign the roles again")
    return {str(a).upper(): str(r) for a, r in data.items() if r in SENSOR_ROLES}


def assign_role(address: str, role: str, db: str | Path | None = None) -> dict[str, str]:
    """Remember ``role`` for ``address`` (the role's previous sensor loses it); the new map."""
    if role not in SENSOR_ROLES:
        raise UsageError(f"role must be one of {', '.join(SENSOR_ROLES)}, got {role!r}")
    if not address.strip():
        raise UsageError("give the sensor's address (`imu-hinge scan` lists them)")
    roles = {a: r for a, r in load_roles(db).items() if r != role}
    roles[address.strip().upper()] = role
    path = roles_path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(dumps(dict(sorted(roles.items())), indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot save the sensor roles to {path} ({exc}): check the folder is writable") from None
    return roles
