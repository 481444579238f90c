"""The suite's pytest plugin: it only wires hooks to the modules that do the work.

Loaded by the suite's ini file (``-p qtask_verify.plugin``):

- ``markers``: every Gherkin tag as a registered marker;
- ``options``: the suite's command-line options;
- ``startup``: the environment (loaded when first needed), the preflight and the sweep of
  abandoned tasks, after ``recovery`` finished what dead runs left undone (``preflight_case``
  when the preflight failed);
- ``ordering``: what the environment allows, and the order scenarios run in;
- ``fixtures`` (with ``lock``): clients, controller, cleanup ledger, deployment lock;
- ``performance``: figures a scenario measured, carried to the run record;
- ``bdd``: a coroutine step registered with plain pytest-bdd fails instead of passing unawaited.
"""

from __future__ import annotations

from typing import Any

import pytest

from .. import bdd, interruption
from . import fixtures, ordering, startup
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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist: tell each worker process what the controller's preflight saw."""
    startup.hand_to_xdist_worker(node)


@pytest.hookimpl(trylast=True)  # after -m and -k chose, so the preflight case stays selected
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    ordering.order(items)
    if not startup.looking_only(config):
        ordering.skip_what_is_not_allowed(startup.environment_of(config), items)
        startup.replace_scenarios_if_broken(session, config, items)


def pytest_keyboard_interrupt() -> None:
    """From now on restoring and teardown are bounded (see ``interruption``)."""
    interruption.note()


def pytest_bdd_before_step_call(step: Any, step_func: Any) -> None:
    bdd.refuse_unawaited(step, step_func)
