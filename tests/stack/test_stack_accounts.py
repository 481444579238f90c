"""Least privilege on a real broker: each account may do exactly what `qtask_stack.accounts` says.

One stack for the module, on a vhost of its own (as a second implementation would run) and with
an extra variable for the service, so the same boot also proves that the service runs on its
non-administrator account on any vhost, that tracing is switched by the stack, and that the
service's settings are kept for later starts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import aio_pika
import aiormq
import httpx
import psutil
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from qtask_stack import Stack, temporary_stack
from qtask_stack.accounts import ACCOUNTS, ADMIN, SERVICE, VERIFIER, definitions, password_hash
from qtask_stack.state import load_state

VHOST = "qtask variant/b"
MARK = "QTASK_STACK_TEST_MARK"
QUEUE = "quantum_tasks"
BELL = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
    "h q[0];\ncx q[0], q[1];\nc = measure q;\n"
)

Attempt = Callable[[AbstractChannel], Awaitable[object]]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with temporary_stack(workers=1, vhost=VHOST, extra_env={MARK: "kept"}) as running:
        yield running


def _management(stack: Stack, env: dict[str, str], method: str, path: str) -> int:
    auth = (env["QTASK_MANAGEMENT_USER"], env["QTASK_MANAGEMENT_PASSWORD"])
    url = f"{env['QTASK_MANAGEMENT_URL']}{path}"
    body = {"tracing": True} if method == "PUT" else None
    return httpx.request(method, url, auth=auth, json=body, timeout=10).status_code


def _amqp(url: str, attempt: Attempt) -> str:
    """ "ok", or the broker's refusal (access refused closes the channel)."""

    async def run() -> str:
        connection = await aio_pika.connect(url, timeout=10)
        try:
            channel = await connection.channel()
            await attempt(channel)
            return "ok"
        except aiormq.exceptions.ChannelAccessRefused:
            return "refused"
        finally:
            await connection.close()

    return asyncio.run(run())


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("qtask-stack") or str(Path(".venv/bin/qtask-stack"))
    return subprocess.run(
        [executable, "--state-dir", str(stack.state_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_definitions_store_only_salted_hashes_that_rabbitmq_can_check() -> None:
    passwords = {account.name: f"pw-{account.name}" for account in ACCOUNTS}
    document = json.loads(definitions("v", passwords))
    for user in document["users"]:
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert digest == hashlib.sha256(salt + passwords[user["name"]].encode()).digest()
        assert passwords[user["name"]] not in json.dumps(document)
    assert password_hash("x", b"salt") == password_hash("x", b"salt")
    assert password_hash("x") != password_hash("x")
    grants = {(p["user"], p["vhost"]) for p in document["permissions"]}
    assert grants == {
        (ADMIN.name, "/"),
        (ADMIN.name, "v"),
        (SERVICE.name, "v"),
        (VERIFIER.name, "v"),
    }


def test_every_url_names_the_vhost(stack: Stack) -> None:
    encoded = "/" + quote(VHOST, safe="")
    assert urlsplit(stack.suite_env()["QTASK_AMQP_URL"]).path == encoded
    assert urlsplit(stack.admin_env()["QTASK_AMQP_URL"]).path == encoded
    assert urlsplit(stack.service_env()["QTASK_SERVICE_AMQP_URL"]).path == encoded
    env_file = (stack.state_dir / "stack.env").read_text()
    assert f"QTASK_AMQP_URL={stack.suite_env()['QTASK_AMQP_URL']}\n" in env_file


def test_the_service_runs_on_its_account_without_any_management_tag(stack: Stack) -> None:
    service_url = urlsplit(stack.service_env()["QTASK_SERVICE_AMQP_URL"])
    auth = (service_url.username or "", service_url.password or "")
    management = stack.suite_env()["QTASK_MANAGEMENT_URL"]
    assert httpx.get(f"{management}/api/overview", auth=auth, timeout=10).status_code == 401
    api = stack.suite_env()["QTASK_API_URL"]
    task = httpx.post(f"{api}/tasks", json={"qc": BELL, "shots": 64}, timeout=10)
    assert task.status_code == 200, task.text
    task_id = task.json()["task_id"]
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline and status != "completed":
        status = httpx.get(f"{api}/tasks/{task_id}", timeout=10).json()["status"]
        time.sleep(0.2)
    assert status == "completed"
    state = load_state(stack.state_dir)
    assert state is not None
    _delete_task(state.database_url(), task_id)


def _delete_task(database_url: str, task_id: str) -> None:
    import asyncpg

    async def delete() -> None:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            await connection.execute("DELETE FROM status_history WHERE task_id = $1", task_id)
            await connection.execute("DELETE FROM tasks WHERE task_id = $1", task_id)
        finally:
            await connection.close()

    asyncio.run(delete())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/overview", 200),
        ("/api/queues/{vhost}/quantum_tasks", 200),
        ("/api/exchanges/{vhost}/quantum_tasks.dlx", 200),
        ("/api/exchanges/{vhost}/quantum_tasks.dlx/bindings/source", 200),
        ("/api/policies/{vhost}", 200),
        ("/api/vhosts", 200),
        ("/api/users", 401),
        ("/api/definitions", 401),
    ],
)
def test_the_verifier_reads_the_management_api_as_a_monitor(
    stack: Stack, path: str, expected: int
) -> None:
    resolved = path.format(vhost=quote(VHOST, safe=""))
    assert _management(stack, stack.suite_env(), "GET", resolved) == expected
    assert _management(stack, stack.admin_env(), "GET", resolved) == 200


def test_the_verifier_changes_nothing_through_the_management_api(stack: Stack) -> None:
    vhost = quote(VHOST, safe="")
    assert _management(stack, stack.suite_env(), "PUT", f"/api/vhosts/{vhost}") == 401
    assert _management(stack, stack.suite_env(), "DELETE", f"/api/queues/{vhost}/{QUEUE}") == 401
    assert stack.tracing() is False


async def _passive(channel: AbstractChannel) -> None:
    await channel.declare_queue(QUEUE, passive=True)


async def _publish(channel: AbstractChannel) -> None:
    await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=QUEUE)


async def _ignore(message: AbstractIncomingMessage) -> None:
    return None


async def _consume(channel: AbstractChannel) -> None:
    queue = await channel.declare_queue(QUEUE, passive=True)
    await queue.consume(_ignore)


async def _purge(channel: AbstractChannel) -> None:
    queue = await channel.declare_queue(QUEUE, passive=True)
    await queue.purge()


async def _declare_named(channel: AbstractChannel) -> None:
    await channel.declare_queue("intruder", auto_delete=True)


async def _bind_to_the_dead_letter_exchange(channel: AbstractChannel) -> None:
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind("quantum_tasks.dlx", routing_key="#")


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        (_passive, "ok"),
        (_publish, "refused"),
        (_consume, "refused"),
        (_purge, "refused"),
        (_declare_named, "refused"),
        (_bind_to_the_dead_letter_exchange, "refused"),
    ],
    ids=lambda value: getattr(value, "__name__", value).strip("_"),
)
def test_the_verifier_may_only_look_over_amqp(
    stack: Stack, attempt: Attempt, expected: str
) -> None:
    assert _amqp(stack.suite_env()["QTASK_AMQP_URL"], attempt) == expected
    assert _amqp(stack.admin_env()["QTASK_AMQP_URL"], _passive) == "ok"


def test_tracing_switched_by_the_stack_lets_the_verifier_see_a_publish(stack: Stack) -> None:
    switched = _cli(stack, "trace", "on")
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.strip() == f"qtask-stack: tracing on vhost {VHOST}: on"
    try:
        seen = asyncio.run(_trace_one_submission(stack))
    finally:
        off = _cli(stack, "trace", "off")
    assert off.stdout.strip() == f"qtask-stack: tracing on vhost {VHOST}: off"
    assert _cli(stack, "trace", "status").stdout.strip().endswith(": off")
    assert "publish." in seen
    assert f"deliver.{QUEUE}" in seen


async def _trace_one_submission(stack: Stack) -> set[str]:
    """Routing keys of the trace copies of one task's publish and delivery, as the verifier."""
    connection = await aio_pika.connect(stack.suite_env()["QTASK_AMQP_URL"], timeout=10)
    seen: set[str] = set()
    wanted = {"publish.", f"deliver.{QUEUE}"}
    complete = asyncio.Event()
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind("amq.rabbitmq.trace", routing_key="#")

        async def collect(message: AbstractIncomingMessage) -> None:
            seen.add(message.routing_key or "")
            await message.ack()
            if wanted <= seen:
                complete.set()

        await queue.consume(collect)
        api = stack.suite_env()["QTASK_API_URL"]
        async with httpx.AsyncClient(base_url=api, timeout=10) as http:
            task = await http.post("/tasks", json={"qc": BELL, "shots": 16})
            assert task.status_code == 200, task.text
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(complete.wait(), timeout=15)
    finally:
        await connection.close()
    state = load_state(stack.state_dir)
    assert state is not None
    await asyncio.to_thread(_delete_task, state.database_url(), task.json()["task_id"])
    return seen


def _worker_environ(stack: Stack) -> dict[str, str]:
    pid = next(row.pid for row in stack.status() if row.name == "worker-1")
    assert pid is not None
    return psutil.Process(pid).environ()


def _database_answer(database_url: str, statement: str) -> str:
    """ "ok", or the class of PostgreSQL's refusal, for one statement in a rolled-back
    transaction (so nothing the verifier was wrongly allowed to do would stay)."""
    import asyncpg

    async def run() -> str:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.execute(statement)
                return "ok"
            except asyncpg.InsufficientPrivilegeError:
                return "refused"
            finally:
                await transaction.rollback()
        finally:
            await connection.close()

    return asyncio.run(run())


def test_the_database_verifier_reads_and_deletes_only(stack: Stack) -> None:
    state = load_state(stack.state_dir)
    assert state is not None
    verifier = state.database_url(verifier=True)
    assert stack.suite_env()["QTASK_DATABASE_URL"] == verifier
    allowed = [
        "SELECT count(*) FROM tasks",
        "SELECT count(*) FROM status_history",
        "SELECT version_num FROM alembic_version",
        "SELECT system_identifier FROM pg_control_system()",
        "DELETE FROM status_history WHERE false",
        "DELETE FROM tasks WHERE false",
    ]
    refused = [
        "INSERT INTO tasks (task_id, circuit, shots) VALUES (gen_random_uuid(), 'x', 1)",
        "UPDATE tasks SET shots = shots WHERE false",
        "DELETE FROM alembic_version WHERE false",
        "TRUNCATE status_history",
        "CREATE TABLE verifier_was_here (x int)",
        "DROP INDEX IF EXISTS ix_tasks_current_status",
    ]
    answers = {statement: _database_answer(verifier, statement) for statement in allowed + refused}
    assert answers == {**dict.fromkeys(allowed, "ok"), **dict.fromkeys(refused, "refused")}


def test_the_service_settings_are_kept_for_later_starts(stack: Stack) -> None:
    assert _worker_environ(stack)[MARK] == "kept"
    restarted = _cli(stack, "restart", "worker", "1")
    assert restarted.returncode == 0, restarted.stderr
    assert _worker_environ(stack)[MARK] == "kept"
    overridden = _cli(stack, "restart", "worker", "1", "--env", f"{MARK}=this start only")
    assert overridden.returncode == 0, overridden.stderr
    assert _worker_environ(stack)[MARK] == "this start only"
    state = load_state(stack.state_dir)
    assert state is not None
    assert state.extra_env == {MARK: "kept"}
