"""The store's tables, version by version (SQL text only; :mod:`.migrations` applies them).

Version 1 — people, calibrations, sessions, sets, reps, rep faults, alerts::

    people        id, name (unique, case-insensitive), created_utc, notes
    calibrations  id, person_id?, kind ('range' | 'sensor'), created_utc, source,
                  lmax_deg, lext_deg (range: max lumbar flexion / extension held, both >= 0),
                  sensor_id (sensor: which device), data_json (holds, references, params)
    sessions      id, person_id, started_utc, filed_utc, kind ('analyze' | 'train' | 'import'),
                  exercise, source (recording path), params_json, calibration_json (the analysis'
                  sensor references: standing up vectors, forward axes, gyro biases), quality_json,
                  warnings_json, range_calibration_id?, summary: n_reps, n_flagged,
                  peak_lumbar_max_deg, peak_lumbar_mean_deg, threshold_deg
    sets          id, session_id, set_index, exercise, start_s, end_s, summary: n_reps, n_flagged,
                  n_rounding, n_lumbar_led, n_hyperextension, n_complete, peak_lumbar_max_deg,
                  peak_lumbar_mean_deg, peak_lumbar_pct_lmax_max, peak_trunk_mean_deg, lumbar_creep_deg
    reps          id, set_id, session_id, rep_index, every metric of :class:`~imu_hinge.detection.rep_events.Rep`
                  (deg, s), complete, notes_json, extra_json (fields added to Rep later)
    rep_faults    rep_id, fault
    alerts        id, session_id, time_s, fault, value_deg, rep_index

Version 2 — per-person settings and the indexes ``history`` and cascading deletes need::

    person_settings  person_id, exercise (catalogue key, or '*' = every exercise),
                     threshold_pct_lmax | threshold_deg, updated_utc

Version 3 — filing is idempotent::

    sessions.content_sha256  SHA-256 of the recording's bytes: the same recording filed again for the
                             same person replaces its session (same id) instead of adding one

Summaries are written with their rows in one transaction, so they never disagree with them.
Angles are deg, times s (on the recording clock) or ISO 8601 UTC text (``..._utc``).
"""

from __future__ import annotations

REP_METRICS: tuple[str, ...] = (
    "start_s", "bottom_s", "end_s", "peak_pelvic_tilt_deg", "peak_trunk_flexion_deg", "peak_lumbar_flexion_deg",
    "min_lumbar_flexion_deg", "hinge_share", "onset_lag_s", "descent_s", "bottom_hold_s", "ascent_s",
    "time_above_threshold_s", "lockout_extension_deg", "peak_lumbar_pct_lmax",
)
"""Rep metric columns (the numeric fields of :class:`~imu_hinge.detection.rep_events.Rep`)."""

V1: tuple[str, ...] = (
    """CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(name)) > 0),
        created_utc TEXT NOT NULL,
        notes TEXT
    )""",
    """CREATE TABLE calibrations (
        id INTEGER PRIMARY KEY,
        person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('range', 'sensor')),
        created_utc TEXT NOT NULL,
        source TEXT,
        lmax_deg REAL CHECK (lmax_deg IS NULL OR lmax_deg > 0),
        lext_deg REAL CHECK (lext_deg IS NULL OR lext_deg >= 0),
        sensor_id TEXT,
        data_json TEXT NOT NULL DEFAULT '{}',
        CHECK ((kind = 'range' AND person_id IS NOT NULL AND lmax_deg IS NOT NULL)
               OR (kind = 'sensor' AND sensor_id IS NOT NULL))
    )""",
    """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        started_utc TEXT NOT NULL,
        filed_utc TEXT NOT NULL,
        kind TEXT NOT NULL,
        exercise TEXT NOT NULL,
        source TEXT,
        params_json TEXT NOT NULL DEFAULT '{}',
        calibration_json TEXT NOT NULL DEFAULT '{}',
        quality_json TEXT NOT NULL DEFAULT '{}',
        warnings_json TEXT NOT NULL DEFAULT '[]',
        range_calibration_id INTEGER REFERENCES calibrations(id) ON DELETE SET NULL,
        n_reps INTEGER NOT NULL DEFAULT 0,
        n_flagged INTEGER NOT NULL DEFAULT 0,
        peak_lumbar_max_deg REAL,
        peak_lumbar_mean_deg REAL,
        threshold_deg REAL
    )""",
    """CREATE TABLE sets (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        set_index INTEGER NOT NULL,
        exercise TEXT NOT NULL,
        start_s REAL,
        end_s REAL,
        n_reps INTEGER NOT NULL DEFAULT 0,
        n_flagged INTEGER NOT NULL DEFAULT 0,
        n_rounding INTEGER NOT NULL DEFAULT 0,
        n_lumbar_led INTEGER NOT NULL DEFAULT 0,
        n_hyperextension INTEGER NOT NULL DEFAULT 0,
        n_complete INTEGER NOT NULL DEFAULT 0,
        peak_lumbar_max_deg REAL,
        peak_lumbar_mean_deg REAL,
        peak_lumbar_pct_lmax_max REAL,
        peak_trunk_mean_deg REAL,
        lumbar_creep_deg REAL,
        UNIQUE (session_id, set_index)
    )""",
    """CREATE TABLE reps (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        rep_index INTEGER NOT NULL,
        """ + ",\n        ".join(f"{m} REAL" for m in REP_METRICS) + """,
        complete INTEGER NOT NULL DEFAULT 1,
        notes_json TEXT NOT NULL DEFAULT '[]',
        extra_json TEXT NOT NULL DEFAULT '{}',
        UNIQUE (set_id, rep_index)
    )""",
    """CREATE TABLE rep_faults (
        rep_id INTEGER NOT NULL REFERENCES reps(id) ON DELETE CASCADE,
        fault TEXT NOT NULL,
        PRIMARY KEY (rep_id, fault)
    ) WITHOUT ROWID""",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        time_s REAL NOT NULL,
        fault TEXT NOT NULL,
        value_deg REAL,
        rep_index INTEGER
    )""",
)

V2: tuple[str, ...] = (
    """CREATE TABLE person_settings (
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        exercise TEXT NOT NULL,
        threshold_pct_lmax REAL CHECK (threshold_pct_lmax IS NULL OR (threshold_pct_lmax > 0
                                                                       AND threshold_pct_lmax <= 200)),
        threshold_deg REAL CHECK (threshold_deg IS NULL OR (threshold_deg > 0 AND threshold_deg <= 90)),
        updated_utc TEXT NOT NULL,
        PRIMARY KEY (person_id, exercise),
        CHECK ((threshold_pct_lmax IS NULL) <> (threshold_deg IS NULL))
    ) WITHOUT ROWID""",
    "CREATE INDEX sessions_by_person_time ON sessions (person_id, started_utc, id)",
    "CREATE INDEX sessions_by_range_calibration ON sessions (range_calibration_id)",
    "CREATE INDEX reps_by_session ON reps (session_id)",
    "CREATE INDEX alerts_by_session ON alerts (session_id)",
    "CREATE INDEX calibrations_by_person ON calibrations (person_id, kind, created_utc)",
    "CREATE INDEX calibrations_by_sensor ON calibrations (sensor_id, created_utc)",
)

V3: tuple[str, ...] = (
    "ALTER TABLE sessions ADD COLUMN content_sha256 TEXT",
    "CREATE UNIQUE INDEX sessions_by_content ON sessions (person_id, content_sha256) WHERE content_sha256 IS NOT NULL",
)
