"""Runs `qtask-verify` as CI would, in a subprocess, and reads what it concluded.

Shared by the suite's end-to-end self-tests and the fault catalogue.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
QTASK_VERIFY = Path(sys.executable).parent / "qtask-verify"
EXIT_CODES = {"GO": 0, "NO-GO": 1, "GO WITH RISKS": 3}


@dataclass(frozen=True)
class Finding:
    """A failed scenario (or the preflight) and its diagnosis as "component: message"."""

    scenario: str
    diagnosis: str


@dataclass(frozen=True)
class VerifyRun:
    """One finished `qtask-verify` process: exit code, terminal output, reports, wall time."""

    code: int
    stdout: str
    stderr: str
    reports: Path
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def load(self, name: str) -> Any:
        return json.loads((self.reports / name).read_text(encoding="utf-8"))

    @cached_property
    def record(self) -> dict[str, Any]:
        """The run record, or {} when the run ended before writing one."""
        return self.load("run.json") if (self.reports / "run.json").is_file() else {}

    @property
    def verdict(self) -> str | None:
        return self.record.get("verdict")

    def scenarios(self) -> list[dict[str, Any]]:
        return [s for f in self.record.get("features", []) for s in f["scenarios"]]

    def findings(self) -> list[Finding]:
        """The preflight's failures, then every failed scenario with its diagnosis."""
        found = [
            Finding("preflight", line)
            for line in self.record.get("preflight", {}).get("failures", [])
        ]
        for scenario in self.scenarios():
            if scenario["outcome"] == "failed":
                diagnosis = scenario.get("diagnosis") or {}
                text = f"{diagnosis.get('component')}: {diagnosis.get('message')}"
                found.append(Finding(scenario["name"], text))
        return found

    def texts(self) -> Iterator[tuple[str, str]]:
        """The terminal and every file the run wrote, as text."""
        yield "stdout", self.stdout
        yield "stderr", self.stderr
        if self.reports.is_dir():
            for path in sorted(self.reports.rglob("*")):
                if path.is_file():
                    yield str(path.relative_to(self.reports)), path.read_text(errors="replace")


def run_verify(
    reports: Path, args: Sequence[str], env: Mapping[str, str], timeout_s: float = 300.0
) -> VerifyRun:
    """One `qtask-verify --report-dir REPORTS ARGS` process, timed from start to exit."""
    started = time.monotonic()
    completed = subprocess.run(
        [str(QTASK_VERIFY), "--report-dir", str(reports), *args],
        cwd=REPOSITORY,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    seconds = time.monotonic() - started
    return VerifyRun(completed.returncode, completed.stdout, completed.stderr, reports, seconds)
