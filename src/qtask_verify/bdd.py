"""Async step definitions for pytest-bdd, all on one event loop.

pytest-bdd 9 does not await ``async def`` steps, and a fresh loop per step breaks clients that
keep connections (httpx, asyncpg, aio-pika). So the suite's ``given``/``when``/``then`` and
``fixture`` decorators wrap coroutine functions (and async generators, whose code after ``yield``
is teardown) into plain functions that run them on the one ``asyncio.Runner`` of the session,
provided by the ``qtask_runner`` fixture. ``asyncio.Runner`` turns Ctrl-C into a cancellation of
the running step, so its ``finally`` blocks and the fixtures' teardown still run.

Use them exactly like pytest-bdd's::

    from qtask_verify.bdd import given, then

    @then("the database answers")
    async def _(database: DatabaseInspector) -> None: ...

A coroutine step registered with pytest-bdd's own decorators would never be awaited and would
pass without checking anything; :func:`refuse_unawaited` (wired to pytest-bdd's
``pytest_bdd_before_step_call`` hook by the plugin) fails it before it is called. The wrappers
hide their own frames from tracebacks (``__tracebackhide__``).

A step (sync or async) that raises an exception no check anticipated (a driver's error from
asyncpg, httpx or aiormq, a timeout, an answer of an unexpected shape) fails with a diagnosis:
:func:`~qtask_verify.errors.unexpected_fault` names the component (by the library, else by the
scenario's component tag) in one plain sentence and keeps the raw error as the detail.

A ``then`` step that provides no fixture only checks, so its diagnosed failure does not stop
the scenario: it is held (see :mod:`~qtask_verify.promises`) and every later promise is
checked too; the scenario fails at its end with all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

import pytest
import pytest_bdd
from pytest_bdd.parser import Step

from . import interruption, promises
from .errors import COMPONENT_TAGS, Component, DeploymentFault, QtaskVerifyError, unexpected_fault

RUNNER_FIXTURE = "qtask_runner"
REQUEST_FIXTURE = "request"

F = TypeVar("F", bound=Callable[..., Any])


class UnawaitedStep(QtaskVerifyError):
    """A coroutine function registered as a step with pytest-bdd's decorators."""


def refuse_unawaited(step: Step, step_func: Callable[..., Any]) -> None:
    """Fail a step whose function pytest-bdd would call without awaiting it."""
    if inspect.iscoroutinefunction(step_func) or inspect.isasyncgenfunction(step_func):
        raise UnawaitedStep(
            f'step "{step.keyword} {step.name}" is an async function registered with '
            f"pytest_bdd's decorator, so it would never be awaited and would check nothing: "
            f"register {step_func.__module__}.{step_func.__qualname__} with qtask_verify.bdd"
        )


def on_runner(func: Callable[..., Any]) -> Callable[..., Any]:
    """Return a synchronous equivalent of ``func`` that runs it on the session's runner.

    Plain functions are returned unchanged. The wrapper's signature is ``func``'s plus the
    ``qtask_runner`` fixture, so pytest and pytest-bdd inject both.
    """
    if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
        return func
    signature = inspect.signature(func)
    wants_runner = RUNNER_FIXTURE in signature.parameters

    def runner_from(kwargs: dict[str, Any]) -> asyncio.Runner:
        runner: asyncio.Runner = (
            kwargs[RUNNER_FIXTURE] if wants_runner else kwargs.pop(RUNNER_FIXTURE)
        )
        return runner

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        def run_coroutine(**kwargs: Any) -> Any:
            __tracebackhide__ = True
            runner = runner_from(kwargs)
            return runner.run(func(**kwargs))

        wrapper = run_coroutine
    else:

        def run_async_generator(**kwargs: Any) -> Generator[Any, None, None]:
            __tracebackhide__ = True
            runner = runner_from(kwargs)
            agen = func(**kwargs)
            yield runner.run(agen.__anext__())
            try:
                runner.run(agen.__anext__())
            except StopAsyncIteration:
                return
            if interruption.stopping():  # a teardown the stop cut short (see SessionRunner)
                return
            raise RuntimeError(f"{func.__qualname__} yielded more than once")

        wrapper = run_async_generator

    parameters = list(signature.parameters.values())
    if not wants_runner:
        position = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)
        parameters.insert(
            position, inspect.Parameter(RUNNER_FIXTURE, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[union-attr]
    wrapper.__name__ = func.__name__
    wrapper.__qualname__ = func.__qualname__
    wrapper.__doc__ = func.__doc__
    wrapper.__module__ = func.__module__
    return wrapper


def scenario_component(request: pytest.FixtureRequest) -> Component | None:
    """The component the running scenario is about, by its component tag (None if untagged)."""
    for marker in request.node.iter_markers():
        component = COMPONENT_TAGS.get(marker.name)
        if component is not None:
            return component
    return None


@contextlib.contextmanager
def _diagnosed(request: pytest.FixtureRequest, holds: bool) -> Iterator[None]:
    """An exception no check anticipated leaves as a diagnosis naming the component; with
    ``holds``, a diagnosis is held for the end of the scenario instead of stopping it."""
    __tracebackhide__ = True
    try:
        try:
            yield
        except Exception as error:
            fault = unexpected_fault(error, scenario_component(request))
            if fault is None:
                raise
            raise fault from error
    except DeploymentFault as fault:
        if not (holds and promises.hold(request.node, fault)):
            raise


def diagnosing(func: Callable[..., Any], *, holds: bool = False) -> Callable[..., Any]:
    """Return ``func`` (a synchronous step function, or a generator one whose code after
    ``yield`` is teardown) turning unexpected exceptions into diagnoses.

    The wrapper's signature is ``func``'s plus pytest's ``request`` fixture, from which it reads
    the scenario's component tag (see :func:`scenario_component`). With ``holds`` (a step that
    only checks), a plain step's diagnosed failure is held and the scenario goes on; a step
    with teardown always stops it (pytest-bdd needs its ``yield``).
    """
    signature = inspect.signature(func)
    wants_request = REQUEST_FIXTURE in signature.parameters

    def request_from(kwargs: dict[str, Any]) -> pytest.FixtureRequest:
        request: pytest.FixtureRequest = (
            kwargs[REQUEST_FIXTURE] if wants_request else kwargs.pop(REQUEST_FIXTURE)
        )
        return request

    run_step: Callable[..., Any]
    if inspect.isgeneratorfunction(func):  # a step with teardown: pytest-bdd runs it as one

        def run_generator_step(**kwargs: Any) -> Generator[Any, Any, Any]:
            __tracebackhide__ = True
            with _diagnosed(request_from(kwargs), holds=False):
                return (yield from func(**kwargs))

        run_step = run_generator_step
    else:

        def run_plain_step(**kwargs: Any) -> Any:
            __tracebackhide__ = True
            with _diagnosed(request_from(kwargs), holds):
                return func(**kwargs)

        run_step = run_plain_step

    parameters = list(signature.parameters.values())
    if not wants_request:
        position = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)
        parameters.insert(
            position, inspect.Parameter(REQUEST_FIXTURE, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )
    run_step.__signature__ = signature.replace(parameters=parameters)  # type: ignore[union-attr]
    run_step.__name__ = func.__name__
    run_step.__qualname__ = func.__qualname__
    run_step.__doc__ = func.__doc__
    run_step.__module__ = func.__module__
    return run_step


def _step(
    kind: Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]],
    name: str | Any,
    converters: dict[str, Callable[[str], object]] | None,
    target_fixture: str | None,
    stacklevel: int,
) -> Callable[[F], F]:
    # pytest-bdd registers the step in the module ``stacklevel`` frames above the caller of its
    # decorator; that caller is our ``decorate``, one frame deeper than the step module.
    register = kind(
        name, converters=converters, target_fixture=target_fixture, stacklevel=stacklevel + 1
    )

    # Only a Then that provides nothing checks without a later step depending on it.
    holds = kind is pytest_bdd.then and target_fixture is None

    def decorate(func: F) -> F:
        register(diagnosing(on_runner(func), holds=holds))
        return func

    return decorate


def given(
    name: str | Any,
    converters: dict[str, Callable[[str], object]] | None = None,
    target_fixture: str | None = None,
    stacklevel: int = 1,
) -> Callable[[F], F]:
    """pytest-bdd's ``given`` for sync or async step functions."""
    return _step(pytest_bdd.given, name, converters, target_fixture, stacklevel)


def when(
    name: str | Any,
    converters: dict[str, Callable[[str], object]] | None = None,
    target_fixture: str | None = None,
    stacklevel: int = 1,
) -> Callable[[F], F]:
    """pytest-bdd's ``when`` for sync or async step functions."""
    return _step(pytest_bdd.when, name, converters, target_fixture, stacklevel)


def then(
    name: str | Any,
    converters: dict[str, Callable[[str], object]] | None = None,
    target_fixture: str | None = None,
    stacklevel: int = 1,
) -> Callable[[F], F]:
    """pytest-bdd's ``then`` for sync or async step functions."""
    return _step(pytest_bdd.then, name, converters, target_fixture, stacklevel)


def fixture(*, scope: str = "function", name: str | None = None) -> Callable[[F], F]:
    """``pytest.fixture`` for async functions and async generators, run on the session runner."""

    def decorate(func: F) -> F:
        return pytest.fixture(scope=scope, name=name or func.__name__)(on_runner(func))  # type: ignore[call-overload]

    return decorate
