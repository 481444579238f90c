"""The cleanup ledger deletes what the suite created, and only that."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from qtask_verify.deployment.identity import DeploymentIdentity
from qtask_verify.deployment.ledger import (
    MARKER_PREFIX,
    CleanupLedger,
    delete_entries,
    ledger_path,
    marked_circuit,
    new_marker,
    sweep,
)

DEAD_PID = 999_999_999


class FakeDatabase:
    """Tasks by id with their circuits; records what it was asked to delete."""

    def __init__(self, tasks: dict[str, str]) -> None:
        self.tasks = dict(tasks)
        self.deleted: list[str] = []

    async def delete_tasks(self, task_ids: Sequence[str]) -> int:
        gone = [t for t in task_ids if t in self.tasks]
        for task_id in gone:
            del self.tasks[task_id]
        self.deleted += gone
        return len(gone)

    async def task_ids_marked(self, markers: Sequence[str]) -> list[str]:
        return [t for t, circuit in self.tasks.items() if any(m in circuit for m in markers)]


def write_foreign_entry(ledger: CleanupLedger, marker: str, pid: int, task_id: str | None) -> None:
    """What another (dead or alive) process left in the ledger."""
    with ledger.path.open("a") as file:
        file.write(json.dumps({"event": "intent", "marker": marker, "pid": pid}) + "\n")
        if task_id:
            file.write(
                json.dumps({"event": "created", "marker": marker, "task_id": task_id}) + "\n"
            )


def test_markers_are_unique_and_kept_as_a_comment() -> None:
    first, second = new_marker(), new_marker()
    assert first != second and first.startswith(MARKER_PREFIX)
    assert marked_circuit("OPENQASM 3.0;\n", first) == f"OPENQASM 3.0;\n// {first}\n"


def test_ledger_path_is_the_database_identity_not_the_broker_nor_a_url(tmp_path: Path) -> None:
    one = ledger_path(tmp_path, DeploymentIdentity("7714469094932485697/qtask", "rabbit@a"))
    assert one == ledger_path(tmp_path, DeploymentIdentity("7714469094932485697/qtask", None))
    assert one != ledger_path(tmp_path, DeploymentIdentity("7714469094932485697/other", None))
    assert one != ledger_path(tmp_path, DeploymentIdentity("1/qtask", "rabbit@a"))


def test_intent_is_written_before_the_task_exists(tmp_path: Path) -> None:
    ledger = CleanupLedger(tmp_path / "ledger.jsonl")
    ledger.record_intent("m1")
    [entry] = ledger.outstanding()
    assert (entry.marker, entry.task_id, entry.pid) == ("m1", None, os.getpid())
    ledger.record_created("m1", "t1")
    assert ledger.outstanding()[0].task_id == "t1"
    assert oct(ledger.path.stat().st_mode & 0o777) == "0o600"


async def test_deleting_entries_finds_unanswered_submissions_by_marker(tmp_path: Path) -> None:
    ledger = CleanupLedger(tmp_path / "ledger.jsonl")
    database = FakeDatabase({"t1": "c // m1", "t2": "c // m2", "other": "not ours"})
    ledger.record_intent("m1")
    ledger.record_created("m1", "t1")
    ledger.record_intent("m2")  # the run died before the API answered
    assert await delete_entries(ledger, ledger.outstanding(), database) == 2
    assert database.tasks == {"other": "not ours"}
    assert ledger.outstanding() == []


async def test_sweep_deletes_what_dead_runs_left_and_spares_live_ones(tmp_path: Path) -> None:
    ledger = CleanupLedger(tmp_path / "ledger.jsonl")
    write_foreign_entry(ledger, "dead", DEAD_PID, "t-dead")
    write_foreign_entry(ledger, "alive", os.getpid(), "t-alive")
    database = FakeDatabase({"t-dead": "x", "t-alive": "y", "foreign": "z"})
    assert await sweep(ledger, database, process_alive=lambda pid: pid != DEAD_PID) == 1
    assert sorted(database.tasks) == ["foreign", "t-alive"]
    assert [e.marker for e in ledger.outstanding()] == ["alive"]


async def test_sweep_compacts_the_file(tmp_path: Path) -> None:
    ledger = CleanupLedger(tmp_path / "ledger.jsonl")
    for number in range(5):
        write_foreign_entry(ledger, f"m{number}", DEAD_PID, f"t{number}")
    await sweep(ledger, FakeDatabase({}), process_alive=lambda pid: False)
    assert ledger.path.read_text() == ""


def test_unreadable_lines_are_ignored(tmp_path: Path) -> None:
    ledger = CleanupLedger(tmp_path / "ledger.jsonl")
    ledger.path.write_text('not json\n{"event": "created"}\n')
    ledger.record_intent("m1")
    assert [e.marker for e in ledger.outstanding()] == ["m1"]
