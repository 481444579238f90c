"""The service's processes: the migration, the API and the workers.

They run the entry points fixed in docs/architecture.md with this interpreter (`sys.executable`),
configured only through `QTASK_SERVICE_*` variables. The argv can be replaced and variables
added, so fault-injection tests can run a wrapper that changes one behaviour of the real service.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from qtask_stack.errors import ComponentError
from qtask_stack.probes import consumer_ports, http_ok, process_ports_to
from qtask_stack.process import Launcher, log_tail
from qtask_stack.rabbitmq import admin_auth
from qtask_stack.state import StackState

API = "api"
WORKER = "worker"
MIGRATION = "migration"
QUEUE = "quantum_tasks"
QUEUE_SETTING = "QTASK_SERVICE_QUEUE_NAME"


def task_queue(env: Mapping[str, str]) -> str:
    """The queue the workers consume: the service's default, unless its settings name another."""
    return env.get(QUEUE_SETTING) or QUEUE


API_ARGV: tuple[str, ...] = (sys.executable, "-m", "qtask_service.api")
WORKER_ARGV: tuple[str, ...] = (sys.executable, "-m", "qtask_service.worker")
MIGRATE_ARGV: tuple[str, ...] = (sys.executable, "-m", "qtask_service.db.migrate")
START_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 120.0
# A worker finishes its current task on SIGTERM (the service allows 20 s by default).
WORKER_STOP_TIMEOUT_S = 30.0


def worker_name(index: int) -> str:
    """Workers are numbered from 1, as the CLI shows and accepts them."""
    return f"{WORKER}-{index}"


def migrate(state: StackState, env: dict[str, str], log_dir: Path) -> None:
    """`alembic upgrade head` through the service's own entry point; idempotent."""
    log_path = log_dir / "migration.log"
    with log_path.open("ab") as log:
        result = subprocess.run(
            list(MIGRATE_ARGV),
            env={**env, **state.service_env()},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0:
        raise ComponentError(MIGRATION, f"exited with code {result.returncode}", log_tail(log_path))


def api_launcher(
    state: StackState, argv: Sequence[str], env: dict[str, str], log_dir: Path
) -> Launcher:
    """The API, ready when /health answers 200 (its dependencies are connected)."""
    return Launcher(
        API,
        argv,
        ready=lambda: http_ok(f"{state.api_url()}/health"),
        log_path=log_dir / "api.log",
        env={**env, **state.service_env()},
        timeout=START_TIMEOUT_S,
    )


def worker_launcher(
    state: StackState, index: int, argv: Sequence[str], env: dict[str, str], log_dir: Path
) -> Launcher:
    """One worker, ready when the broker lists a consumer of the task queue on its connection."""
    auth = admin_auth(state)
    queue = task_queue(env)
    launcher: Launcher

    def consuming() -> bool:
        assert launcher.process is not None
        own_ports = process_ports_to(launcher.process.pid, state.ports.amqp)
        return bool(own_ports) and bool(
            own_ports & consumer_ports(state.management_url(), auth, state.vhost, queue)
        )

    launcher = Launcher(
        worker_name(index),
        argv,
        ready=consuming,
        log_path=log_dir / f"{worker_name(index)}.log",
        env={**env, **state.service_env()},
        timeout=START_TIMEOUT_S,
    )
    return launcher
