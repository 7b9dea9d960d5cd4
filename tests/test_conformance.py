"""The conformance kit against the emulated sensor through the real bleak path (bumble, in-process):
every clause passes on the emulator, and each planted fault fails exactly the clause it breaks.
The emulated world runs on discrete events, so a whole kit run takes about half a second."""

from __future__ import annotations

import asyncio
import json

import pytest

from imu_hinge.cli import main
from imu_hinge.conformance import CLAUSES, check_sensor
from imu_hinge.emulation.conformance_faults import FAULTS, emulated_sensor


async def _failures(fault: str | None, mtu: int = 247) -> list[str]:
    async with emulated_sensor(fault, mtu=mtu) as target:
        results = await check_sensor(target.backend, target.clock, scan_timeout_s=20.0, readvertise_timeout_s=20.0)
    assert [r.clause for r in results] == [c for c, _, _ in CLAUSES]
    return [r.clause for r in results if not r.passed]


def test_cli_reports_every_clause_pass_on_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["conformance", "--emulate"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, "\n".join(lines)
    clause_lines = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(clause_lines) == len(CLAUSES) >= 20 and all(line.startswith("PASS") for line in clause_lines)
    for (cid, section, _), line in zip(CLAUSES, clause_lines, strict=True):
        assert cid in line and section in line
    final = json.loads(lines[-1])
    assert final["ok"] and final["passed"] == len(CLAUSES) and final["failed"] == 0 and final["spec_version"] == "1.1"


@pytest.mark.parametrize("mtu", [23, 517])
def test_every_clause_passes_at_the_smallest_and_largest_mtu(mtu: int) -> None:
    assert asyncio.run(_failures(None, mtu)) == []


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_planted_fault_fails_exactly_its_clause(fault: str) -> None:
    assert asyncio.run(_failures(fault)) == [FAULTS[fault][0]]


def test_planted_faults_cover_at_least_ten_clauses() -> None:
    assert len(FAULTS) >= 10 and len({clause for clause, _ in FAULTS.values()}) >= 10


def test_cli_fault_run_exits_1_with_the_failure_in_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--emulate", "--emulate-fault", "echo_high_opcode"]) == 1
    out = capsys.readouterr().out.splitlines()
    final = json.loads(out[-1])
    assert final["failed"] == 1 and "81 00" not in final["failures"]["cmd.no_opcode"]
    assert "8100 -> ff01" in final["failures"]["cmd.no_opcode"] or "8100 -> 8101" in final["failures"]["cmd.no_opcode"]
    assert any(line.startswith("FAIL  §6     cmd.no_opcode") for line in out)


@pytest.mark.parametrize("argv, message", [
    (["--emulate-fault", "nope", "--emulate"], "unknown fault 'nope'"),
    (["--emulate-fault", "reserved_flag"], "--emulate-fault needs --emulate"),
    (["AA:BB:CC:DD:EE:FF", "--emulate"], "not both"),
])
def test_bad_arguments_give_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_without_bluetooth_one_line_and_link_exit_code(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/imu-hinge-test-bus")
    assert main(["conformance", "--timeout", "1"]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Bluetooth" in err[0] and "--emulate" in err[0]
