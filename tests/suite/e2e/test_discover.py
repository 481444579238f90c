"""`qtask-verify discover` against the reference stack: it reproduces the reference's names, finds
no violation, answers within 5 s and never prints a secret; `discover()` works as a function.
"""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from qtask_stack import Stack
from qtask_verify.config import load_environment
from qtask_verify.discover import Assessment, discover, render_profile
from tests.support.verify_process import QTASK_VERIFY, REPOSITORY

REFERENCE = {
    "alembic_head": "0002",
    "status_type": "task_status",
    "queue_name": "quantum_tasks",
    "dead_letter_exchange": "quantum_tasks.dlx",
    "dead_letter_routing_key": "quantum_tasks.dlq",
    "dead_letter_queue": "quantum_tasks.dlq",
    "history_foreign_key": "fk_status_history_task_id_tasks",
    "indexes": [
        {"table": "tasks", "columns": ["current_status"], "name": "ix_tasks_current_status"},
        {"table": "tasks", "columns": ["submitted_at"], "name": "ix_tasks_submitted_at"},
        {
            "table": "status_history",
            "columns": ["task_id", "transitioned_at"],
            "name": "ix_status_history_task_id_transitioned_at",
        },
    ],
}


def secrets_of(env: Mapping[str, str]) -> set[str]:
    found = {env.get("QTASK_MANAGEMENT_PASSWORD", "")}
    for value in env.values():
        password = urlsplit(value).password if "://" in value else None
        if password:
            found |= {password, unquote(password)}
    return {secret for secret in found if secret}


def run_discover(stack: Stack, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
    started = time.monotonic()
    result = subprocess.run(
        [str(QTASK_VERIFY), "discover", *args],
        cwd=REPOSITORY,
        env={**environ, **stack.suite_env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def discovered(local_stack: Stack) -> tuple[subprocess.CompletedProcess[str], float]:
    return run_discover(local_stack, "--env", "reference-copy")


def test_the_draft_reproduces_the_reference_names(
    discovered: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    result, seconds = discovered
    assert result.returncode == 0, result.stderr
    assert seconds <= 5.0, seconds
    profile = tomllib.loads(result.stdout)["profiles"]["reference-copy"]
    assert profile["expectations"] == REFERENCE
    assert profile["allow_mutating"] is True


def test_the_table_shows_no_violation_and_no_secret(
    local_stack: Stack, discovered: tuple[subprocess.CompletedProcess[str], float]
) -> None:
    result, _ = discovered
    assert "VIOLATION" not in result.stderr, result.stderr
    assert "0 violation(s)" in result.stderr.splitlines()[-1]
    for line in ("task queue", "dead-letter queue", "status enum", "Alembic head"):
        assert line in result.stderr
    leaked = [s for s in secrets_of(local_stack.suite_env()) if s in result.stdout + result.stderr]
    assert leaked == []


def test_appended_as_it_is_the_draft_is_a_profile_of_the_file(
    local_stack: Stack, discovered: tuple[subprocess.CompletedProcess[str], float], tmp_path: Path
) -> None:
    result, _ = discovered
    environments = tmp_path / "environments.toml"
    original = (REPOSITORY / "environments.toml").read_text(encoding="utf-8")
    environments.write_text(f"{original.rstrip()}\n\n{result.stdout}", encoding="utf-8")
    environment = load_environment("reference-copy", environments, local_stack.suite_env())
    assert environment.allow_mutating
    assert environment.expectations.queue_name == "quantum_tasks"
    assert environment.expectations.status_type == "task_status"
    names = [index.name for index in environment.expectations.indexes]
    assert names == [index["name"] for index in REFERENCE["indexes"]]  # type: ignore[index]


async def test_discover_is_a_function_too(local_stack: Stack) -> None:
    environment = load_environment(
        "local", REPOSITORY / "environments.toml", local_stack.suite_env()
    )
    discovery = await discover(environment)
    assert discovery.complete
    assert not discovery.violations
    assert {f.component for f in discovery.findings} == {"api", "database", "queue"}
    assert all(f.assessment is not Assessment.VIOLATION for f in discovery.findings)
    text = render_profile(discovery, "again")
    assert tomllib.loads(text)["profiles"]["again"]["expectations"] == REFERENCE
