"""The command controller runs the configured commands and reports failures masked."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from qtask_verify.config import ControllerSettings
from qtask_verify.deployment.controller import CommandController, controller_for
from qtask_verify.errors import ControllerError
from qtask_verify.redaction import Redactor

PYTHON = sys.executable


def settings(tmp_path: Path, **commands: str) -> ControllerSettings:
    return ControllerSettings(working_directory=tmp_path, timeout_s=5.0, **commands)


def test_no_settings_means_no_controller() -> None:
    assert controller_for(None) is None


def test_component_is_substituted_into_the_command(tmp_path: Path) -> None:
    controller = CommandController(
        settings(tmp_path, stop="qtask-stack --state-dir 'a b' stop {component}")
    )
    assert controller.command("stop", "worker")[1:] == ["--state-dir", "a b", "stop", "worker"]


async def test_command_runs_in_the_working_directory(tmp_path: Path) -> None:
    script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('stopped')"
    controller = CommandController(settings(tmp_path, stop=f'{PYTHON} -c "{script}" {{component}}'))
    await controller.run("stop", "worker")
    assert (tmp_path / "worker").read_text() == "stopped"


async def test_failure_names_the_action_and_masks_secrets(tmp_path: Path) -> None:
    script = "import sys; print('connecting with hunter2'); sys.exit(3)"
    controller = CommandController(
        settings(tmp_path, kill=f'{PYTHON} -c "{script}"'), Redactor(["hunter2"])
    )
    with pytest.raises(ControllerError) as raised:
        await controller.run("kill", "broker")
    assert str(raised.value) == "`kill broker` failed (exit 3): connecting with ***"


async def test_a_hanging_command_is_killed_at_the_timeout(tmp_path: Path) -> None:
    controller = CommandController(
        ControllerSettings(
            start=f'{PYTHON} -c "import time; time.sleep(30)"',
            timeout_s=0.5,
            working_directory=tmp_path,
        )
    )
    with pytest.raises(ControllerError, match="did not finish within"):
        await controller.run("start", "api")


async def test_an_action_without_a_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ControllerError, match="no command to start"):
        await CommandController(settings(tmp_path)).run("start", "worker")


async def test_begin_returns_while_the_command_runs_and_wait_gives_its_outcome(
    tmp_path: Path,
) -> None:
    script = (
        "import pathlib, sys, time; time.sleep(0.5); pathlib.Path(sys.argv[1]).write_text('up')"
    )
    controller = CommandController(
        settings(tmp_path, start=f'{PYTHON} -c "{script}" {{component}}')
    )
    pending = await controller.begin("start", "worker")
    assert not (tmp_path / "worker").exists()
    await pending.wait()
    assert (tmp_path / "worker").read_text() == "up"


async def test_a_failed_background_command_fails_its_wait(tmp_path: Path) -> None:
    controller = CommandController(
        settings(tmp_path, start=f'{PYTHON} -c "import sys; sys.exit(4)"')
    )
    pending = await controller.begin("start", "worker")
    with pytest.raises(ControllerError, match=r"`start worker` failed \(exit 4\)"):
        await pending.wait()


async def test_a_cancelled_wait_leaves_the_command_running_to_its_end(tmp_path: Path) -> None:
    """An interrupt never leaves a stop or a start half done: the command finishes alone."""
    script = (
        "import pathlib, sys, time; time.sleep(0.6); pathlib.Path(sys.argv[1]).write_text('done')"
    )
    controller = CommandController(settings(tmp_path, stop=f'{PYTHON} -c "{script}" {{component}}'))
    pending = await controller.begin("stop", "broker")
    waiting = asyncio.ensure_future(pending.wait())
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not pending.finished
    await pending.wait()  # the same command, still running, ends normally
    assert (tmp_path / "broker").read_text() == "done"


async def test_a_command_runs_in_a_session_of_its_own(tmp_path: Path) -> None:
    """Ctrl-C in the terminal reaches the suite's process group, never the command's."""
    script = "import os, pathlib, sys; pathlib.Path(sys.argv[1]).write_text(str(os.getsid(0)))"
    controller = CommandController(
        settings(tmp_path, start=f'{PYTHON} -c "{script}" {{component}}')
    )
    pending = await controller.begin("start", "worker")
    await pending.wait()
    assert int((tmp_path / "worker").read_text()) == pending.pid != os.getsid(0)
