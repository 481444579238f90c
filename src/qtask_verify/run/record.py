"""The run record (`reports/run.json`, schema `qtask-verify/run/1`): one run, as the CLI and the
sign-off page read it.

`ScenarioLog` folds the test reports of one scenario (setup, call, teardown, for every attempt when
failures are rerun) into its outcome, attempts, steps, diagnosis and timeline; `build_run_record`
assembles the whole document. Both are pure, so they are unit tested without pytest running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..plugin.performance import PERFORMANCE_PROPERTY
from .verdict import ScenarioOutcome, Verdict

SCHEMA = "qtask-verify/run/1"
FILENAME = "run.json"

# Report attributes set on the worker (they travel through xdist with the report's __dict__).
SCENARIO_ATTR = "qtask_scenario"
FAULT_ATTR = "qtask_fault"

_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2}
# A scenario whose setup passed and whose call never reported was stopped by an interrupt.
INTERRUPTED_REASON = "interrupted before its steps ended: not verified"


@dataclass
class ScenarioLog:
    """Everything the reports said about one test id, folded as they arrive."""

    nodeid: str
    scenario: dict[str, Any] | None = None
    attempts: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    skip_reason: str | None = None
    fault: dict[str, Any] | None = None
    performance: list[dict[str, Any]] = field(default_factory=list)
    called: bool = False  # the last attempt's call phase reported

    def add(self, report: Any) -> None:
        """Fold one phase report in; a setup report opens a new attempt."""
        outcome = _phase_outcome(report.outcome)
        if report.when == "setup" or not self.attempts:
            self.attempts.append(outcome)
            self.fault = None
            self.skip_reason = None
            self.called = False
        elif _SEVERITY[outcome] > _SEVERITY[self.attempts[-1]]:
            self.attempts[-1] = outcome
        self.called = self.called or report.when == "call"
        self.duration_s += float(report.duration or 0.0)
        described = getattr(report, SCENARIO_ATTR, None)
        if described is not None and (report.when != "teardown" or self.scenario is None):
            self.scenario = described
        if outcome == "skipped" and self.skip_reason is None:
            self.skip_reason = skip_reason(report.longrepr)
        fault = getattr(report, FAULT_ATTR, None)
        if fault is not None and self.fault is None:
            self.fault = fault
        if report.when == "teardown":
            # A rerun item keeps the properties of its earlier attempts: the last one per name wins.
            latest = {
                value.get("name"): dict(value)
                for key, value in getattr(report, "user_properties", None) or ()
                if key == PERFORMANCE_PROPERTY
            }
            self.performance = list(latest.values())

    @property
    def outcome(self) -> str:
        """passed | failed | skipped | flaky (failed, then passed on a rerun: never hidden)."""
        if not self.attempts or self._interrupted:
            return "skipped"
        last = self.attempts[-1]
        if last == "passed" and "failed" in self.attempts[:-1]:
            return "flaky"
        return last

    @property
    def _interrupted(self) -> bool:
        return self.attempts[-1] == "passed" and not self.called

    @property
    def reason_skipped(self) -> str | None:
        if self.attempts and self._interrupted:
            return INTERRUPTED_REASON
        return self.skip_reason

    @property
    def name(self) -> str:
        return self.scenario["name"] if self.scenario else self.nodeid.rsplit("::", 1)[-1]

    @property
    def priority(self) -> str | None:
        return self.scenario["priority"] if self.scenario else None

    def verdict_input(self) -> ScenarioOutcome:
        return ScenarioOutcome(self.name, self.priority, self.outcome, self.reason_skipped)

    def to_json(self) -> dict[str, Any]:
        scenario = self.scenario or {}
        fault = self.fault if self.outcome in ("failed", "flaky") else None
        return {
            "name": self.name,
            "nodeid": self.nodeid,
            "tags": scenario.get("tags", []),
            "priority": self.priority,
            "outcome": self.outcome,
            "attempts": list(self.attempts),
            "duration_s": round(self.duration_s, 3),
            "skip_reason": self.reason_skipped if self.outcome == "skipped" else None,
            "steps": scenario.get("steps", []),
            "diagnosis": (
                {
                    "component": fault["component"],
                    "message": fault["message"],
                    "detail": fault.get("detail"),
                    "loss": bool(fault.get("loss")),
                }
                if fault
                else None
            ),
            "timeline": fault["timeline"] if fault else [],
        }


def _phase_outcome(outcome: str) -> str:
    # pytest-rerunfailures reports a failed attempt that will be retried as "rerun".
    return "failed" if outcome == "rerun" else outcome


def skip_reason(longrepr: Any) -> str | None:
    """The reason of a skip: pytest keeps it as (path, line, 'Skipped: reason')."""
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:
        text = str(longrepr[2])
    elif longrepr is None:
        return None
    else:
        text = str(longrepr)
    return text.removeprefix("Skipped: ").strip() or None


class RunLog:
    """All scenario logs of a run, keyed by test id, in the order they first reported."""

    def __init__(self) -> None:
        self._logs: dict[str, ScenarioLog] = {}

    def add(self, report: Any) -> None:
        self._logs.setdefault(report.nodeid, ScenarioLog(report.nodeid)).add(report)

    def scenarios(self) -> list[ScenarioLog]:
        return list(self._logs.values())


def counts(logs: Iterable[ScenarioLog]) -> dict[str, int]:
    result = {"passed": 0, "failed": 0, "skipped": 0, "flaky": 0}
    for log in logs:
        result[log.outcome] += 1
    return result


def group_by_feature(logs: Sequence[ScenarioLog]) -> list[dict[str, Any]]:
    """Features in file order, scenarios in Gherkin order (xdist delivers them in any order)."""
    ordered = sorted(logs, key=_feature_order)
    features: dict[str, dict[str, Any]] = {}
    for log in ordered:
        feature = (log.scenario or {}).get("feature") or {
            "name": "(not a Gherkin scenario)",
            "file": log.nodeid.split("::", 1)[0],
            "description": "",
        }
        entry = features.setdefault(feature["file"], {**feature, "scenarios": []})
        entry["scenarios"].append(log.to_json())
    return list(features.values())


def _feature_order(log: ScenarioLog) -> tuple[str, int, str]:
    scenario = log.scenario or {}
    file = (scenario.get("feature") or {}).get("file", log.nodeid)
    return (file, int(scenario.get("line", 0)), log.nodeid)


def build_run_record(
    *,
    run_id: str,
    started_at: str,
    finished_at: str,
    duration_s: float,
    environment: Mapping[str, Any],
    preflight: Mapping[str, Any] | None,
    components: Sequence[Mapping[str, Any]],
    fingerprint: Mapping[str, Any] | None,
    verdict: Verdict,
    exit_code: int,
    logs: Sequence[ScenarioLog],
) -> dict[str, Any]:
    """The run record document (docs/architecture.md); values must already be redacted."""
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": round(duration_s, 3),
        "environment": dict(environment),
        "verdict": verdict.label,
        "exit_code": exit_code,
        "reason": verdict.reason,
        "preflight": dict(preflight) if preflight is not None else None,
        "components": [dict(c) for c in components],
        "fingerprint": dict(fingerprint) if fingerprint is not None else None,
        "counts": counts(logs),
        "features": group_by_feature(logs),
        "performance": [p for log in logs for p in log.performance],
    }


def write_run_record(record: Mapping[str, Any], report_dir: Path) -> Path:
    """Write run.json atomically (a reader never sees half a record)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / FILENAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_run_record(report_dir: Path) -> dict[str, Any] | None:
    """The run record of the last run in `report_dir`, or None if that run wrote none."""
    path = report_dir / FILENAME
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return record
