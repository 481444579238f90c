"""The variant's private stack, and the levers that break it in ways the contract forbids.

The variant (`qtask_service.settings.VARIANT_ENVIRONMENT` on `VARIANT_VHOST`) differs from the
reference service in every way the contract allows. `VariantLab` runs `qtask-verify` and
`qtask-verify discover` against it as CI would (subprocesses, the stack's `QTASK_*` variables),
and injects real violations, each as a context manager that restores the stack on exit, also
after a failure, so the one stack can be shared by a whole module.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from qtask_service.settings import VARIANT_ENVIRONMENT
from qtask_stack import Stack
from tests.faults.catalogue import WRAPPERS
from tests.support.stack_levers import StackLevers
from tests.support.verify_process import QTASK_VERIFY, REPOSITORY, VerifyRun, run_verify

QUEUE = VARIANT_ENVIRONMENT["QTASK_SERVICE_QUEUE_NAME"]
DEAD_LETTER_EXCHANGE = VARIANT_ENVIRONMENT["QTASK_SERVICE_DEAD_LETTER_EXCHANGE"]
WHOLE_WITHIN_S = 30.0
BELL = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\n'
    "c = measure q;\n"
)
# A diagnosis's headline is one plain sentence: never a traceback, a raw exception or a driver's
# class name (the raw error belongs in the detail).
RAW_ERROR = re.compile(
    r"Traceback|Error:|Exception:|\b(asyncpg|aiormq|aio_pika|pamqp|httpx|pydantic)\b"
    r"|\b[A-Za-z_]\w*(Error|Exception)\b"
)
COMPONENTS = {"api", "database", "queue", "workers"}


@dataclass(frozen=True)
class Discovery:
    """One finished `qtask-verify discover`: the draft profile (stdout), the table (stderr)."""

    code: int
    draft: str
    table: str
    seconds: float

    @property
    def profile_name(self) -> str | None:
        match = re.search(r"^\[profiles\.([A-Za-z0-9_-]+)\]\s*$", self.draft, re.MULTILINE)
        return match.group(1) if match else None


def raw_errors(run: VerifyRun) -> list[str]:
    """Every diagnosis (preflight included) that is not one plain sentence of a component."""
    found = [
        f"preflight: {line}"
        for line in run.record.get("preflight", {}).get("failures", [])
        if RAW_ERROR.search(line)
    ]
    for scenario in run.scenarios():
        diagnosis = scenario.get("diagnosis")
        if scenario["outcome"] != "failed" and not diagnosis:
            continue
        diagnosis = diagnosis or {}
        message = str(diagnosis.get("message"))
        if diagnosis.get("component") not in COMPONENTS or RAW_ERROR.search(message):
            found.append(f"{scenario['name']}: {diagnosis.get('component')}: {message}")
    return found


def diagnoses(run: VerifyRun) -> dict[str, str]:
    """Failed scenario name -> "component: message" (the preflight's failures under "preflight")."""
    found: dict[str, str] = {}
    for finding in run.findings():
        previous = found.get(finding.scenario)
        found[finding.scenario] = (
            f"{previous}\n{finding.diagnosis}" if previous else finding.diagnosis
        )
    return found


class VariantLab(StackLevers):
    """The shared variant stack, how to verify it, and the violations it can be given."""

    def __init__(self, stack: Stack, work: Path) -> None:
        super().__init__(stack)
        self.work = work
        self._runs = 0

    # -- running the suite ------------------------------------------------------------------

    def verify(self, args: Sequence[str], timeout_s: float = 120.0, **overrides: str) -> VerifyRun:
        self._runs += 1
        reports = self.work / f"run-{self._runs}"
        return run_verify(reports, args, self.environ(**overrides), timeout_s=timeout_s)

    def discover(self, *args: str, timeout_s: float = 30.0) -> Discovery:
        started = time.monotonic()
        completed = subprocess.run(
            [str(QTASK_VERIFY), "discover", *args],
            cwd=REPOSITORY,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        seconds = time.monotonic() - started
        return Discovery(completed.returncode, completed.stdout, completed.stderr, seconds)

    def secrets(self) -> list[str]:
        """Every password of the stack's accounts the suite or this lab is given."""
        found = {
            self.suite_env["QTASK_MANAGEMENT_PASSWORD"],
            self.admin_env["QTASK_MANAGEMENT_PASSWORD"],
        }
        for value in [*self.suite_env.values(), *self.admin_env.values()]:
            if "://" in value and (password := urlsplit(value).password):
                found |= {password, unquote(password)}
        return sorted(secret for secret in found if len(secret) >= 4)

    # -- levers -----------------------------------------------------------------------------

    def history_foreign_key(self) -> tuple[str, str]:
        """The name of status_history's foreign key to tasks, and its ON DELETE action code."""
        row = self.sql_value(
            "SELECT conname || ' ' || confdeltype::text FROM pg_constraint"
            " WHERE conrelid = 'status_history'::regclass AND contype = 'f'"
            " AND confrelid = 'tasks'::regclass"
        )
        name, action = str(row).rsplit(" ", 1)
        return name, action

    # -- is it whole? -----------------------------------------------------------------------

    def problems(self) -> list[str]:
        """What keeps the variant from being itself (empty: whole). A worker consumes the queue
        when a Bell circuit completes (the Management API's consumer count lags)."""
        found = self.health_problems()
        rejected = httpx.post(
            f"{self.suite_env['QTASK_API_URL']}/tasks", json={"qc": "", "shots": 1}, timeout=5
        )
        if rejected.status_code != 400:
            found.append(f"an empty circuit was answered {rejected.status_code}")
        queue = self.management("GET", self.queue_path(QUEUE))
        if queue.status_code != 200:
            found.append(f"queue {QUEUE}: {queue.status_code}")
        else:
            body = queue.json()
            if body.get("arguments", {}).get("x-dead-letter-exchange") != DEAD_LETTER_EXCHANGE:
                found.append(f"queue {QUEUE} does not dead-letter to {DEAD_LETTER_EXCHANGE}")
        if not self.sql_value(
            "SELECT count(*) = 1 FROM information_schema.columns"
            " WHERE table_name = 'tasks' AND column_name = 'started_at'"
        ):
            found.append("tasks.started_at is missing")
        if self.history_foreign_key()[1] != "c":
            found.append("status_history's foreign key does not cascade")
        return found or self._round_trip_problems()

    def _round_trip_problems(self) -> list[str]:
        """A Bell circuit submitted and completed; its task deleted afterwards."""
        api = self.suite_env["QTASK_API_URL"]
        submitted = httpx.post(f"{api}/tasks", json={"qc": BELL, "shots": 64}, timeout=5)
        if submitted.status_code != 200:
            return [f"a Bell circuit was answered {submitted.status_code}"]
        task_id = submitted.json()["task_id"]
        try:
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline:
                status = httpx.get(f"{api}/tasks/{task_id}", timeout=5).json().get("status")
                if status in ("completed", "failed"):
                    break
                time.sleep(0.1)
            return [] if status == "completed" else [f"a Bell circuit ended {status}"]
        finally:
            self.sql(f"DELETE FROM tasks WHERE task_id = '{uuid.UUID(task_id)}'")

    def wait_whole(self) -> list[str]:
        deadline = time.monotonic() + WHOLE_WITHIN_S
        while (found := self.problems()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return found

    # -- violations -------------------------------------------------------------------------

    @contextmanager
    def column_dropped(self, table: str, column: str, definition: str) -> Iterator[None]:
        """A contract column dropped; added back on exit (the service needs no restart: its
        statements are prepared again, which `problems` proves by running a task)."""
        try:
            self.sql(f"ALTER TABLE {table} DROP COLUMN {column}")
            yield
        finally:
            self.sql(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")

    @contextmanager
    def history_cascade_removed(self) -> Iterator[None]:
        """status_history's foreign key kept under its name, without ON DELETE CASCADE."""
        name, _ = self.history_foreign_key()

        def foreign_key(cascade: bool) -> tuple[str, str]:
            action = " ON DELETE CASCADE" if cascade else ""
            return (
                f"ALTER TABLE status_history DROP CONSTRAINT {name}",
                f"ALTER TABLE status_history ADD CONSTRAINT {name} FOREIGN KEY (task_id)"
                f" REFERENCES tasks (task_id){action}",
            )

        try:
            self.sql(*foreign_key(cascade=False))
            yield
        finally:
            self.sql(*foreign_key(cascade=True))

    @contextmanager
    def api_wrapped(self, script: str) -> Iterator[None]:
        """The variant's API run as one of the fault catalogue's wrappers (its settings kept)."""
        try:
            self.stack.kill("api")  # quicker than a graceful stop; the suite is not running
            self.stack.start("api", argv=[sys.executable, str(WRAPPERS / script)])
            yield
        finally:
            self.stack.kill("api")
            self.stack.start("api")

    @contextmanager
    def queue_without_dead_lettering(self) -> Iterator[None]:
        """The task queue redeclared, still quorum and durable, without dead-letter arguments
        (workers stopped meanwhile: they would redeclare it); restored by the workers on start."""
        try:
            self.stack.kill("worker")  # quicker than a graceful stop; it holds no task
            deleted = self.management("DELETE", self.queue_path(QUEUE))
            assert deleted.status_code in (204, 404), deleted.text
            declared = self.management(
                "PUT",
                self.queue_path(QUEUE),
                json={
                    "durable": True,
                    "auto_delete": False,
                    "arguments": {"x-queue-type": "quorum"},
                },
            )
            assert declared.status_code in (201, 204), declared.text
            yield
        finally:
            self.management("DELETE", self.queue_path(QUEUE))
            self.stack.start("worker")
