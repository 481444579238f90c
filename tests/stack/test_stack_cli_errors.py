"""The CLI's failure output: one line, no traceback, nothing left running."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil

from qtask_stack.process import MARKER_ENV
from qtask_stack.state import stack_id_for

QTASK_STACK = str(Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "qtask-stack")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("qtask-stack") or QTASK_STACK
    return subprocess.run(
        [executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_a_missing_postgresql_binary_fails_in_one_line(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    result = _cli(
        "--state-dir",
        str(state_dir),
        "up",
        "--api-port",
        "0",
        env={"QTASK_STACK_POSTGRES_BIN_DIR": str(empty)},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("qtask-stack: binary directory override: ")
    assert f"{empty} lacks initdb" in lines[0]
    assert "postgresql" in lines[0]
    stack_id = stack_id_for(state_dir)
    leftovers = [
        process.pid
        for process in psutil.process_iter()
        if _environ(process).get(MARKER_ENV) == stack_id
    ]
    assert leftovers == []


def test_status_without_a_stack_says_so_in_one_line(tmp_path: Path) -> None:
    result = _cli("--state-dir", str(tmp_path), "status")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"qtask-stack: no stack in {tmp_path}; run `qtask-stack up` first"
    )


def _environ(process: psutil.Process) -> dict[str, str]:
    try:
        return process.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return {}
