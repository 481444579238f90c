"""Realistic run records (schema qtask-verify/run/1, docs/architecture.md) for sign-off tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

RunFactory = Callable[..., dict[str, Any]]


def _steps(*pairs: tuple[str, str], outcomes: list[str] | None = None) -> list[dict[str, Any]]:
    outcomes = outcomes or ["passed"] * len(pairs)
    return [
        {
            "keyword": kw,
            "text": text,
            "outcome": outcome,
            "duration_s": None if outcome == "not run" else 0.004 + 0.01 * i,
        }
        for i, ((kw, text), outcome) in enumerate(zip(pairs, outcomes, strict=True))
    ]


def _scenario(name: str, tags: list[str], steps: list[dict[str, Any]], **extra: Any) -> dict:
    priority = next(t for t in tags if t in ("p1", "p2", "p3"))
    slug = name.lower().replace(" ", "_")
    return {
        "name": name,
        "nodeid": f"steps/test_{priority}.py::test_{slug}",
        "tags": tags,
        "priority": priority,
        "outcome": "passed",
        "attempts": ["passed"],
        "duration_s": round(sum(s["duration_s"] for s in steps) + 0.05, 3),
        "skip_reason": None,
        "steps": steps,
        "diagnosis": None,
        "timeline": [],
        **extra,
    }


BELL_STEPS = (
    ("Given", "the deployment is healthy"),
    ("When", "I submit a Bell circuit with 1024 shots"),
    ("Then", "the task is stored as pending with the exact circuit"),
    ("And", "the task completes within 10 seconds"),
    ("And", "the counts contain only 00 and 11 and sum to 1024"),
)


def _go_record() -> dict[str, Any]:
    health = [
        _scenario(
            "The API reports healthy within 2 seconds",
            ["p1", "read_only", "api"],
            _steps(
                ("When", "I ask the API for its health"),
                ("Then", "it answers healthy within 2 seconds"),
                ("And", "both dependencies are connected"),
            ),
        ),
        _scenario(
            "At least one worker consumes the task queue",
            ["p1", "read_only", "workers"],
            _steps(("When", "I inspect the task queue"), ("Then", "it has at least 1 consumer")),
        ),
    ]
    lifecycle = [
        _scenario("A Bell circuit completes", ["p1", "mutating", "worker"], _steps(*BELL_STEPS)),
        _scenario(
            "Every transition is recorded in order",
            ["p1", "mutating", "database"],
            _steps(
                ("Given", "a completed Bell task"),
                ("Then", "its history is pending, processing, completed"),
                ("And", "the timestamps are ordered"),
            ),
        ),
    ]
    resilience = [
        _scenario(
            "A task survives a broker restart",
            ["p3", "mutating", "disruptive", "needs_controller", "queue"],
            [],
            outcome="not run by policy",
            attempts=["skipped"],
            duration_s=0.0,
            skip_reason="not run by policy: environment 'staging' does not allow stopping, "
            "pausing or restarting its components (allow_disruption = false in environments.toml)",
        )
    ]
    return {
        "schema": "qtask-verify/run/1",
        "run_id": "5d1c7a52-8a3e-4a47-9a5e-2f7c4c1f0a01",
        "started_at": "2026-11-23T23:40:00+00:00",
        "finished_at": "2026-11-23T23:40:12+00:00",
        "duration_s": 12.3,
        "environment": {
            "name": "staging",
            "api_url": "https://qtask.staging.example.com",
            "database_url": "postgresql://qtask:***@db.staging.example.com:5432/qtask",
            "amqp_url": "amqp://qtask:***@mq.staging.example.com:5672/",
            "management_url": "https://mq.staging.example.com:15672",
        },
        "verdict": "GO",
        "exit_code": 0,
        "reason": "4 of 5 scenarios passed; 1 not run by policy",
        "scope": "non-disruptive checks",
        "preflight": {"ok": True, "duration_s": 0.2, "failures": []},
        "components": [
            {"name": "api", "status": "up", "latency_ms": 4.1, "detail": "healthy"},
            {"name": "database", "status": "up", "latency_ms": 1.3, "detail": "revision 0002"},
            {"name": "queue", "status": "up", "latency_ms": 2.2, "detail": "quantum_tasks durable"},
            {"name": "workers", "status": "up", "latency_ms": None, "detail": "2 consumers"},
        ],
        "fingerprint": {
            "alembic_revision": "0002",
            "queue": {
                "name": "quantum_tasks",
                "durable": True,
                "auto_delete": False,
                "dead_letter_exchange": "quantum_tasks.dlx",
                "consumers": 2,
            },
            "api_version": "0.1.0",
        },
        "counts": {"passed": 4, "failed": 0, "flaky": 0, "skipped": 0, "not run by policy": 1},
        "features": [
            {
                "name": "Health of the deployment",
                "file": "features/p1_health.feature",
                "description": "The API, database, broker and workers answer.",
                "scenarios": health,
            },
            {
                "name": "Task lifecycle",
                "file": "features/p1_lifecycle.feature",
                "description": "A submitted circuit is executed and its result persisted.",
                "scenarios": lifecycle,
            },
            {
                "name": "Resilience",
                "file": "features/p3_resilience.feature",
                "description": "",
                "scenarios": resilience,
            },
        ],
        "performance": [
            {
                "name": "submission latency",
                "unit": "ms",
                "p50": 12.0,
                "p95": 40.0,
                "threshold": 500.0,
                "samples": 10,
                "passed": True,
            },
            {
                "name": "end-to-end time",
                "unit": "ms",
                "p50": 310.0,
                "p95": 820.0,
                "threshold": 10000.0,
                "samples": 10,
                "passed": True,
            },
        ],
    }


def _nogo_record() -> dict[str, Any]:
    record = _go_record()
    record.update(
        run_id="9a0b3c4d-0000-4000-8000-00000000bad1",
        finished_at="2026-11-24T08:15:41+00:00",
        started_at="2026-11-24T08:15:00+00:00",
        duration_s=41.0,
        verdict="NO-GO",
        exit_code=1,
        reason="1 p1 scenario failed: A Bell circuit completes (workers)",
    )
    record["components"][3] = {
        "name": "workers",
        "status": "down",
        "latency_ms": None,
        "detail": "0 consumers on quantum_tasks",
    }
    record["fingerprint"]["queue"]["consumers"] = 0
    bell = record["features"][1]["scenarios"][0]
    bell.update(
        outcome="failed",
        attempts=["failed"],
        duration_s=30.4,
        steps=_steps(*BELL_STEPS, outcomes=["passed", "passed", "passed", "failed", "not run"]),
        diagnosis={
            "component": "workers",
            "message": "no worker is consuming quantum_tasks (0 consumers)",
        },
        timeline=[
            {"t_s": 0.0, "observation": "task pending, queue has 0 consumers"},
            {"t_s": 5.0, "observation": "task pending, 1 message ready, 0 consumers"},
            {"t_s": 30.0, "observation": "gave up: task still pending after 30 s"},
        ],
    )
    flaky = record["features"][1]["scenarios"][1]
    flaky.update(outcome="flaky", attempts=["failed", "passed"])
    record["counts"] = {"passed": 2, "failed": 1, "flaky": 1, "skipped": 0, "not run by policy": 1}
    record["performance"][1].update(p95=12500.0, passed=False)
    return record


def _preflight_failure_record() -> dict[str, Any]:
    return {
        "schema": "qtask-verify/run/1",
        "run_id": "11111111-2222-4333-8444-555555555555",
        "started_at": "2026-11-24T09:00:00+00:00",
        "finished_at": "2026-11-24T09:00:01+00:00",
        "duration_s": 0.9,
        "environment": {
            "name": "staging",
            "api_url": "https://qtask.staging.example.com",
            "database_url": "postgresql://qtask:***@db.staging.example.com:5432/qtask",
        },
        "verdict": "NO-GO",
        "exit_code": 1,
        "reason": "preflight failed: the database refused the connection",
        "preflight": {
            "ok": False,
            "duration_s": 0.9,
            "failures": ['database: password authentication failed for user "qtask"'],
        },
        "components": [
            {"name": "database", "status": "down", "latency_ms": None, "detail": "auth failed"}
        ],
        "fingerprint": None,
        "counts": {"passed": 0, "failed": 0, "skipped": 0, "flaky": 0},
        "features": [],
        "performance": [],
    }


RECORDS = {
    "go": _go_record,
    "nogo": _nogo_record,
    "preflight": _preflight_failure_record,
}


@pytest.fixture
def make_run() -> RunFactory:
    """A fresh run record of a kind (go | nogo | preflight), with fields overridden."""

    def make(kind: str = "go", **overrides: Any) -> dict[str, Any]:
        record = copy.deepcopy(RECORDS[kind]())
        record.update(overrides)
        return record

    return make
