"""The run's deployment: its environment, the preflight, and the sweep of what dead runs left.

The preflight runs once per run, in the only process or the xdist controller, before
collection, after what dead runs left undone was finished (``recovery``); its report is in
``config.stash[PREFLIGHT_KEY]`` and the environment in ``config.stash[ENVIRONMENT_KEY]``. A
failed preflight prints one line per broken component and the run collects one failing case
instead of the scenarios (``preflight_case``), so every report is still written (exit code 1).
"""

from __future__ import annotations

import time
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


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def load(config: pytest.Config) -> None:
    """Load the environment the run verifies; a configuration error is a usage error."""
    try:
        config.stash[ENVIRONMENT_KEY] = load_environment(environment_name(config))
    except ConfigurationError as error:
        raise pytest.UsageError(f"qtask-verify configuration: {error}") from None


def environment_of(config: pytest.Config) -> Environment:
    return config.stash[ENVIRONMENT_KEY]


def state_directory(config: pytest.Config) -> Path:
    """Where the suite keeps its ledgers and locks, beside the suite."""
    return config.rootpath / STATE_DIRECTORY


def cleanup_ledger_of(config: pytest.Config) -> CleanupLedger:
    return recovery.ledger_of(config, state_directory(config))


def start(session: pytest.Session) -> None:
    """Finish what dead runs left, preflight and sweep, once per run."""
    config = session.config
    if is_xdist_worker(config) or config.option.collectonly:
        return
    env = environment_of(config)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    say = terminal.write_line if terminal is not None else print
    report = recovery.prepare(
        config, env, preflight_timeout_s(config), state_directory(config), say
    )
    config.stash[PREFLIGHT_KEY] = report
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


def hand_to_xdist_worker(node: object) -> None:
    """Tell an xdist worker process since when the preflight saw no consumer."""
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
