"""`qtask-verify` against a private local stack: healthy, without workers, with a wrong password.

Each test runs the console script in a subprocess with the stack's variables, as CI would, and
checks the exit code, the verdict, the reports and that no secret reaches any of them.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import httpx
import pytest

from tests.support.verify_process import VerifyRun, run_verify

REPORT_FILES = (
    "report.html",
    "report.json",
    "junit.xml",
    "cucumber.json",
    "run.json",
    "signoff.html",
    "verdict.health.json",
    "history.jsonl",
)


def secrets_of(env: Mapping[str, str]) -> set[str]:
    """Every password in a suite environment (in URLs and the management password)."""
    found = {env.get("QTASK_MANAGEMENT_PASSWORD", "")}
    for value in env.values():
        if "://" in value:
            password = urlsplit(value).password
            if password:
                found |= {password, unquote(password)}
    return {secret for secret in found if len(secret) >= 4}


def stack_environment(stack: Any, **overrides: str) -> dict[str, str]:
    """The process environment of a run against `stack`: its QTASK_* variables and state dir."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
    environ.update(stack.suite_env())
    environ["QTASK_STACK_DIR"] = str(stack.state_dir)
    environ["QTASK_ENV"] = "local"
    environ.update(overrides)
    return environ


@pytest.fixture
def stopped_workers(local_stack: Any) -> Iterator[None]:
    """The stack without workers for one test, restarted (and waited for) afterwards."""
    local_stack.stop("worker")
    try:
        yield
    finally:
        local_stack.start("worker")


WRONG_PASSWORD = "Wr0ng-pa55word_e2e"


def cucumber_scenarios(run: VerifyRun) -> list[tuple[str, str]]:
    return sorted((f["uri"], e["name"]) for f in run.load("cucumber.json") for e in f["elements"])


@pytest.fixture(scope="module")
def healthy_serial(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    reports = tmp_path_factory.mktemp("serial")
    return run_verify(reports, [], stack_environment(local_stack))


@pytest.fixture(scope="module")
def healthy_distributed(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    reports = tmp_path_factory.mktemp("distributed")
    return run_verify(reports, ["-n", "2"], stack_environment(local_stack))


def test_healthy_stack_is_go_with_all_reports_consistent(healthy_serial: VerifyRun) -> None:
    run = healthy_serial
    assert run.code == 0, run.output[-3000:]
    assert all((run.reports / name).is_file() for name in REPORT_FILES)
    record = run.load("run.json")
    assert (record["verdict"], record["exit_code"]) == ("GO", 0)
    assert record["preflight"]["ok"] is True
    assert {c["name"]: c["status"] for c in record["components"]} == {
        "api": "up",
        "database": "up",
        "queue": "up",
        "workers": "up",
    }
    assert record["fingerprint"]["alembic_revision"] == "0002"
    scenarios = run.scenarios()
    assert scenarios, "the run record lists no scenario"
    assert record["counts"]["failed"] == 0
    assert {s["priority"] for s in scenarios} >= {"p1", "p2"}
    assert all(s["steps"] and s["outcome"] in ("passed", "not run by policy") for s in scenarios)
    # The four reports and the run record describe the same scenarios.
    nodeids = sorted(s["nodeid"] for s in scenarios)
    assert sorted(t["nodeid"] for t in run.load("report.json")["tests"]) == nodeids
    assert len(ET.parse(run.reports / "junit.xml").getroot().findall(".//testcase")) == len(nodeids)
    # Cucumber JSON lists the scenarios whose steps started (not those skipped before any step).
    started = [s for s in scenarios if s["steps"][0]["outcome"] != "not run"]
    assert len(cucumber_scenarios(run)) == len(started)
    html = (run.reports / "report.html").read_text()
    assert html.count("gherkin-steps") >= len(nodeids)
    # The local profile has no real users: the live-traffic scenario is not run by policy.
    assert run.stdout.rstrip().splitlines()[-1].startswith("GO (without live-traffic checks): ")
    assert record["scope"] == "without live-traffic checks"
    for line in ("API", "database", "queue", "workers", "fingerprint: alembic 0002"):
        assert line in run.stdout


def test_xdist_gives_the_same_scenarios_as_serial(
    healthy_serial: VerifyRun, healthy_distributed: VerifyRun
) -> None:
    assert healthy_distributed.code == 0, healthy_distributed.output[-3000:]
    assert cucumber_scenarios(healthy_distributed) == cucumber_scenarios(healthy_serial)
    serial = {s["nodeid"]: s["outcome"] for s in healthy_serial.scenarios()}
    assert {s["nodeid"]: s["outcome"] for s in healthy_distributed.scenarios()} == serial


def test_no_secret_of_the_stack_appears_in_a_healthy_run(
    local_stack: Any, healthy_serial: VerifyRun, healthy_distributed: VerifyRun
) -> None:
    secrets = secrets_of(local_stack.suite_env())
    assert secrets, "the stack has no password to look for"
    for run in (healthy_serial, healthy_distributed):
        assert [name for name, text in run.texts() if any(s in text for s in secrets)] == []


def test_stopped_workers_give_no_go_naming_the_workers_as_one_cause_on_one_screen(
    local_stack: Any, stopped_workers: None, tmp_path: Path
) -> None:
    run = run_verify(tmp_path, [], stack_environment(local_stack))
    assert run.code == 1, run.output[-3000:]
    lines = run.output.splitlines()
    assert len(lines) <= 40, run.output
    assert "1. workers: no worker is consuming quantum_tasks (0 consumers)" in run.stdout
    assert re.search(r"^1 cause, \d+ scenarios affected:$", run.stdout, re.MULTILINE), run.stdout
    assert not [line for line in lines if "Traceback" in line or "_pytest" in line]
    record = run.load("run.json")
    assert record["verdict"] == "NO-GO"
    workers = next(c for c in record["components"] if c["name"] == "workers")
    assert workers["status"] == "down"
    failed = [s for s in run.scenarios() if s["outcome"] == "failed"]
    assert failed
    assert any(
        s["diagnosis"]["component"] == "workers" and "0 consumers" in s["diagnosis"]["message"]
        for s in failed
    ), [s["diagnosis"] for s in failed]
    assert "no worker is consuming" in run.stdout


def test_wrong_database_password_is_no_go_in_seconds_naming_the_database_masked(
    local_stack: Any, tmp_path: Path
) -> None:
    env = stack_environment(local_stack)
    parts = env["QTASK_DATABASE_URL"].split("@", 1)
    user = parts[0].rsplit(":", 1)[0]
    env["QTASK_DATABASE_URL"] = f"{user}:{WRONG_PASSWORD}@{parts[1]}"
    run = run_verify(tmp_path, [], env)
    assert run.code == 1, run.output[-3000:]
    assert run.seconds <= 10.0
    record = run.load("run.json")
    assert record["verdict"] == "NO-GO"
    assert record["preflight"]["ok"] is False
    assert any(line.startswith("database: ") for line in record["preflight"]["failures"])
    assert "database" in run.stdout.rstrip().splitlines()[-1]
    assert "_pytest.outcomes.Exit" not in run.output  # the preflight lines say it all
    assert "***" in record["environment"]["database_url"]
    secrets = {WRONG_PASSWORD, *secrets_of(local_stack.suite_env())}
    assert [name for name, text in run.texts() if any(s in text for s in secrets)] == []


def test_resilience_scenarios_pass_and_leave_the_stack_as_found(
    local_stack: Any, tmp_path: Path
) -> None:
    run = run_verify(tmp_path, ["-m", "p3"], stack_environment(local_stack))
    assert run.code == 0, run.output[-3000:]
    outcomes = [s["outcome"] for s in run.scenarios()]
    assert outcomes and set(outcomes) == {"passed"}, outcomes  # none skipped: a controller exists
    components = {c.name: c.state for c in local_stack.status()}
    assert set(components.values()) == {"up"}, components


@pytest.mark.parametrize("found_on", [False, True], ids=["tracing-off", "tracing-on"])
def test_a_run_sees_the_task_messages_and_leaves_tracing_as_it_found_it(
    local_stack: Any, tmp_path: Path, found_on: bool
) -> None:
    """The local profile switches the vhost's tracing on for the run (its two scenarios see the
    messages) and off again afterwards; a vhost that already traced is left tracing."""
    local_stack.tracing(found_on)
    try:
        run = run_verify(tmp_path, ["-k", "published"], stack_environment(local_stack))
        assert (run.code, run.verdict) == (0, "GO"), run.output[-3000:]
        assert [s["outcome"] for s in run.scenarios()] == ["passed", "passed"]
        assert local_stack.tracing() is found_on
    finally:
        local_stack.tracing(False)


BELL = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\n'
    "c = measure q;\n"
)


@pytest.fixture
def real_traffic(local_stack: Any) -> Iterator[None]:
    """Two tasks submitted as a real user would (no suite marker), finished, then deleted."""
    env = local_stack.admin_env()
    ids = [
        httpx.post(
            f"{env['QTASK_API_URL']}/tasks", json={"qc": BELL, "shots": 100}, timeout=10
        ).json()["task_id"]
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            httpx.get(f"{env['QTASK_API_URL']}/tasks/{i}", timeout=10).json()["status"]
            != "completed"
            for i in ids
        ):
            time.sleep(0.2)
        # Submitted "30 s ago", past the processing limit, rather than waiting that long.
        asyncio.run(_execute(env["QTASK_DATABASE_URL"], BACKDATE, ids))
        yield
    finally:
        asyncio.run(_execute(env["QTASK_DATABASE_URL"], DELETE, ids))


BACKDATE = (
    "UPDATE tasks SET submitted_at = submitted_at - interval '30 seconds'"
    " WHERE task_id::text = ANY($1::text[])"
)
DELETE = "DELETE FROM tasks WHERE task_id::text = ANY($1::text[])"


async def _execute(url: str, statement: str, ids: list[str]) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement, ids)
    finally:
        await connection.close()


def test_production_profile_reaches_go_with_read_only_checks_on_a_healthy_stack(
    local_stack: Any, real_traffic: None, tmp_path: Path
) -> None:
    run = run_verify(tmp_path, [], stack_environment(local_stack, QTASK_ENV="production"))
    assert run.code == 0, run.output[-3000:]
    record = run.record
    assert (record["verdict"], record["scope"]) == ("GO", "read-only checks")
    outcomes = {s["name"]: s["outcome"] for s in run.scenarios()}
    assert outcomes["Recent real tasks finish within the processing time limit"] == "passed"
    assert {o for o in outcomes.values()} == {"passed", "not run by policy"}
    mutating = [s for s in run.scenarios() if "mutating" in s["tags"]]
    assert mutating and all(s["outcome"] == "not run by policy" for s in mutating)
    assert run.stdout.rstrip().splitlines()[-1].startswith("GO (read-only checks): ")
    assert "GO (read-only checks)" in (run.reports / "signoff.html").read_text()
