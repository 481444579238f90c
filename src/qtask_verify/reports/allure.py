"""Allure results (`--alluredir`) that agree with the sign-off page, without a secret.

allure-pytest-bdd (2.16, maintained by the Allure team) works with pytest-bdd 9 through its
public hooks: one result per scenario, its Gherkin steps with statuses (steps after a failure
`skipped`), data tables attached, tags as labels. What it cannot know is added here, as an
allure-commons plugin that sees each result before the file logger writes it:

- the failure message is the diagnosis, "component: what was observed", instead of the
  exception's type and text (the traceback stays as the trace);
- every string is redacted (a driver's message may carry a URL), attachments are redacted at their
  source: captured output is scrubbed in the pytest report before Allure copies it;
- the priority tag becomes Allure's severity (p1 critical, p2 normal, p3 minor);
- `categories.json` names one category per component, matched on that message, so Allure's
  Categories tab groups failures by the broken component; `environment.properties` names the
  deployment (masked URLs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import allure_commons
import attr
import pytest
from allure_commons.model2 import Label

_EXCEPTION_PREFIX = re.compile(
    r"^qtask_verify\.(?:errors\.DeploymentFault|promises\.ScenarioFaults): "
)
_GROUP_SUFFIX = re.compile(r" \(\d+ sub-exceptions\)$")  # a scenario that failed several checks
_SEVERITY = {"p1": "critical", "p2": "normal", "p3": "minor"}
COMPONENTS = ("api", "database", "queue", "workers")
_PLUGIN_NAME = "qtask-verify-allure"


def _report_dir(config: pytest.Config) -> Path | None:
    directory = getattr(config.option, "allure_report_dir", None)
    return Path(directory) if directory else None


def _scrub(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_scrub(v, redact) for v in value]
    if attr.has(type(value)):
        for field in attr.fields(type(value)):
            setattr(value, field.name, _scrub(getattr(value, field.name), redact))
    return value


def _diagnosis_first(item: Any) -> None:
    details = getattr(item, "statusDetails", None)
    if details is not None and details.message:
        message = _EXCEPTION_PREFIX.sub("", details.message).rstrip("\n")
        details.message = _GROUP_SUFFIX.sub("", message)
    for step in getattr(item, "steps", None) or ():
        _diagnosis_first(step)


class _Adapter:
    """Sees each result and container before allure-commons' file logger writes it."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact

    @allure_commons.hookimpl(tryfirst=True)
    def report_result(self, result: Any) -> None:
        _diagnosis_first(result)
        tags = {label.value for label in result.labels if label.name == "tag"}
        severity = next((_SEVERITY[t] for t in _SEVERITY if t in tags), None)
        if severity is not None:
            result.labels.append(Label(name="severity", value=severity))
        _scrub(result, self.redact)

    @allure_commons.hookimpl(tryfirst=True)
    def report_container(self, container: Any) -> None:
        _scrub(container, self.redact)


def install(config: pytest.Config, redact: Callable[[str], str]) -> None:
    """Adapt allure-pytest-bdd's results in this process, when `--alluredir` is given."""
    if _report_dir(config) is None or allure_commons.plugin_manager.has_plugin(_PLUGIN_NAME):
        return
    allure_commons.plugin_manager.register(_Adapter(redact), _PLUGIN_NAME)
    config.add_cleanup(lambda: allure_commons.plugin_manager.unregister(name=_PLUGIN_NAME))


def categories() -> list[dict[str, Any]]:
    """One category per component, then the failures the suite could not diagnose."""
    found: list[dict[str, Any]] = [
        {
            "name": f"{component}: the deployment broke its contract",
            "matchedStatuses": ["failed"],
            "messageRegex": f"{component}: [\\s\\S]*",
        }
        for component in COMPONENTS
    ]
    found.append({"name": "suite errors (no diagnosis)", "matchedStatuses": ["broken"]})
    return found


def write_categories(config: pytest.Config, environment: Mapping[str, Any]) -> None:
    """`categories.json` and `environment.properties` beside the results (controller only)."""
    directory = _report_dir(config)
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "categories.json").write_text(json.dumps(categories(), indent=2) + "\n")
    lines = [f"{key}={value}" for key, value in environment.items() if value]
    (directory / "environment.properties").write_text("\n".join(lines) + "\n")
