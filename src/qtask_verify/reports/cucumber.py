"""Cucumber JSON that agrees with the sign-off page.

pytest-bdd 9 marks every step after a failing one as failed and puts the whole traceback in the
failing step's `error_message`, and it marks `passed` a failed check that the scenario went on
after (``promises``); Cucumber tools then count other failed steps than the page shows. After
pytest-bdd has written the file, each failed scenario's steps are set as the run record has them:
each failing step `failed` with its diagnosis as `error_message` (its raw detail on the next
line; the record lists the diagnoses in step order), the steps not run `skipped`. The record's
text is redacted already.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..run.record import Diagnosis, RunRecord, Scenario


def _element_key(uri: str, element_id: str) -> tuple[str, str]:
    return (Path(uri).name, element_id)


def _scenarios_by_element(record: RunRecord) -> dict[tuple[str, str], Scenario]:
    """pytest-bdd names an element by its feature file and its test item's name."""
    found: dict[tuple[str, str], Scenario] = {}
    for feature in record.features:
        for scenario in feature.scenarios:
            item_name = scenario.nodeid.rsplit("::", 1)[-1]
            found[_element_key(feature.file, item_name)] = scenario
    return found


def _message(diagnosis: Diagnosis | None) -> str:
    if diagnosis is None:
        return "failed without a diagnosis (see the HTML report)"
    return diagnosis.said + (f"\n{diagnosis.detail}" if diagnosis.detail else "")


def _fix_steps(steps: list[dict[str, Any]], scenario: Scenario) -> None:
    if scenario.outcome != "failed":
        return
    diagnoses = iter(scenario.failures)
    for step, recorded in zip(steps, scenario.steps, strict=False):
        result = step.setdefault("result", {})
        result.pop("error_message", None)
        if recorded.outcome == "failed":
            result.update(status="failed", error_message=_message(next(diagnoses, None)))
        elif recorded.outcome == "passed":
            result["status"] = "passed"
        else:
            step["result"] = {"status": "skipped", "duration": 0}


def agree_with(path: str | None, record: RunRecord) -> None:
    """Rewrite the Cucumber JSON file at `path` (if the run wrote one) to agree with `record`."""
    if not path or not Path(path).is_file():
        return
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    scenarios = _scenarios_by_element(record)
    for feature in document:
        for element in feature.get("elements", []):
            scenario = scenarios.get(_element_key(feature.get("uri", ""), element.get("id", "")))
            if scenario is not None:
                _fix_steps(element.get("steps", []), scenario)
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(document), encoding="utf-8")
    os.replace(tmp, path)
