"""The suite's pytest plugin: it only wires hooks to the modules that do the work.

Loaded by the suite's ini file (``-p qtask_verify.plugin``):

- ``markers``: every Gherkin tag as a registered marker;
- ``options``: the suite's command-line options;
- ``startup``: the environment (loaded when first needed), the preflight and the sweep of
  abandoned tasks, after ``recovery`` finished what dead runs left undone (``preflight_case``
  when the preflight failed);
- ``ordering``: which scenarios the environment allows to run;
- ``fixtures`` (with ``lock``): clients, controller, cleanup ledger, deployment lock;
- ``tracing``: the broker's message tracing switched for the run as the profile says, and back;
- ``performance``: figures a scenario measured, carried to the run record;
- ``bdd``: a coroutine step registered with plain pytest-bdd fails instead of passing unawaited;
- ``promises``: a failed check does not stop its scenario; it fails at the end with them all.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .. import bdd, interruption, promises
from . import fixtures, ordering, startup, tracing
from .markers import register_markers
from .options import add_options


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    config.pluginmanager.register(fixtures, "qtask-verify-fixtures")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    startup.start(session)
    tracing.start(session)


def pytest_sessionfinish(session: pytest.Session) -> None:
    tracing.finish(session)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist: tell each worker process what the controller's preflight saw."""
    startup.hand_to_xdist_worker(node)
    tracing.hand_to_xdist_worker(node)


@pytest.hookimpl(trylast=True)  # after -m and -k chose, so the preflight case stays selected
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not startup.looking_only(config):
        ordering.skip_what_is_not_allowed(startup.environment_of(config), items)
        startup.replace_scenarios_if_broken(session, config, items)


def pytest_keyboard_interrupt() -> None:
    """From now on restoring and teardown are bounded (see ``interruption``)."""
    interruption.note()


def pytest_bdd_before_step_call(step: Any, step_func: Any) -> None:
    bdd.refuse_unawaited(step, step_func)


def pytest_bdd_before_scenario(request: pytest.FixtureRequest) -> None:
    promises.open_scenario(request.node)


def pytest_bdd_before_step(request: pytest.FixtureRequest, step: Any) -> None:
    promises.step_started(request.node, step)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """The scenario's held faults fail it, with what stopped it: pytest-bdd's own
    ``pytest_bdd_after_scenario`` runs in a ``finally`` and cannot see that (a skip, a Ctrl-C)."""
    try:
        yield
    except BaseException as stopper:
        if (faults := promises.close_scenario(item, stopper)) is None:
            raise
        raise faults  # noqa: B904 (its cause is set: the skip that stopped it, or none)
    if (faults := promises.close_scenario(item, None)) is not None:
        raise faults
