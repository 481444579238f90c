"""The run's message tracing: switched once per run (the only process, or the xdist controller)
after the preflight, switched back at the end of the session, also after Ctrl-C; the reason it is
unavailable reaches every process, whose ``message_trace`` fixture then skips the scenarios that
need it with that reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from ..clients import BrokerInspector
from ..config import Environment
from ..deployment.controller import controller_for
from ..deployment.tracing import RunTracing, begin_run_tracing, end_run_tracing
from . import recovery
from .startup import PREFLIGHT_KEY, environment_of, is_xdist_worker, looking_only, state_directory

RUN_TRACING_KEY = pytest.StashKey[RunTracing]()
UNAVAILABLE_INPUT = "qtask_tracing_unavailable"
T = TypeVar("T")


def _with_broker(env: Environment, act: Callable[[BrokerInspector], Coroutine[Any, Any, T]]) -> T:
    async def run() -> T:
        broker = BrokerInspector(
            env.management_url, env.management_user, env.management_password, env.amqp_url
        )
        try:
            return await act(broker)
        finally:
            await broker.aclose()

    return asyncio.run(run())


def start(session: pytest.Session) -> None:
    """After a good preflight, where scenarios may submit tasks: tracing as the profile says."""
    config = session.config
    if is_xdist_worker(config) or looking_only(config):
        return
    report = config.stash.get(PREFLIGHT_KEY, None)
    env = environment_of(config)
    if report is None or not report.ok or not env.allow_mutating:
        return
    journal = recovery.journal_of(config, state_directory(config), env.name)
    controller = controller_for(env.controller, env.redactor())
    config.stash[RUN_TRACING_KEY] = _with_broker(
        env, lambda broker: begin_run_tracing(env, broker, journal, controller)
    )


def finish(session: pytest.Session) -> None:
    """Switch tracing off again if the run switched it on; one line if that failed."""
    config = session.config
    run = config.stash.get(RUN_TRACING_KEY, None)
    if run is None or run.switched is None:
        return
    env = environment_of(config)
    journal = recovery.journal_of(config, state_directory(config), env.name)
    controller = controller_for(env.controller, env.redactor())
    problem = _with_broker(
        env, lambda broker: end_run_tracing(env, broker, journal, controller, run)
    )
    if problem is not None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        say = terminal.write_line if terminal is not None else print
        say(f"qtask-verify: {problem}; the next run switches it off")


def hand_to_xdist_worker(node: object) -> None:
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    node.workerinput[UNAVAILABLE_INPUT] = unavailable(config)  # type: ignore[attr-defined]


def unavailable(config: pytest.Config) -> str | None:
    """Why this run cannot see the task messages (None: it can)."""
    if is_xdist_worker(config):
        return config.workerinput.get(UNAVAILABLE_INPUT)  # type: ignore[attr-defined]
    run = config.stash.get(RUN_TRACING_KEY, None)
    if run is None:
        return "message tracing is prepared only after a good preflight, where tasks may be sent"
    return run.unavailable
