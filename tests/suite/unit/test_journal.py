"""The intervention journal: intentions on disk before a change, found by identity, undone once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qtask_verify.deployment.identity import DeploymentIdentity
from qtask_verify.deployment.journal import (
    Change,
    InterventionJournal,
    JournalEntry,
    ProcessStamp,
    intervening,
)
from qtask_verify.deployment.restoration import _what

HERE = DeploymentIdentity("7714469094932485697/qtask", "qtask-4043c6528f@vm")


def journal(tmp_path: Path, identity: DeploymentIdentity = HERE) -> InterventionJournal:
    return InterventionJournal.in_directory(tmp_path, identity, "local")


def dead_process() -> ProcessStamp:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return ProcessStamp(int(finished.stdout), None)


def test_the_intention_is_on_disk_before_the_change_and_undone_after(tmp_path: Path) -> None:
    book = journal(tmp_path)
    entry = book.intend(Change.component("broker", "stop"))
    [line] = (tmp_path / "journal.jsonl").read_text().splitlines()
    recorded = json.loads(line)
    assert recorded["event"] == "intent"
    assert recorded["change"] == {"kind": "component", "target": "broker", "action": "stop"}
    assert recorded["identity"] == HERE.as_json()
    assert [e.id for e in book.open_entries()] == [entry.id]
    book.command(entry, os.getpid())
    assert book.open_entries()[0].commands == [ProcessStamp.of(os.getpid())]
    book.undone(entry)
    assert book.open_entries() == []


def test_a_live_run_s_changes_are_open_but_not_abandoned(tmp_path: Path) -> None:
    book = journal(tmp_path)
    book.intend(Change.component("worker", "stop"))
    assert len(book.open_entries()) == 1
    assert book.abandoned() == []
    assert book.left_by_this_run() == [book.open_entries()[0].describe()]


def _with_owner(path: Path, owner: ProcessStamp) -> None:
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        if record["event"] == "intent":
            record["owner"] = owner.as_json()
            record["parent"] = 1
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_a_dead_run_s_changes_are_abandoned_and_found_under_any_known_part(
    tmp_path: Path,
) -> None:
    journal(tmp_path).intend(Change.component("worker", "stop"))
    _with_owner(tmp_path / "journal.jsonl", dead_process())
    database_only = DeploymentIdentity(HERE.database, None)  # the broker is down, say
    assert len(journal(tmp_path, database_only).abandoned()) == 1
    broker_only = DeploymentIdentity(None, HERE.broker)
    assert len(journal(tmp_path, broker_only).abandoned()) == 1
    other = DeploymentIdentity("1/qtask", HERE.broker)  # another database behind that broker
    assert journal(tmp_path, other).abandoned() == []
    assert journal(tmp_path, DeploymentIdentity()).abandoned() == []


def test_a_recycled_pid_is_not_the_process_that_made_the_change() -> None:
    me = ProcessStamp.of(os.getpid())
    assert me.alive()
    assert me.started is not None
    assert not ProcessStamp(me.pid, me.started + 1).alive()
    assert not dead_process().alive()


def test_compact_keeps_every_open_change_and_drops_the_undone(tmp_path: Path) -> None:
    book = journal(tmp_path)
    done = book.intend(Change.component("worker", "stop"))
    book.command(done, os.getpid())
    book.undone(done)
    open_one = book.intend(Change.vhost_tracing("/"))
    other = journal(tmp_path, DeploymentIdentity("2/other", None))
    elsewhere = other.intend(Change.component("broker", "kill"))
    book.compact()
    assert [e.id for e in book.entries()] == [open_one.id, elsewhere.id]


def test_unreadable_lines_are_skipped(tmp_path: Path) -> None:
    book = journal(tmp_path)
    entry = book.intend(Change.component("database", "stop"))
    with (tmp_path / "journal.jsonl").open("a") as handle:
        handle.write('{"event": "intent", "id": "x", "change": {"kind": "bogus"}}\nnot json\n')
    assert [e.id for e in book.entries()] == [entry.id]


def test_what_was_restored_is_said_in_one_line() -> None:
    def entry(target: str, action: str) -> JournalEntry:
        change = Change.component(target, action)
        at = "2026-12-01T22:59:18+00:00"
        return JournalEntry("i", change, ProcessStamp(1, 1), 0, at, HERE, "local")

    assert _what([entry("worker", "stop")]) == (
        "the workers that an interrupted run on 2026-12-01 22:59:18 UTC had stopped"
    )
    assert _what([entry("worker", "stop"), entry("broker", "stop")]) == (
        "the workers and the broker that an interrupted run on 2026-12-01 22:59:18 UTC had stopped"
    )
    assert _what([entry("worker", "kill"), entry("database", "stop")]) == (
        "the workers (killed) and the database (stopped) that an interrupted run on "
        "2026-12-01 22:59:18 UTC had changed"
    )


async def test_intervening_records_undone_only_once_the_undo_succeeded(tmp_path: Path) -> None:
    book = journal(tmp_path)
    undone: list[str] = []

    async def switch_off() -> None:
        undone.append("off")

    with pytest.raises(RuntimeError):
        async with intervening(book, Change.vhost_tracing("/"), undo=switch_off):
            assert len(book.open_entries()) == 1
            raise RuntimeError("the scenario failed")
    assert undone == ["off"]
    assert book.open_entries() == []

    async def broken() -> None:
        raise ConnectionError("the Management API is down")

    with pytest.raises(ConnectionError):
        async with intervening(book, Change.vhost_tracing("/"), undo=broken):
            pass
    [left] = book.open_entries()
    assert left.change.subject == "the tracing of vhost /"


async def test_intervening_undoes_a_cancelled_block_within_the_interruption_bound(
    tmp_path: Path,
) -> None:
    book = journal(tmp_path)
    undone: list[str] = []

    async def switch_off() -> None:
        undone.append("off")

    async def scenario() -> None:
        async with intervening(book, Change.vhost_tracing("/"), undo=switch_off):
            await asyncio.sleep(30)

    task = asyncio.create_task(scenario())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert undone == ["off"]
    assert book.open_entries() == []
