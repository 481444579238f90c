"""The Gherkin steps of a scenario as a pytest-html extra (pytest-html shows no steps by itself)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from pytest_html import extras

_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "skipped": "#ef6c00", "not run": "#757575"}


def steps_extra(steps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A table of keyword, step text, outcome and duration, one row per step."""
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
    return extras.html(
        f'<table class="gherkin-steps" style="margin:0.5em 0">'
        f"<caption style='text-align:left'>Gherkin steps</caption>{rows}</table>"
    )
