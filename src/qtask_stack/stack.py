"""The local stack as one object: bring it up, look at it, break it, bring it down.

`Stack` orchestrates the components (database, broker, api, workers) from the state directory.
Every method works from `state.json`, so separate invocations (the CLI, a test fixture, a suite
controller) can manage the same stack; a lock on the state directory keeps them from racing.
Start-up runs in parallel where it can: the broker (the slowest, several seconds) boots while
the database is created, started and migrated; the API and the workers start together. A failed
or interrupted `up` stops whatever it started, so it never leaves a process behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from qtask_stack import postgres, rabbitmq, registry, service
from qtask_stack.binaries import Binaries, resolve_binaries
from qtask_stack.errors import StackError, StateDirError
from qtask_stack.postgres import PostgresCluster
from qtask_stack.probes import tcp_open
from qtask_stack.process import (
    MARKER_ENV,
    Launcher,
    is_alive,
    kill,
    sweep,
    terminate,
    uninterruptible,
)
from qtask_stack.rabbitmq import RabbitNode
from qtask_stack.registry import DEFAULT_STATE_DIR, STATE_DIR_ENV
from qtask_stack.state import (
    HOST,
    ProcessRecord,
    StackState,
    load_state,
    new_state,
    save_state,
)
from qtask_stack.status import DOWN, UNRESPONSIVE, UP, ComponentStatus, mask_url

DEFAULT_API_PORT = 8001
DEFAULT_WORKERS = 2
COMPONENTS = (service.API, service.WORKER, postgres.COMPONENT, rabbitmq.COMPONENT)
_STOP_TIMEOUT_S = 30.0
_ABORT_TIMEOUT_S = 10.0


def default_state_dir() -> Path:
    """`$QTASK_STACK_DIR`, else `./.qtask-stack`."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


@dataclass(frozen=True)
class StackConfig:
    """How to run a stack.

    Settings left at None keep what the state directory already has (API port 8001, 2 workers,
    vhost `/` and the reference service on a first `up`); `api_port=0` picks a free port once.
    `api_argv`/`worker_argv` replace the service's entry points and `extra_env` adds variables to
    the API, the workers and the migration (another implementation, or a wrapper that injects a
    fault): they are kept in state.json, so a later `start`/`restart` runs the same service, and
    given again they replace what was kept. `vhost` is the broker vhost of the service and the
    suite. `temporary` marks a test's stack, which no command finds by its origin.
    """

    state_dir: Path = field(default_factory=default_state_dir)
    api_port: int | None = None
    workers: int | None = None
    api_argv: Sequence[str] | None = None
    worker_argv: Sequence[str] | None = None
    extra_env: Mapping[str, str] | None = None
    vhost: str | None = None
    temporary: bool = False
    postgres_bin_dir: Path | None = None
    rabbitmq_bin_dir: Path | None = None


class Stack:
    """A private PostgreSQL + RabbitMQ + API + N workers, managed from one state directory."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.state_dir = self.config.state_dir.absolute()
        self.log_dir = self.state_dir / "logs"

    # -- whole stack -------------------------------------------------------------------------

    def up(self) -> None:
        """Start whatever is not running and return once every component is ready.

        Idempotent: a running component is left alone. Raises ComponentError naming the
        component that failed, with the last lines of its log.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            state = self._prepared_state()
            binaries = self._binaries()
            self._check_api_port(state)
            self._register(state)
            spawned: list[str] = []
            try:
                # The broker boots slowest, so everything else happens while it does; the API and
                # workers connect to it on their own once it answers.
                broker = self._spawn_broker(state, binaries, spawned)
                database_started = self._start_database(state, binaries, spawned)
                indices = range(1, state.workers + 1)
                if database_started or self._service_missing(state, indices):
                    service.migrate(state, self._service_process_env(state), self.log_dir)
                    PostgresCluster(self.state_dir, state, binaries, self.log_dir).grant_verifier()
                launchers = self._spawn_service(state, api=True, workers=indices, spawned=spawned)
                if broker is not None:
                    broker.wait_ready()
                self._wait_service(state, launchers)
            except BaseException:
                self._abort(state, spawned)
                raise
            finally:
                save_state(self.state_dir, state)

    def down(self) -> None:
        """Stop everything, then kill any process still carrying this stack's marker."""
        with self._locked():
            state = load_state(self.state_dir)
            if state is None:
                return
            self._stop_service(state, [service.API, *self._worker_names(state)])
            # Both servers shut down at the same time, each with the signal it wants; the broker's
            # epmd last, since the node unregisters from it on the way out.
            terminate(
                self._stop_targets(state, [postgres.COMPONENT, rabbitmq.COMPONENT]), _STOP_TIMEOUT_S
            )
            terminate(self._stop_targets(state, [rabbitmq.EPMD]), _STOP_TIMEOUT_S)
            sweep(state.stack_id)
            state.processes.clear()
            save_state(self.state_dir, state)
            registry.unregister(state.stack_id)

    def destroy(self) -> None:
        """`down`, then delete the state directory and the database cluster, wherever it lives."""
        state = load_state(self.state_dir)
        self.down()
        if state is not None:
            postgres.remove_external_cluster(state.stack_id)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def is_running(self) -> bool:
        """Whether any process of the stack runs."""
        state = load_state(self.state_dir)
        return state is not None and any(is_alive(r) for r in state.processes.values())

    def status(self) -> list[ComponentStatus]:
        """One row per component and per worker; endpoints with passwords masked."""
        state = self._require_state()
        processes = state.processes

        def row(name: str, endpoint: str, port: int | None) -> ComponentStatus:
            record = processes.get(name)
            if not is_alive(record):
                return ComponentStatus(name, DOWN, None, endpoint)
            assert record is not None
            answering = port is None or tcp_open(HOST, port)
            return ComponentStatus(name, UP if answering else UNRESPONSIVE, record.pid, endpoint)

        rows = [
            row(postgres.COMPONENT, mask_url(state.database_url()), state.ports.postgres),
            row(
                rabbitmq.COMPONENT,
                f"{mask_url(state.amqp_url())} {state.management_url()}",
                state.ports.amqp,
            ),
            row(service.API, state.api_url(), state.ports.api),
        ]
        rows += [
            row(service.worker_name(index), f"queue {service.task_queue(state.extra_env)}", None)
            for index in range(1, state.workers + 1)
        ]
        return rows

    def suite_env(self) -> dict[str, str]:
        """The `QTASK_*` variables for the suite (what `stack.env` holds); they carry secrets."""
        return self._require_state().suite_env()

    def admin_env(self) -> dict[str, str]:
        """`suite_env()` with the broker administrator's account: for tests that break things
        (delete a queue, set a policy), never for the suite, which runs as the verifier."""
        return self._require_state().admin_env()

    def service_env(self) -> dict[str, str]:
        """The `QTASK_SERVICE_*` variables that point a service process at this stack."""
        return self._require_state().service_env()

    def vhost(self) -> str:
        """The broker vhost of the service and the suite."""
        return self._require_state().vhost

    def tracing(self, enabled: bool | None = None) -> bool:
        """Switch message tracing on the stack's vhost on or off (None: only read it)."""
        return rabbitmq.tracing(self._require_state(), enabled)

    # -- one component -----------------------------------------------------------------------

    def stop(self, component: str, index: int | None = None) -> None:
        """Graceful stop (SIGTERM, or SIGINT for PostgreSQL; SIGKILL after a grace period)."""
        names = self._names(component, index)
        if component == rabbitmq.COMPONENT:
            names.append(rabbitmq.EPMD)
        with self._locked(), uninterruptible():
            state = self._require_state()
            for name in names:
                if (record := state.processes.get(name)) is not None:
                    record.stopping = True
            save_state(self.state_dir, state)
            if component in (service.API, service.WORKER):
                self._stop_service(state, names)
            else:
                for name in names:
                    terminate(self._stop_targets(state, [name]), _STOP_TIMEOUT_S)
            save_state(self.state_dir, state)

    def kill(self, component: str, index: int | None = None) -> None:
        """SIGKILL the component's process groups, as a crash would (the broker's epmd stays)."""
        names = self._names(component, index)
        with self._locked():
            state = self._require_state()
            kill([record for name in names if (record := state.processes.pop(name, None))])
            save_state(self.state_dir, state)

    def start(
        self,
        component: str,
        index: int | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Start a stopped component on its recorded ports and wait until it is ready.

        The API and workers run the command and variables kept in state.json; `argv` and `env`
        override them for this start only, e.g. to restart one worker with a fault injected.
        """
        names = self._names(component, index)
        if (argv is not None or env) and component not in (service.API, service.WORKER):
            raise StackError(f"argv/env overrides apply to the api and workers, not {component}")
        with self._locked():
            state = self._require_state()
            self._finish_stopping(
                state, [*names, rabbitmq.EPMD] if component == rabbitmq.COMPONENT else names
            )
            try:
                if component == rabbitmq.COMPONENT:
                    broker = self._spawn_broker(state, self._binaries(), [])
                    if broker is not None:
                        broker.wait_ready()
                elif component == postgres.COMPONENT:
                    self._start_database(state, self._binaries(), [])
                else:
                    indices = [int(name.rsplit("-", 1)[1]) for name in names if name != service.API]
                    launchers = self._spawn_service(
                        state,
                        api=component == service.API,
                        workers=indices,
                        spawned=[],
                        argv=argv,
                        env=env,
                    )
                    self._wait_service(state, launchers)
            finally:
                save_state(self.state_dir, state)

    def restart(
        self,
        component: str,
        index: int | None = None,
        *,
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Graceful stop, then start (same ports)."""
        self.stop(component, index)
        self.start(component, index, argv=argv, env=env)

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize commands on one state directory (two `up`s would start everything twice)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _require_state(self) -> StackState:
        state = load_state(self.state_dir)
        if state is None:
            raise StateDirError(f"no stack in {self.state_dir}; run `qtask-stack up` first")
        return state

    def _prepared_state(self) -> StackState:
        """The persisted state, created on first use and reconciled with the config."""
        config = self.config
        state = load_state(self.state_dir)
        if state is None:
            api_port = DEFAULT_API_PORT if config.api_port is None else config.api_port
            state = new_state(
                self.state_dir, api_port=api_port, workers=config.workers or DEFAULT_WORKERS
            )
            state.origin = str(Path.cwd())
            state.temporary = config.temporary
            # A cluster left outside by a deleted state directory of the same path is not ours.
            postgres.remove_external_cluster(state.stack_id)
        if config.workers is not None:
            state.workers = config.workers
        if config.api_port and config.api_port != state.ports.api:
            if is_alive(state.processes.get(service.API)):
                raise StackError(
                    f"the API already runs on port {state.ports.api}; stop it to change its port"
                )
            state.ports.api = config.api_port
        if config.vhost is not None and config.vhost != state.vhost:
            if any(is_alive(record) for record in state.processes.values()):
                raise StackError(
                    f"this stack runs on vhost {state.vhost!r}; `qtask-stack down` it first to "
                    f"move it to {config.vhost!r}"
                )
            state.vhost = config.vhost
        if config.api_argv is not None:
            state.api_argv = list(config.api_argv)
        if config.worker_argv is not None:
            state.worker_argv = list(config.worker_argv)
        if config.extra_env is not None:
            state.extra_env = dict(config.extra_env)
        self.log_dir.mkdir(mode=0o700, exist_ok=True)
        save_state(self.state_dir, state)
        return state

    def _check_api_port(self, state: StackState) -> None:
        """Refuse before starting anything when another program holds the API's port."""
        port = state.ports.api
        if is_alive(state.processes.get(service.API)) or not tcp_open(HOST, port):
            return
        for entry in registry.entries():
            if entry.stack_id == state.stack_id or not entry.is_running():
                continue
            other = load_state(Path(entry.state_dir))
            if other is not None and other.ports.api == port:
                raise StackError(
                    f"port {port} is taken by the stack in {entry.state_dir} (started from "
                    f"{entry.origin or '?'}); stop it with `qtask-stack --state-dir "
                    f"{entry.state_dir} down`, or choose another port with --api-port"
                )
        raise StackError(
            f"port {port} on {HOST} is taken by another program; choose a port with --api-port"
        )

    def _register(self, state: StackState) -> None:
        registry.register(
            registry.Entry(
                stack_id=state.stack_id,
                state_dir=str(self.state_dir),
                origin=state.origin,
                temporary=state.temporary,
                owner_pid=os.getpid() if state.temporary else None,
            )
        )

    def _abort(self, state: StackState, spawned: Sequence[str]) -> None:
        """Stop what a failed `up` started (the broker's epmd last); sweep if nothing is left."""
        names = [name for name in spawned if name != rabbitmq.EPMD]
        terminate(self._stop_targets(state, names), _ABORT_TIMEOUT_S)
        terminate(self._stop_targets(state, [rabbitmq.EPMD]), _ABORT_TIMEOUT_S)
        if not any(is_alive(record) for record in state.processes.values()):
            sweep(state.stack_id)
            state.processes.clear()
            registry.unregister(state.stack_id)

    def _binaries(self) -> Binaries:
        return resolve_binaries(self.config.postgres_bin_dir, self.config.rabbitmq_bin_dir)

    def _env(self, state: StackState) -> dict[str, str]:
        """Variables for every process: the marker that `down` sweeps by."""
        return {MARKER_ENV: state.stack_id}

    def _service_process_env(
        self, state: StackState, override: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The service's processes also get the kept extra variables, then this start's."""
        return {**self._env(state), **state.extra_env, **(override or {})}

    def _record(self, state: StackState, name: str, launcher: Launcher, spawned: list[str]) -> None:
        """Spawn and record at once, so an interrupted `up` still leaves a stoppable record."""
        state.processes[name] = launcher.spawn()
        spawned.append(name)
        save_state(self.state_dir, state)

    def _spawn_broker(
        self, state: StackState, binaries: Binaries, spawned: list[str]
    ) -> Launcher | None:
        """Start epmd (waited, it is instant) and the node (not waited); None if it runs."""
        node = RabbitNode(self.state_dir, state, binaries, self.log_dir)
        env = self._env(state)
        if not is_alive(state.processes.get(rabbitmq.EPMD)):
            epmd = node.epmd_launcher(env)
            self._record(state, rabbitmq.EPMD, epmd, spawned)
            epmd.wait_ready()
        if is_alive(state.processes.get(rabbitmq.COMPONENT)):
            return None
        node.write_config()
        launcher = node.launcher(env)
        self._record(state, rabbitmq.COMPONENT, launcher, spawned)
        return launcher

    def _start_database(self, state: StackState, binaries: Binaries, spawned: list[str]) -> bool:
        """Create, start and bootstrap the cluster as needed; True if it was started."""
        if is_alive(state.processes.get(postgres.COMPONENT)):
            return False
        cluster = PostgresCluster(self.state_dir, state, binaries, self.log_dir)
        cluster.ensure_initialized()
        launcher = cluster.launcher(self._env(state))
        self._record(state, postgres.COMPONENT, launcher, spawned)
        launcher.wait_ready()
        if not state.database_bootstrapped:
            cluster.bootstrap()
            state.database_bootstrapped = True
        return True

    def _service_missing(self, state: StackState, indices: Sequence[int]) -> bool:
        names = [service.API, *(service.worker_name(index) for index in indices)]
        return not all(is_alive(state.processes.get(name)) for name in names)

    def _spawn_service(
        self,
        state: StackState,
        *,
        api: bool,
        workers: Sequence[int],
        spawned: list[str],
        argv: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> list[Launcher]:
        """Spawn the API and the workers that are not running, without waiting for them."""
        process_env = self._service_process_env(state, env)
        launchers: list[Launcher] = []
        if api and not is_alive(state.processes.get(service.API)):
            api_argv = argv or state.api_argv or service.API_ARGV
            launcher = service.api_launcher(state, api_argv, process_env, self.log_dir)
            self._record(state, service.API, launcher, spawned)
            launchers.append(launcher)
        worker_argv = argv or state.worker_argv or service.WORKER_ARGV
        for index in workers:
            if is_alive(state.processes.get(service.worker_name(index))):
                continue
            launcher = service.worker_launcher(state, index, worker_argv, process_env, self.log_dir)
            self._record(state, service.worker_name(index), launcher, spawned)
            launchers.append(launcher)
        return launchers

    def _wait_service(self, state: StackState, launchers: Sequence[Launcher]) -> None:
        """Wait for each; one that fails is forgotten (its launcher already killed it)."""
        for launcher in launchers:
            try:
                launcher.wait_ready()
            except StackError:
                state.processes.pop(launcher.component, None)
                raise

    def _finish_stopping(self, state: StackState, names: Sequence[str]) -> None:
        """Wait for processes a cut-short stop left stopping to be gone, then forget them."""
        stopping = [name for name in names if (r := state.processes.get(name)) and r.stopping]
        if stopping:
            with uninterruptible():
                terminate(self._stop_targets(state, stopping), _STOP_TIMEOUT_S)
                save_state(self.state_dir, state)

    def _stop_service(self, state: StackState, names: Sequence[str]) -> None:
        """API and workers together; the grace period is the workers' (they finish a task)."""
        terminate(self._stop_targets(state, names), service.WORKER_STOP_TIMEOUT_S)

    def _stop_targets(
        self, state: StackState, names: Sequence[str]
    ) -> list[tuple[ProcessRecord, int]]:
        """Forget the named processes' records, paired with each one's graceful stop signal."""
        signals = {postgres.COMPONENT: postgres.STOP_SIGNAL}
        return [
            (record, signals.get(name, signal.SIGTERM))
            for name in names
            if (record := state.processes.pop(name, None)) is not None
        ]

    def _worker_names(self, state: StackState) -> list[str]:
        recorded = {name for name in state.processes if name.startswith(f"{service.WORKER}-")}
        configured = {service.worker_name(index) for index in range(1, state.workers + 1)}
        return sorted(recorded | configured)

    def _names(self, component: str, index: int | None) -> list[str]:
        """Validate a CLI-style component reference and expand it to process names."""
        if component not in COMPONENTS:
            raise StackError(
                f"unknown component {component!r}; choose from {', '.join(COMPONENTS)}"
            )
        if component != service.WORKER:
            if index is not None:
                raise StackError(f"only workers take an index, not {component}")
            return [component]
        state = self._require_state()
        if index is None:
            return [service.worker_name(i) for i in range(1, state.workers + 1)]
        if not 1 <= index <= state.workers:
            raise StackError(f"no worker {index}: this stack has workers 1..{state.workers}")
        return [service.worker_name(index)]
