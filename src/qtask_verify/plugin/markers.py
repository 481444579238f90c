"""Every Gherkin tag the suite uses, registered as a pytest marker, in the order reports show them.

pytest-bdd turns tags into markers, and ``--strict-markers`` makes an unregistered one an error.
Tags are grouped (priority, safety, component, other) and every report lists a scenario's tags in
this order, so a chip never moves from one scenario to the next.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

TAG_GROUPS: dict[str, dict[str, str]] = {
    "priority": {
        "p1": "priority 1: must pass to deploy (NO-GO otherwise)",
        "p2": "priority 2: quality (GO WITH RISKS when it fails)",
        "p3": "priority 3: resilience; outside the release gate, run with -m p3",
    },
    "safety": {
        "read_only": "safe anywhere, production included: reads and looks only",
        "mutating": "submits tasks; not run by policy where allow_mutating = false",
        "disruptive": "stops, pauses or restarts a component; not run by policy where "
        "allow_disruption = false",
        "needs_controller": "needs a deployment controller; skipped (a risk) without one",
        "needs_tracing": "sees the task messages through the broker's message tracing; skipped "
        "(a risk) where the profile or the broker's accounts do not allow it",
        "live_traffic": "looks at real users' recent tasks; not run by policy where "
        "live_traffic = false",
    },
    "component": {
        "api": "about the HTTP API",
        "database": "about the PostgreSQL database",
        "queue": "about the RabbitMQ broker and the task queue",
        "worker": "about the workers that execute tasks",
    },
    "other": {
        "performance": "measures figures against thresholds (p50/p95 in every report)",
    },
}
MARKERS = {tag: text for group in TAG_GROUPS.values() for tag, text in group.items()}
_RANK = {tag: rank for rank, tag in enumerate(MARKERS)}


def ordered_tags(tags: Iterable[str]) -> list[str]:
    """Tags in the fixed report order; unknown ones last, alphabetically."""
    return sorted(set(tags), key=lambda tag: (_RANK.get(tag, len(_RANK)), tag))


def register_markers(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
