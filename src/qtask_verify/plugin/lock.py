"""The deployment lock: scenarios that change the deployment run alone, across processes.

Every scenario holds a shared lock on the deployment; one that needs the controller holds it
exclusively. A turnstile keeps a waiting exclusive scenario from being starved by a stream of
shared ones. The lock files live in the suite's state directory, keyed by the deployment, so
runs against different deployments never wait for each other (also across xdist workers).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..redaction import mask_url
from .startup import environment_of, state_directory


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


def hold_deployment(config: pytest.Config, exclusive: bool) -> Iterator[None]:
    """The body of the autouse ``deployment_lock`` fixture, around one scenario."""
    directory = state_directory(config)
    directory.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(mask_url(environment_of(config).database_url).encode()).hexdigest()[:12]
    fd = _acquire(directory, key, exclusive)
    try:
        yield
    finally:
        os.close(fd)
