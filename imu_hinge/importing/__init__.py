"""``imu-hinge import``: recordings of other IMU systems into the interchange CSV (``docs/import.md``).

- :mod:`.import_spec` — what the importer must know about a foreign export (:class:`~.import_spec.ImportSpec`).
- :mod:`.import_columns` — reading, column finding, time conversion and unit checks.
- :mod:`.importer` — the import itself.
"""

__all__ = ["import_columns", "import_spec", "importer"]
