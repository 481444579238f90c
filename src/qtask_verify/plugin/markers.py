"""Every Gherkin tag the suite uses, registered as a pytest marker.

pytest-bdd turns tags into markers, and ``--strict-markers`` makes an unregistered one an error.
"""

from __future__ import annotations

import pytest

MARKERS = {
    "p1": "priority 1: must pass to deploy (NO-GO otherwise)",
    "p2": "priority 2: quality (GO WITH RISKS when it fails)",
    "p3": "priority 3: resilience; changes the deployment",
    "read_only": "safe anywhere, production included: reads and looks only",
    "mutating": "submits tasks or changes the deployment; skipped where not allowed",
    "api": "about the HTTP API",
    "database": "about the PostgreSQL database",
    "queue": "about the RabbitMQ broker and the task queue",
    "worker": "about the workers that execute tasks",
    "needs_controller": "pauses part of the deployment; skipped without a deployment controller",
}


def register_markers(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
