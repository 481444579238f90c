"""The trend of the last runs of one environment, from the history, ready for the page.

Only the environment being signed off is shown: a laptop's runs say nothing about staging. The
chart's geometry is computed here (numbers only) so the template stays free of arithmetic.

A bar's height is the time to verdict of a run that found the deployment working (GO, GO WITH
RISKS). A run that did not (NO-GO) is drawn at full height in its colour, its time written on it:
a deployment that fails in two seconds must never look better than one that passes in twenty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LAST_RUNS = 20
CHART_HEIGHT = 140.0  # height of the tallest bar
CHART_TOP = 18.0  # room for the duration label above a bar
BAR_WIDTH = 30.0
BAR_GAP = 12.0
AXIS_WIDTH = 56.0  # room for the scale label on the left
WORKING = ("GO", "GO WITH RISKS")  # verdicts whose bar is scaled by the time to verdict


@dataclass(frozen=True)
class TrendRun:
    run_id: str
    time: str
    verdict: str
    scope: str | None
    duration_s: float | None
    p95: tuple[tuple[float | None, bool], ...]  # per metric: (p95, over its threshold)
    flaky: int
    current: bool
    x: float
    bar_height: float
    scaled: bool  # False: drawn at full height, the run did not find the deployment working


@dataclass(frozen=True)
class Trend:
    metrics: tuple[tuple[str, str], ...]  # (name, unit), the p95 columns
    runs: tuple[TrendRun, ...]  # oldest first
    chart_width: float
    baseline: float  # y of the bars' base
    max_duration_s: float


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _performance(entry: dict[str, Any]) -> list[dict[str, Any]]:
    perf = entry.get("performance")
    if not isinstance(perf, list):
        return []
    return [m for m in perf if isinstance(m, dict) and not m.get("not_measured")]


def _flaky(entry: dict[str, Any]) -> int:
    scenarios = entry.get("scenarios")
    if not isinstance(scenarios, list):
        return 0
    return sum(1 for s in scenarios if isinstance(s, dict) and s.get("outcome") == "flaky")


def _working(entry: dict[str, Any]) -> bool:
    return entry.get("verdict") in WORKING


def build(entries: Sequence[dict[str, Any]], environment: str, current_run_id: str) -> Trend:
    """The last `LAST_RUNS` runs of `environment`, oldest first."""
    mine = [e for e in entries if str(e.get("environment", "")) == environment][-LAST_RUNS:]
    metrics: list[tuple[str, str]] = []
    for entry in mine:
        for m in _performance(entry):
            key = (str(m.get("name", "")), str(m.get("unit", "")))
            if key not in metrics:
                metrics.append(key)
    durations = [
        d for d in (_number(e.get("duration_s")) for e in mine if _working(e)) if d is not None
    ]
    longest = max(durations, default=0.0) or 1.0
    runs = []
    for i, entry in enumerate(mine):
        p95_by_name = {
            str(m.get("name", "")): (_number(m.get("p95")), m.get("passed") is False)
            for m in _performance(entry)
        }
        duration = _number(entry.get("duration_s"))
        scaled = _working(entry)
        runs.append(
            TrendRun(
                run_id=str(entry.get("run_id", "")),
                time=str(entry.get("time", "")),
                verdict=str(entry.get("verdict", "UNKNOWN")),
                scope=str(entry["scope"]) if entry.get("scope") else None,
                duration_s=duration,
                p95=tuple(p95_by_name.get(name, (None, False)) for name, _ in metrics),
                flaky=_flaky(entry),
                current=bool(current_run_id) and entry.get("run_id") == current_run_id,
                x=AXIS_WIDTH + BAR_GAP + i * (BAR_WIDTH + BAR_GAP),
                bar_height=(
                    max(2.0, CHART_HEIGHT * min((duration or 0.0) / longest, 1.0))
                    if scaled
                    else CHART_HEIGHT
                ),
                scaled=scaled,
            )
        )
    return Trend(
        metrics=tuple(metrics),
        runs=tuple(runs),
        chart_width=AXIS_WIDTH + BAR_GAP + LAST_RUNS * (BAR_WIDTH + BAR_GAP),
        baseline=CHART_TOP + CHART_HEIGHT,
        max_duration_s=longest if durations else 0.0,
    )
