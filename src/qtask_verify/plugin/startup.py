"""The run's deployment: its environment, the preflight, and the sweep of what dead runs left.

The preflight runs once per run, in the only process or the xdist controller, before
collection; its report is in ``config.stash[PREFLIGHT_KEY]`` and the environment in
``config.stash[ENVIRONMENT_KEY]``. A failed preflight ends the run at once with one line per
broken component (exit code 1).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ..clients import DatabaseInspector
from ..config import Environment, load_environment
from ..deployment.ledger import CleanupLedger, ledger_path, sweep
from ..deployment.preflight import PreflightReport, run_preflight
from ..errors import ConfigurationError
from .options import environment_name, preflight_timeout_s

PREFLIGHT_KEY = pytest.StashKey[PreflightReport]()
ENVIRONMENT_KEY = pytest.StashKey[Environment]()
SWEPT_TASKS_KEY = pytest.StashKey[int]()
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
    env = environment_of(config)
    return CleanupLedger(ledger_path(state_directory(config), env.name, env.database_url))


async def _sweep_abandoned_tasks(env: Environment, ledger: CleanupLedger) -> int:
    database = await DatabaseInspector.connect(env.database_url, timeout_s=5.0)
    try:
        return await sweep(ledger, database)
    finally:
        await database.close()


async def _start(
    env: Environment, timeout_s: float, ledger: CleanupLedger | None
) -> tuple[PreflightReport, int | None]:
    """The preflight and, at the same time, the sweep of what dead runs left behind.

    A sweep that fails because the deployment is broken is moot: the preflight says why.
    """
    preflight = run_preflight(env, timeout_s)
    if ledger is None:
        return await preflight, None
    report, swept = await asyncio.gather(
        preflight, _sweep_abandoned_tasks(env, ledger), return_exceptions=True
    )
    if isinstance(report, BaseException):
        raise report
    if isinstance(swept, BaseException):
        if report.ok:
            raise swept
        return report, None
    return report, swept


def start(session: pytest.Session) -> None:
    """Preflight and sweep, once per run; a failed preflight ends the run."""
    config = session.config
    if is_xdist_worker(config) or config.option.collectonly:
        return
    env = environment_of(config)
    ledger = cleanup_ledger_of(config) if env.allow_mutating else None
    report, swept = asyncio.run(_start(env, preflight_timeout_s(config), ledger))
    config.stash[PREFLIGHT_KEY] = report
    if not report.ok:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:  # pytest repeats the exit message twice: say the details once
            for failure in report.failures:
                terminal.write_line(f"preflight: {failure}", red=True)
        pytest.exit(
            "preflight failed, no scenario was run", returncode=pytest.ExitCode.TESTS_FAILED
        )
    if swept is not None:
        config.stash[SWEPT_TASKS_KEY] = swept
    if report.consumers == 0:
        config.stash[UNCONSUMED_SINCE_KEY] = time.time()


def hand_to_xdist_worker(node: object) -> None:
    """Tell an xdist worker process since when the preflight saw no consumer."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    since = config.stash.get(UNCONSUMED_SINCE_KEY, None)
    if since is not None:
        node.workerinput[UNCONSUMED_SINCE_INPUT] = since  # type: ignore[attr-defined]


def unconsumed_since(config: pytest.Config) -> float | None:
    """Since when (wall clock) the run has seen the task queue without consumers, if it has."""
    if is_xdist_worker(config):
        since = config.workerinput.get(UNCONSUMED_SINCE_INPUT)  # type: ignore[attr-defined]
        return None if since is None else float(since)
    return config.stash.get(UNCONSUMED_SINCE_KEY, None)
