"""Fixtures shared by the project's tests.

`local_stack` is the real reference deployment for tests that need one (tests/service/,
tests/suite/): a private PostgreSQL, RabbitMQ, API and 2 workers on free ports in a temporary
state directory, started once per test session and always brought down at its end (also after a
failure or Ctrl-C). It yields a `qtask_stack.Stack`; the useful parts are:

    local_stack.suite_env()     # {"QTASK_API_URL": ..., "QTASK_DATABASE_URL": ..., ...}
    local_stack.service_env()   # {"QTASK_SERVICE_DATABASE_URL": ..., ...}
    local_stack.kill("worker", 1); local_stack.start("worker", 1)   # fault injection

A test that breaks a component must restore it (`start`) before it ends, since the stack is
shared by the whole session. Tests that need a stack of their own (a different service command,
or `down`) use `qtask_stack.temporary_stack()` directly. The fixture is synchronous on purpose:
it works with or without pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qtask_stack import Stack, temporary_stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Stack]:
    """A running private stack for the session (API on a free port, 2 workers)."""
    with temporary_stack(workers=2) as stack:
        yield stack
