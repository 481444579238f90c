"""Cucumber JSON that agrees with the sign-off page.

pytest-bdd 9 marks every step after a failing one as failed and puts the whole traceback in the
failing step's `error_message`; Cucumber tools then count more failed steps than the page shows.
After pytest-bdd has written the file, each scenario's steps are set as the run record has them:
the failing step `failed` with the diagnosis as `error_message` (its raw detail on the next line),
the steps after it `skipped`. The record's text is redacted already.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..run.record import RunRecord, Scenario


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


def _message(scenario: Scenario) -> str:
    diagnosis = scenario.diagnosis
    if diagnosis is None:
        return "failed without a diagnosis (see the HTML report)"
    return diagnosis.said + (f"\n{diagnosis.detail}" if diagnosis.detail else "")


def _fix_steps(steps: list[dict[str, Any]], scenario: Scenario) -> None:
    failed_at = next(
        (i for i, step in enumerate(steps) if step.get("result", {}).get("status") == "failed"),
        None,
    )
    if failed_at is None:
        return
    steps[failed_at]["result"]["error_message"] = _message(scenario)
    for step in steps[failed_at + 1 :]:
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
