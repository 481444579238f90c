"""Nothing the project runs or tells users to run calls `python`: plain Debian has only `python3`.

Checked in the commands of the CI examples, the Makefile's recipes and the scripts; a venv's
`.venv/bin/python` or `$(BIN)/python` is a path, not the bare command, and is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
# `python` as a command word: at the start, or after a separator, and followed by a space or end.
BARE_PYTHON = re.compile(r"(?:^|[\s;&|(`\"'])python(?=\s|$|[\"'])")


def _github_commands() -> list[str]:
    steps = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"]["verify"]["steps"]
    return [line for step in steps for line in step.get("run", "").splitlines()]


def _gitlab_commands() -> list[str]:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["verify-staging"]
    return list(job["script"])


def _dockerfile_commands() -> list[str]:
    return [
        line for line in (CI / "Dockerfile").read_text().splitlines() if line.startswith("RUN ")
    ]


def _makefile_recipes() -> list[str]:
    return [line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]


def _script_lines() -> list[str]:
    return [
        line
        for script in sorted((ROOT / "scripts").iterdir())
        for line in script.read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]


@pytest.mark.parametrize(
    "commands",
    [_github_commands, _gitlab_commands, _dockerfile_commands, _makefile_recipes, _script_lines],
    ids=["github", "gitlab", "dockerfile", "makefile", "scripts"],
)
def test_no_command_calls_an_unversioned_python(commands: Callable[[], list[str]]) -> None:
    lines = commands()
    assert lines, "nothing to check: the file moved?"
    offending = [line for line in lines if BARE_PYTHON.search(line)]
    assert offending == []


def test_the_pattern_catches_what_plain_debian_lacks() -> None:
    for line in ["python -c 'x'", "  python -m pip install .", "x && python y", "RUN python -m x"]:
        assert BARE_PYTHON.search(line), line
    for line in ["python3 -m pip", ".venv/bin/python -m x", "$(BIN)/python -m y", "setup-python"]:
        assert not BARE_PYTHON.search(line), line
