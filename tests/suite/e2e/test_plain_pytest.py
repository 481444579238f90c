"""The suite as a plain pytest-bdd suite (`pytest -c suite.ini`), without any deployment: what only
looks at the suite works; a run that would verify says which configuration is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.verify_process import QTASK_VERIFY, REPOSITORY

PYTEST = Path(sys.executable).parent / "pytest"


def _run(tmp_path: Path, program: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
    environ["QTASK_STACK_DIR"] = str(tmp_path / "no-stack")  # no stack.env: no deployment
    return subprocess.run(
        [str(program), *args],
        cwd=REPOSITORY,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--collect-only", "-q"],
            "steps/test_p1_live.py::test_the_deadletter_queue_is_not_growing",
        ),
        (["--markers"], "@pytest.mark.disruptive: stops, pauses or restarts a component"),
        (["--fixtures"], "scenario_tasks"),
        (["--generate-missing", "--feature", "features"], "no tests ran"),
    ],
    ids=["collect-only", "markers", "fixtures", "generate-missing"],
)
def test_looking_at_the_suite_needs_no_deployment(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = _run(tmp_path, PYTEST, "-c", "suite.ini", "-p", "no:cacheprovider", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected in result.stdout
    assert "PytestDeprecationWarning" not in result.stdout + result.stderr  # no pytest-asyncio


def test_a_verifying_run_without_a_deployment_is_a_usage_error_naming_what_is_missing(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, PYTEST, "-c", "suite.ini", "-p", "no:cacheprovider", "-m", "p1")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "stack.env does not exist" in result.stderr


def test_qtask_verify_collect_only_writes_no_report_and_no_history_line(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    stack = tmp_path / "no-stack"
    stack.mkdir()
    (stack / "stack.env").write_text(
        "QTASK_API_URL=http://127.0.0.1:9\nQTASK_DATABASE_URL=postgresql://q:pw@127.0.0.1:9/q\n"
        "QTASK_AMQP_URL=amqp://q:pw@127.0.0.1:9/\nQTASK_MANAGEMENT_URL=http://127.0.0.1:9\n"
    )
    result = _run(tmp_path, QTASK_VERIFY, "--report-dir", str(reports), "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--collect-only: nothing was verified" in result.stdout
    assert not reports.exists() or not any(reports.iterdir())
