"""Deployment controllers: how @needs_controller scenarios pause and resume parts of a deployment.

A controller is configured per environment (``[profiles.NAME.controller]`` in environments.toml)
as commands per action; the local profile drives ``qtask-stack``. Without one, the scenarios
that need it are skipped with the reason, never passed.

A command, once started, is never left half done by the suite: it runs in a session of its own
(a Ctrl-C in the terminal does not reach it), writes to a file rather than a pipe (it outlives
the suite's death), and a cancelled wait leaves it running to the end. Only its own timeout
ends it. Whoever acts on the same part next waits for it first (the intervention journal keeps
its pid), so a ``start`` never meets a ``stop`` still under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import IO, Literal, Protocol

from ..config import ControllerSettings
from ..errors import ControllerError
from ..redaction import Redactor

Action = Literal["stop", "start", "kill"]
DeploymentPart = Literal["api", "worker", "database", "broker"]


class DeploymentController(Protocol):
    """Changes a running deployment, e.g. stops its workers; raises ControllerError on failure."""

    async def run(self, action: Action, component: DeploymentPart) -> None: ...

    async def begin(self, action: Action, component: DeploymentPart) -> PendingAction:
        """Start the action without waiting for it; ``wait()`` on the result gives its outcome."""
        ...


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)
    return [_resolve_program(argv[0]), *argv[1:]]


def _resolve_program(program: str) -> str:
    """Find a program on PATH, else next to this Python (a virtualenv's bin, not activated)."""
    found = shutil.which(program)
    if found:
        return found
    sibling = Path(sys.executable).parent / program
    return str(sibling) if sibling.exists() else program


class CommandController:
    """Runs the configured command for an action, e.g. ``qtask-stack stop worker``."""

    def __init__(self, settings: ControllerSettings, redactor: Redactor | None = None) -> None:
        self._settings = settings
        self._redact = redactor or Redactor()

    def command(self, action: Action, component: DeploymentPart) -> list[str]:
        template = getattr(self._settings, action)
        if not template:
            raise ControllerError(f"the controller has no command to {action} a component")
        return _argv(template.replace("{component}", component))

    @property
    def switches_tracing(self) -> bool:
        """Whether a ``trace`` command is configured (see :meth:`switch_tracing`)."""
        return bool(self._settings.trace)

    async def switch_tracing(self, on: bool) -> None:
        """Run the ``trace`` command with ``{state}`` on or off, and wait until it has finished."""
        if not self._settings.trace:
            raise ControllerError("the controller has no command to switch message tracing")
        state = "on" if on else "off"
        argv = _argv(self._settings.trace.replace("{state}", state))
        await (await self._launch(f"trace {state}", argv)).wait()

    async def run(self, action: Action, component: DeploymentPart) -> None:
        """Run the command for ``action`` and wait until it has finished."""
        await (await self.begin(action, component)).wait()

    async def begin(self, action: Action, component: DeploymentPart) -> PendingAction:
        """Start the command for ``action`` without waiting for it; await ``wait()`` later.

        The command runs as its own process, so it makes progress while the caller does other
        things (also while the event loop is idle between steps).
        """
        return await self._launch(f"{action} {component}", self.command(action, component))

    async def _launch(self, description: str, argv: list[str]) -> PendingAction:
        output = tempfile.TemporaryFile()  # noqa: SIM115 (the command's, closed by PendingAction)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self._settings.working_directory,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            output.close()
            raise
        return PendingAction(description, process, output, self._settings.timeout_s, self._redact)


class PendingAction:
    """A controller command under way: :meth:`wait` gives its outcome (ControllerError if bad).

    A cancelled :meth:`wait` leaves the command running (see the module's docstring).
    """

    def __init__(
        self,
        description: str,
        process: asyncio.subprocess.Process,
        output: IO[bytes],
        timeout_s: float,
        redact: Redactor,
    ) -> None:
        self.description = description
        self._process = process
        self._output = output
        self._timeout_s = timeout_s
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._redact = redact

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def finished(self) -> bool:
        return self._process.returncode is not None

    async def wait(self) -> None:
        process = self._process
        try:
            async with asyncio.timeout_at(self._deadline):
                await process.wait()
        except TimeoutError:
            _kill_session(process.pid)
            await process.wait()
            self._output.close()
            raise ControllerError(
                f"`{self.description}` did not finish within {self._timeout_s:.0f} s"
            ) from None
        except asyncio.CancelledError:
            if process.returncode is not None:
                self._output.close()
            raise
        self._output.seek(0)
        output = self._output.read()
        self._output.close()
        if process.returncode != 0:
            last_line = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise ControllerError(
                f"`{self.description}` failed (exit {process.returncode}): "
                f"{self._redact(last_line[0])}"
            )


def _kill_session(pid: int) -> None:
    """SIGKILL a command and what it started in its session (its pid is the group's id)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def controller_for(
    settings: ControllerSettings | None, redactor: Redactor | None = None
) -> CommandController | None:
    """The environment's controller, or None when it has none."""
    return None if settings is None else CommandController(settings, redactor)
