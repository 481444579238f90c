"""Performance figures of a scenario: summarised, judged and carried to the run record."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pytest

PERFORMANCE_PROPERTY = "qtask_performance"


@dataclass(frozen=True)
class Performance:
    """A measured figure of a scenario, as the run record lists it."""

    name: str
    unit: str
    p50: float
    p95: float
    threshold: float
    samples: int
    passed: bool


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 10 samples is the largest but none)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def record_performance(
    node: pytest.Item,
    name: str,
    unit: str,
    samples: Sequence[float],
    threshold: float,
    passed: bool | None = None,
) -> Performance:
    """Summarise ``samples`` and attach them to the scenario's report (crosses xdist).

    ``passed`` defaults to "the p95 is within ``threshold``".
    """
    p95 = percentile(samples, 0.95)
    performance = Performance(
        name=name,
        unit=unit,
        p50=round(percentile(samples, 0.50), 3),
        p95=round(p95, 3),
        threshold=threshold,
        samples=len(samples),
        passed=p95 <= threshold if passed is None else passed,
    )
    # user_properties travel with the report to the xdist controller.
    node.user_properties.append((PERFORMANCE_PROPERTY, asdict(performance)))
    return performance
