"""`qtask-verify` refuses a configuration it cannot use: exit 2, one line, before any scenario."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.verify_process import QTASK_VERIFY, REPOSITORY


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
    return subprocess.run(
        [str(QTASK_VERIFY), "--report-dir", str(tmp_path / "reports"), *args],
        cwd=REPOSITORY,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unknown_profile_is_exit_2_with_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "--env", "no-such-profile")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "unknown environment 'no-such-profile'" in line
    assert not (tmp_path / "reports" / "run.json").exists()


def test_broken_environments_file_is_exit_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "environments.toml"
    broken.write_text('default = "local"\n[profiles.local\nallow_mutating = true\n')
    result = run(tmp_path, QTASK_ENVIRONMENTS_FILE=str(broken))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "is not valid TOML" in line


def test_negative_rerun_count_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "--rerun-failed", "-1")
    assert result.returncode == 2
    assert result.stderr.strip() == "qtask-verify: --rerun-failed must be 0 or more"
