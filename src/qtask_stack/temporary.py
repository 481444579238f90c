"""A throw-away stack for tests: its own state directory, a free API port, always torn down.

Tests must never take fixed ports (others run stacks on the same machine) nor leave processes
behind when they fail or are interrupted, so this is the one way tests should start a stack.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from qtask_stack.stack import Stack, StackConfig


@contextmanager
def temporary_stack(
    *,
    workers: int = 2,
    api_argv: Sequence[str] | None = None,
    worker_argv: Sequence[str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    vhost: str | None = None,
) -> Iterator[Stack]:
    """Bring a private stack up in a new temporary directory; destroyed on exit.

    The teardown runs on any exit, KeyboardInterrupt included, and also when `up` fails halfway;
    it removes the database cluster too, also when it lives outside the directory. The stack is
    registered as temporary, so no user command mistakes it for the user's stack.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="qtask-stack-"))
    stack = Stack(
        StackConfig(
            state_dir=state_dir,
            api_port=0,
            workers=workers,
            api_argv=api_argv,
            worker_argv=worker_argv,
            extra_env=dict(extra_env or {}),
            vhost=vhost,
            temporary=True,
        )
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()
