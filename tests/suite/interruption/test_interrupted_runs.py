"""Ctrl-C (SIGINT) and SIGKILL during the interventions: the deployment is never left worse.

Each case interrupts a run of the default gate or of `-m p3` at one moment of one intervention
(the journal says when), checks what the stopped run did (SIGINT: exit 130 within 5 s, the
verdict INTERRUPTED in every report, no history line that reads as a pass), then runs the P1
health scenarios: that run restores whatever was left (its first line says so after a SIGKILL)
and says GO, and the stack is whole (its vhost's message tracing off again). Between them the
cases switch the tracing on, stop, kill and start the workers, the broker and the database;
each kill point selects only the scenario it interrupts. One case follows up under another
spelling of the same deployment's URLs (`localhost`, `postgres://`): the journal and the
cleanup ledger are keyed by identity, so it still restores what was left and deletes the task
the killed run had submitted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qtask_stack import Stack
from qtask_verify.deployment.identity import DeploymentIdentity, identify
from qtask_verify.interruption import EXIT_INTERRUPTED, STOP_WITHIN_S
from tests.suite.interruption.killing import (
    Interrupted,
    Moment,
    existing_tasks,
    interrupt,
    open_changes,
    respelled,
    restorer_lines,
    stack_environment,
    submitted_by,
    wait_gone,
)
from tests.support.verify_process import run_verify

GATE: tuple[str, ...] = ()  # the default selection: P1 + P2
WORKER_KILLED = ("-m", "p3", "-k", "outlives_the_worker")
BROKER_RESTART = ("-m", "p3", "-k", "outlive_a_broker_restart")
DATABASE_OUTAGE = ("-m", "p3", "-k", "database_outage")
BROKER_OUTAGE = ("-m", "p3", "-k", "broker_is_down")
FOLLOW_UP = ("-m", "p1", "-k", "health")
# Process start and report writing around the run's own bound (5 s after the signal).
EXIT_MARGIN_S = 1.0


@dataclass(frozen=True)
class Case:
    id: str
    select: tuple[str, ...]
    moment: Moment
    signum: signal.Signals
    respell: bool = False  # follow up under other URLs of the same deployment


CASES = (
    # The default gate switches the vhost's message tracing on for the run (the local profile
    # says "switch"): stopped once it is on, the run itself (SIGINT) or the next one (SIGKILL)
    # switches it off again.
    Case("gate-sigint-tracing-on", GATE, Moment("/", "enable", 0, delay_s=1.0), signal.SIGINT),
    Case("gate-sigkill-tracing-on", GATE, Moment("/", "enable", 0, delay_s=0.3), signal.SIGKILL),
    # -m p3: killing and starting the workers, restarting the broker, the outages.
    Case("p3-sigkill-killing-workers", WORKER_KILLED, Moment("worker", "kill", 1), signal.SIGKILL),
    Case(
        "p3-sigint-starting-killed-workers",
        WORKER_KILLED,
        Moment("worker", "kill", 2, delay_s=0.2),
        signal.SIGINT,
    ),
    # Respelled: its tasks wait in the queue (the workers are stopped) when it is killed.
    Case(
        "p3-sigkill-restarting-broker",
        BROKER_RESTART,
        Moment("broker", "stop", 1, delay_s=1.0),
        signal.SIGKILL,
        respell=True,
    ),
    Case(
        "p3-sigkill-database-down",
        DATABASE_OUTAGE,
        # Stopping and starting PostgreSQL can take under 0.6 s in all: a delay after the stop
        # began sometimes fell after the restore. The stop's end is the moment it is down.
        Moment("database", "stop", 1, finished=True),
        signal.SIGKILL,
    ),
    Case(
        "p3-sigint-stopping-broker",
        BROKER_OUTAGE,
        Moment("broker", "stop", 1, delay_s=1.0),
        signal.SIGINT,
    ),
)
MEASURED: dict[str, str] = {}


@pytest.fixture(scope="module")
def identity(local_stack: Stack) -> DeploymentIdentity:
    env = local_stack.suite_env()
    found = asyncio.run(identify(env["QTASK_DATABASE_URL"], env["QTASK_AMQP_URL"], 5.0))
    assert found.database and found.broker, found
    return found


@pytest.fixture
def whole_afterwards(local_stack: Stack) -> Iterator[None]:
    """Whatever a failed case left, the shared stack is whole for the next test."""
    yield
    local_stack.up()


def _history(run: Any) -> list[dict[str, Any]]:
    path = run.reports / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _check_stopped_run(stopped: Interrupted) -> None:
    """What SIGINT promises: 130 within the bound, INTERRUPTED everywhere, no pass recorded."""
    run = stopped.run
    context = run.output[-3000:]
    assert run.code == EXIT_INTERRUPTED, context
    assert stopped.seconds_after_signal <= STOP_WITHIN_S + EXIT_MARGIN_S, context
    assert "qtask-verify: SIGINT: stopping within 5 s" in run.stderr, context
    assert (run.record["verdict"], run.record["exit_code"]) == ("INTERRUPTED", 130)
    assert ET.parse(run.reports / "junit.xml").getroot() is not None
    assert all(line["verdict"] not in ("GO", "GO WITH RISKS") for line in _history(run))
    for scenario in run.scenarios():  # the interrupted scenario is not verified, never passed
        if scenario["outcome"] == "passed":
            assert {step["outcome"] for step in scenario["steps"]} == {"passed"}, scenario


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_an_interrupted_run_leaves_nothing_a_next_run_does_not_restore(
    case: Case,
    local_stack: Stack,
    identity: DeploymentIdentity,
    tmp_path: Path,
    whole_afterwards: None,
) -> None:
    env = stack_environment(local_stack)

    def task_submitted(pid: int) -> bool:
        return not case.respell or bool(submitted_by(pid, identity))

    stopped = interrupt(
        tmp_path / "stopped", case.select, env, case.moment, case.signum, also=task_submitted
    )
    try:
        assert stopped.signalled, f"ended before {case.moment}: {stopped.run.output[-2000:]}"
        left = [c.describe() for c in open_changes(identity)]
        tasks_left = submitted_by(stopped.pid, identity)
        if case.signum is signal.SIGINT:
            _check_stopped_run(stopped)
        else:
            assert stopped.run.code == -signal.SIGKILL
            assert left, "a SIGKILL during an intervention left no open change in the journal"
    finally:  # a restorer still at work would meet the next case (or a stack going down)
        wait_gone(stopped.background_restorer)
    restorer_said = restorer_lines(stopped.pid)

    follow_env = respelled(env) if case.respell else env
    following = run_verify(tmp_path / "following", FOLLOW_UP, follow_env, timeout_s=180)
    first = following.stdout.splitlines()[1]
    assert (following.code, following.verdict) == (0, "GO"), following.output[-3000:]
    if case.signum is signal.SIGKILL:
        assert first.startswith("qtask-verify: restored "), first
        assert "that an interrupted run on " in first, first
    if case.respell:
        assert "localhost" in following.record["environment"]["database_url"]
        assert tasks_left, "the killed run had submitted no task yet"
    assert open_changes(identity) == []
    assert existing_tasks(env["QTASK_DATABASE_URL"], tasks_left) == []
    assert submitted_by(stopped.pid, identity) == []
    components = {c.name: c.state for c in local_stack.status()}
    assert set(components.values()) == {"up"}, components
    assert not local_stack.tracing(), "the vhost's message tracing was left on"
    stopped_after = f"{stopped.seconds_after_signal:.1f} s (exit {stopped.run.code})"
    MEASURED[case.id] = (
        f"{stopped_after}; left: {left or 'nothing'}; background restore: {restorer_said}; "
        f"next run: {first}"
    )
    print(f"{case.id}: {MEASURED[case.id]}")
