"""The exercise catalogue (data) and progression advice from a person's history (rules as data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.commands.advise import render_advice
from imu_hinge.errors import ConfigError
from imu_hinge.rehab.exercise_catalogue import apply_exercise, catalogue, lookup
from imu_hinge.rehab.progression import advise, load_rules, neighbours
from imu_hinge.store import Store

from .store_fakes import cli, fake_result

PROGRESSIONS = ("hip_thrust", "wall_hinge", "dowel_hinge", "three_point_hinge", "pull_through", "kettlebell_deadlift",
                "dumbbell_rdl", "landmine_rdl", "kettlebell_swing", "stiff_leg_deadlift_pins", "trap_bar_deadlift",
                "barbell_rdl", "good_morning", "sumo_deadlift", "conventional_deadlift")
CLEAN = [6.0, 8.0, 7.0, 9.0, 8.0, 7.0]
ROUNDED = [8.0, 25.0, 27.0, 9.0, 26.0, 7.0]


def test_catalogue_has_every_progression_with_its_figures() -> None:
    cat = catalogue()
    assert set(PROGRESSIONS) <= set(cat)
    levels = [cat[k]["level"] for k in PROGRESSIONS]
    assert levels == sorted(levels) and levels[0] == 1
    for key in PROGRESSIONS:
        e = cat[key]
        for field in ("label", "depth_deg", "tempo_s", "reps", "sets", "cues"):
            assert e.get(field), (key, field)
        assert e["reps"][0] <= e["reps"][1] and e["tempo_s"][0] < e["tempo_s"][1]
        faults = e["detector"]["faults"]
        assert {"lumbar_flexion_deg", "lockout_extension_deg", "lumbar_led_deg"} <= set(faults)
        params = apply_exercise(AnalysisParams(), key)  # the thresholds are valid detector settings
        assert params.detector.faults.lumbar_flexion_deg == faults["lumbar_flexion_deg"]
    for alias, key in (("rdl", "barbell_rdl"), ("swing", "kettlebell_swing"), ("trap-bar", "trap_bar_deadlift"),
                       ("sumo", "sumo_deadlift"), ("deadlift", "conventional_deadlift")):
        assert lookup(alias)[0] == key
    assert cat["pull_through"]["hold_s"] == [3, 5] and cat["wall_hinge"]["hold_s"] == [5, 7]  # detector.md dosage


def test_ladder_neighbours() -> None:
    assert neighbours("kettlebell_deadlift", +1) == ["dumbbell_rdl", "landmine_rdl"]
    assert neighbours("landmine_rdl", +1) == ["kettlebell_swing"]
    assert neighbours("landmine_rdl", -1) == ["kettlebell_deadlift"]
    assert neighbours("sumo_deadlift", +1) == ["conventional_deadlift"]
    assert neighbours("hip_thrust", -1) == [] and neighbours("conventional_deadlift", +1) == []
    assert neighbours("hinge", +1) == []  # the generic hinge is not a step


def test_bundled_rules_load_and_are_ordered_safety_first() -> None:
    rules = load_rules()
    ids = [r.id for r in rules.rules]
    assert ids[0] == "regress-on-rounding" and ids.index("advance-when-clean") > ids.index("stay-on-back-first")
    assert "rounding_rate >= 0.25" in rules.text


def _file(store: Store, exercise: str, day: int, *set_peaks: list[float]) -> int:
    merged = fake_result([x for p in set_peaks for x in p])
    sets, i = [], 0
    for p in set_peaks:
        sets.append(merged.reps[i:i + len(p)])
        i += len(p)
    return store.file_session("Alex", exercise, merged, f"day{day}.csv", started_utc=f"2024-05-{day:02d}T10:00:00Z",
                              sets=sets)


def test_clean_sets_over_two_sessions_advance(store: Store) -> None:
    _file(store, "kettlebell_deadlift", 1, CLEAN, CLEAN)
    s2 = _file(store, "kettlebell_deadlift", 3, CLEAN)
    adv = advise("kettlebell_deadlift", store.sets("Alex", "kettlebell_deadlift"), load_rules())
    assert adv.action == "advance" and adv.targets == ["dumbbell_rdl", "landmine_rdl"]
    assert adv.fired is not None and adv.fired.rule.id == "advance-when-clean"
    assert len(adv.fired.matching) == 3 and s2 in adv.fired.sessions
    assert [c.rule.id for c in adv.checked][:1] == ["regress-on-rounding"]
    text = render_advice(adv)
    assert "ADVANCE -> dumbbell_rdl" in text and "rule 'advance-when-clean' fired" in text
    assert f"session #{s2} 2024-05-03 set 1" in text and "n_reps >= reps_low (5)" in text
    assert "checked first, did not fire: regress-on-rounding: 0 of the last" in text


def test_clean_sets_in_one_session_or_too_few_reps_do_not_advance(store: Store) -> None:
    _file(store, "barbell_rdl", 1, CLEAN, CLEAN, CLEAN)
    adv = advise("barbell_rdl", store.sets("Alex", "barbell_rdl"), load_rules())
    assert adv.action == "stay" and adv.fired is not None and adv.fired.rule.id == "keep-practising"
    _file(store, "good_morning", 2, [6.0, 7.0])
    _file(store, "good_morning", 4, [6.0, 7.0], [6.0, 7.0])
    assert advise("good_morning", store.sets("Alex", "good_morning"), load_rules()).action == "stay"


def test_old_clean_sets_do_not_count(store: Store) -> None:
    _file(store, "barbell_rdl", 1, CLEAN)
    _file(store, "barbell_rdl", 2, CLEAN)
    store.file_session("Alex", "rdl", fake_result(CLEAN), "late.csv", started_utc="2024-07-15T10:00:00Z")
    adv = advise("barbell_rdl", store.sets("Alex", "barbell_rdl"), load_rules())
    assert adv.action == "stay"  # the 28-day window holds one set only


def test_repeated_rounding_regresses(store: Store) -> None:
    _file(store, "barbell_rdl", 1, CLEAN, CLEAN)
    s2 = _file(store, "barbell_rdl", 5, ROUNDED, CLEAN, ROUNDED)
    adv = advise("barbell_rdl", store.sets("Alex", "barbell_rdl"), load_rules())
    assert adv.action == "regress" and adv.targets == ["trap_bar_deadlift"]
    assert adv.fired is not None and adv.fired.rule.id == "regress-on-rounding"
    assert [(s.session_id, s.set_index) for s in adv.fired.matching] == [(s2, 3), (s2, 1)]
    text = render_advice(adv)
    assert "REGRESS -> trap_bar_deadlift" in text and "2 of the last 4 set(s) met rounding_rate >= 0.25" in text


def test_regress_at_the_first_step_stays(store: Store) -> None:
    _file(store, "hip_thrust", 1, ROUNDED, ROUNDED)
    adv = advise("hip_thrust", store.sets("Alex", "hip_thrust"), load_rules())
    assert adv.action == "regress" and adv.targets == ["hip_thrust"] and "first step" in adv.note
    assert "STAY" in render_advice(adv)


def test_rules_are_configurable(store: Store, tmp_path: Path) -> None:
    _file(store, "wall_hinge", 1, CLEAN)
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nid = "one-clean-set"\naction = "advance"\nlast_sets = 1\nmin_matching = 1\n'
                     'where = ["flagged_rate <= 0.1"]\nwhy = "lenient coach"\n', encoding="utf-8")
    adv = advise("wall_hinge", store.sets("Alex", "wall_hinge"), load_rules(rules))
    assert adv.action == "advance" and adv.targets == ["dowel_hinge"] and adv.fired is not None
    assert adv.fired.rule.why == "lenient coach"


@pytest.mark.parametrize("body, message", [
    ('[[rules]]\nid = "x"\naction = "jump"\n', "action must be one of"),
    ('[[rules]]\nid = "x"\naction = "stay"\nwhere = ["mood >= 3"]\n', "unknown metric 'mood'"),
    ('[[rules]]\nid = "x"\naction = "stay"\nwhere = ["n_reps >> 3"]\n', "is not 'METRIC OP VALUE'"),
    ('[[rules]]\nid = "x"\naction = "stay"\nlast_sets = 2\nmin_matching = 3\n', "cannot exceed"),
    ('[[rules]]\nid = "x"\naction = "stay"\ncolour = "red"\n', "unknown field"),
    ("rules = 3\n", "no [[rules]]"),
    ("[[rules\n", "not valid TOML"),
])
def test_bad_rules_files(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_rules(p)


def test_cli_advise_exercises_and_rules(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    with Store(db) as s:
        s.add_person("Alex")
        _file(s, "kettlebell_deadlift", 1, CLEAN, CLEAN)
        _file(s, "kettlebell_deadlift", 2, CLEAN)
        _file(s, "wall_hinge", 3, ROUNDED, ROUNDED)
    proc = cli("advise", "Alex", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "wall_hinge (Wall hinge, level 2): REGRESS -> hip_thrust" in proc.stdout
    assert "kettlebell_deadlift (Kettlebell deadlift, level 6): ADVANCE -> dumbbell_rdl" in proc.stdout
    assert proc.stdout.index("wall_hinge") < proc.stdout.index("kettlebell_deadlift")  # most recent first
    one = cli("advise", "Alex", "--exercise", "kettlebell-deadlift", "--db", db, "--json")
    assert '"action": "advance"' in one.stdout and "wall_hinge" not in one.stdout
    listing = cli("exercises")
    assert listing.returncode == 0 and all(k in listing.stdout for k in PROGRESSIONS)
    detail = cli("exercises", "rdl")
    assert "barbell_rdl: Barbell RDL (level 11)" in detail.stdout and "cue: bar on the thighs" in detail.stdout
    rules = cli("exercises", "--rules")
    assert rules.returncode == 0 and 'id = "advance-when-clean"' in rules.stdout
    bad = cli("exercises", "zumba")
    assert bad.returncode == 2 and "unknown exercise 'zumba'" in bad.stderr and "Traceback" not in bad.stderr
    bad_rules = tmp_path / "r.toml"
    bad_rules.write_text('[[rules]]\nid = "x"\naction = "stay"\nwhere = ["mood >= 3"]\n', encoding="utf-8")
    proc = cli("advise", "Alex", "--rules", bad_rules, "--db", db)
    assert proc.returncode == 2 and "unknown metric 'mood'" in proc.stderr and "Traceback" not in proc.stderr
