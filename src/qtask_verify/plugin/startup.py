"""The run's deployment: its environment, the preflight, and the sweep of what dead runs left.

The environment is loaded when something first needs it (the preflight, a fixture, the ordering
of a verifying run), so `pytest -c suite.ini --collect-only`, `--markers`, `--fixtures` and
`--generate-missing` work without a deployment. The preflight runs once per verifying run, in the
only process or the xdist controller, before collection; its report is in
``config.stash[PREFLIGHT_KEY]`` and the environment in ``config.stash[ENVIRONMENT_KEY]``. It
runs after what dead runs left undone was finished (``recovery``). A failed preflight prints one
line per broken component and the run collects one failing case instead of the scenarios
(``preflight_case``), so every report is still written (exit code 1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from ..config import Environment, load_environment
from ..deployment.ledger import CleanupLedger
from ..deployment.preflight import PreflightReport
from ..errors import ConfigurationError
from . import preflight_case, recovery
from .options import environment_name, preflight_timeout_s

PREFLIGHT_KEY = pytest.StashKey[PreflightReport]()
ENVIRONMENT_KEY = pytest.StashKey[Environment]()
SWEPT_TASKS_KEY = recovery.SWEPT_TASKS_KEY
# When (wall clock) the preflight saw the task queue without consumers, if it did.
UNCONSUMED_SINCE_KEY = pytest.StashKey[float]()
UNCONSUMED_SINCE_INPUT = "qtask_unconsumed_since"
STATE_DIRECTORY = ".qtask-verify"
# Options under which pytest only looks at the suite: command-line flag -> pytest's option name.
LOOKING_ONLY = {
    "--collect-only": "collectonly",
    "--co": "collectonly",
    "--markers": "markers",
    "--fixtures": "showfixtures",
    "--funcargs": "showfixtures",
    "--fixtures-per-test": "show_fixtures_per_test",
    "--setup-plan": "setupplan",
    "--setup-only": "setuponly",
    "--generate-missing": "generate_missing",
}


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def looking_only(config: pytest.Config) -> str | None:
    """The flag under which this run only looks at the suite (nothing is verified), if any."""
    return next(
        (flag for flag, name in LOOKING_ONLY.items() if getattr(config.option, name, False)), None
    )


def looking_only_flag(arguments: Sequence[str]) -> str | None:
    """The same, read from a command line before pytest parses it (the CLI's question)."""
    return next((a for a in arguments if a in LOOKING_ONLY), None)


def environment_of(config: pytest.Config) -> Environment:
    """The environment the run verifies, loaded on first use; a configuration error is a usage
    error."""
    environment = config.stash.get(ENVIRONMENT_KEY, None)
    if environment is None:
        try:
            environment = load_environment(environment_name(config))
        except ConfigurationError as error:
            raise pytest.UsageError(f"qtask-verify configuration: {error}") from None
        config.stash[ENVIRONMENT_KEY] = environment
    return environment


def state_directory(config: pytest.Config) -> Path:
    """Where the suite keeps its ledgers and locks, beside the suite."""
    return config.rootpath / STATE_DIRECTORY


def cleanup_ledger_of(config: pytest.Config) -> CleanupLedger:
    return recovery.ledger_of(config, state_directory(config))


def start(session: pytest.Session) -> None:
    """Finish what dead runs left, preflight and sweep, once per run."""
    config = session.config
    if is_xdist_worker(config) or looking_only(config):
        return
    env = environment_of(config)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    say = terminal.write_line if terminal is not None else print
    report = recovery.prepare(
        config, env, preflight_timeout_s(config), state_directory(config), say
    )
    config.stash[PREFLIGHT_KEY] = report
    if terminal is not None:
        for line in preflight_lines(report):
            terminal.write_line(line, red=not report.ok)
    if report.consumers == 0:
        config.stash[UNCONSUMED_SINCE_KEY] = time.time()


def replace_scenarios_if_broken(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """After a failed preflight the run holds one failing case instead of the scenarios."""
    report = config.stash.get(PREFLIGHT_KEY, None)
    failures = list(report.failures) if report is not None and not report.ok else []
    failures = failures or preflight_case.worker_failures(config)
    if failures:
        preflight_case.replace_scenarios(session, config, items, failures)


def preflight_lines(report: PreflightReport) -> list[str]:
    """One line when every component answered, else one line per broken component."""
    if not report.ok:
        return [f"preflight: {failure}" for failure in report.failures]
    states = ", ".join(
        f"{c.name} {c.status}" + ("" if c.status == "up" else f" ({c.detail})")
        for c in report.components
    )
    return [f"preflight: {states} ({report.duration_s:.1f} s)"]


def hand_to_xdist_worker(node: object) -> None:
    """Tell an xdist worker what the controller's preflight saw (and who the deployment is)."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    since = config.stash.get(UNCONSUMED_SINCE_KEY, None)
    if since is not None:
        node.workerinput[UNCONSUMED_SINCE_INPUT] = since  # type: ignore[attr-defined]
    recovery.hand_to_worker(node)
    report = config.stash.get(PREFLIGHT_KEY, None)
    if report is not None and not report.ok:
        preflight_case.hand_to_worker(node, report.failures)


def unconsumed_since(config: pytest.Config) -> float | None:
    """Since when (wall clock) the run has seen the task queue without consumers, if it has."""
    if is_xdist_worker(config):
        since = config.workerinput.get(UNCONSUMED_SINCE_INPUT)  # type: ignore[attr-defined]
        return None if since is None else float(since)
    return config.stash.get(UNCONSUMED_SINCE_KEY, None)
