"""imu_hinge.sensor_threads: how many threads a replay takes, and what a failure on the second sensor's thread does."""

from __future__ import annotations

import os
import threading

import pytest

from imu_hinge.sensor_threads import default_threads, per_role


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 2), (8, 2)])
def test_a_replay_takes_one_thread_per_sensor_up_to_the_cpus_it_may_use(monkeypatch: pytest.MonkeyPatch, cpus: int,
                                                                        threads: int) -> None:
    """The CPUs this process may run on (its affinity, not the machine's count), one thread per sensor at most."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)) if pid == 0 else set(range(64)),
                        raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert default_threads() == threads


@pytest.mark.parametrize(("count", "threads"), [(None, 1), (1, 1), (8, 2)])
def test_without_an_affinity_call_the_cpu_count_decides(monkeypatch: pytest.MonkeyPatch, count: int | None,
                                                        threads: int) -> None:
    """Where there is no affinity call (macOS, Windows): the machine's CPU count; unknown counts as one."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: count)
    assert default_threads() == threads


def test_a_failure_on_the_second_sensors_thread_comes_out_of_the_call_after_the_first_is_done() -> None:
    """The second sensor's work fails on its own thread: per_role raises that very exception in the caller's
    thread, once the first sensor's work has finished (nothing is left running)."""
    done: list[str] = []

    def work(role: str) -> str:
        if role == "thoracic":
            raise KeyError("thoracic failed")
        done.append(threading.current_thread().name)
        return role

    with pytest.raises(KeyError, match="thoracic failed"):
        per_role(work, threads=2)
    assert done == [threading.current_thread().name]  # the sacrum's ran, on the caller's thread, to its end


@pytest.mark.parametrize("threads", [2, 3])
def test_two_or_more_threads_put_the_second_sensor_on_its_own(threads: int) -> None:
    """Any count above one runs the second sensor's work on a thread of its own (two sensors: two threads)."""
    names = per_role(lambda role: threading.current_thread().name, threads)
    assert names["sacrum"] == threading.current_thread().name and names["thoracic"].startswith("imu-hinge-replay")
    assert set(per_role(lambda role: threading.current_thread().name, 1).values()) == {threading.current_thread().name}


def test_a_failure_on_the_first_sensor_waits_for_the_second_to_end() -> None:
    """The first sensor's work fails while the second's still runs: per_role raises only once the second's has
    ended (nothing left running behind the caller). The second holds on for a while (an event no one sets: a
    wait with a timeout, so a correct per_role returns after it, and one that did not wait raises before it)."""
    started, never = threading.Event(), threading.Event()
    ended: list[str] = []

    def work(role: str) -> str:
        if role == "sacrum":
            started.wait(timeout=30)
            raise ValueError("sacrum failed")
        started.set()
        never.wait(timeout=0.5)
        ended.append(role)
        return role

    with pytest.raises(ValueError, match="sacrum failed"):
        per_role(work, threads=2)
    assert ended == ["thoracic"]
