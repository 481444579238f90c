"""The stack's bookkeeping in `state.json` and the suite's view of it in `stack.env`.

Ports and credentials are chosen once, on the first `up`, and kept here so that a restarted stack
answers on the same addresses with the same passwords (environment files and running clients stay
valid). Pids are recorded with their process start time so that a recycled pid is never mistaken
for one of ours. Both files hold secrets: they are written atomically with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qtask_stack.errors import StateDirError

STATE_FILE = "state.json"
ENV_FILE = "stack.env"
HOST = "127.0.0.1"
DATABASE = "qtask"
DB_USER = "qtask"
BROKER_USER = "qtask"
SUPERUSER = "postgres"


@dataclass
class ProcessRecord:
    """A process the stack started: its pid (also its process group) and its start time."""

    pid: int
    create_time: float


@dataclass
class Ports:
    """Every TCP port of the stack, all on 127.0.0.1."""

    postgres: int
    amqp: int
    management: int
    erlang_dist: int
    epmd: int
    api: int


@dataclass
class Credentials:
    """Generated passwords; never printed except by `qtask-stack env`."""

    postgres_superuser: str
    database: str
    broker: str


@dataclass
class StackState:
    """Everything persisted about one stack; one instance per state directory."""

    stack_id: str
    ports: Ports
    credentials: Credentials
    workers: int
    database_bootstrapped: bool = False
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    @property
    def node_name(self) -> str:
        """The RabbitMQ node name: unique per state directory, so stacks never collide."""
        return f"qtask-{self.stack_id}@localhost"

    def database_url(self) -> str:
        """libpq-style URL of the application database, as the service and the suite use it."""
        password = self.credentials.database
        return f"postgresql://{DB_USER}:{password}@{HOST}:{self.ports.postgres}/{DATABASE}"

    def amqp_url(self) -> str:
        """AMQP URL of the default vhost `/`."""
        password = self.credentials.broker
        return f"amqp://{BROKER_USER}:{password}@{HOST}:{self.ports.amqp}/"

    def management_url(self) -> str:
        """Base URL of the RabbitMQ management API (without `/api`)."""
        return f"http://{HOST}:{self.ports.management}"

    def api_url(self) -> str:
        """Base URL of the service's HTTP API."""
        return f"http://{HOST}:{self.ports.api}"

    def suite_env(self) -> dict[str, str]:
        """The `QTASK_*` variables the suite reads (the content of `stack.env`)."""
        return {
            "QTASK_API_URL": self.api_url(),
            "QTASK_DATABASE_URL": self.database_url(),
            "QTASK_AMQP_URL": self.amqp_url(),
            "QTASK_MANAGEMENT_URL": self.management_url(),
            "QTASK_MANAGEMENT_USER": BROKER_USER,
            "QTASK_MANAGEMENT_PASSWORD": self.credentials.broker,
        }

    def service_env(self) -> dict[str, str]:
        """The `QTASK_SERVICE_*` variables that configure the API and the workers."""
        return {
            "QTASK_SERVICE_DATABASE_URL": self.database_url(),
            "QTASK_SERVICE_AMQP_URL": self.amqp_url(),
            "QTASK_SERVICE_HOST": HOST,
            "QTASK_SERVICE_PORT": str(self.ports.api),
        }

    def secrets(self) -> list[str]:
        """Every secret value, so output can be checked or masked against them."""
        return [
            self.credentials.postgres_superuser,
            self.credentials.database,
            self.credentials.broker,
        ]


def stack_id_for(state_dir: Path) -> str:
    """A short id derived from the state directory's absolute path: stable and collision-free."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's choice, so not one in use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def new_state(state_dir: Path, *, api_port: int, workers: int) -> StackState:
    """A fresh state: free ports and new passwords. `api_port` 0 means "pick a free one"."""
    ports = _distinct_free_ports(5)
    return StackState(
        stack_id=stack_id_for(state_dir),
        ports=Ports(
            postgres=ports[0],
            amqp=ports[1],
            management=ports[2],
            erlang_dist=ports[3],
            epmd=ports[4],
            api=api_port or free_port(),
        ),
        credentials=Credentials(
            postgres_superuser=secrets.token_urlsafe(24),
            database=secrets.token_urlsafe(24),
            broker=secrets.token_urlsafe(24),
        ),
        workers=workers,
    )


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def load_state(state_dir: Path) -> StackState | None:
    """The persisted state, or None before the first `up`."""
    path = state_dir / STATE_FILE
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateDirError(f"cannot read {path}: {exc}") from exc
    try:
        return StackState(
            stack_id=raw["stack_id"],
            ports=Ports(**raw["ports"]),
            credentials=Credentials(**raw["credentials"]),
            workers=int(raw["workers"]),
            database_bootstrapped=bool(raw.get("database_bootstrapped", False)),
            processes={
                name: ProcessRecord(**record) for name, record in raw.get("processes", {}).items()
            },
        )
    except (KeyError, TypeError) as exc:
        raise StateDirError(f"{path} is not a qtask-stack state file: {exc}") from exc


def save_state(state_dir: Path, state: StackState) -> None:
    """Write `state.json` and `stack.env` (both 0600)."""
    write_private(state_dir / STATE_FILE, json.dumps(asdict(state), indent=2) + "\n")
    env_lines = "".join(f"{key}={value}\n" for key, value in state.suite_env().items())
    write_private(state_dir / ENV_FILE, env_lines)


def write_private(path: Path, content: str) -> None:
    """Write atomically with mode 0600: readers never see a half-written or world-readable file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
