"""Which scenarios run here, and in which order.

Scenarios the environment does not allow are skipped with the reason (never passed). The rest
run in three groups, file order kept within each: those that pause part of the deployment
first, since bringing paused workers back takes seconds; then those that only read and need no
worker, which overlap that return; then everything else, whose first wait for a worker awaits
the return (see ``ConsumerWatch.settled``).
"""

from __future__ import annotations

import pytest

from ..config import Environment


def _group(item: pytest.Item) -> int:
    if item.get_closest_marker("needs_controller") is not None:
        return 0
    reads_only = item.get_closest_marker("read_only") is not None
    return 1 if reads_only and item.get_closest_marker("worker") is None else 2


def order(items: list[pytest.Item]) -> None:
    items.sort(key=_group)


def skip_what_is_not_allowed(env: Environment, items: list[pytest.Item]) -> None:
    for item in items:
        if not env.allow_mutating and item.get_closest_marker("read_only") is None:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"not read-only: environment {env.name!r} allows only read-only "
                    "scenarios"
                )
            )
        elif item.get_closest_marker("needs_controller") and env.controller is None:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"needs a deployment controller to pause part of the deployment; "
                    f"environment {env.name!r} has none (see [profiles.{env.name}.controller] "
                    "in environments.toml)"
                )
            )
