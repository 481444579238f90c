"""The catalogue of broken deployments the suite must catch, each built from a private stack.

A `Fault` says how to break the stack (a context manager that injects the fault, yields the
variables the suite runs with, and restores the stack on exit, also after a failure), what the
suite must answer (verdict, the scenario that fails, a pattern its diagnosis matches) and how soon.
Faults are injected from outside wherever possible: the suite's configuration, SQL on the
stack's private database, the broker's Management API, stopping processes. Where the service
itself must misbehave, it runs as one of the wrappers in `wrappers/` (the real service with one
behaviour patched), started through the stack's argv override.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from qtask_stack.process import MARKER_ENV
from qtask_stack.state import stack_id_for
from tests.support.stack_levers import StackLevers

WRAPPERS = Path(__file__).resolve().parent / "wrappers"
QUEUE = "quantum_tasks"
WRONG_PASSWORD = "Wr0ng-fault-pa55"
PRISTINE_TIMEOUT_S = 60.0
# Variables that make a faulty worker give up its in-flight tasks at once when it is stopped.
QUICK_STOP = {"QTASK_SERVICE_WORKER_SHUTDOWN_GRACE_S": "1"}

# Scenario selections: the scenarios that can catch the fault, plus the P1 set (the gate). The
# known-answer scenarios run only for the faults that concern results (P1_WORKER): elsewhere they
# catch nothing and cost every run seconds (and, against a worker that never finishes in time,
# each would wait out the processing limit too, while the Bell scenarios already catch it).
WITHOUT_KNOWN_ANSWERS = ("-k", "not known_answers")
P1 = ("-m", "p1", *WITHOUT_KNOWN_ANSWERS)
P1_WORKER = ("-m", "p1 and worker")
P1_WORKER_BELL = ("-m", "p1 and worker", *WITHOUT_KNOWN_ANSWERS)
WITH_SCHEMA = ("-m", "p1 or (p2 and database)", *WITHOUT_KNOWN_ANSWERS)
SCHEMA_ONLY = ("-m", "p2 and database")
WITH_QUEUE = ("-m", "p1 or (p2 and queue)", *WITHOUT_KNOWN_ANSWERS)
WITH_API = ("-m", "p1 or (p2 and api)", *WITHOUT_KNOWN_ANSWERS)
P1_READ_ONLY = ("-m", "p1 and read_only")
WITH_FAILING_TASK = ("-m", "p1 or (p2 and worker)", "-k", "not performance and not known_answers")
WITH_ACKNOWLEDGEMENTS = (
    "-m",
    "p1 or (p2 and worker)",
    "-k",
    "not performance and not known_answers and not parsed",
)
PREFLIGHT = "preflight"
DEAD_LETTER_QUEUE = "quantum_tasks.dlq"
HISTORY_IN_ORDER = "Every status change is recorded in order, and the task's timestamps agree"
TTL_POLICY = "qtask-fault-message-ttl"
DEAD_LETTER_WINDOW_S = 15.0  # the local profile's dead_letter_window_s


class Lab(StackLevers):
    """The shared private stack, with the levers the faults pull."""

    def run_env(self, **overrides: str) -> dict[str, str]:
        """The environment of a `qtask-verify` run against this stack (controller included)."""
        return self.environ(**{"QTASK_ENV": "local", **overrides})

    def secrets(self) -> list[str]:
        """Passwords the suite is given (the stack's, and the wrong one a fault hands it)."""
        found = [self.suite_env["QTASK_MANAGEMENT_PASSWORD"], WRONG_PASSWORD]
        found += [urlsplit(v).password or "" for v in self.suite_env.values() if "://" in v]
        return [secret for secret in found if len(secret) >= 4]

    def dead_letter_lengths(self) -> list[int]:
        """The dead-letter queue's sampled lengths over the local profile's window, oldest first."""
        path = self.queue_path(DEAD_LETTER_QUEUE)
        query = (
            f"?lengths_age={DEAD_LETTER_WINDOW_S + 1:.0f}&lengths_incr=1"  # as the suite reads it
        )
        response = self.management("GET", path + query)
        samples = response.json().get("messages_details", {}).get("samples", [])
        return [int(sample["sample"]) for sample in reversed(samples)]

    def dead_letters_grew(self) -> bool:
        lengths = self.dead_letter_lengths()
        return any(later > earlier for earlier, later in itertools.pairwise(lengths))

    def delete_task_queue(self) -> None:
        response = self.management("DELETE", self.queue_path(QUEUE))
        assert response.status_code in (204, 404), response.text

    def restart_service(self, script: str | None, *, workers: bool, api: bool) -> None:
        """Restart the API and/or the workers, as a wrapper from `wrappers/` or (None) as is."""
        argv = None if script is None else [sys.executable, str(WRAPPERS / script)]
        env = None if script is None else QUICK_STOP
        if api:
            self.stack.restart("api", argv=argv, env=env)
        if workers:
            self.stack.restart("worker", argv=argv, env=env)

    def problems(self) -> list[str]:
        """What keeps the stack from being the healthy reference deployment (empty: healthy)."""
        found = self.health_problems()
        queue = self.management("GET", self.queue_path(QUEUE))
        if queue.status_code != 200:
            found.append(f"queue {QUEUE}: {queue.status_code}")
        else:
            body = queue.json()
            if not body.get("durable"):
                found.append(f"queue {QUEUE} is not durable")
            if body.get("consumers", 0) < len(self.worker_names()):
                found.append(f"queue {QUEUE} has {body.get('consumers')} consumers")
            if body.get("policy"):
                found.append(f"queue {QUEUE} has policy {body['policy']}")
        found += [f"database: {p}" for p in self._schema_problems()]
        if self.dead_letters_grew():
            found.append(f"{DEAD_LETTER_QUEUE} grew in the last {DEAD_LETTER_WINDOW_S:.0f} s")
        return found

    def worker_names(self) -> list[str]:
        return [row.name for row in self.stack.status() if row.name.startswith("worker-")]

    def _schema_problems(self) -> list[str]:
        checks = {
            "alembic revision is not 0002": "SELECT version_num <> '0002' FROM alembic_version",
            "an index is missing": "SELECT count(*) < 3 FROM pg_indexes WHERE indexname IN"
            " ('ix_tasks_current_status', 'ix_tasks_submitted_at',"
            " 'ix_status_history_task_id_transitioned_at')",
            "an enum label is missing": "SELECT count(*) < 4 FROM pg_enum"
            " WHERE enumtypid = 'task_status'::regtype"
            " AND enumlabel IN ('pending', 'processing', 'completed', 'failed')",
            "a fault trigger is left": "SELECT count(*) > 0 FROM pg_trigger"
            " WHERE tgname LIKE 'fault_%'",
        }
        return [problem for problem, query in checks.items() if self.sql_value(query)]

    def wait_pristine(self) -> list[str]:
        """Wait until the stack is healthy again; the remaining problems (empty: healthy)."""
        deadline = time.monotonic() + PRISTINE_TIMEOUT_S
        while (found := self.problems()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return found


Injector = Callable[[Lab], AbstractContextManager[dict[str, str]]]


@dataclass(frozen=True)
class Fault:
    """One broken deployment and what the suite must say about it."""

    id: str
    title: str
    verdict: str  # "NO-GO" | "GO WITH RISKS"
    scenario: str  # the failing scenario's name, or "preflight"
    diagnosis: str  # regular expression over "component: message"
    max_s: float  # bound on the time to verdict (the whole `qtask-verify` process)
    select: Sequence[str]
    inject: Injector


# --- injections --------------------------------------------------------------------------------


@contextmanager
def workers_stopped(lab: Lab) -> Iterator[dict[str, str]]:
    try:
        lab.stack.stop("worker")
        yield {}
    finally:
        lab.stack.start("worker")


@contextmanager
def broker_stopped(lab: Lab) -> Iterator[dict[str, str]]:
    try:
        lab.stack.stop("broker")
        yield {}
    finally:
        lab.stack.start("broker")


def faulty_workers(script: str) -> Injector:
    @contextmanager
    def inject(lab: Lab) -> Iterator[dict[str, str]]:
        try:
            lab.restart_service(script, workers=True, api=False)
            yield {}
        finally:
            lab.restart_service(None, workers=True, api=False)

    return inject


def faulty_api(script: str) -> Injector:
    @contextmanager
    def inject(lab: Lab) -> Iterator[dict[str, str]]:
        try:
            lab.restart_service(script, workers=False, api=True)
            yield {}
        finally:
            lab.restart_service(None, workers=False, api=True)

    return inject


def wrong_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{WRONG_PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def suite_has_wrong_database_password(lab: Lab) -> Iterator[dict[str, str]]:
    yield {"QTASK_DATABASE_URL": wrong_password(lab.suite_env["QTASK_DATABASE_URL"])}


@contextmanager
def suite_api_url_is_another_service(lab: Lab) -> Iterator[dict[str, str]]:
    """The suite pointed at an HTTP service that is not the task-queue API (the broker's)."""
    yield {"QTASK_API_URL": lab.suite_env["QTASK_MANAGEMENT_URL"]}


@contextmanager
def suite_account_may_write(lab: Lab) -> Iterator[dict[str, str]]:
    """A profile that declares a read-only account, given the stack's verifier, which may delete."""
    with tempfile.TemporaryDirectory() as directory:
        environments = Path(directory) / "environments.toml"
        environments.write_text(
            "[profiles.read-only]\n"
            f'env_file = "{lab.stack.state_dir / "stack.env"}"\n'
            "allow_mutating = false\n"
            "read_only_account = true\n"
        )
        yield {"QTASK_ENVIRONMENTS_FILE": str(environments), "QTASK_ENV": "read-only"}


@contextmanager
def database_unreachable_from_api(lab: Lab) -> Iterator[dict[str, str]]:
    """The API configured with a database address where nothing listens (the suite's is right).

    Started by hand rather than by the stack, which would wait for a healthy API forever.
    """
    service_env = lab.stack.service_env()
    database = urlsplit(service_env["QTASK_SERVICE_DATABASE_URL"])
    nowhere = database._replace(netloc=f"{database.username}:x@127.0.0.1:1")
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))},
        **service_env,
        "QTASK_SERVICE_DATABASE_URL": urlunsplit(nowhere),
        MARKER_ENV: stack_id_for(lab.stack.state_dir),
    }
    try:
        lab.stack.stop("api")
        with tempfile.TemporaryFile() as log:
            api = subprocess.Popen(
                [sys.executable, "-m", "qtask_service.api"],
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_answering(f"{lab.suite_env['QTASK_API_URL']}/health", api)
                yield {}
            finally:
                api.terminate()
                api.wait(timeout=30)
    finally:
        lab.stack.start("api")


def _wait_answering(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the hand-started API did not answer {url} (exit {process.poll()})")


def redeclare_task_queue(lab: Lab, script: str | None) -> None:
    """Delete the task queue and let the API and workers (as ``script``, if any) declare it."""
    lab.stack.stop("api")
    lab.stack.stop("worker")
    lab.delete_task_queue()
    argv = None if script is None else [sys.executable, str(WRAPPERS / script)]
    lab.stack.start("api", argv=None if argv is None else [*argv, "api"])
    lab.stack.start("worker", argv=None if argv is None else [*argv, "worker"])


@contextmanager
def task_queue_non_durable(lab: Lab) -> Iterator[dict[str, str]]:
    try:
        redeclare_task_queue(lab, "nondurable_queue.py")
        yield {}
    finally:
        redeclare_task_queue(lab, None)


@contextmanager
def task_queue_deleted(lab: Lab) -> Iterator[dict[str, str]]:
    """Deleted with no worker running: a running worker of the reference service declares the
    queue again within a second (and so heals this fault by itself)."""
    try:
        lab.stack.stop("worker")
        lab.delete_task_queue()
        yield {}
    finally:
        redeclare_task_queue(lab, None)


@contextmanager
def expiring_policy(lab: Lab) -> Iterator[dict[str, str]]:
    """An operator's policy that gives the task queue a message TTL of a minute: tasks waiting
    longer expire (into the dead-letter queue), never run. Nothing waits a minute in a healthy
    run, so only the queue's settings show it."""
    path = f"/api/policies/{quote(lab.vhost, safe='')}/{TTL_POLICY}"
    definition = {"message-ttl": 60_000}
    policy = {"pattern": f"^{QUEUE}$", "definition": definition, "apply-to": "queues"}
    try:
        assert lab.management("PUT", path, json=policy).status_code in (201, 204)
        _wait_for(lambda: lab.management("GET", lab.queue_path(QUEUE)).json().get("policy")
                  == TTL_POLICY, True)  # fmt: skip
        yield {}
    finally:
        lab.management("DELETE", path)
        _wait_for(lambda: not lab.management("GET", lab.queue_path(QUEUE)).json().get("policy"),
                  True)  # fmt: skip


def sql_fault(inject: Sequence[str], restore: Sequence[str]) -> Injector:
    @contextmanager
    def apply(lab: Lab) -> Iterator[dict[str, str]]:
        try:
            lab.sql(*inject)
            yield {}
        finally:
            lab.sql(*restore)

    return apply


SKIP_PROCESSING_ROWS = (
    "CREATE FUNCTION fault_skip_processing() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN IF NEW.status = 'processing' THEN RETURN NULL; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER fault_skip_processing BEFORE INSERT ON status_history"
    " FOR EACH ROW EXECUTE FUNCTION fault_skip_processing()",
)
# Cleared once the history row is written (the reference service stamps that row with it).
NO_COMPLETION_TIME = (
    "CREATE FUNCTION fault_no_completed_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE tasks SET completed_at = NULL WHERE task_id = NEW.task_id; RETURN NEW; END $$",
    "CREATE TRIGGER fault_no_completed_at AFTER INSERT ON status_history FOR EACH ROW"
    " WHEN (NEW.status = 'completed') EXECUTE FUNCTION fault_no_completed_at()",
)
STARTED_AFTER_COMPLETED = (
    "CREATE FUNCTION fault_late_start() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN NEW.started_at := NEW.completed_at + interval '1 second'; RETURN NEW; END $$",
    "CREATE TRIGGER fault_late_start BEFORE UPDATE ON tasks FOR EACH ROW"
    " WHEN (NEW.current_status = 'completed') EXECUTE FUNCTION fault_late_start()",
)
FAILURES_RECORDED_AS_COMPLETED = (
    "CREATE FUNCTION fault_failed_as_completed() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN IF NEW.status = 'failed' THEN NEW.status := 'completed'; END IF;"
    " RETURN NEW; END $$",
    "CREATE TRIGGER fault_failed_as_completed BEFORE INSERT ON status_history"
    " FOR EACH ROW EXECUTE FUNCTION fault_failed_as_completed()",
)
LOSE_ONE_SHOT_PER_OUTCOME = (
    "CREATE FUNCTION fault_short_counts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " NEW.result := (SELECT jsonb_object_agg(key, value::int - 1) FROM jsonb_each(NEW.result));"
    " RETURN NEW; END $$",
    "CREATE TRIGGER fault_short_counts BEFORE UPDATE ON tasks FOR EACH ROW"
    " WHEN (NEW.current_status = 'completed' AND NEW.result IS NOT NULL)"
    " EXECUTE FUNCTION fault_short_counts()",
)


def real_task(status: str, submitted_s_ago: float, env: dict[str, str] | None = None) -> Injector:
    """A task no suite submitted (no marker), left `status` since `submitted_s_ago` seconds."""

    @contextmanager
    def inject(lab: Lab) -> Iterator[dict[str, str]]:
        task_id = str(uuid.uuid4())
        started = "now() - make_interval(secs => $2)" if status == "processing" else "NULL"
        insert = (
            "INSERT INTO tasks (task_id, circuit, shots, current_status, submitted_at, started_at)"
            f" VALUES ($1, 'OPENQASM 3.0;', 1, '{status}', now() - make_interval(secs => $2),"
            f" {started})"
        )
        try:
            lab.sql_with(insert, uuid.UUID(task_id), float(submitted_s_ago))
            yield dict(env or {})
        finally:
            lab.sql_with("DELETE FROM tasks WHERE task_id = $1", uuid.UUID(task_id))

    return inject


@contextmanager
def dead_letters_arriving(lab: Lab) -> Iterator[dict[str, str]]:
    """Three messages published to the dead-letter queue, seen in the broker's samples; purged
    on the way out, and the window waited out so the next run does not see them arrive."""
    vhost = quote(lab.vhost, safe="")
    body = {"properties": {}, "routing_key": DEAD_LETTER_QUEUE, "payload": "{}",
            "payload_encoding": "string"}  # fmt: skip
    contents = lab.queue_path(DEAD_LETTER_QUEUE) + "/contents"
    try:
        for _ in range(3):
            path = f"/api/exchanges/{vhost}/amq.default/publish"
            published = lab.management("POST", path, json=body)
            assert published.json().get("routed"), published.text
        _wait_for(lab.dead_letters_grew, True)
        yield {}
    finally:
        lab.management("DELETE", contents)
        _wait_for(lab.dead_letters_grew, False)


def _wait_for(check: Callable[[], bool], wanted: bool, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while check() != wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{check.__name__} did not become {wanted} in {timeout_s:.0f} s")
        time.sleep(0.5)


def _drop(name: str, table: str) -> tuple[str, ...]:
    return (f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()")


# Evidence-based diagnoses (issue 9, item 6)


@contextmanager
def rejecting_workers(lab: Lab) -> Iterator[dict[str, str]]:
    """Workers that dead-letter every task message; the dead letters are purged on the way out,
    so the dead-letter queue does not keep them for the faults after."""
    try:
        with faulty_workers("rejecting_worker.py")(lab) as overrides:
            yield overrides
    finally:
        lab.management("DELETE", lab.queue_path(DEAD_LETTER_QUEUE) + "/contents")


# --- the catalogue -----------------------------------------------------------------------------

BELL_COMPLETES = "A Bell circuit completes with valid measurement counts"
QUBIT_0_FLIPPED = "A circuit with qubit 0 of two flipped measures 01 in every shot"
TWO_REGISTERS = "A circuit with two classical registers measures 1101 in every shot"
MIXED_BURST = "Concurrent tasks of different circuits each get their own answer"
PUBLISHED_PERSISTENT = (
    "A task's message is published persistent to the task queue and delivered to a worker"
)

FAULTS: tuple[Fault, ...] = (
    Fault(
        "worker-stopped",
        "worker stopped",
        "NO-GO",
        "At least one worker consumes the task queue",
        r"^workers: no worker is consuming quantum_tasks \(0 consumers\)",
        15,
        P1,
        workers_stopped,
    ),
    Fault(
        "worker-fails-every-task",
        "a worker that fails every task",
        "NO-GO",
        BELL_COMPLETES,
        r"^workers: the task failed: .*simulator backend is unavailable",
        15,
        P1,
        faulty_workers("failing_worker.py"),
    ),
    Fault(
        "worker-slow",
        "a worker slower than the end-to-end threshold",
        "NO-GO",
        BELL_COMPLETES,
        r"^workers: task stayed processing for 1\d\.\d s",
        25,
        P1_WORKER_BELL,
        faulty_workers("slow_worker.py"),
    ),
    Fault(
        "worker-crash-leaves-processing",
        "a worker crash that leaves a task in `processing` forever",
        "NO-GO",
        BELL_COMPLETES,
        r"^workers: task stayed processing for 1\d\.\d s: the worker that took it crashed or hung",
        25,
        P1_WORKER_BELL,
        faulty_workers("hanging_worker.py"),
    ),
    Fault(
        "suite-wrong-database-password",
        "wrong database password in the suite's configuration",
        "NO-GO",
        PREFLIGHT,
        r'^database: password authentication failed for user "qtask_verifier"',
        10,
        P1,
        suite_has_wrong_database_password,
    ),
    Fault(
        "suite-api-url-another-service",
        "the suite's API URL points at another HTTP service",
        "NO-GO",
        PREFLIGHT,
        r"^api: http://127\.0\.0\.1:\d+ does not serve the task-queue API: GET /health answered "
        r"404",
        15,
        P1,
        suite_api_url_is_another_service,
    ),
    Fault(
        "suite-read-only-account-may-write",
        "a profile's read-only account that may write to the tasks",
        "NO-GO",
        PREFLIGHT,
        r"^database: the profile declares a read-only account, but user \"qtask_verifier\" at .* "
        r"may write to tasks, status_history",
        15,
        ("-m", "p1 and read_only"),
        suite_account_may_write,
    ),
    Fault(
        "database-unreachable-from-api",
        "database unreachable from the API",
        "NO-GO",
        "The API reports itself healthy with both dependencies connected",
        r'^api: /health answered 503 .*"database_status":"disconnected"',
        15,
        P1,
        database_unreachable_from_api,
    ),
    Fault(
        "broker-down",
        "broker down",
        "NO-GO",
        PREFLIGHT,
        r"^queue: .*broker.* cannot be reached",
        15,
        P1,
        broker_stopped,
    ),
    Fault(
        "queue-non-durable",
        "queue declared non-durable",
        "GO WITH RISKS",
        "The task queue survives a broker restart",
        r"^queue: queue quantum_tasks is not durable",
        20,
        WITH_QUEUE,
        task_queue_non_durable,
    ),
    Fault(
        "queue-missing",
        "queue missing (deleted while no worker runs)",
        "NO-GO",
        "The broker answers and holds the task queue",
        r"^queue: queue quantum_tasks does not exist",
        15,
        P1,
        task_queue_deleted,
    ),
    Fault(
        "messages-non-persistent",
        "messages published non-persistent",
        "GO WITH RISKS",
        PUBLISHED_PERSISTENT,
        r"^queue: the message of task [0-9a-f-]+ was published with delivery mode 1, not 2 "
        r"\(persistent\)",
        15,
        WITH_QUEUE,
        faulty_api("transient_messages.py"),
    ),
    Fault(
        "refused-submission-publishes",
        "an API that refuses an invalid submission with 400 but publishes a task message for it",
        "GO WITH RISKS",
        "No task message is published for a refused submission",
        r"^api: \d+ message\(s\) were published to quantum_tasks for no stored task while the "
        r"API refused invalid submissions",
        15,
        WITH_API,
        faulty_api("refusal_publishing_api.py"),
    ),
    Fault(
        "queue-policy-expires-tasks",
        "a policy that expires tasks waiting in the queue for a minute (message-ttl)",
        "GO WITH RISKS",
        "No queue setting drops or expires a waiting task",
        r"^queue: queue quantum_tasks can drop or expire accepted tasks before a worker takes "
        r"them: message-ttl 60000 \(policy qtask-fault-message-ttl",
        20,
        WITH_QUEUE,
        expiring_policy,
    ),
    Fault(
        "index-missing",
        "a missing index",
        "GO WITH RISKS",
        "Tasks and their history have the expected indexes",
        # By name, or (matched by structure) by the columns it covers.
        r"^database: .*(ix_status_history_task_id_transitioned_at|"
        r"status_history\(task_id, transitioned_at\))",
        20,
        WITH_SCHEMA,
        sql_fault(
            ["DROP INDEX ix_status_history_task_id_transitioned_at"],
            [
                "CREATE INDEX ix_status_history_task_id_transitioned_at"
                " ON status_history (task_id, transitioned_at)"
            ],
        ),
    ),
    Fault(
        "alembic-behind-head",
        "Alembic revision behind head",
        "GO WITH RISKS",
        "The database is migrated to the expected revision",
        r"^database: .*0001",
        20,
        WITH_SCHEMA,
        sql_fault(
            ["UPDATE alembic_version SET version_num = '0001'"],
            ["UPDATE alembic_version SET version_num = '0002'"],
        ),
    ),
    Fault(
        "enum-label-missing",
        "an enum label missing",
        "GO WITH RISKS",
        "A task's status is one of the four contract statuses",
        r"^database: .*failed",
        20,
        # The schema scenarios alone: whether the reference worker can still record an outcome
        # depends on whether it prepared its statement before the rename (a prepared plan keeps
        # the label's OID), so the P1 scenarios would pass or fail by chance.
        SCHEMA_ONLY,
        sql_fault(
            ["ALTER TYPE task_status RENAME VALUE 'failed' TO 'errored'"],
            ["ALTER TYPE task_status RENAME VALUE 'errored' TO 'failed'"],
        ),
    ),
    Fault(
        "api-accepts-invalid-input",
        "an API that answers 200 to invalid input",
        "GO WITH RISKS",
        "An invalid submission is refused and stores nothing",
        r"^api: .*200",
        25,
        WITH_API,
        faulty_api("lenient_api.py"),
    ),
    Fault(
        "api-500-for-unknown-id",
        "an API that answers 500 to an unknown id",
        "GO WITH RISKS",
        "An unknown task is reported as not found",
        r"^api: .*500",
        25,
        WITH_API,
        faulty_api("unknown_id_500.py"),
    ),
    Fault(
        "history-missing-transition",
        "a status history missing a transition",
        "NO-GO",
        HISTORY_IN_ORDER,
        r"^database: the recorded history is \['pending', 'completed'\]",
        15,
        P1,
        sql_fault(SKIP_PROCESSING_ROWS, _drop("fault_skip_processing", "status_history")),
    ),
    Fault(
        "completed-at-never-set",
        "completed tasks whose `completed_at` is never set",
        "NO-GO",
        HISTORY_IN_ORDER,
        r"^database: the task has an inconsistent record: task [0-9a-f-]+: completed_at not set",
        15,
        P1,
        sql_fault(NO_COMPLETION_TIME, _drop("fault_no_completed_at", "status_history")),
    ),
    Fault(
        "started-after-completed",
        "completed tasks whose `started_at` is later than their `completed_at`",
        "NO-GO",
        HISTORY_IN_ORDER,
        r"^database: the task has an inconsistent record: task [0-9a-f-]+: started_at "
        r"[0-9:.]+ is later than completed_at",
        15,
        P1,
        sql_fault(STARTED_AFTER_COMPLETED, _drop("fault_late_start", "tasks")),
    ),
    Fault(
        "failure-recorded-as-completed",
        "a failed task whose history says `completed`",
        "GO WITH RISKS",
        "A circuit that cannot be parsed is accepted and then fails with a message",
        r"^database: the task has an inconsistent record: task [0-9a-f-]+: its history ends "
        r"with completed but it is failed",
        20,
        WITH_FAILING_TASK,
        sql_fault(
            FAILURES_RECORDED_AS_COMPLETED, _drop("fault_failed_as_completed", "status_history")
        ),
    ),
    Fault(
        "counts-do-not-sum-to-shots",
        "results whose counts do not sum to the shots",
        "NO-GO",
        BELL_COMPLETES,
        r"^workers: the counts sum to 1022, not 1024",
        15,
        P1,
        sql_fault(LOSE_ONE_SHOT_PER_OUTCOME, _drop("fault_short_counts", "tasks")),
    ),
    Fault(
        "real-task-stuck-processing",
        "a real task left processing for two hours",
        "NO-GO",
        "No real task stays processing for longer than the stuck-task limit",
        r"^workers: 1 real task\(s\) have been processing for more than 5 min "
        r"\(the oldest for 2\.0 h\)",
        15,
        P1_READ_ONLY,
        real_task("processing", 7200),
    ),
    Fault(
        "real-task-stuck-pending",
        "a real task left pending for two hours",
        "NO-GO",
        "No real task stays pending for longer than the stuck-task limit",
        r"^queue: 1 real task\(s\) have been pending for more than 5 min",
        15,
        P1_READ_ONLY,
        real_task("pending", 7200),
    ),
    Fault(
        "recent-real-task-unfinished",
        "a real task still pending a minute after it was submitted (production profile)",
        "NO-GO",
        "Recent real tasks finish within the processing time limit",
        r"^workers: 1 of 1 real task\(s\) submitted in the last 15 min are still pending "
        r"after more than 10 s",
        15,
        P1,
        real_task("pending", 60, {"QTASK_ENV": "production"}),
    ),
    Fault(
        "dead-letters-arriving",
        "messages arriving in the dead-letter queue",
        "NO-GO",
        "The dead-letter queue is not growing",
        r"^queue: 3 message\(s\) were dead-lettered to quantum_tasks\.dlq in the last 15 s",
        15,
        P1_READ_ONLY,
        dead_letters_arriving,
    ),
    Fault(
        "worker-ignores-shots",
        "a worker that ignores the requested shots (always 1024, the default)",
        "NO-GO",
        QUBIT_0_FLIPPED,
        r"^workers: the counts sum to 1024, not 1000$",
        15,
        P1_WORKER,
        faulty_workers("fixed_shots_worker.py"),
    ),
    Fault(
        "bitstrings-reversed",
        "measured bitstrings written in reverse (qubit 0 leftmost)",
        "NO-GO",
        QUBIT_0_FLIPPED,
        r'^workers: "qubit 0 of two flipped" for 1000 shots measured 10: 1000: the circuit '
        r"never gives 10 \(it measures 01 in every shot\)",
        15,
        P1_WORKER,
        faulty_workers("reversed_bits_worker.py"),
    ),
    Fault(
        "results-crossed-between-tasks",
        "results written to the wrong task when a worker finishes several at once",
        "NO-GO",
        MIXED_BURST,
        r"^workers: \d of 6 concurrent tasks did not get their own circuit's answer, \d of them "
        r"another task's answer",
        15,
        P1_WORKER,
        faulty_workers("crossed_results_worker.py"),
    ),
    Fault(
        "registers-not-flattened",
        'counts of two classical registers not flattened ("11 01" keys)',
        "NO-GO",
        TWO_REGISTERS,
        r'^workers: "two classical registers" has 4 classical bits, but the result has keys '
        r"that are not 4-bit strings: \['11 01'\]",
        15,
        P1_WORKER,
        faulty_workers("unflattened_registers_worker.py"),
    ),
    # Every promise checked (issue 9, item 7)
    Fault(
        "accepted-while-broker-down-lost",
        "an API that reports itself healthy with the broker down and accepts submissions it "
        "cannot queue",
        "NO-GO",
        "No submission is silently lost while the broker is down",
        r"^queue: 5 of 5 accepted task\(s\) did not finish in \d+ s after the recovery "
        r"\(limit \d+ s; 5 pending; quantum_tasks has 0 message\(s\) waiting .*\): no message "
        r"for them is in quantum_tasks",
        45,
        ("-m", "p3", "-k", "silently_lost"),
        faulty_api("unqueued_submissions_api.py"),
    ),
    # Accounting (issue 9, item 3)
    Fault(
        "api-completed-at-an-hour-late",
        "an API that reports `completed_at` an hour later than the database stores it",
        "NO-GO",
        "The API reports the task exactly as the database stores it",
        r"^api: the API reports completed_at (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d\.\d{3} for task "
        r"[0-9a-f-]+, the database (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d\.\d{3}$",
        15,
        P1,
        faulty_api("late_completion_api.py"),
    ),
    Fault(
        "worker-never-acknowledges",
        "a worker that completes every task but never acknowledges its message",
        "GO WITH RISKS",
        "Workers acknowledge the message of every task they finish",
        r"^workers: quantum_tasks still had \d+ unacknowledged message\(s\) \d+\.\d s after the "
        r"run's first task finished, while at most 0 task\(s\) were pending or processing",
        # Reads the count two of the broker's statistics intervals (the local profile's) after
        # the run's first task finished, and again as long after that.
        20,
        WITH_ACKNOWLEDGEMENTS,
        faulty_workers("unacknowledging_worker.py"),
    ),
    # Refusals, the alias, read latency (issue 9)
    Fault(
        "refusal-names-field-only-in-prose",
        "an API whose 400 names the invalid field only in a sentence, in no machine-readable "
        "detail",
        "GO WITH RISKS",
        "An invalid submission is refused and stores nothing",
        r"^api: the invalid submission was refused with 400, but no machine-readable detail "
        r'names qc or circuit \(it is only mentioned in the text "Invalid request: the qc field '
        r'is invalid \(Field required\)\."\)$',
        15,
        WITH_API,
        faulty_api("prose_refusal_api.py"),
    ),
    Fault(
        "circuit-alias-refused",
        "an API that refuses a circuit sent under `circuit`, the older name of `qc`",
        "GO WITH RISKS",
        "A circuit sent under its older field name is accepted, stored exactly and completed",
        r"^api: a task whose circuit was sent under the older field name circuit \(an alias of "
        r"qc the contract accepts\) was answered 400, not 200 with a task id: .*\"qc\"",
        15,
        WITH_API,
        faulty_api("alias_refusing_api.py"),
    ),
    Fault(
        "status-read-slow",
        "an API that takes 0.4 s to answer every read of a task's status",
        "GO WITH RISKS",
        "A finished task's status is read within the status read time limit",
        r"^api: reading a finished task's status: p95 4\d\d ms exceeds 200 ms \(p50 4\d\d ms; "
        r"2 of 2 reads over the limit, so the other 18 were not made\)$",
        20,
        WITH_API,
        faulty_api("slow_status_api.py"),
    ),
    # Evidence-based diagnoses (issue 9, item 6)
    Fault(
        "worker-dead-letters-every-task",
        "a worker that rejects every task message without requeueing it (dead-lettered, the task "
        "left pending)",
        "NO-GO",
        BELL_COMPLETES,
        r"^workers: the dead-letter queue quantum_tasks\.dlq gained \d+ messages? while task "
        r"[0-9a-f-]+ stayed pending for \d\.\d s, .*: no setting of quantum_tasks expires or "
        r"drops messages, so a consumer rejected it without requeueing",
        15,
        P1_WORKER_BELL,
        rejecting_workers,
    ),
    Fault(
        "api-never-queues",
        "an API that stores each task and answers 200 but never publishes its message",
        "NO-GO",
        BELL_COMPLETES,
        r"^api: task [0-9a-f-]+ stayed pending for \d\.\d s while quantum_tasks had 2 consumers "
        r"and neither ready nor unacknowledged messages .*, and the broker counted no message "
        r"published to it since the wait began: the API did not queue its message",
        15,
        P1_WORKER_BELL,
        faulty_api("unpublishing_api.py"),
    ),
    Fault(
        "worker-acknowledges-and-drops",
        "a worker that acknowledges every task message on receipt and drops it",
        "NO-GO",
        BELL_COMPLETES,
        r"^workers: task [0-9a-f-]+ stayed pending for \d\.\d s while quantum_tasks had 2 "
        r"consumers and neither ready nor unacknowledged messages .*: a consumer acknowledged "
        r"its message without starting the task",
        15,
        P1_WORKER_BELL,
        faulty_workers("dropping_worker.py"),
    ),
)
