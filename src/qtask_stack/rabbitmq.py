"""The stack's private RabbitMQ node (with its own epmd).

The node runs from the Debian package's scripts in /usr/lib/rabbitmq/bin, not the /usr/sbin
wrapper (which switches to the `rabbitmq` user and reads /etc/rabbitmq). Everything the scripts
would take from the system is pointed into the state directory: HOME (the Erlang cookie), the
config and env files, the database, the logs and the enabled plugins. It has its own epmd on a
private port, so it neither depends on nor leaves behind a system-wide epmd daemon. Its users,
vhosts and permissions come from a definitions file (`accounts`) imported on every boot; `guest`
is never created, since a node that imports definitions at boot seeds no default user.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx

from qtask_stack import accounts
from qtask_stack.binaries import Binaries
from qtask_stack.errors import StackError
from qtask_stack.probes import http_ok, tcp_open
from qtask_stack.process import Launcher
from qtask_stack.state import HOST, StackState, write_private

COMPONENT = "broker"
EPMD = "epmd"
START_TIMEOUT_S = 90.0
EPMD_TIMEOUT_S = 10.0
# Statistics drive the management API's consumer counts; the default (5 s) would make `up` wait
# that long for a worker to show up as consuming. The Management API renews its figures at the
# smallest interval of its sample retention policies (5 s by default, whatever the queues
# report), so those are set to a second too: the suite's profile says `statistics_interval_s`.
_STATS_INTERVAL_MS = 1000
_SAMPLE_RETENTION = (
    "management.sample_retention_policies.global.minute = 1",
    "management.sample_retention_policies.basic.minute = 1",
    "management.sample_retention_policies.detailed.10 = 1",
)
_MANAGEMENT_TIMEOUT_S = 10.0


class RabbitNode:
    """One private node: its files, its epmd and the node itself."""

    def __init__(self, state_dir: Path, state: StackState, binaries: Binaries, log_dir: Path):
        self.base_dir = state_dir / "rabbitmq"
        self.log_dir = log_dir
        self.log_path = log_dir / "rabbitmq.log"
        self.epmd_log_path = log_dir / "epmd.log"
        self._state = state
        self._binaries = binaries

    def write_config(self) -> None:
        """(Re)write the node's files; the definitions are imported again on every boot."""
        for directory in (self.base_dir, self.base_dir / "home", self.base_dir / "mnesia"):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.log_dir / "rabbitmq").mkdir(mode=0o700, parents=True, exist_ok=True)
        ports = self._state.ports
        definitions_path = self.base_dir / "definitions.json"
        write_private(
            definitions_path,
            accounts.definitions(self._state.vhost, self._state.broker_passwords()),
        )
        config = "\n".join(
            [
                f"listeners.tcp.1 = {HOST}:{ports.amqp}",
                f"management.tcp.ip = {HOST}",
                f"management.tcp.port = {ports.management}",
                "definitions.import_backend = local_filesystem",
                f"definitions.local.path = {definitions_path}",
                f"collect_statistics_interval = {_STATS_INTERVAL_MS}",
                *_SAMPLE_RETENTION,
                "",
            ]
        )
        write_private(self.base_dir / "rabbitmq.conf", config)
        (self.base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("")

    def epmd_launcher(self, env: dict[str, str]) -> Launcher:
        """The node's private port mapper, in the foreground so that the stack owns it."""
        port = self._state.ports.epmd
        return Launcher(
            EPMD,
            [str(self._binaries.epmd), "-port", str(port), "-address", HOST],
            ready=lambda: tcp_open(HOST, port),
            log_path=self.epmd_log_path,
            env=env,
            timeout=EPMD_TIMEOUT_S,
        )

    def launcher(self, env: dict[str, str]) -> Launcher:
        """The node; ready when AMQP accepts connections and the management API answers."""
        return Launcher(
            COMPONENT,
            [self._binaries.rabbitmq("rabbitmq-server")],
            ready=self.is_ready,
            log_path=self.log_path,
            env={**env, **self.node_env()},
            timeout=START_TIMEOUT_S,
            cwd=self.base_dir,
        )

    def is_ready(self) -> bool:
        """AMQP port open and an authenticated management request answered."""
        return tcp_open(HOST, self._state.ports.amqp) and http_ok(
            f"{self._state.management_url()}/api/overview", auth=admin_auth(self._state)
        )

    def node_env(self) -> dict[str, str]:
        """The variables that make RabbitMQ's scripts use this node's files and ports only."""
        ports = self._state.ports
        base = self.base_dir
        return {
            "HOME": str(base / "home"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            "RABBITMQ_LOG_BASE": str(self.log_dir / "rabbitmq"),
            "RABBITMQ_NODENAME": self._state.node_name,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(ports.amqp),
            "RABBITMQ_DIST_PORT": str(ports.erlang_dist),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_PORT": str(ports.epmd),
            "ERL_EPMD_ADDRESS": HOST,
        }


def admin_auth(state: StackState) -> tuple[str, str]:
    """The stack's administrator credentials for the Management API."""
    return accounts.ADMIN.name, state.broker_password(accounts.ADMIN)


def tracing(state: StackState, enabled: bool | None = None) -> bool:
    """Switch the vhost's message tracing (the firehose) on or off; returns whether it is on.

    `None` only reads it. Switching needs an administrator, which is why the stack does it with
    its own account and the suite, on the verifier's, asks the stack (`qtask-stack trace on`).
    """
    url = f"{state.management_url()}/api/vhosts/{quote(state.vhost, safe='')}"
    try:
        with httpx.Client(auth=admin_auth(state), timeout=_MANAGEMENT_TIMEOUT_S) as http:
            if enabled is not None:
                answer = http.put(url, json={"tracing": enabled})
                if answer.status_code not in (201, 204):
                    raise StackError(
                        f"the broker refused to switch tracing on vhost {state.vhost!r}: "
                        f"{answer.status_code}"
                    )
            answer = http.get(url)
    except httpx.HTTPError as error:
        raise StackError(
            f"the broker's Management API at {state.management_url()} does not answer: "
            f"{type(error).__name__}; is the broker up (`qtask-stack status`)?"
        ) from None
    if answer.status_code != 200:
        raise StackError(f"the broker answered {answer.status_code} for vhost {state.vhost!r}")
    return bool(answer.json().get("tracing"))
