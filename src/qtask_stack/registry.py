"""Where this user's stacks run, so that no stack is orphaned by a forgotten variable.

`up` records every stack in `$XDG_STATE_HOME/qtask-stack/stacks/<stack id>.json` (default
`~/.local/state/...`): its state directory, the directory it was started from, and whether it is
a test's temporary stack (with the test process's pid); `down` removes the record. A command run
without `--state-dir` or `QTASK_STACK_DIR` then finds the stack that `QTASK_STACK_DIR=/srv/x make
verify` started from the same directory (`locate`), and `qtask-stack list` shows every stack.
Temporary stacks are never picked: tests start many of them, and they are not the user's.
Records whose state directory is gone are dropped as they are read.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from qtask_stack.errors import StackError, StateDirError
from qtask_stack.process import is_alive
from qtask_stack.state import STATE_FILE, load_state, write_private

STATE_DIR_ENV = "QTASK_STACK_DIR"
DEFAULT_STATE_DIR = Path(".qtask-stack")


@dataclass(frozen=True)
class Entry:
    """One registered stack."""

    stack_id: str
    state_dir: str
    origin: str
    temporary: bool
    owner_pid: int | None

    def is_running(self) -> bool:
        """Whether any of the stack's processes still runs."""
        try:
            state = load_state(Path(self.state_dir))
        except StateDirError:
            return False
        return state is not None and any(is_alive(r) for r in state.processes.values())

    def owner_gone(self) -> bool:
        """A temporary stack whose test process has died: nobody will bring it down."""
        if self.owner_pid is None:
            return False
        try:
            os.kill(self.owner_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def registry_dir() -> Path:
    """`$XDG_STATE_HOME/qtask-stack/stacks`, by default under `~/.local/state`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "qtask-stack" / "stacks"


def register(entry: Entry) -> None:
    """Record a stack; a registry that cannot be written never stops the stack from starting."""
    with contextlib.suppress(OSError):
        directory = registry_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(directory / f"{entry.stack_id}.json", json.dumps(asdict(entry)) + "\n")


def unregister(stack_id: str) -> None:
    with contextlib.suppress(OSError):
        (registry_dir() / f"{stack_id}.json").unlink(missing_ok=True)


def entries() -> list[Entry]:
    """Every registered stack whose state directory still exists, oldest path first."""
    found: list[Entry] = []
    try:
        paths = sorted(registry_dir().glob("*.json"))
    except OSError:
        return found
    for path in paths:
        try:
            entry = Entry(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if (Path(entry.state_dir) / STATE_FILE).exists():
            found.append(entry)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return sorted(found, key=lambda entry: entry.state_dir)


def locate(explicit: Path | None, cwd: Path) -> tuple[Path, str | None]:
    """The state directory a command means, and a note when it is not the one it names.

    An explicit choice (`--state-dir`, then `QTASK_STACK_DIR`) is taken as it is. Otherwise
    `./.qtask-stack` if a stack runs there or none started from `cwd` runs anywhere else; the one
    user stack started from `cwd` that runs elsewhere if there is exactly one; and if there are
    several, a StackError that names each and how to choose.
    """
    from_env = os.environ.get(STATE_DIR_ENV)
    chosen = explicit or (Path(from_env) if from_env else None)
    if chosen is not None:
        return chosen, None
    default = (cwd / DEFAULT_STATE_DIR).absolute()
    if _runs_in(default):
        return DEFAULT_STATE_DIR, None
    elsewhere = [
        entry
        for entry in entries()
        if not entry.temporary
        and Path(entry.origin) == cwd.absolute()
        and Path(entry.state_dir) != default
        and entry.is_running()
    ]
    if not elsewhere:
        return DEFAULT_STATE_DIR, None
    if len(elsewhere) == 1:
        state_dir = Path(elsewhere[0].state_dir)
        return state_dir, (
            f"no stack runs in {default}; using the one started from here in {state_dir} "
            f"(QTASK_STACK_DIR={state_dir})"
        )
    names = ", ".join(entry.state_dir for entry in elsewhere)
    raise StackError(
        f"no stack runs in {default}, and several started from here run elsewhere: {names}; "
        "choose one with --state-dir DIR or QTASK_STACK_DIR=DIR"
    )


def _runs_in(state_dir: Path) -> bool:
    try:
        state = load_state(state_dir)
    except StateDirError:
        return True  # unreadable: let the command itself say so
    return state is not None and any(is_alive(r) for r in state.processes.values())
