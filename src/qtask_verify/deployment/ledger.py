"""The cleanup ledger: the suite deletes every task it created, and nothing else.

Before a task is submitted, the ledger appends an *intent* line with a unique marker that goes
into the task's circuit (as an OpenQASM comment); once the API answers, it appends the task id.
So even a run killed between the request and the answer leaves enough behind to find the task.
At scenario teardown (also on failure and Ctrl-C) the scenario's tasks are deleted with their
history and a *deleted* line is appended; at the start of the next run :func:`sweep` deletes
whatever a dead run left behind. The file is append-only between sweeps and shared by the
processes of one run (each line is one ``O_APPEND`` write under an exclusive lock). It is named
after the database's identity (``identity``), so a run finds what a dead one left under any
spelling of the database's URL.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..clients.api import ApiClient, Submission
from .identity import DeploymentIdentity

MARKER_PREFIX = "qtask-verify:"


def new_marker() -> str:
    """A unique marker that identifies one submission of the suite."""
    return f"{MARKER_PREFIX}{uuid.uuid4()}"


def ledger_path(directory: Path, identity: DeploymentIdentity) -> Path:
    """One ledger per database, named by what the database says it is, never by its URL."""
    return directory / f"ledger-{identity.database_key()}.jsonl"


@dataclass
class Entry:
    """A submission the suite made (or was about to make)."""

    marker: str
    pid: int
    task_id: str | None = None
    deleted: bool = False


def marked_circuit(circuit: str, marker: str) -> str:
    """The circuit with the marker appended as an OpenQASM comment (it does not change it)."""
    return f"{circuit.rstrip()}\n// {marker}\n"


class TaskDeleter(Protocol):
    async def delete_tasks(self, task_ids: Sequence[str]) -> int: ...

    async def task_ids_marked(self, markers: Sequence[str]) -> list[str]: ...


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CleanupLedger:
    """Append-only record of the suite's submissions in one environment."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self, mode: str) -> Iterator[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_CREAT | os.O_RDWR | (os.O_APPEND if mode == "append" else 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _append(self, *records: Mapping[str, object]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        with self._locked("append") as fd:
            os.write(fd, data)

    def record_intent(self, marker: str) -> None:
        """Call before submitting a task whose circuit carries ``marker``."""
        self._append({"event": "intent", "marker": marker, "pid": os.getpid()})

    def record_created(self, marker: str, task_id: str) -> None:
        self._append({"event": "created", "marker": marker, "task_id": task_id})

    def record_deleted(self, markers: Sequence[str]) -> None:
        self._append(*({"event": "deleted", "marker": m} for m in markers))

    def entries(self) -> list[Entry]:
        """Every submission in the file, in order; unreadable lines are skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return _replay(lines)

    def outstanding(self) -> list[Entry]:
        """Submissions not yet deleted."""
        return [entry for entry in self.entries() if not entry.deleted]

    def compact(self, keep: Callable[[Entry], bool]) -> None:
        """Rewrite the file with only the outstanding entries ``keep`` selects."""
        with self._locked("rewrite") as fd:
            with open(fd, encoding="utf-8", closefd=False) as current:
                entries = [e for e in _replay(current.read().splitlines()) if not e.deleted]
            lines = []
            for entry in filter(keep, entries):
                lines.append({"event": "intent", "marker": entry.marker, "pid": entry.pid})
                if entry.task_id:
                    lines.append(
                        {"event": "created", "marker": entry.marker, "task_id": entry.task_id}
                    )
            data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in lines).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)


def _replay(lines: Sequence[str]) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for line in lines:
        try:
            record = json.loads(line)
            marker = str(record["marker"])
            event = record["event"]
        except (ValueError, KeyError, TypeError):
            continue
        if event == "intent":
            entries.setdefault(marker, Entry(marker, int(record.get("pid", 0))))
        elif marker in entries and event == "created":
            entries[marker].task_id = str(record["task_id"])
        elif marker in entries and event == "deleted":
            entries[marker].deleted = True
    return list(entries.values())


async def delete_entries(
    ledger: CleanupLedger, entries: Sequence[Entry], database: TaskDeleter
) -> int:
    """Delete the tasks of these entries with their history; returns the number deleted.

    A task whose id never came back (the run died during the request) is found by its marker.
    """
    if not entries:
        return 0
    task_ids = {e.task_id for e in entries if e.task_id}
    unanswered = [e.marker for e in entries if not e.task_id]
    task_ids.update(await database.task_ids_marked(unanswered))
    deleted = await database.delete_tasks(sorted(task_ids))
    ledger.record_deleted([e.marker for e in entries])
    return deleted


async def sweep(
    ledger: CleanupLedger,
    database: TaskDeleter,
    process_alive: Callable[[int], bool] = _process_alive,
) -> int:
    """Delete what runs that are no longer alive left behind; returns the number of tasks.

    Entries of a live process (another run in progress) are left alone.
    """
    abandoned = [e for e in ledger.outstanding() if not process_alive(e.pid)]
    deleted = await delete_entries(ledger, abandoned, database)
    ledger.compact(lambda entry: process_alive(entry.pid))
    return deleted


@dataclass(frozen=True)
class SubmittedTask:
    """A task a scenario submitted: the exact circuit sent, the shots, the API's answer."""

    circuit: str
    shots: int
    submission: Submission

    @property
    def task_id(self) -> str:
        return self.submission.task_id


class ScenarioTasks:
    """The tasks one scenario submits, recorded in the ledger before they exist.

    ``submit`` returns the marked circuit together with the API's answer, so a scenario can
    compare what it sent with what was stored.
    """

    def __init__(self, ledger: CleanupLedger, api: ApiClient) -> None:
        self._ledger = ledger
        self._api = api
        self.entries: list[Entry] = []

    def mark(self, circuit: str) -> tuple[str, str]:
        """Record an intent and return (marker, marked circuit) for a request about to be sent."""
        marker = new_marker()
        self._ledger.record_intent(marker)
        self.entries.append(Entry(marker, os.getpid()))
        return marker, marked_circuit(circuit, marker)

    def created(self, marker: str, task_id: str) -> None:
        """Record the id the API gave to the task carrying ``marker``."""
        self._ledger.record_created(marker, task_id)
        for entry in self.entries:
            if entry.marker == marker:
                entry.task_id = task_id

    async def submit(self, circuit: str, shots: int) -> SubmittedTask:
        """Submit a valid task (marked, recorded); an answer without task id is a fault."""
        marker, sent = self.mark(circuit)
        submission = await self._api.submit(sent, shots)
        self.created(marker, submission.task_id)
        return SubmittedTask(sent, shots, submission)

    def task_ids(self) -> list[str]:
        """The ids of the tasks the API accepted so far."""
        return [entry.task_id for entry in self.entries if entry.task_id]

    async def delete_all(self, database: TaskDeleter) -> int:
        """Delete every task of the scenario (with its history); returns how many."""
        pending, self.entries = self.entries, []
        return await delete_entries(self._ledger, pending, database)
