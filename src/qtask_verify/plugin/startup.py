"""The run's deployment: its environment, the preflight, and the sweep of what dead runs left.

The environment is loaded when something first needs it (the preflight, a fixture, the ordering
of a verifying run), so `pytest -c suite.ini --collect-only`, `--markers`, `--fixtures` and
`--generate-missing` work without a deployment. The preflight runs once per verifying run, in the
only process or the xdist controller, before collection; its report is in
``config.stash[PREFLIGHT_KEY]`` and the environment in ``config.stash[ENVIRONMENT_KEY]``. A failed
preflight ends the run at once with one line per broken component (exit code 1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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
    if is_xdist_worker(config) or looking_only(config):
        return
    env = environment_of(config)
    ledger = cleanup_ledger_of(config) if env.allow_mutating else None
    report, swept = asyncio.run(_start(env, preflight_timeout_s(config), ledger))
    config.stash[PREFLIGHT_KEY] = report
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        for line in preflight_lines(report):
            terminal.write_line(line, red=not report.ok)
    if not report.ok:
        if terminal is not None:
            config.pluginmanager.register(_QuietExit(terminal), "qtask-quiet-preflight-exit")
        pytest.exit(PREFLIGHT_EXIT, returncode=pytest.ExitCode.TESTS_FAILED)
    if swept is not None:
        config.stash[SWEPT_TASKS_KEY] = swept
    if report.consumers == 0:
        config.stash[UNCONSUMED_SINCE_KEY] = time.time()


PREFLIGHT_EXIT = "preflight failed: no scenario was run"


class _QuietExit:
    """The preflight's lines say it all: no "!!! _pytest.outcomes.Exit !!!" banner after them.

    pytest keeps the exit to print it as an interruption at the end; pytest has no option to
    leave it out, so the terminal reporter's memo of it (``_keyboardinterrupt_memo``) is dropped.
    """

    def __init__(self, terminal: object) -> None:
        self.terminal = terminal

    @pytest.hookimpl(trylast=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, pytest.exit.Exception) and excinfo.value.msg == PREFLIGHT_EXIT:
            self.terminal._keyboardinterrupt_memo = None  # type: ignore[attr-defined]


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
