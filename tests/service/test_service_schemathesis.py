"""Schemathesis against the API's own OpenAPI document: a bounded, seeded run with every check.

Schemathesis generates requests from /openapi.json (valid ones and deliberately invalid ones,
then chains of calls along the links it infers) for `BUDGET_S`, and checks each answer: no
server error, status codes, content types, headers and bodies as the document describes them,
invalid data refused, valid data accepted, `Allow` on 405. The document must therefore say
exactly what the API accepts and answers (see `api.schemas` and `api.openapi`).

The tasks it creates are left for the workers to finish (so that no message outlives its row),
then deleted with the others of the test.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from conftest import Service

BUDGET_S = 30
SEED = 20261201


_OPTIONS = [
    "--checks", "all",
    "--max-time", str(BUDGET_S),
    "--seed", str(SEED),
    "--workers", "1",
    "--request-timeout", "10",
    "--report", "json,har",
    "--generation-database", "none",  # no example database written anywhere
    "--no-color",
]  # fmt: skip


def _run_schemathesis(api_url: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{api_url}/openapi.json"]
    return subprocess.run(
        [*command, *_OPTIONS, "--report-dir", str(report_dir)],
        cwd=report_dir,
        capture_output=True,
        text=True,
        timeout=BUDGET_S + 120,
        check=False,
    )


def _report(report_dir: Path, kind: str) -> dict[str, Any]:
    (path,) = report_dir.glob(f"{kind}-*.json")
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def _created_tasks(har: dict[str, Any]) -> list[uuid.UUID]:
    return [
        uuid.UUID(json.loads(entry["response"]["content"]["text"])["task_id"])
        for entry in har["log"]["entries"]
        if entry["request"]["method"] == "POST"
        and entry["request"]["url"].endswith("/tasks")
        and entry["response"]["status"] == 200
    ]


async def _wait_finished(service: Service, task_ids: list[uuid.UUID], timeout_s: float) -> int:
    """Until no task of the run waits for a worker; how many still do."""
    deadline = time.monotonic() + timeout_s
    while True:
        waiting: int = await service.db.fetchval(
            "SELECT count(*) FROM tasks WHERE task_id = ANY($1::uuid[])"
            " AND current_status::text IN ('pending', 'processing')",
            task_ids,
        )
        if not waiting or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(0.5)


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    service: Service, tmp_path: Path
) -> None:
    started = time.monotonic()
    run = await asyncio.to_thread(_run_schemathesis, service.env["QTASK_API_URL"], tmp_path)
    elapsed_s = time.monotonic() - started
    har = _report(tmp_path, "har")
    created = _created_tasks(har)
    service.created.extend(created)  # deleted by the fixture, whatever the outcome

    summary = _report(tmp_path, "json")
    cases = summary["test_cases"]
    print(
        f"schemathesis: {cases['generated']} cases in {elapsed_s:.0f} s, "
        f"{cases['with_failures']} with failures, {len(summary['errors'])} errors, "
        f"{len(created)} tasks created"
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert summary["failures"] == [] and summary["errors"] == []
    assert summary["operations"]["tested"] == 3
    assert all(phase["status"] != "error" for phase in summary["phases"].values())
    assert cases["generated"] > 100 and created  # it did exercise the API
    assert await _wait_finished(service, created, timeout_s=120) == 0
