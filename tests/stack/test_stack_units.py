"""Pure logic and single-process behaviour of the stack, without PostgreSQL or RabbitMQ."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from qtask_stack import ComponentError, MissingBinaryError, Stack, StackConfig, StackError
from qtask_stack.binaries import missing_packages_message, resolve_binaries
from qtask_stack.process import MARKER_ENV, is_alive, sweep, terminate
from qtask_stack.state import ProcessRecord, load_state, new_state, save_state
from qtask_stack.status import mask_url


def test_mask_url_hides_only_the_password() -> None:
    masked = mask_url("postgresql://qtask:s3cr3t@127.0.0.1:5433/qtask")
    assert masked == "postgresql://qtask:***@127.0.0.1:5433/qtask"
    assert mask_url("http://127.0.0.1:8001") == "http://127.0.0.1:8001"


def test_component_error_is_one_line_with_the_log_tail() -> None:
    error = ComponentError("broker", "exited with code 1", "boot failed\n\neaddrinuse\n")
    assert "\n" not in str(error)
    assert str(error) == "broker: exited with code 1; last log lines: boot failed | eaddrinuse"


def test_missing_packages_are_named_exactly_for_a_normal_user() -> None:
    message = missing_packages_message(["postgresql", "rabbitmq-server"], is_root=False)
    assert message == (
        "missing Debian packages: postgresql rabbitmq-server; "
        "install them with: sudo apt-get install postgresql rabbitmq-server"
    )


def test_an_explicit_binary_dir_without_binaries_is_reported_not_installed(
    tmp_path: Path,
) -> None:
    with pytest.raises(MissingBinaryError) as caught:
        resolve_binaries(postgres_bin_dir=tmp_path, install=True)
    assert f"{tmp_path} lacks initdb, postgres, pg_isready, psql" in str(caught.value)


def test_state_and_env_files_are_private_and_round_trip(tmp_path: Path) -> None:
    state = new_state(tmp_path, api_port=0, workers=3)
    state.processes["api"] = ProcessRecord(pid=123, create_time=1.5)
    save_state(tmp_path, state)
    for name in ("state.json", "stack.env"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert load_state(tmp_path) == state
    env_lines = (tmp_path / "stack.env").read_text().splitlines()
    assert env_lines == [f"{key}={value}" for key, value in state.suite_env().items()]
    ports = list(json.loads((tmp_path / "state.json").read_text())["ports"].values())
    assert len(set(ports)) == len(ports)


def test_unknown_component_or_worker_index_is_refused(tmp_path: Path) -> None:
    save_state(tmp_path, new_state(tmp_path, api_port=0, workers=2))
    stack = Stack(StackConfig(state_dir=tmp_path))
    with pytest.raises(StackError, match="unknown component 'queue'"):
        stack.stop("queue")
    with pytest.raises(StackError, match=r"no worker 3: this stack has workers 1\.\.2"):
        stack.kill("worker", 3)


def test_a_launched_process_outlives_the_launching_interpreter() -> None:
    """mirakuru's atexit hook kills what it started; the Launcher must opt out of it."""
    marker = f"unit-{os.getpid()}"
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        import tempfile
        from qtask_stack.process import Launcher
        log = Path(tempfile.mkdtemp()) / "sleep.log"
        launcher = Launcher("sleeper", ["sleep", "60"], ready=lambda: True, log_path=log,
                            env={{"{MARKER_ENV}": "{marker}"}}, timeout=5)
        record = launcher.spawn()
        launcher.wait_ready()
        print(record.pid, record.create_time)
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    record = ProcessRecord(pid=int(output[0]), create_time=float(output[1]))
    try:
        assert is_alive(record)
        assert psutil.Process(record.pid).environ()[MARKER_ENV] == marker
    finally:
        terminate([(record, 15)], timeout=5)
    assert not is_alive(record)
    assert sweep(marker) == []


def test_a_recycled_pid_is_not_taken_for_a_recorded_process() -> None:
    me = psutil.Process()
    assert is_alive(ProcessRecord(pid=me.pid, create_time=me.create_time()))
    assert not is_alive(ProcessRecord(pid=me.pid, create_time=me.create_time() - 100))


def test_a_state_file_written_before_the_new_settings_still_loads(tmp_path: Path) -> None:
    """Stacks made by an older qtask-stack keep working: new accounts get new passwords."""
    old = {
        "stack_id": "0123456789",
        "ports": {"postgres": 1, "amqp": 2, "management": 3, "erlang_dist": 4, "epmd": 5, "api": 6},
        "credentials": {"postgres_superuser": "a", "database": "b", "broker": "c"},
        "workers": 2,
        "processes": {},
    }
    (tmp_path / "state.json").write_text(json.dumps(old))
    state = load_state(tmp_path)
    assert state is not None
    assert state.vhost == "/"
    assert state.extra_env == {}
    assert state.api_argv is None and state.postgres_dir is None
    passwords = state.broker_passwords()
    assert passwords["qtask"] == "c"
    assert len({passwords["qtask-admin"], passwords["qtask-verifier"], "c"}) == 3
    assert state.amqp_url().endswith("@127.0.0.1:2/")
