"""Folding pytest's reports into the run record's scenarios, as they arrive on the controller.

`ScenarioLog` folds the reports of one test id (setup, call, teardown, for every attempt when
failures are rerun) into a :class:`~qtask_verify.run.record.Scenario`; `RunLog` keeps them in
Gherkin order and lists the performance figures, with a "not measured" line for each
``@performance`` scenario that gave none. Both are pure, so they are unit tested without pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..plugin.performance import PERFORMANCE_PROPERTY
from .record import POLICY, Diagnosis, Feature, Metric, Observation, Scenario, Step

# Report attributes set on the worker (they travel through xdist with the report's __dict__).
SCENARIO_ATTR = "qtask_scenario"
FAULT_ATTR = "qtask_fault"  # the headline: the worst failure of the scenario
FAULTS_ATTR = "qtask_faults"  # every failure of the scenario, in step order
POLICY_ATTR = "qtask_not_run_by_policy"
PERFORMANCE_TAG = "performance"

_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2}
# A scenario whose setup passed and whose call never reported was stopped by an interrupt.
INTERRUPTED_REASON = "interrupted before its steps ended: not verified"


def _diagnosis(fault: dict[str, Any]) -> Diagnosis:
    message = str(fault.get("message") or "")
    return Diagnosis(fault.get("component"), message, fault.get("detail"), bool(fault.get("loss")))


def _step(step: dict[str, Any]) -> Step:
    table = tuple(tuple(row) for row in step.get("datatable") or ())
    return Step(step["keyword"], step["text"], step["outcome"], step.get("duration_s"), table)


@dataclass
class ScenarioLog:
    """Everything the reports said about one test id, folded as they arrive."""

    nodeid: str
    scenario: dict[str, Any] | None = None
    attempts: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    skip_reason: str | None = None
    by_policy: bool = False
    fault: dict[str, Any] | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    losses: list[dict[str, Any]] = field(default_factory=list)
    performance: list[dict[str, Any]] = field(default_factory=list)
    called: bool = False  # the last attempt's call phase reported

    def add(self, report: Any) -> None:
        """Fold one phase report in; a setup report opens a new attempt."""
        outcome = "failed" if report.outcome == "rerun" else report.outcome
        if report.when == "setup" or not self.attempts:
            self.attempts.append(outcome)
            self.fault = None
            self.faults = []
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
            self.by_policy = bool(getattr(report, POLICY_ATTR, False))
        fault = getattr(report, FAULT_ATTR, None)
        if fault is not None and self.fault is None:
            self.fault = fault
            self.faults = list(getattr(report, FAULTS_ATTR, None) or [fault])
            # A loss on any attempt stands, even if a rerun passes.
            self.losses += [f for f in self.faults if f.get("loss")]
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
        """passed | failed | skipped | flaky | not run by policy (a rerun pass is never hidden)."""
        if not self.attempts or self._interrupted:
            return "skipped"
        last = self.attempts[-1]
        if last == "passed" and "failed" in self.attempts[:-1]:
            return "flaky"
        if last == "skipped" and self.by_policy:
            return POLICY
        return last

    @property
    def _interrupted(self) -> bool:
        return self.attempts[-1] == "passed" and not self.called

    def to_scenario(self) -> Scenario:
        described = self.scenario or {}
        outcome = self.outcome
        fault = self.fault if outcome in ("failed", "flaky") else None
        faults = self.faults if fault else []
        return Scenario(
            name=described.get("name") or self.nodeid.rsplit("::", 1)[-1],
            nodeid=self.nodeid,
            tags=tuple(described.get("tags", ())),
            priority=described.get("priority"),
            outcome=outcome,
            attempts=tuple(self.attempts),
            duration_s=round(self.duration_s, 3),
            skip_reason=self._skip_reason if outcome in ("skipped", POLICY) else None,
            steps=tuple(_step(s) for s in described.get("steps", ())),
            diagnosis=_diagnosis(fault) if fault else None,
            diagnoses=tuple(_diagnosis(f) for f in faults),
            timeline=tuple(
                Observation(o.get("t_s"), o.get("observation", ""))
                for o in (fault or {}).get("timeline", ())
            ),
            losses=tuple(_diagnosis(loss) for loss in self.losses),
        )

    @property
    def _skip_reason(self) -> str | None:
        return INTERRUPTED_REASON if self.attempts and self._interrupted else self.skip_reason

    def metrics(self) -> list[Metric]:
        """The figures this scenario measured, and why a ``@performance`` one measured less.

        A failed scenario whose figures are all within their thresholds stopped before its
        next measurement: that one is "not measured", with the failure that stopped it.
        """
        measured = [
            Metric(**{k: v for k, v in p.items() if k in _METRIC}) for p in self.performance
        ]
        scenario = self.to_scenario()
        if PERFORMANCE_TAG not in scenario.tags:
            return measured
        stopped = scenario.outcome == "failed" and all(m.passed for m in measured)
        if measured and not stopped:
            return measured
        name = f"{scenario.name} (the rest)" if measured else scenario.name
        return [*measured, Metric(name, not_measured=_why_not_measured(scenario))]


_METRIC = set(Metric.__dataclass_fields__)


def _why_not_measured(scenario: Scenario) -> str:
    if scenario.outcome == POLICY:
        reason = (scenario.skip_reason or "no reason given").removeprefix(f"{POLICY}: ")
        return f"{POLICY}: {reason}"
    if scenario.outcome == "skipped":
        return f"skipped: {scenario.skip_reason or 'no reason given'}"
    if scenario.outcome in ("failed", "flaky") and scenario.diagnosis is not None:
        return f"the scenario failed before measuring: {scenario.diagnosis.said}"
    return "the scenario recorded no figure"


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
        """In Gherkin order: features in file order, scenarios by line (xdist mixes them up)."""
        return sorted(self._logs.values(), key=_feature_order)

    def features(self) -> tuple[Feature, ...]:
        features: dict[str, tuple[dict[str, Any], list[Scenario]]] = {}
        for log in self.scenarios():
            feature = (log.scenario or {}).get("feature") or {
                "name": "(not a Gherkin scenario)",
                "file": log.nodeid.split("::", 1)[0],
                "description": "",
            }
            features.setdefault(feature["file"], (feature, []))[1].append(log.to_scenario())
        return tuple(
            Feature(f["name"], f["file"], f.get("description", ""), tuple(scenarios))
            for f, scenarios in features.values()
        )

    def metrics(self) -> tuple[Metric, ...]:
        return tuple(m for log in self.scenarios() for m in log.metrics())


def _feature_order(log: ScenarioLog) -> tuple[str, int, str]:
    scenario = log.scenario or {}
    file = (scenario.get("feature") or {}).get("file", log.nodeid)
    return (file, int(scenario.get("line", 0)), log.nodeid)
