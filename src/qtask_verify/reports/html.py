"""The Gherkin steps of a scenario as a pytest-html extra (pytest-html shows no steps by itself)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from pytest_html import extras

_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#ef6c00", "not run": "#757575"}


def steps_extra(
    steps: Sequence[dict[str, Any]], faults: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A table of keyword, step text, outcome and duration, one row per step, under the
    diagnoses when the scenario failed (one per failed check, in step order)."""
    rows = "".join(
        "<tr>"
        f'<td style="font-weight:bold;padding-right:1em">{escape(step["keyword"])}</td>'
        f'<td style="padding-right:1em">{escape(step["text"])}</td>'
        f'<td style="color:{_COLOURS.get(step["outcome"], "inherit")};padding-right:1em">'
        f"{escape(step['outcome'])}</td>"
        f'<td style="text-align:right">{step["duration_s"]:.3f} s</td>'
        "</tr>"
        for step in steps
    )
    diagnosis = "".join(
        f'<p class="diagnosis" style="color:{_COLOURS["failed"]};font-weight:bold">'
        f"Diagnosis: {escape(_said(fault))}</p>"
        for fault in faults
    )
    return extras.html(
        f'{diagnosis}<table class="gherkin-steps" style="margin:0.5em 0">'
        f"<caption style='text-align:left'>Gherkin steps</caption>{rows}</table>"
    )


def _said(fault: dict[str, Any]) -> str:
    said = f"{fault['component']}: " if fault.get("component") else ""
    return said + fault["message"] + (" (an accepted task was lost)" if fault.get("loss") else "")


def scenario_cell(described: dict[str, Any] | None) -> str:
    """'Feature: Scenario [p1]' for the results table, so QA sees Gherkin names, not test ids."""
    if described is None:
        return ""
    priority = f" [{described['priority']}]" if described.get("priority") else ""
    return escape(f"{described['feature']['name']}: {described['name']}{priority}")
