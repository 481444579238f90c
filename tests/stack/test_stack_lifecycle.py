"""One real stack taken through its life: up, idempotent up, files, status, faults, down.

The tests run in file order on one module-wide stack (a stack costs seconds to boot); each test
leaves it fully up for the next, except the last, which brings it down.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from qtask_stack import Stack, temporary_stack
from qtask_stack.probes import tcp_open
from qtask_stack.process import MARKER_ENV
from qtask_stack.state import HOST, load_state

SUITE_KEYS = {
    "QTASK_API_URL",
    "QTASK_DATABASE_URL",
    "QTASK_AMQP_URL",
    "QTASK_MANAGEMENT_URL",
    "QTASK_MANAGEMENT_USER",
    "QTASK_MANAGEMENT_PASSWORD",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with temporary_stack(workers=2) as running:
        yield running


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("qtask-stack") or str(Path(".venv/bin/qtask-stack"))
    return subprocess.run(
        [executable, "--state-dir", str(stack.state_dir), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _pids(stack: Stack) -> dict[str, int | None]:
    return {row.name: row.pid for row in stack.status()}


def _marked_processes(stack: Stack) -> list[psutil.Process]:
    stack_id = load_state(stack.state_dir).stack_id  # type: ignore[union-attr]
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARKER_ENV) == stack_id:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _running(pid: int) -> bool:
    """A zombie has exited: only init has not reaped it yet."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _running_in_group(pgid: int) -> list[int]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and _running(process.pid):
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def _secrets(stack: Stack) -> list[str]:
    return load_state(stack.state_dir).secrets()  # type: ignore[union-attr]


def test_up_brings_every_component_up(stack: Stack) -> None:
    rows = stack.status()
    assert [row.name for row in rows] == ["database", "broker", "api", "worker-1", "worker-2"]
    assert all(row.is_up for row in rows), rows
    health = httpx.get(f"{stack.suite_env()['QTASK_API_URL']}/health", timeout=5)
    assert health.status_code == 200
    assert stack.suite_env()["QTASK_API_URL"] != "http://127.0.0.1:8001"


def test_up_again_starts_nothing(stack: Stack) -> None:
    before = _pids(stack)
    started = time.monotonic()
    stack.up()
    assert time.monotonic() - started < 10
    assert _pids(stack) == before


def test_env_files_are_private_and_match_env_command(stack: Stack) -> None:
    for name in ("state.json", "stack.env"):
        assert stat.S_IMODE((stack.state_dir / name).stat().st_mode) == 0o600
    file_env = dict(
        line.split("=", 1) for line in (stack.state_dir / "stack.env").read_text().splitlines()
    )
    assert set(file_env) == SUITE_KEYS
    assert file_env == stack.suite_env()
    result = _cli(stack, "env")
    assert result.returncode == 0
    exported = {}
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export"
        key, value = words[1].split("=", 1)
        exported[key] = value
    assert exported == file_env
    # The suite gets the verifier's broker account; the service runs on its own, the same broker.
    assert file_env["QTASK_MANAGEMENT_USER"] == "qtask-verifier"
    assert urlsplit(file_env["QTASK_AMQP_URL"]).username == "qtask-verifier"
    # ... and the database's verifier account, beside the service's own, the same database.
    service = stack.service_env()
    service_database = urlsplit(service["QTASK_SERVICE_DATABASE_URL"])
    suite_database = urlsplit(file_env["QTASK_DATABASE_URL"])
    assert (service_database.username, suite_database.username) == ("qtask", "qtask_verifier")
    assert (service_database.port, service_database.path) == (
        suite_database.port,
        suite_database.path,
    )
    service_amqp = urlsplit(service["QTASK_SERVICE_AMQP_URL"])
    assert service_amqp.username == "qtask"
    assert service_amqp.port == urlsplit(file_env["QTASK_AMQP_URL"]).port
    admin = stack.admin_env()
    assert admin["QTASK_MANAGEMENT_USER"] == "qtask-admin"
    assert admin["QTASK_MANAGEMENT_PASSWORD"] not in (stack.state_dir / "stack.env").read_text()


def test_status_masks_every_secret(stack: Stack) -> None:
    result = _cli(stack, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "***" in result.stdout
    for secret in _secrets(stack):
        assert secret not in result.stdout + result.stderr


def test_a_killed_worker_shows_down_and_starts_again(stack: Stack) -> None:
    old_pid = _pids(stack)["worker-1"]
    assert old_pid is not None
    stack.kill("worker", 1)
    assert not _running(old_pid)
    down = _cli(stack, "status")
    assert down.returncode == 1
    assert any(line.split()[:2] == ["worker-1", "down"] for line in down.stdout.splitlines())
    stack.start("worker", 1)
    assert all(row.is_up for row in stack.status())
    assert _pids(stack)["worker-1"] not in (None, old_pid)


def test_a_restarted_worker_gets_the_extra_environment(stack: Stack) -> None:
    stack.restart("worker", 2, env={"QTASK_FAULT_PROBE": "on"})
    pid = _pids(stack)["worker-2"]
    assert pid is not None
    assert psutil.Process(pid).environ()["QTASK_FAULT_PROBE"] == "on"


def test_api_stops_and_starts_on_the_same_port(stack: Stack) -> None:
    api_url = stack.suite_env()["QTASK_API_URL"]
    port = int(api_url.rsplit(":", 1)[1])
    stack.stop("api")
    assert not tcp_open(HOST, port)
    stack.start("api")
    assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200


def test_a_killed_database_leaves_no_backend_and_starts_again(stack: Stack) -> None:
    state = load_state(stack.state_dir)
    assert state is not None
    stack.kill("database")
    assert not tcp_open(HOST, state.ports.postgres)
    leftovers = [p for p in _marked_processes(stack) if p.username() == "postgres"]
    assert leftovers == []
    stack.start("database")
    assert tcp_open(HOST, state.ports.postgres)
    assert all(row.is_up for row in stack.status())


def test_broker_stops_completely_and_starts_on_the_same_ports(stack: Stack) -> None:
    state = load_state(stack.state_dir)
    assert state is not None
    stack.stop("broker")
    assert not tcp_open(HOST, state.ports.amqp)
    assert not tcp_open(HOST, state.ports.epmd)
    assert not any("beam" in p.name() for p in _marked_processes(stack))
    stack.start("broker")
    assert tcp_open(HOST, state.ports.amqp)
    admin = state.admin_env()
    auth = (admin["QTASK_MANAGEMENT_USER"], admin["QTASK_MANAGEMENT_PASSWORD"])
    overview = httpx.get(f"{state.management_url()}/api/overview", auth=auth, timeout=5)
    assert overview.status_code == 200
    guest = httpx.get(f"{state.management_url()}/api/overview", auth=("guest", "guest"))
    assert guest.status_code == 401


def _cli_process(stack: Stack, *args: str) -> subprocess.Popen[str]:
    executable = shutil.which("qtask-stack") or str(Path(".venv/bin/qtask-stack"))
    return subprocess.Popen(
        [executable, "--state-dir", str(stack.state_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_marked_stopping(stack: Stack, name: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = load_state(stack.state_dir)
        record = state.processes.get(name) if state is not None else None
        if record is not None and record.stopping:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} was never marked stopping")


def test_a_stop_interrupted_by_ctrl_c_still_finishes(stack: Stack) -> None:
    """SIGINT during `stop worker` is held until the workers are gone and the state saved."""
    stop = _cli_process(stack, "stop", "worker")
    _wait_marked_stopping(stack, "worker-1")
    stop.send_signal(signal.SIGINT)
    stop.wait(timeout=60)
    state = load_state(stack.state_dir)
    assert state is not None
    assert not any(name.startswith("worker-") for name in state.processes), state.processes
    assert not any(row.is_up for row in stack.status() if row.name.startswith("worker-"))
    stack.start("worker")
    assert all(row.is_up for row in stack.status())


def test_start_after_a_stop_killed_half_way_waits_for_the_old_broker(stack: Stack) -> None:
    """The stopping command dies after signalling the broker: `start` must not take the
    shutting-down node for a running one and start nothing."""
    state = load_state(stack.state_dir)
    assert state is not None
    stop = _cli_process(stack, "stop", "broker")
    _wait_marked_stopping(stack, "broker")
    time.sleep(0.3)  # the node has been signalled and is shutting down
    stop.kill()
    stop.wait(timeout=10)
    result = _cli(stack, "start", "broker")
    assert result.returncode == 0, result.stderr
    admin = state.admin_env()
    auth = (admin["QTASK_MANAGEMENT_USER"], admin["QTASK_MANAGEMENT_PASSWORD"])
    overview = httpx.get(f"{state.management_url()}/api/overview", auth=auth, timeout=5)
    assert overview.status_code == 200
    assert all(row.is_up for row in stack.status())


def test_down_leaves_no_process_behind(stack: Stack) -> None:
    state = load_state(stack.state_dir)
    assert state is not None
    pids = [record.pid for record in state.processes.values()]
    assert _marked_processes(stack)
    result = _cli(stack, "down")
    assert result.returncode == 0, result.stderr
    assert _marked_processes(stack) == []
    for pid in pids:
        assert not _running(pid)
        assert _running_in_group(pid) == []
    ports = state.ports
    for port in (ports.postgres, ports.amqp, ports.management, ports.epmd, ports.api):
        assert not tcp_open(HOST, port)
    assert _cli(stack, "status").returncode == 1
