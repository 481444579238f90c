"""What the reports say about the deployment, read from the engine's plugin.

The engine's plugin loads the environment and runs the preflight once per run, keeping both in
`config.stash`; this module turns them into the masked, JSON-able views the run record shows, so
the reporting plugin depends on the engine in this one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from ..config import Environment
from ..deployment.preflight import PreflightReport
from ..plugin.startup import ENVIRONMENT_KEY, PREFLIGHT_KEY
from ..redaction import Redactor
from ..run.record import Component, Preflight


@dataclass(frozen=True)
class DeploymentView:
    """The deployment's name and masked URLs, and the redactor of its secrets."""

    environment: Mapping[str, Any]
    redactor: Redactor
    configured: bool = True

    @classmethod
    def of(cls, config: pytest.Config) -> DeploymentView:
        environment: Environment | None = config.stash.get(ENVIRONMENT_KEY, None)
        if environment is None:  # no deployment configured: still mask any URL password
            return cls({"name": None}, Redactor(), configured=False)
        return cls({"name": environment.name, **environment.masked_urls()}, environment.redactor())


@dataclass(frozen=True)
class PreflightView:
    """The preflight's result as the run record holds it (its text is already masked)."""

    preflight: Preflight
    components: tuple[Component, ...]
    fingerprint: dict[str, Any]

    @classmethod
    def of(cls, config: pytest.Config) -> PreflightView:
        report: PreflightReport | None = config.stash.get(PREFLIGHT_KEY, None)
        if report is None:
            return cls(Preflight(None), (), {})
        return cls(
            preflight=Preflight(report.ok, report.duration_s, tuple(report.failures)),
            components=tuple(
                Component(c.name, c.status, c.latency_ms, c.detail) for c in report.components
            ),
            fingerprint=_plain(report.fingerprint) if report.fingerprint else {},
        )


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
