"""The suite's pytest plugin: environment, preflight, fixtures, safety skips, performance records.

Loaded by the suite's ini file (``-p qtask_verify.plugin``). The preflight runs once per run, in
the only process or the xdist controller, before collection; its report is in
``config.stash[PREFLIGHT_KEY]`` and the environment in ``config.stash[ENVIRONMENT_KEY]``. A failed
preflight ends the run at once with one line per broken component (exit code 1).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import math
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from . import bdd
from .clients import ApiClient, BrokerInspector, DatabaseInspector
from .config import Environment, load_environment
from .controller import CommandController, controller_for
from .errors import ConfigurationError
from .ledger import CleanupLedger, ScenarioTasks, ledger_path, sweep
from .preflight import PreflightReport, run_preflight
from .redaction import mask_url
from .waiting import ConsumerWatch

PREFLIGHT_KEY = pytest.StashKey[PreflightReport]()
ENVIRONMENT_KEY = pytest.StashKey[Environment]()
SWEPT_TASKS_KEY = pytest.StashKey[int]()
# When (wall clock) the preflight saw the task queue without consumers, if it did.
UNCONSUMED_SINCE_KEY = pytest.StashKey[float]()
UNCONSUMED_SINCE_INPUT = "qtask_unconsumed_since"
# The exclusive deployment lock a scenario left held while the workers it paused come back.
HELD_LOCK_KEY = pytest.StashKey[int]()
PERFORMANCE_PROPERTY = "qtask_performance"
STATE_DIRECTORY = ".qtask-verify"

# Every Gherkin tag the suite uses: pytest-bdd turns tags into markers, and --strict-markers
# makes an unregistered one an error.
MARKERS = {
    "p1": "priority 1: must pass to deploy (NO-GO otherwise)",
    "p2": "priority 2: quality (GO WITH RISKS when it fails)",
    "p3": "priority 3: resilience; changes the deployment",
    "read_only": "safe anywhere, production included: reads and looks only",
    "mutating": "submits tasks or changes the deployment; skipped where not allowed",
    "api": "about the HTTP API",
    "database": "about the PostgreSQL database",
    "queue": "about the RabbitMQ broker and the task queue",
    "worker": "about the workers that execute tasks",
    "needs_controller": "pauses part of the deployment; skipped without a deployment controller",
}
# Not a Gherkin tag: steps/conftest.py marks the scenarios that wait for a worker to process a
# task, so they run after those that need no worker (see pytest_collection_modifyitems).
AWAITS_WORKERS = "awaits_workers"
MARKERS_OF_THE_STEPS = {
    AWAITS_WORKERS: "waits for a worker to process a task (set from the scenario's steps)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qtask-verify", "deployment verification")
    group.addoption(
        "--qtask-env",
        default=None,
        help="environment profile from environments.toml (default: QTASK_ENV, else local)",
    )
    group.addoption(
        "--qtask-preflight-timeout",
        type=float,
        default=3.0,
        help="seconds each component has to answer the preflight (default 3)",
    )


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, description in {**MARKERS, **MARKERS_OF_THE_STEPS}.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    try:
        config.stash[ENVIRONMENT_KEY] = load_environment(config.getoption("qtask_env"))
    except ConfigurationError as error:
        raise pytest.UsageError(f"qtask-verify configuration: {error}") from None


def _state_directory(config: pytest.Config) -> Path:
    return config.rootpath / STATE_DIRECTORY


def _ledger(config: pytest.Config) -> CleanupLedger:
    env = config.stash[ENVIRONMENT_KEY]
    return CleanupLedger(ledger_path(_state_directory(config), env.name, env.database_url))


async def _sweep_abandoned_tasks(env: Environment, ledger: CleanupLedger) -> int:
    database = await DatabaseInspector.connect(env.database_url, timeout_s=5.0)
    try:
        return await sweep(ledger, database)
    finally:
        await database.close()


async def _start(
    env: Environment, timeout_s: float, ledger: CleanupLedger | None
) -> tuple[PreflightReport, int | None]:
    """The preflight and, at the same time, the sweep of what dead runs left behind.

    A sweep that fails because the deployment is broken is moot: the preflight says why.
    """
    preflight = run_preflight(env, timeout_s)
    if ledger is None:
        return await preflight, None
    report, swept = await asyncio.gather(
        preflight, _sweep_abandoned_tasks(env, ledger), return_exceptions=True
    )
    if isinstance(report, BaseException):
        raise report
    if isinstance(swept, BaseException):
        if report.ok:
            raise swept
        return report, None
    return report, swept


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_xdist_worker(config) or config.option.collectonly:
        return
    env = config.stash[ENVIRONMENT_KEY]
    ledger = _ledger(config) if env.allow_mutating else None
    report, swept = asyncio.run(_start(env, config.getoption("qtask_preflight_timeout"), ledger))
    config.stash[PREFLIGHT_KEY] = report
    if not report.ok:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:  # pytest repeats the exit message twice: say the details once
            for failure in report.failures:
                terminal.write_line(f"preflight: {failure}", red=True)
        pytest.exit(
            "preflight failed, no scenario was run", returncode=pytest.ExitCode.TESTS_FAILED
        )
    if swept is not None:
        config.stash[SWEPT_TASKS_KEY] = swept
    if report.consumers == 0:
        config.stash[UNCONSUMED_SINCE_KEY] = time.time()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist: tell each worker process since when the preflight saw no consumer."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    since = config.stash.get(UNCONSUMED_SINCE_KEY, None)
    if since is not None:
        node.workerinput[UNCONSUMED_SINCE_INPUT] = since  # type: ignore[attr-defined]


def _unconsumed_since(config: pytest.Config) -> float | None:
    if _is_xdist_worker(config):
        since = config.workerinput.get(UNCONSUMED_SINCE_INPUT)  # type: ignore[attr-defined]
        return None if since is None else float(since)
    return config.stash.get(UNCONSUMED_SINCE_KEY, None)


def _run_order(item: pytest.Item) -> int:
    if item.get_closest_marker("needs_controller") is not None:
        return 0
    needs_workers = any(item.get_closest_marker(name) for name in ("worker", AWAITS_WORKERS))
    return 2 if needs_workers else 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip what the environment does not allow; order the scenarios for a short run.

    Scenarios that pause part of the deployment come first: bringing paused workers back takes
    seconds, and it overlaps the scenarios that need no worker, which come next; those tagged
    @worker come last and await the workers' return (see ``ConsumerWatch.settled``). A stable
    sort keeps the file order within each group.
    """
    env = config.stash[ENVIRONMENT_KEY]
    items.sort(key=_run_order)
    for item in items:
        if not env.allow_mutating and item.get_closest_marker("read_only") is None:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"not read-only: environment {env.name!r} allows only read-only "
                    "scenarios"
                )
            )
        elif item.get_closest_marker("needs_controller") and env.controller is None:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"needs a deployment controller to pause part of the deployment; "
                    f"environment {env.name!r} has none (see [profiles.{env.name}.controller] "
                    "in environments.toml)"
                )
            )


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def qtask_runner() -> Iterator[asyncio.Runner]:
    """The one event loop every async step and fixture of this process runs on."""
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="session")
def environment(pytestconfig: pytest.Config) -> Environment:
    """The deployment under test and its expectations."""
    return pytestconfig.stash[ENVIRONMENT_KEY]


@bdd.fixture(scope="session")
async def api(environment: Environment) -> AsyncIterator[ApiClient]:
    client = ApiClient(environment.api_url)
    yield client
    await client.aclose()


@bdd.fixture(scope="session")
async def database(environment: Environment) -> AsyncIterator[DatabaseInspector]:
    inspector = await DatabaseInspector.connect(environment.database_url)
    yield inspector
    await inspector.close()


@bdd.fixture(scope="session")
async def broker(environment: Environment) -> AsyncIterator[BrokerInspector]:
    inspector = BrokerInspector(
        environment.management_url,
        environment.management_user,
        environment.management_password,
        environment.amqp_url,
    )
    yield inspector
    await inspector.aclose()


@pytest.fixture(scope="session")
def consumer_watch(
    pytestconfig: pytest.Config, qtask_runner: asyncio.Runner, broker: BrokerInspector
) -> Iterator[ConsumerWatch]:
    """The run's knowledge of the task queue's consumers, seeded with the preflight's count.

    At the end of the session it awaits workers the suite paused and has not seen return yet
    (``broker``, which that return polls, is torn down after it).
    """
    watch = ConsumerWatch()
    since = _unconsumed_since(pytestconfig)
    if since is not None:
        watch.observe(0, at=time.monotonic() - max(time.time() - since, 0.0))
    yield watch
    try:
        if watch.restoring:
            qtask_runner.run(watch.settled())
    finally:
        _release_held(pytestconfig)


@pytest.fixture(scope="session")
def controller(environment: Environment) -> CommandController | None:
    return controller_for(environment.controller, environment.redactor())


@pytest.fixture(scope="session")
def cleanup_ledger(pytestconfig: pytest.Config) -> CleanupLedger:
    return _ledger(pytestconfig)


@bdd.fixture()
async def scenario_tasks(
    cleanup_ledger: CleanupLedger, api: ApiClient, database: DatabaseInspector
) -> AsyncIterator[ScenarioTasks]:
    """The scenario's submissions, deleted with their history at teardown.

    Teardown runs whether the scenario passed, failed or was interrupted; if the process is
    killed instead, the next run's sweep deletes them.
    """
    tasks = ScenarioTasks(cleanup_ledger, api)
    yield tasks
    await tasks.delete_all(database)


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


def _acquire(directory: Path, key: str, exclusive: bool) -> int:
    turnstile = directory / f"deployment-{key}.turnstile"
    lock = directory / f"deployment-{key}.lock"
    with _flock(turnstile, fcntl.LOCK_EX):
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return fd


def _release_held(config: pytest.Config) -> None:
    held = config.stash.get(HELD_LOCK_KEY, None)
    if held is not None:
        del config.stash[HELD_LOCK_KEY]
        os.close(held)


@pytest.fixture(autouse=True)
def deployment_lock(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    consumer_watch: ConsumerWatch,
    qtask_runner: asyncio.Runner,
) -> Iterator[None]:
    """Scenarios that pause part of the deployment run alone, also across xdist workers.

    Every scenario holds a shared lock; one that needs the controller holds it exclusively. The
    turnstile keeps a waiting exclusive scenario from being starved by a stream of shared ones.

    A scenario that paused the workers hands their return to the consumer watch and keeps its
    exclusive lock until they are back: meanwhile this process goes on with scenarios that need
    no worker (under that lock), and the first wait for a worker awaits the return; the lock is
    released at the end of the scenario that saw the workers back. The next scenario that
    changes the deployment awaits the return before it starts.
    """
    env = pytestconfig.stash[ENVIRONMENT_KEY]
    exclusive = request.node.get_closest_marker("needs_controller") is not None
    if HELD_LOCK_KEY in pytestconfig.stash and (exclusive or not consumer_watch.restoring):
        try:
            if exclusive:
                qtask_runner.run(consumer_watch.settled())
        finally:
            _release_held(pytestconfig)
    if HELD_LOCK_KEY in pytestconfig.stash:
        try:
            yield
        finally:
            if not consumer_watch.restoring:
                _release_held(pytestconfig)
        return
    directory = _state_directory(pytestconfig)
    directory.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(mask_url(env.database_url).encode()).hexdigest()[:12]
    fd = _acquire(directory, key, exclusive)
    try:
        yield
    finally:
        if exclusive and consumer_watch.restoring:
            pytestconfig.stash[HELD_LOCK_KEY] = fd
        else:
            os.close(fd)


# --- performance records --------------------------------------------------------------------


@dataclass(frozen=True)
class Performance:
    """A measured figure of a scenario, as the run record lists it."""

    name: str
    unit: str
    p50: float
    p95: float
    threshold: float
    samples: int
    passed: bool


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 10 samples is the largest but none)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def record_performance(
    node: pytest.Item,
    name: str,
    unit: str,
    samples: Sequence[float],
    threshold: float,
    passed: bool | None = None,
) -> Performance:
    """Summarise ``samples`` and attach them to the scenario's report (crosses xdist).

    ``passed`` defaults to "the p95 is within ``threshold``".
    """
    p95 = percentile(samples, 0.95)
    performance = Performance(
        name=name,
        unit=unit,
        p50=round(percentile(samples, 0.50), 3),
        p95=round(p95, 3),
        threshold=threshold,
        samples=len(samples),
        passed=p95 <= threshold if passed is None else passed,
    )
    node.user_properties.append((PERFORMANCE_PROPERTY, asdict(performance)))
    return performance
