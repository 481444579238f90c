"""Every promise of a scenario is checked: a failed check does not hide the checks after it.

pytest-bdd stops a scenario at its first failing step, so a minor failure (a health answer) could
hide a worse one further on (an accepted task lost). A ``Then`` step that provides no fixture
(no ``target_fixture``) and tears nothing down only checks: nothing after it depends on it. When
it fails with a :class:`~qtask_verify.errors.DeploymentFault`, the suite's step wrapper
(``bdd``) holds the fault here and the scenario goes on. Any other failure stops the scenario as
before: a Given or a When (later steps act on what it did), a Then that provides a fixture (a
later step may need it), a step with teardown, an exception the suite could not diagnose.

When the test call ends, the held faults, and the exception that stopped the scenario if any,
are raised together as one :class:`ScenarioFaults` (an ``ExceptionGroup``, so pytest prints
every traceback), headed by the worst: an accepted task lost, else the first. A Ctrl-C or
``pytest.exit`` that stops the scenario is left as it is: the run is being interrupted.

Faults are held only in a scenario the suite's plugin opened (``pytest_bdd_before_scenario``);
elsewhere a step fails at once, so a step can never pass by being held where nothing raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from pytest_bdd.parser import Step

from .errors import DeploymentFault

_HELD = pytest.StashKey["_Held"]()
# A stop of the whole run, not a failure of the scenario: never replaced by the held faults.
_RUN_STOPS = (KeyboardInterrupt, SystemExit, pytest.exit.Exception)


@dataclass
class _Held:
    running: Step | None = None
    faults: list[tuple[Step | None, DeploymentFault]] = field(default_factory=list)


class ScenarioFaults(AssertionError, ExceptionGroup):
    """Every failure of one scenario, in step order; ``headline`` is the worst of them.

    An ``AssertionError`` like each fault it holds, so pytest and Allure count the scenario as
    failed (not broken); its message is the headline, "component: what was observed".
    """

    def __new__(cls, failures: Sequence[Exception]) -> ScenarioFaults:
        return ExceptionGroup.__new__(cls, _said(_worst(failures)), list(failures))

    def __init__(self, failures: Sequence[Exception]) -> None:
        ExceptionGroup.__init__(self, _said(_worst(failures)), list(failures))

    def derive(self, excs: Sequence[Exception]) -> ScenarioFaults:  # type: ignore[override]
        return ScenarioFaults(excs)

    @property
    def headline(self) -> Exception:
        return _worst(self.exceptions)


def _worst(failures: Sequence[Exception]) -> Exception:
    """A fault that lost an accepted task, else the first failure."""
    return next((f for f in failures if isinstance(f, DeploymentFault) and f.loss), failures[0])


def _said(failure: Exception) -> str:
    return str(failure) or type(failure).__name__


def open_scenario(node: pytest.Item) -> None:
    """From now on a failed checking step of this test is held (pytest_bdd_before_scenario)."""
    node.stash[_HELD] = _Held()


def step_started(node: pytest.Item, step: Step) -> None:
    """Note the step that a fault held next belongs to (pytest_bdd_before_step)."""
    held = node.stash.get(_HELD, None)
    if held is not None:
        held.running = step


def hold(node: pytest.Item, fault: DeploymentFault) -> bool:
    """Keep ``fault`` for the end of the scenario; False when no open scenario can hold it."""
    held = node.stash.get(_HELD, None)
    if held is None:
        return False
    held.faults.append((held.running, fault))
    return True


def failed_at(node: pytest.Item, step: Step) -> bool:
    """Whether ``step`` failed and the scenario went on (it ended without raising)."""
    held = node.stash.get(_HELD, None)
    return held is not None and any(where is step for where, _ in held.faults)


def close_scenario(node: pytest.Item, stopper: BaseException | None) -> ScenarioFaults | None:
    """What the test call raises instead of ending as it did (None: as it did).

    Called once the call ended, with the exception it ended with, if any. A failure that
    stopped the scenario joins the held faults; a skip stopping it after a failure does not
    make it skipped (the skip stays as the cause, with its reason).
    """
    held = node.stash.get(_HELD, None)
    if held is None:
        return None
    del node.stash[_HELD]  # a rerun opens its own; the faults' frames are not kept alive
    if not held.faults or isinstance(stopper, _RUN_STOPS):
        return None
    failures: list[Exception] = [fault for _, fault in held.faults]
    if isinstance(stopper, Exception):
        failures.append(stopper)
    faults = ScenarioFaults(failures)
    faults.__cause__ = None if isinstance(stopper, Exception) else stopper
    faults.__suppress_context__ = True
    return faults
