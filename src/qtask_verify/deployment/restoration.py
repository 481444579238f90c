"""Finishing what a dead run left undone, before anything judges the deployment.

A run killed in the middle of an intervention (SIGKILL, a crash, a stop bound reached) leaves
open changes in the intervention journal. Before the preflight's verdict counts, every open
change of a process no longer alive is finished, the last one first: the commands that run had
started are awaited (a ``stop`` still under way ends before anything starts), then the change is
undone exactly as the run itself would have (the controller's ``start`` and the deployment whole
again; the vhost's tracing switched off) and recorded. One line per dead run says what was
restored. Two runs starting together never both restore: one waits for the other.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import httpx

from ..clients import ApiClient, BrokerInspector
from ..config import Environment
from ..errors import QtaskVerifyError
from .controller import DeploymentController, DeploymentPart, controller_for
from .identity import identify
from .interventions import Intervention
from .journal import InterventionJournal, JournalEntry, ProcessStamp
from .tracing import switch_tracing

_PARTS: tuple[DeploymentPart, ...] = ("api", "worker", "database", "broker")
_POLL_S = 0.1
IDENTIFY_WITHIN_S = 3.0


@dataclass
class Restoration:
    """What was finished for dead runs (one line per run) and what could not be."""

    restored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [*self.restored, *self.failed]


async def finish_abandoned(
    journal: InterventionJournal,
    environment: Environment,
    controller: DeploymentController | None,
) -> Restoration:
    """Undo every change a dead run left open on this deployment; never raises for one."""
    result = Restoration()
    if not journal.abandoned():
        return result
    within_s = _command_bound_s(environment)
    try:
        async with _restoring_alone(journal, within_s):
            await _finish_all(journal, environment, controller, result, within_s)
    except TimeoutError as error:
        result.failed.append(f"did not restore what interrupted runs left: {error}")
    return result


async def _finish_all(
    journal: InterventionJournal,
    environment: Environment,
    controller: DeploymentController | None,
    result: Restoration,
    within_s: float,
) -> None:
    abandoned = journal.abandoned()  # another run may have finished some meanwhile
    if not abandoned:
        return
    async with _deployment_clients(environment) as (api, broker):
        undo = _Undoing(journal, environment, controller, api, broker, within_s)
        for run in _by_run(abandoned):
            finished: list[JournalEntry] = []
            for entry in reversed(run):  # the last change first: the broker before its workers
                failure = await undo.finish(entry)
                if failure is None:
                    finished.insert(0, entry)
                else:
                    result.failed.append(failure)
            if finished:
                result.restored.append(f"restored {_what(finished)}")


async def restore_now(environment: Environment, directory: Path) -> tuple[list[str], bool]:
    """``qtask-verify restore``: what was done, for people, and whether nothing is left undone."""
    identity = await identify(environment.database_url, environment.amqp_url, IDENTIFY_WITHIN_S)
    if not identity.known:
        return [
            f"neither the database nor the broker of environment {environment.name!r} answered "
            f"within {IDENTIFY_WITHIN_S:.0f} s: which journal entries are its own cannot be told"
        ], False
    journal = InterventionJournal.in_directory(directory, identity, environment.name)
    controller = controller_for(environment.controller, environment.redactor())
    result = await finish_abandoned(journal, environment, controller)
    held = [
        f"{entry.describe()} is held by a run in progress (pid {entry.owner.pid}), which "
        "restores it itself"
        for entry in journal.open_entries()
        if entry.owner.alive()
    ]
    lines = result.lines + held
    return lines or [f"nothing to restore on environment {environment.name!r}"], not result.failed


def _command_bound_s(environment: Environment) -> float:
    settings = environment.controller
    return settings.timeout_s if settings is not None else 60.0


def _by_run(entries: Sequence[JournalEntry]) -> list[list[JournalEntry]]:
    """The entries grouped by the run (process) that made them, in the order they were made."""
    ordered = sorted(entries, key=lambda e: (e.owner.pid, e.owner.started or 0, e.at))
    return [list(run) for _, run in groupby(ordered, key=lambda e: (e.owner.pid, e.owner.started))]


def _what(entries: Sequence[JournalEntry]) -> str:
    """'the workers and the broker that an interrupted run on … had stopped'."""
    when = entries[0].when
    actions = {e.change.done for e in entries}
    if len(actions) == 1:
        subjects = _joined([e.change.subject for e in entries])
        return f"{subjects} that an interrupted run on {when} had {actions.pop()}"
    listed = _joined([f"{e.change.subject} ({e.change.done})" for e in entries])
    return f"{listed} that an interrupted run on {when} had changed"


def _joined(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class _Undoing:
    """What undoing one change needs: the journal, the deployment's clients, the controller."""

    journal: InterventionJournal
    environment: Environment
    controller: DeploymentController | None
    api: ApiClient
    broker: BrokerInspector
    within_s: float

    async def finish(self, entry: JournalEntry) -> str | None:
        """Undo one change and record it; None when done, else why it could not be."""
        try:
            await _commands_gone(entry.commands, self.within_s)
            if entry.change.kind == "vhost-tracing":
                await switch_tracing(self.environment, entry.change.target, False, self.controller)
                self.journal.undone(entry)
            else:
                await self._start(entry)
        except (QtaskVerifyError, AssertionError, TimeoutError, OSError, httpx.HTTPError) as error:
            reason = self.environment.redactor()(str(error) or type(error).__name__)
            return (
                f"could not restore {entry.change.subject} that an interrupted run on "
                f"{entry.when} had {entry.change.done}: {reason}"
            )
        return None

    async def _start(self, entry: JournalEntry) -> None:
        """The controller's start, then the deployment whole, as the run would have done it."""
        part = _part(entry.change.target)
        if self.controller is None:
            raise QtaskVerifyError(
                f"environment {self.environment.name!r} has no controller to start it"
            )
        intervention = Intervention(
            self.controller,
            part,
            self.api,
            self.broker,
            self.environment,
            self.journal,
            consumers_after=part == "worker",
        )
        intervention.adopt(entry)
        await intervention.restore()


def _part(name: str) -> DeploymentPart:
    for part in _PARTS:
        if part == name:
            return part
    raise QtaskVerifyError(f"the journal names an unknown part {name!r}")


async def _commands_gone(commands: Sequence[ProcessStamp], within_s: float) -> None:
    """Wait until the dead run's controller commands have ended (they are never killed)."""
    deadline = time.monotonic() + within_s
    while any(command.alive() for command in commands):
        if time.monotonic() > deadline:
            running = ", ".join(str(c.pid) for c in commands if c.alive())
            raise TimeoutError(
                f"its controller command (pid {running}) was still running after {within_s:.0f} s"
            )
        await asyncio.sleep(_POLL_S)


@asynccontextmanager
async def _deployment_clients(
    environment: Environment,
) -> AsyncIterator[tuple[ApiClient, BrokerInspector]]:
    api = ApiClient(environment.api_url)
    broker = BrokerInspector(
        environment.management_url,
        environment.management_user,
        environment.management_password,
        environment.amqp_url,
    )
    try:
        yield api, broker
    finally:
        await api.aclose()
        await broker.aclose()


@asynccontextmanager
async def _restoring_alone(journal: InterventionJournal, within_s: float) -> AsyncIterator[None]:
    """An exclusive lock beside the journal, waited for without blocking the event loop."""
    path = journal.path.with_name(journal.path.name + ".restoring")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await _poll(lambda: _try_lock(fd), within_s, "another run's restoration")
        yield
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


async def _poll(done: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {within_s:.0f} s for {what}")
        await asyncio.sleep(_POLL_S)
