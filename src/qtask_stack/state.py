"""The stack's bookkeeping in `state.json` and the suite's view of it in `stack.env`.

Ports and credentials are chosen once, on the first `up`, and kept here so that a restarted stack
answers on the same addresses with the same passwords (environment files and running clients stay
valid). Pids are recorded with their process start time so that a recycled pid is never mistaken
for one of ours. Both files hold secrets: they are written atomically with mode 0600.

`stack.env` holds what the suite needs and no more: the verifier's broker account (see
`accounts`), never the administrator's, which the stack keeps for itself (`admin_env`).
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
from urllib.parse import quote

from qtask_stack.accounts import ADMIN, DEFAULT_VHOST, SERVICE, VERIFIER, BrokerAccount
from qtask_stack.errors import StateDirError

STATE_FILE = "state.json"
ENV_FILE = "stack.env"
HOST = "127.0.0.1"
DATABASE = "qtask"
DB_USER = "qtask"
# The suite's database account: it reads the schema and the tasks, and deletes its own tasks.
DB_VERIFIER = "qtask_verifier"
SUPERUSER = "postgres"


def _new_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class ProcessRecord:
    """A process the stack started: its pid (also its process group) and its start time.

    ``stopping`` is set (and saved) before the process is signalled, so a `start` that follows
    a stop cut short (the stopping command killed) waits for the old process to be gone instead
    of taking it for a running one.
    """

    pid: int
    create_time: float
    stopping: bool = False


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
    """Generated passwords; never printed except by `qtask-stack env`.

    `broker` is the service's account; the administrator's and the verifier's passwords have
    defaults so that a state file written before they existed still loads (they are new then).
    """

    postgres_superuser: str
    database: str
    broker: str
    broker_admin: str = field(default_factory=_new_password)
    broker_verifier: str = field(default_factory=_new_password)
    database_verifier: str = field(default_factory=_new_password)


@dataclass
class StackState:
    """Everything persisted about one stack; one instance per state directory."""

    stack_id: str
    ports: Ports
    credentials: Credentials
    workers: int
    database_bootstrapped: bool = False
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    vhost: str = DEFAULT_VHOST
    # The service's command lines and extra variables, kept so that a later `start`/`restart` (a
    # controller's, say) runs the same service the same way; None means the reference service.
    api_argv: list[str] | None = None
    worker_argv: list[str] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the PostgreSQL cluster lives (chosen once, when it is created).
    postgres_dir: str | None = None
    # The directory `up` was first run from, and whether a test's temporary stack: how a later
    # command run from the same directory finds this stack (see `registry`).
    origin: str = ""
    temporary: bool = False

    @property
    def node_name(self) -> str:
        """The RabbitMQ node name: unique per state directory, so stacks never collide."""
        return f"qtask-{self.stack_id}@localhost"

    def database_url(self, *, verifier: bool = False) -> str:
        """libpq-style URL of the application database: the owner's (the service's), or the
        verifier's (the suite's)."""
        user, password = (
            (DB_VERIFIER, self.credentials.database_verifier)
            if verifier
            else (DB_USER, self.credentials.database)
        )
        return f"postgresql://{user}:{password}@{HOST}:{self.ports.postgres}/{DATABASE}"

    def broker_password(self, account: BrokerAccount) -> str:
        """The generated password of one of the stack's broker accounts."""
        return self.broker_passwords()[account.name]

    def broker_passwords(self) -> dict[str, str]:
        """Account name -> password, for every broker account."""
        credentials = self.credentials
        return {
            ADMIN.name: credentials.broker_admin,
            SERVICE.name: credentials.broker,
            VERIFIER.name: credentials.broker_verifier,
        }

    def amqp_url(self, account: BrokerAccount = SERVICE) -> str:
        """AMQP URL of the stack's vhost for one account (`/` is the URL's empty path)."""
        password = self.broker_password(account)
        path = "" if self.vhost == DEFAULT_VHOST else quote(self.vhost, safe="")
        return f"amqp://{account.name}:{password}@{HOST}:{self.ports.amqp}/{path}"

    def management_url(self) -> str:
        """Base URL of the RabbitMQ management API (without `/api`)."""
        return f"http://{HOST}:{self.ports.management}"

    def api_url(self) -> str:
        """Base URL of the service's HTTP API."""
        return f"http://{HOST}:{self.ports.api}"

    def suite_env(self) -> dict[str, str]:
        """The `QTASK_*` variables the suite reads (the content of `stack.env`): the verifier's
        broker and database accounts."""
        return self._env_for(VERIFIER, verifier=True)

    def admin_env(self) -> dict[str, str]:
        """The same variables with the administrator's broker account and the database owner,
        for the stack's own use and for tests that break the deployment on purpose."""
        return self._env_for(ADMIN, verifier=False)

    def _env_for(self, account: BrokerAccount, *, verifier: bool) -> dict[str, str]:
        return {
            "QTASK_API_URL": self.api_url(),
            "QTASK_DATABASE_URL": self.database_url(verifier=verifier),
            "QTASK_AMQP_URL": self.amqp_url(account),
            "QTASK_MANAGEMENT_URL": self.management_url(),
            "QTASK_MANAGEMENT_USER": account.name,
            "QTASK_MANAGEMENT_PASSWORD": self.broker_password(account),
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
            self.credentials.database_verifier,
            *self.broker_passwords().values(),
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
    """A fresh state: free ports and new passwords. `api_port` 0 means "pick a free one".

    Every other setting keeps its default; the caller adjusts it before the first save.
    """
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
            postgres_superuser=_new_password(),
            database=_new_password(),
            broker=_new_password(),
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
            vhost=str(raw.get("vhost", DEFAULT_VHOST)),
            api_argv=raw.get("api_argv"),
            worker_argv=raw.get("worker_argv"),
            extra_env=dict(raw.get("extra_env") or {}),
            postgres_dir=raw.get("postgres_dir"),
            origin=str(raw.get("origin", "")),
            temporary=bool(raw.get("temporary", False)),
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
