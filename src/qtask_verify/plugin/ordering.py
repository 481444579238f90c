"""Which scenarios run here.

Two kinds of skips, told apart in every report. A scenario the profile's *policy* excludes is
"not run by policy": a mutating one where only read-only checks are allowed, a ``@disruptive``
one where disruption is not, a ``@live_traffic`` one where nobody but the suite submits tasks,
a ``@needs_tracing`` one where the profile does not allow message tracing.
The profile verifies less by design, and the verdict names that scope. A scenario that needs
what the environment lacks (a controller) is skipped: it was meant to run, so the verdict counts
it as a risk. Neither is ever counted as passed.
"""

from __future__ import annotations

import pytest

from ..config import Environment

NOT_RUN_BY_POLICY = pytest.StashKey[str]()  # the reason, on items the profile's policy excludes


def policy_scope(env: Environment) -> str | None:
    """What a profile verifies by policy, as the verdict line states it (None: everything)."""
    parts = []
    if not env.allow_mutating:
        parts.append("read-only checks")
    elif not env.allow_disruption:
        parts.append("non-disruptive checks")
    if not env.live_traffic:
        parts.append("without live-traffic checks")
    if env.allow_mutating and env.message_tracing == "off":
        parts.append("without message-tracing checks")
    return ", ".join(parts) or None


def _policy_reason(env: Environment, item: pytest.Item) -> str | None:
    if not env.allow_mutating and item.get_closest_marker("read_only") is None:
        return (
            f"environment {env.name!r} allows only read-only checks (allow_mutating = false "
            "in environments.toml)"
        )
    if not env.allow_disruption and item.get_closest_marker("disruptive") is not None:
        return (
            f"environment {env.name!r} does not allow stopping, pausing or restarting its "
            "components (allow_disruption = false in environments.toml)"
        )
    if not env.live_traffic and item.get_closest_marker("live_traffic") is not None:
        return (
            f"environment {env.name!r} has no real users whose tasks could be observed "
            "(live_traffic = false in environments.toml)"
        )
    if env.message_tracing == "off" and item.get_closest_marker("needs_tracing") is not None:
        return (
            f"environment {env.name!r} does not let the suite see messages through the "
            'broker\'s message tracing (message_tracing = "off" in environments.toml)'
        )
    return None


def skip_what_is_not_allowed(env: Environment, items: list[pytest.Item]) -> None:
    for item in items:
        policy = _policy_reason(env, item)
        if policy is not None:
            item.stash[NOT_RUN_BY_POLICY] = policy
            item.add_marker(pytest.mark.skip(reason=f"not run by policy: {policy}"))
        elif item.get_closest_marker("needs_controller") and env.controller is None:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"needs a deployment controller to pause part of the deployment; "
                    f"environment {env.name!r} has none (see [profiles.{env.name}.controller] "
                    "in environments.toml)"
                )
            )
