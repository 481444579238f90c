"""What a pytest-bdd scenario was and how each of its Gherkin steps ended, read on the worker.

pytest-bdd's public hooks announce the scenario (rendered with its Examples row) as it starts,
and each step as it starts, ends or fails; :class:`ScenarioProgress` folds them into plain,
JSON-able dicts that ride on the report to the xdist controller. A step that was started but
neither ended nor failed was stopped by ``pytest.skip``/``pytest.fail`` or Ctrl-C: it takes the
outcome of the report. Steps never reached are "not run".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.parser import Feature, Scenario, Step
from pytest_bdd.scenario import scenario_wrapper_template_registry

from ..plugin.markers import ordered_tags

PRIORITIES = ("p1", "p2", "p3")
PROGRESS_KEY = pytest.StashKey["ScenarioProgress"]()


def _relative(filename: str, rootdir: Path) -> str:
    try:
        return Path(filename).resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return filename


def describe(feature: Feature, scenario: Scenario, rootdir: Path) -> dict[str, Any]:
    """Feature, scenario name, tags and Gherkin steps, as the run record keeps them."""
    tags = ordered_tags(scenario.tags | feature.tags)
    return {
        "feature": {
            "name": feature.name,
            "file": _relative(feature.filename, rootdir),
            "description": feature.description,
        },
        "name": scenario.name,
        "line": scenario.line_number,
        "tags": tags,
        "priority": next((t for t in PRIORITIES if t in tags), None),
        "steps": [_step(s) for s in scenario.steps],
    }


def _step(step: Step) -> dict[str, Any]:
    described: dict[str, Any] = {"keyword": step.keyword, "text": step.name}
    if step.datatable is not None:
        described["datatable"] = [[str(cell) for cell in row] for row in step.datatable.raw()]
    return described


def describe_item(item: pytest.Item, rootdir: Path) -> dict[str, Any] | None:
    """The scenario of an item that has not started (its setup failed or was skipped).

    pytest-bdd announces a scenario only once it runs; before that, the template it registered
    for the test function at collection (a private registry, with no public equivalent in
    pytest-bdd 9) and the item's Examples row are the only source. None for non-BDD items.
    """
    function = getattr(item, "obj", None)
    template = scenario_wrapper_template_registry.get(function) if function else None
    if template is None:
        return None
    example = getattr(getattr(item, "callspec", None), "params", {}).get("_pytest_bdd_example", {})
    return describe(template.feature, template.render(example), rootdir)


@dataclass
class _StepRun:
    started: float
    duration_s: float | None = None
    failed: bool = False


@dataclass
class ScenarioProgress:
    """A running scenario: its description and each step's run so far."""

    described: dict[str, Any]
    runs: list[_StepRun] = field(default_factory=list)

    def step_started(self, step: Step) -> None:
        self.runs.append(_StepRun(time.perf_counter()))

    def step_ended(self, failed: bool) -> None:
        if self.runs and self.runs[-1].duration_s is None:
            run = self.runs[-1]
            run.duration_s = time.perf_counter() - run.started
            run.failed = failed

    def step_outcomes(self, report_outcome: str) -> list[dict[str, Any]]:
        """Each Gherkin step with its outcome and duration, as far as the scenario got."""
        steps: list[dict[str, Any]] = []
        for index, step in enumerate(self.described["steps"]):
            outcome, duration = "not run", 0.0
            if index < len(self.runs):
                run = self.runs[index]
                if run.duration_s is None:  # stopped by pytest.skip / pytest.fail / Ctrl-C
                    outcome = "skipped" if report_outcome == "skipped" else "failed"
                    duration = time.perf_counter() - run.started
                else:
                    outcome = "failed" if run.failed else "passed"
                    duration = run.duration_s
            steps.append({**step, "outcome": outcome, "duration_s": round(duration, 4)})
        return steps


def not_run(described: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a scenario that never started."""
    return [{**s, "outcome": "not run", "duration_s": 0.0} for s in described["steps"]]
