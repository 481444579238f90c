"""No stack is lost or half-started: it is found from where it was started, as root too.

The unit tests drive `registry.locate` with stand-in stacks (this test process is their running
"process"). The CLI tests start one real stack as a user would, with `QTASK_STACK_DIR` pointing
into a directory the `postgres` user cannot enter, then use the commands without it; their
registry is a temporary one (XDG_STATE_HOME), so the user's stacks stay out of it.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from qtask_stack import StackError, registry
from qtask_stack.postgres import EXTERNAL_ROOT
from qtask_stack.process import MARKER_ENV
from qtask_stack.state import ProcessRecord, load_state, new_state, save_state, stack_id_for

IS_ROOT = os.geteuid() == 0


def _fake_stack(state_dir: Path, origin: Path, *, temporary: bool = False, running: bool = True):
    """A registered stack whose only "process" is this test (alive) or a dead pid."""
    state_dir.mkdir(parents=True)
    state = new_state(state_dir, api_port=0, workers=1)
    me = psutil.Process()
    pid, created = (me.pid, me.create_time()) if running else (me.pid, me.create_time() - 1000)
    state.processes["api"] = ProcessRecord(pid=pid, create_time=created)
    save_state(state_dir, state)
    registry.register(registry.Entry(state.stack_id, str(state_dir), str(origin), temporary, None))


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(registry.STATE_DIR_ENV, raising=False)
    here = tmp_path / "project"
    here.mkdir()
    return here


def test_an_explicit_choice_is_taken_as_it_is(
    origin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_stack(origin.parent / "srv", origin)
    assert registry.locate(Path("/x"), origin) == (Path("/x"), None)
    monkeypatch.setenv(registry.STATE_DIR_ENV, "/y")
    assert registry.locate(None, origin) == (Path("/y"), None)


def test_the_one_stack_started_from_here_is_found_elsewhere(origin: Path) -> None:
    assert registry.locate(None, origin) == (registry.DEFAULT_STATE_DIR, None)
    srv = origin.parent / "srv"
    _fake_stack(srv, origin)
    state_dir, note = registry.locate(None, origin)
    assert state_dir == srv
    assert note == (
        f"no stack runs in {origin / '.qtask-stack'}; using the one started from here in "
        f"{srv} (QTASK_STACK_DIR={srv})"
    )


def test_a_stack_running_in_the_default_directory_comes_first(origin: Path) -> None:
    _fake_stack(origin.parent / "srv", origin)
    _fake_stack(origin / ".qtask-stack", origin)
    assert registry.locate(None, origin) == (registry.DEFAULT_STATE_DIR, None)


def test_temporary_stopped_and_foreign_stacks_are_never_picked(origin: Path) -> None:
    _fake_stack(origin.parent / "test-stack", origin, temporary=True)
    _fake_stack(origin.parent / "stopped", origin, running=False)
    _fake_stack(origin.parent / "other", origin.parent)
    assert registry.locate(None, origin) == (registry.DEFAULT_STATE_DIR, None)


def test_several_candidates_are_named_not_guessed(origin: Path) -> None:
    _fake_stack(origin.parent / "a", origin)
    _fake_stack(origin.parent / "b", origin)
    with pytest.raises(StackError) as caught:
        registry.locate(None, origin)
    assert str(caught.value) == (
        f"no stack runs in {origin / '.qtask-stack'}, and several started from here run "
        f"elsewhere: {origin.parent / 'a'}, {origin.parent / 'b'}; choose one with "
        "--state-dir DIR or QTASK_STACK_DIR=DIR"
    )


def test_a_record_whose_state_directory_is_gone_is_dropped(origin: Path) -> None:
    gone = origin.parent / "gone"
    _fake_stack(gone, origin)
    shutil.rmtree(gone)
    assert registry.entries() == []
    assert list(registry.registry_dir().iterdir()) == []


# -- the real thing, through the CLI ---------------------------------------------------------------


class User:
    """Runs `qtask-stack` from a project directory, as `make` would, with a private registry."""

    def __init__(self, base: Path) -> None:
        self.project = base / "project"
        self.project.mkdir()
        # Like /root: a directory the postgres user cannot enter.
        self.home = base / "home"
        self.home.mkdir(mode=0o700)
        self.state_dir = self.home / "stack"
        self.env = {
            key: value for key, value in os.environ.items() if key != registry.STATE_DIR_ENV
        }
        self.env["XDG_STATE_HOME"] = str(base / "xdg")
        self.executable = shutil.which("qtask-stack") or str(
            Path(".venv/bin/qtask-stack").absolute()
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, *args],
            cwd=self.project,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def marked(self, stack_id: str) -> list[int]:
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(MARKER_ENV) == stack_id:
                    found.append(process.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    """A stack started with QTASK_STACK_DIR into an unreachable directory, destroyed at the end."""
    person = User(tmp_path_factory.mktemp("whereabouts"))
    started = person.run(
        "up", "--api-port", "0", "--workers", "1", QTASK_STACK_DIR=str(person.state_dir)
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield person
    finally:
        person.run("--state-dir", str(person.state_dir), "destroy")


def test_status_without_the_variable_finds_the_stack(user: User) -> None:
    status = user.run("status")
    assert status.returncode == 0, status.stderr
    assert f"using the one started from here in {user.state_dir}" in status.stderr
    assert "worker-1" in status.stdout
    assert user.run("where").stdout.strip() == str(user.state_dir)
    listing = user.run("list").stdout.splitlines()
    assert listing[1].split() == [str(user.state_dir), str(user.project), "user", "running"]


@pytest.mark.skipif(not IS_ROOT, reason="only root runs PostgreSQL as the postgres user")
def test_as_root_the_cluster_lives_where_postgres_can_reach_it(user: User) -> None:
    state = load_state(user.state_dir)
    assert state is not None
    cluster = EXTERNAL_ROOT / state.stack_id / "postgres"
    assert state.postgres_dir == str(cluster)
    assert (cluster / "data" / "PG_VERSION").exists()
    assert cluster.owner() == "postgres"
    assert stat.S_IMODE(EXTERNAL_ROOT.stat().st_mode) == 0o711
    assert stat.S_IMODE(user.home.stat().st_mode) == 0o700  # the user's directory is untouched


def test_a_port_held_by_a_stack_is_refused_naming_that_stack(user: User) -> None:
    state = load_state(user.state_dir)
    assert state is not None
    other = user.home.parent / "other"
    refused = user.run("--state-dir", str(other), "up", "--api-port", str(state.ports.api))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"qtask-stack: port {state.ports.api} is taken by the stack in {user.state_dir} (started "
        f"from {user.project}); stop it with `qtask-stack --state-dir {user.state_dir} down`, or "
        "choose another port with --api-port"
    )
    other_state = load_state(other)
    assert other_state is not None and other_state.processes == {}
    shutil.rmtree(other)


def test_down_without_the_variable_stops_it_and_leaves_nothing(user: User) -> None:
    state = load_state(user.state_dir)
    assert state is not None
    assert user.marked(state.stack_id)
    down = user.run("down")
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip().startswith("qtask-stack: down in ")
    assert down.stdout.strip().endswith(f"({user.state_dir})")
    assert user.marked(state.stack_id) == []
    again = user.run("down")
    assert again.stdout.strip() == (
        f"qtask-stack: no stack in {user.project / '.qtask-stack'}; nothing to stop"
    )


def test_destroy_removes_the_cluster_outside_the_state_directory(user: User) -> None:
    state = load_state(user.state_dir)
    assert state is not None
    destroyed = user.run("--state-dir", str(user.state_dir), "destroy")
    assert destroyed.returncode == 0, destroyed.stderr
    assert not user.state_dir.exists()
    assert not (EXTERNAL_ROOT / state.stack_id).exists()


@pytest.fixture
def failing_postgres() -> Iterator[Path]:
    """PostgreSQL binaries whose initdb fails, where the postgres user can run them."""
    fake_bin = Path(tempfile.mkdtemp(prefix="qtask-fake-postgres-"))
    fake_bin.chmod(0o755)
    try:
        yield fake_bin
    finally:
        shutil.rmtree(fake_bin)


def test_a_failed_start_leaves_no_process_behind(tmp_path: Path, failing_postgres: Path) -> None:
    """The database fails after the broker's epmd and node have been started: both are stopped."""
    person = User(tmp_path)
    fake_bin = failing_postgres
    for tool in ("initdb", "postgres", "pg_isready", "psql"):
        script = fake_bin / tool
        script.write_text("#!/bin/sh\necho 'initdb: simulated failure' >&2\nexit 1\n")
        script.chmod(0o755)
    state_dir = tmp_path / "stack"
    try:
        _fail_to_start(person, state_dir, fake_bin, tmp_path)
    finally:
        person.run("--state-dir", str(state_dir), "destroy")
    assert not (EXTERNAL_ROOT / stack_id_for(state_dir)).exists()


def _fail_to_start(person: User, state_dir: Path, fake_bin: Path, tmp_path: Path) -> None:
    failed = person.run(
        "--state-dir",
        str(state_dir),
        "up",
        "--api-port",
        "0",
        QTASK_STACK_POSTGRES_BIN_DIR=str(fake_bin),
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "qtask-stack: database: initdb failed; last log lines: initdb: simulated failure"
    ]
    state = load_state(state_dir)
    assert state is not None
    assert (state_dir / "logs" / "epmd.log").exists()  # epmd had been started
    assert person.marked(state.stack_id) == []
    assert state.processes == {}
    assert not (tmp_path / "xdg" / "qtask-stack" / "stacks" / f"{state.stack_id}.json").exists()


def test_a_port_held_by_another_program_is_refused_before_anything_starts(tmp_path: Path) -> None:
    person = User(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        refused = person.run("--state-dir", str(tmp_path / "stack"), "up", "--api-port", str(port))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"qtask-stack: port {port} on 127.0.0.1 is taken by another program; choose a port "
        "with --api-port"
    )
    assert not (tmp_path / "stack" / "logs" / "epmd.log").exists()
