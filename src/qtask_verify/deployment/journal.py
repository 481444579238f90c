"""The intervention journal: every change the suite makes to a deployment, until it is undone.

Before the suite stops, kills or pauses a component or reconfigures the broker, it appends an
*intent* line (synced to disk) naming the change, the deployment's identity and the process
making it; each controller command it starts appends its pid; once the change is undone, an
*undone* line. So a run that dies at any moment leaves behind exactly what it had not put back,
and the next run (or ``qtask-verify restore``) finishes it first (see ``restoration``). The file
lives in the suite's state directory, is shared by every run there (one ``O_APPEND`` write per
line under an exclusive lock) and is keyed by identity, never by the spelling of a URL.

For a change made outside ``interventions`` (e.g. switching the broker's tracing on), wrap it
in :func:`intervening`; ``restoration`` knows how to undo each :class:`Change` kind alone.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..interruption import restore_bound_s
from .identity import DeploymentIdentity

FILENAME = "journal.jsonl"
ChangeKind = Literal["component", "vhost-tracing"]

_PLURAL = {"worker": "the workers", "api": "the API"}
_PAST = {"stop": "stopped", "kill": "killed", "enable": "switched on"}


@dataclass(frozen=True)
class Change:
    """What the suite changes, in terms a later process can undo without this one.

    ``component``: ``target`` is a deployment part (api | worker | database | broker), ``action``
    the controller's (stop | kill); undone by the controller's ``start``.
    ``vhost-tracing``: ``target`` is the vhost, ``action`` ``enable``; undone by switching the
    vhost's tracing off through the Management API.
    """

    kind: ChangeKind
    target: str
    action: str

    @classmethod
    def component(cls, part: str, action: str) -> Change:
        return cls("component", part, action)

    @classmethod
    def vhost_tracing(cls, vhost: str) -> Change:
        return cls("vhost-tracing", vhost, "enable")

    @property
    def subject(self) -> str:
        """'the workers', 'the broker', 'the tracing of vhost /'."""
        if self.kind == "vhost-tracing":
            return f"the tracing of vhost {self.target}"
        return _PLURAL.get(self.target, f"the {self.target}")

    @property
    def done(self) -> str:
        """The change as a past participle: 'stopped', 'killed', 'switched on'."""
        return _PAST.get(self.action, f"{self.action}ed")

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target, "action": self.action}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Change:
        kind = value["kind"]
        if kind not in ("component", "vhost-tracing"):
            raise ValueError(f"unknown change kind {kind!r}")
        return cls(kind, str(value["target"]), str(value["action"]))


@dataclass(frozen=True)
class ProcessStamp:
    """A process, told apart from a later one that reuses its pid by its start time."""

    pid: int
    started: int | None  # clock ticks since boot (/proc/PID/stat), None where unknown

    @classmethod
    def of(cls, pid: int) -> ProcessStamp:
        return cls(pid, _start_ticks(pid))

    def alive(self) -> bool:
        if self.started is not None:
            return _start_ticks(self.pid) == self.started
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def as_json(self) -> dict[str, int | None]:
        return {"pid": self.pid, "started": self.started}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ProcessStamp:
        started = value.get("started")
        return cls(int(value["pid"]), int(started) if started is not None else None)


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclass
class JournalEntry:
    """One change: who made it, on which deployment, the commands it ran, whether undone."""

    id: str
    change: Change
    owner: ProcessStamp
    parent: int
    at: str
    identity: DeploymentIdentity
    environment: str
    commands: list[ProcessStamp] = field(default_factory=list)
    undone: bool = False

    @property
    def when(self) -> str:
        """The time of the change, for people: '2026-12-01 22:40:05 UTC'."""
        try:
            return datetime.fromisoformat(self.at).strftime("%Y-%m-%d %H:%M:%S UTC")
        except ValueError:
            return self.at

    def owned_by_this_run(self) -> bool:
        """Made by this process or by one it started (an xdist worker)."""
        me = os.getpid()
        return self.owner.pid == me or self.parent == me

    def describe(self) -> str:
        """'the broker (stopped by this run at 2026-12-01 22:40:05 UTC)'."""
        return f"{self.change.subject} ({self.change.done} at {self.when})"


class InterventionJournal:
    """The journal file of one state directory, seen from one deployment (``identity``)."""

    def __init__(self, path: Path, identity: DeploymentIdentity, environment: str) -> None:
        self.path = path
        self.identity = identity
        self.environment = environment

    @classmethod
    def in_directory(
        cls, directory: Path, identity: DeploymentIdentity, environment: str
    ) -> InterventionJournal:
        return cls(directory / FILENAME, identity, environment)

    @contextmanager
    def _locked(self, flags: int) -> Iterator[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR | flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _append(self, record: Mapping[str, object]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._locked(os.O_APPEND) as fd:
            os.write(fd, data)
            os.fsync(fd)

    def intend(self, change: Change) -> JournalEntry:
        """Record a change about to be made (durably, before anything is touched)."""
        entry = JournalEntry(
            id=str(uuid.uuid4()),
            change=change,
            owner=ProcessStamp.of(os.getpid()),
            parent=os.getppid(),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            identity=self.identity,
            environment=self.environment,
        )
        self._append(
            {
                "event": "intent",
                "id": entry.id,
                "change": change.as_json(),
                "owner": entry.owner.as_json(),
                "parent": entry.parent,
                "at": entry.at,
                "identity": self.identity.as_json(),
                "environment": self.environment,
            }
        )
        return entry

    def command(self, entry: JournalEntry, pid: int) -> None:
        """Record a controller command started for this change (the next run waits for it)."""
        stamp = ProcessStamp.of(pid)
        entry.commands.append(stamp)
        self._append({"event": "command", "id": entry.id, **stamp.as_json()})

    def undone(self, entry: JournalEntry) -> None:
        entry.undone = True
        self._append({"event": "undone", "id": entry.id})

    def entries(self) -> list[JournalEntry]:
        """Every change in the file, in order; unreadable lines are skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return _replay(lines)

    def open_entries(self) -> list[JournalEntry]:
        """Changes to this deployment not undone yet, by any process."""
        return [e for e in self.entries() if not e.undone and e.identity.matches(self.identity)]

    def abandoned(self) -> list[JournalEntry]:
        """Changes to this deployment that a process no longer alive left undone."""
        return [e for e in self.open_entries() if not e.owner.alive()]

    def left_by_this_run(self) -> list[str]:
        """What this run changed and has not undone, for people."""
        return [e.describe() for e in self.open_entries() if e.owned_by_this_run()]

    def compact(self) -> None:
        """Rewrite the file with only the open changes (of any deployment)."""
        with self._locked(0) as fd:
            with open(fd, encoding="utf-8", closefd=False) as current:
                lines = current.read().splitlines()
            keep = {e.id for e in _replay(lines) if not e.undone}
            kept = [line for line in lines if _entry_id(line) in keep]
            data = "".join(line + "\n" for line in kept).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)


def _entry_id(line: str) -> str | None:
    try:
        value = json.loads(line)
        return str(value["id"]) if isinstance(value, dict) else None
    except (ValueError, KeyError):
        return None


def _replay(lines: Sequence[str]) -> list[JournalEntry]:
    entries: dict[str, JournalEntry] = {}
    for line in lines:
        try:
            record = json.loads(line)
            event, key = record["event"], str(record["id"])
            if event == "intent":
                entries[key] = JournalEntry(
                    id=key,
                    change=Change.from_json(record["change"]),
                    owner=ProcessStamp.from_json(record["owner"]),
                    parent=int(record.get("parent", 0)),
                    at=str(record.get("at", "")),
                    identity=DeploymentIdentity.from_json(record.get("identity")),
                    environment=str(record.get("environment", "")),
                )
            elif key in entries and event == "command":
                entries[key].commands.append(ProcessStamp.from_json(record))
            elif key in entries and event == "undone":
                entries[key].undone = True
        except (ValueError, KeyError, TypeError):
            continue
    return list(entries.values())


@asynccontextmanager
async def intervening(
    journal: InterventionJournal, change: Change, undo: Callable[[], Awaitable[None]]
) -> AsyncIterator[JournalEntry]:
    """Journal ``change`` around a block that makes it; ``undo`` runs on the way out, always.

    The intent is on disk before the block runs; ``undo`` runs after success, failure and
    cancellation alike (within the interruption's bound once the run must stop) and only when
    it succeeds is the change recorded as undone. Otherwise the next run undoes it::

        async with intervening(journal, Change.vhost_tracing(vhost), undo=switch_off):
            await switch_on()
            ...
    """
    entry = journal.intend(change)
    try:
        yield entry
    finally:
        await _bounded(undo, restore_bound_s())
        journal.undone(entry)


async def _bounded(undo: Callable[[], Awaitable[None]], bound_s: float | None) -> None:
    if bound_s is None:
        await undo()
        return
    async with asyncio.timeout(bound_s):
        await undo()
