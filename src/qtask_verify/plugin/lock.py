"""The deployment lock: scenarios that change the deployment run alone, across processes.

Every scenario holds a shared lock on the deployment; one that needs the controller holds it
exclusively. A turnstile keeps a waiting exclusive scenario from being starved by a stream of
shared ones. The lock files live in the suite's state directory, keyed by the deployment, so
runs against different deployments never wait for each other (also across xdist workers).

A scenario that paused the workers hands their return to the consumer watch and keeps its
exclusive lock until they are back: meanwhile this process goes on with scenarios that need no
worker (under that lock), and the first wait for a worker awaits the return; the lock is
released at the end of the scenario that saw the workers back. The next scenario that changes
the deployment awaits the return before it starts.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..checks.consumers import ConsumerWatch
from ..redaction import mask_url
from .startup import environment_of, state_directory

# The exclusive deployment lock a scenario left held while the workers it paused come back.
HELD_LOCK_KEY = pytest.StashKey[int]()


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


def _acquire(directory: Path, key: str, exclusive: bool) -> int:
    turnstile = directory / f"deployment-{key}.turnstile"
    lock = directory / f"deployment-{key}.lock"
    with _flock(turnstile, fcntl.LOCK_EX):
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return fd


def release_held(config: pytest.Config) -> None:
    """Release the lock a scenario kept while the workers it paused came back."""
    held = config.stash.get(HELD_LOCK_KEY, None)
    if held is not None:
        del config.stash[HELD_LOCK_KEY]
        os.close(held)


def hold_deployment(
    config: pytest.Config,
    exclusive: bool,
    consumer_watch: ConsumerWatch,
    runner: asyncio.Runner,
) -> Iterator[None]:
    """The body of the autouse ``deployment_lock`` fixture, around one scenario."""
    if HELD_LOCK_KEY in config.stash and (exclusive or not consumer_watch.restoring):
        try:
            if exclusive:
                runner.run(consumer_watch.settled())
        finally:
            release_held(config)
    if HELD_LOCK_KEY in config.stash:
        try:
            yield
        finally:
            if not consumer_watch.restoring:
                release_held(config)
        return
    directory = state_directory(config)
    directory.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(mask_url(environment_of(config).database_url).encode()).hexdigest()[:12]
    fd = _acquire(directory, key, exclusive)
    try:
        yield
    finally:
        if exclusive and consumer_watch.restoring:
            config.stash[HELD_LOCK_KEY] = fd
        else:
            os.close(fd)
