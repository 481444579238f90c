"""Interrupting `qtask-verify` at a chosen moment of an intervention, as a user or CI would.

The moment is read from the intervention journal the run writes (the change it is making, the
number of controller commands it has started for it, whether it was undone), never guessed from
elapsed time alone, so a kill point means the same on a fast and on a loaded machine.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from qtask_verify.deployment.identity import DeploymentIdentity
from qtask_verify.deployment.journal import InterventionJournal, JournalEntry
from qtask_verify.deployment.ledger import CleanupLedger, ledger_path
from qtask_verify.plugin.startup import STATE_DIRECTORY
from tests.support.verify_process import QTASK_VERIFY, REPOSITORY, VerifyRun

JOURNAL = InterventionJournal.in_directory(
    REPOSITORY / STATE_DIRECTORY, DeploymentIdentity(), "tests"
)
RESTORE_LOG = REPOSITORY / STATE_DIRECTORY / "restore.log"
_POLL_S = 0.02


@dataclass(frozen=True)
class Moment:
    """When to signal: ``commands`` controller commands started for a change of ``target`` by
    ``action`` (0: the change is recorded, 1: the change itself is under way, 2: its undoing
    is), or once it was undone;
    with ``finished``, once that command has also ended (the component is down, not yet
    started again); then ``delay_s`` more."""

    target: str
    action: str
    commands: int = 1
    undone: bool = False
    finished: bool = False
    delay_s: float = 0.0

    def reached(self, entries: Sequence[JournalEntry]) -> bool:
        for entry in entries:
            change = entry.change
            if (change.target, change.action) != (self.target, self.action):
                continue
            if self.undone:
                if entry.undone:
                    return True
            elif self.commands == 0:
                return True
            elif len(entry.commands) >= self.commands:
                command = entry.commands[self.commands - 1]
                if not self.finished or not command.alive():
                    return True
        return False


@dataclass(frozen=True)
class Interrupted:
    """A run signalled at a moment: how it ended, and how long after the signal."""

    run: VerifyRun
    pid: int
    signalled: bool
    seconds_after_signal: float

    @property
    def background_restorer(self) -> int | None:
        """The pid of the `qtask-verify restore` the stopped run left to finish, if any."""
        found = re.search(r"in the background \(pid (\d+),", self.run.stderr)
        return int(found.group(1)) if found else None


def interrupt(
    reports: Path,
    args: Sequence[str],
    env: Mapping[str, str],
    moment: Moment,
    signum: signal.Signals,
    timeout_s: float = 120.0,
    also: Callable[[int], bool] = lambda pid: True,
) -> Interrupted:
    """Run `qtask-verify`, send ``signum`` at ``moment`` (once ``also(pid)`` holds too), wait
    (bounded) until it has ended."""
    started = time.monotonic()
    out, err = reports.with_suffix(".stdout"), reports.with_suffix(".stderr")
    reports.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [str(QTASK_VERIFY), "--report-dir", str(reports), *args],
            cwd=REPOSITORY,
            env=dict(env),
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # like a terminal's job: the signal reaches it alone
        )
        deadline = started + timeout_s
        while process.poll() is None and not (
            moment.reached(_entries_of(process.pid)) and also(process.pid)
        ):
            assert time.monotonic() < deadline, f"{moment} not reached in {timeout_s:.0f} s"
            time.sleep(_POLL_S)
        time.sleep(moment.delay_s)
        signalled = process.poll() is None
        at = time.monotonic()
        if signalled:
            os.killpg(process.pid, signum)  # the run's process group, as Ctrl-C would
        process.wait(timeout=timeout_s)
        after = time.monotonic() - at
    run = VerifyRun(
        process.returncode,
        out.read_text(),
        err.read_text(),
        reports,
        time.monotonic() - started,
    )
    return Interrupted(run, process.pid, signalled, after)


def stack_environment(stack: Any, **overrides: str) -> dict[str, str]:
    """The process environment of a run against ``stack`` (its QTASK_* variables, controller)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
    environ.update(stack.suite_env())
    environ.update(QTASK_STACK_DIR=str(stack.state_dir), QTASK_ENV="local")
    environ.update(overrides)
    return environ


def respelled(env: Mapping[str, str]) -> dict[str, str]:
    """The same deployment's URLs spelled otherwise: `localhost`, and `postgres://`."""
    changed = {
        key: value.replace("127.0.0.1", "localhost").replace("postgresql://", "postgres://")
        for key, value in env.items()
        if key.startswith("QTASK_") and key.endswith("_URL")
    }
    assert all(changed[key] != env[key] for key in changed), changed
    return {**env, **changed}


def submitted_by(pid: int, identity: DeploymentIdentity) -> list[str]:
    """Tasks a run recorded in the cleanup ledger and has not deleted."""
    ledger = CleanupLedger(ledger_path(REPOSITORY / STATE_DIRECTORY, identity))
    return [e.task_id for e in ledger.outstanding() if e.pid == pid and e.task_id]


def existing_tasks(database_url: str, task_ids: Sequence[str]) -> list[str]:
    """Which of these tasks are still in the database."""

    async def fetch() -> list[str]:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            rows = await connection.fetch(
                "SELECT task_id::text FROM tasks WHERE task_id = ANY($1::uuid[])", list(task_ids)
            )
        finally:
            await connection.close()
        return [row[0] for row in rows]

    return asyncio.run(fetch()) if task_ids else []


def _entries_of(pid: int) -> list[JournalEntry]:
    return [entry for entry in JOURNAL.entries() if entry.owner.pid == pid]


def open_changes(identity_of_stack: DeploymentIdentity) -> list[JournalEntry]:
    """Changes to the stack that nobody has undone (by any run, dead or alive)."""
    return [e for e in JOURNAL.entries() if not e.undone and e.identity.matches(identity_of_stack)]


def restorer_lines(run_pid: int) -> list[str]:
    """What the background `qtask-verify restore` of the stopped run ``run_pid`` said."""
    if not RESTORE_LOG.is_file():
        return []
    lines = RESTORE_LOG.read_text(errors="replace").splitlines()
    header = f": after the interrupted run {run_pid}"
    starts = [i for i, line in enumerate(lines) if line.startswith("--- ") and header in line]
    if not starts:
        return []
    section = lines[starts[-1] + 1 :]
    ends = [i for i, line in enumerate(section) if line.startswith("--- ")]
    return section[: ends[0]] if ends else section


def wait_gone(pid: int | None, within_s: float = 90.0) -> None:
    if pid is None:
        return
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} still running after {within_s:.0f} s")
