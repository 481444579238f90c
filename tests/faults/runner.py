"""Runs `qtask-verify` against the lab's stack as CI would, and reads what it concluded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    code: int
    output: str
    record: dict[str, Any]
    seconds: float

    @property
    def verdict(self) -> str | None:
        return self.record.get("verdict")

    def findings(self) -> list[Finding]:
        """The preflight's failures, then every failed scenario with its diagnosis."""
        found = [
            Finding("preflight", line)
            for line in self.record.get("preflight", {}).get("failures", [])
        ]
        for feature in self.record.get("features", []):
            for scenario in feature["scenarios"]:
                if scenario["outcome"] == "failed":
                    diagnosis = scenario.get("diagnosis") or {}
                    text = f"{diagnosis.get('component')}: {diagnosis.get('message')}"
                    found.append(Finding(scenario["name"], text))
        return found


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
    run_json = reports / "run.json"
    record = json.loads(run_json.read_text(encoding="utf-8")) if run_json.is_file() else {}
    return VerifyRun(completed.returncode, completed.stdout + completed.stderr, record, seconds)
