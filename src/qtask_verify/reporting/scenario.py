"""What a pytest-bdd scenario was and how each of its Gherkin steps ended, read on the worker.

pytest-bdd keeps this in weak registries keyed by the item, which never cross to the xdist
controller; so it is turned into plain JSON-able dicts here, attached to the report, and travels
with it. pytest-bdd's own step records mark every step after a failure as failed too, and leave a
step that called `pytest.skip`/`pytest.fail` unfinished; the outcomes below say what really
happened: passed, failed, skipped or not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_bdd.reporting import scenario_reports_registry
from pytest_bdd.scenario import scenario_wrapper_template_registry

PRIORITIES = ("p1", "p2", "p3")


def describe(item: Any, rootdir: Path) -> dict[str, Any] | None:
    """Feature, scenario name, tags and Gherkin steps of a pytest-bdd item (None otherwise)."""
    function = getattr(item, "obj", None)
    template = scenario_wrapper_template_registry.get(function) if function else None
    if template is None:
        return None
    example = getattr(getattr(item, "callspec", None), "params", {}).get("_pytest_bdd_example", {})
    scenario = template.render(example)
    feature = template.feature
    tags = sorted(template.tags | feature.tags)
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
        "steps": [{"keyword": s.keyword, "text": s.name} for s in scenario.steps],
    }


def step_outcomes(
    item: Any, described: dict[str, Any], report_outcome: str
) -> list[dict[str, Any]]:
    """Each Gherkin step with its outcome and duration, as far as this test phase got."""
    record = scenario_reports_registry.get(item)
    ran = record.step_reports if record is not None else []
    steps: list[dict[str, Any]] = []
    stopped = False
    for index, step in enumerate(described["steps"]):
        outcome, duration = "not run", 0.0
        if not stopped and index < len(ran):
            step_report = ran[index]
            duration = round(step_report.duration, 4)
            if step_report.stopped is None:  # interrupted by pytest.skip / pytest.fail / Ctrl-C
                outcome = "skipped" if report_outcome == "skipped" else "failed"
                stopped = True
            elif step_report.failed:
                outcome, stopped = "failed", True
            else:
                outcome = "passed"
        steps.append({**step, "outcome": outcome, "duration_s": duration})
    return steps


def _relative(filename: str, rootdir: Path) -> str:
    try:
        return Path(filename).resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return filename
