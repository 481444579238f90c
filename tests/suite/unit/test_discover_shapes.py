"""`discover` judges by structure: names are adopted, missing or wrong shapes are violations."""

from __future__ import annotations

from typing import Any

import pytest

from qtask_verify.clients import ExchangeInfo, ForeignKey, QueueInfo
from qtask_verify.discover import Assessment, DraftIndex
from qtask_verify.discover.broker import ListedQueue, choose_task_queue, read_broker, routes
from qtask_verify.discover.database import _history_foreign_key, _indexes, _status_type, _table

STATUSES = ("pending", "processing", "completed", "failed")
TASKS = {
    "task_id": "uuid",
    "circuit": "text",
    "shots": "integer",
    "current_status": "taskstatus",
    "submitted_at": "timestamp with time zone",
    "started_at": "timestamp with time zone",
    "completed_at": "timestamp with time zone",
    "result": "jsonb",
    "error_message": "text",
}


def assessments(rows: list[Any]) -> dict[str, Assessment]:
    return {row.item: row.assessment for row in rows}


def test_an_index_is_found_by_table_and_columns_and_its_name_adopted() -> None:
    rows, draft = _indexes(
        {
            "idx_tasks_status": ("tasks", ("current_status",)),
            "idx_tasks_status_submitted": ("tasks", ("current_status", "submitted_at")),
            "tasks_pkey": ("tasks", ("task_id",)),
        }
    )
    assert draft[0] == DraftIndex("tasks", ("current_status",), "idx_tasks_status")
    assert rows[0].assessment is Assessment.ALLOWED
    # No index on exactly tasks(submitted_at): a violation, kept expected without a name.
    assert draft[1] == DraftIndex("tasks", ("submitted_at",), None)
    assert rows[1].assessment is Assessment.VIOLATION
    assert "idx_tasks_status_submitted on tasks(current_status, submitted_at)" in rows[1].found


def test_the_reference_names_are_as_the_contract() -> None:
    rows, draft = _indexes({"ix_tasks_submitted_at": ("tasks", ("submitted_at",))})
    assert rows[1].assessment is Assessment.AS_CONTRACT
    assert draft[1].name == "ix_tasks_submitted_at"


def test_an_enum_with_another_name_is_adopted_and_missing_statuses_are_not() -> None:
    row, adopted = _status_type("taskstatus", list(STATUSES), STATUSES)
    assert (row.assessment, adopted) == (Assessment.ALLOWED, "taskstatus")
    row, adopted = _status_type("taskstatus", ["pending", "completed", "failed"], STATUSES)
    assert row.assessment is Assessment.VIOLATION
    assert row.why == "missing processing"
    assert adopted == "taskstatus"  # so the run's finding names the type that lacks it
    row, adopted = _status_type("text", [], STATUSES)
    assert (row.assessment, adopted) == (Assessment.VIOLATION, None)


def test_columns_missing_or_retyped_are_violations_extras_and_the_history_id_are_open() -> None:
    tasks = {k: v for k, v in TASKS.items() if k != "started_at"} | {
        "shots": "text",
        "priority": "smallint",
    }
    found = assessments(_table("tasks", tasks, ("task_id",), "taskstatus"))
    assert found["tasks.started_at"] is Assessment.VIOLATION
    assert found["tasks.shots"] is Assessment.VIOLATION
    assert found["tasks extra columns"] is Assessment.ALLOWED
    assert "tasks primary key" not in found
    history = {
        "id": "integer",
        "task_id": "uuid",
        "status": "text",
        "transitioned_at": "timestamp with time zone",
        "notes": "text",
    }
    found = assessments(_table("status_history", history, ("task_id",), "taskstatus"))
    assert found["status_history.id"] is Assessment.ALLOWED
    assert found["status_history.status"] is Assessment.VIOLATION  # not the status enum
    assert found["status_history primary key"] is Assessment.VIOLATION
    text_id = _table("status_history", history | {"id": "text"}, ("id",), "taskstatus")
    assert assessments(text_id)["status_history.id"] is Assessment.VIOLATION
    [missing] = _table("status_history", {}, (), "taskstatus")
    assert missing.assessment is Assessment.VIOLATION


def test_the_foreign_key_is_found_by_columns_and_a_missing_cascade_stays_a_violation() -> None:
    key = ForeignKey(
        "status_history_task_id_fkey", ("task_id",), "tasks", ("task_id",), "NO ACTION"
    )
    named, cascade, found = _history_foreign_key([key])
    assert named.assessment is Assessment.ALLOWED
    assert found is key
    assert cascade.assessment is Assessment.VIOLATION
    named, cascade, found = _history_foreign_key([])
    assert (named.assessment, cascade.assessment, found) == (
        Assessment.VIOLATION,
        Assessment.VIOLATION,
        None,
    )


def queue(name: str, **settings: Any) -> ListedQueue:
    values: dict[str, Any] = {
        "durable": True,
        "auto_delete": False,
        "exclusive": False,
        "arguments": {},
        "type": "classic",
        "consumers": 0,
        "policy": None,
        "operator_policy": None,
        "effective_policy": {},
    }
    return ListedQueue(name=name, **(values | settings))


JOBS = queue("jobs", consumers=2, arguments={"x-dead-letter-exchange": "dead"})
FAILED = queue("jobs.failed")


def test_the_task_queue_is_the_one_with_dead_lettering_and_consumers() -> None:
    others = [queue("amq.gen-x", exclusive=True, consumers=1), FAILED, queue("cache", consumers=1)]
    assert choose_task_queue([*others, JOBS], None) == JOBS
    assert choose_task_queue([FAILED, JOBS], "jobs.failed") == FAILED  # the profile's, if it exists
    assert choose_task_queue([FAILED, JOBS], "gone") == JOBS
    assert choose_task_queue([], None) is None


def test_dead_lettering_set_by_a_policy_counts() -> None:
    by_policy = queue("q", policy="dlx", effective_policy={"dead-letter-exchange": "d"})
    assert by_policy.dead_letter_exchange == "d"
    assert by_policy.setting("x-dead-letter-exchange") == ("d", "policy dlx")


@pytest.mark.parametrize(
    ("kind", "binding", "key", "routed"),
    [
        ("direct", "failed", "failed", True),
        ("direct", "failed", "other", False),
        ("fanout", "", "anything", True),
        ("topic", "jobs.#", "jobs.a.b", True),
        ("topic", "jobs.*", "jobs.a.b", False),
        ("topic", "#", "x", True),
    ],
)
def test_routing_follows_the_exchange_type(kind: str, binding: str, key: str, routed: bool) -> None:
    assert routes(kind, binding, key) is routed


class FakeBroker:
    """BrokerInspector's read methods over fixed answers."""

    vhost = "/"

    def __init__(
        self, exchanges: dict[str, ExchangeInfo], bindings: dict[str, list[tuple[str, str]]]
    ) -> None:
        self._exchanges, self._bindings = exchanges, bindings

    async def exchange(self, name: str) -> ExchangeInfo | None:
        return self._exchanges.get(name)

    async def bindings_from(self, name: str) -> list[tuple[str, str]]:
        return self._bindings.get(name, [])

    async def live_state(self, name: str) -> None:
        return None  # the live count is not asked of this fake: the listed count stands

    async def queue(self, name: str) -> QueueInfo | None:
        return QueueInfo(name, True, False, {}, "classic", 0, 0)


async def test_a_wired_dead_letter_route_is_adopted() -> None:
    broker = FakeBroker(
        {"dead": ExchangeInfo("dead", "fanout", True)}, {"dead": [("jobs.failed", "")]}
    )
    reading = await read_broker(broker, [JOBS, FAILED], None)  # type: ignore[arg-type]
    draft = reading.draft
    assert (draft.queue_name, draft.dead_letter_exchange) == ("jobs", "dead")
    # No routing key argument: dead letters keep their routing key, the queue's name.
    assert (draft.dead_letter_routing_key, draft.dead_letter_queue) == ("jobs", "jobs.failed")
    assert not [r for r in reading.findings if r.assessment is Assessment.VIOLATION]


async def test_a_queue_without_dead_lettering_or_durability_is_a_violation_not_adopted() -> None:
    fragile = queue("jobs", consumers=1, durable=False)
    reading = await read_broker(FakeBroker({}, {}), [fragile], None)  # type: ignore[arg-type]
    violations = {r.item for r in reading.findings if r.assessment is Assessment.VIOLATION}
    assert violations == {"durability", "dead-letter exchange"}
    assert reading.draft.queue_name == "jobs"  # its name is open; its defects stay defects
    assert reading.draft.dead_letter_exchange is None


async def test_a_dead_letter_exchange_that_routes_nowhere_is_a_violation() -> None:
    broker = FakeBroker({"dead": ExchangeInfo("dead", "direct", True)}, {"dead": [("x", "other")]})
    reading = await read_broker(broker, [JOBS], None)  # type: ignore[arg-type]
    [violation] = [r for r in reading.findings if r.assessment is Assessment.VIOLATION]
    assert violation.item == "dead-letter queue"
    assert reading.draft.dead_letter_queue is None


def test_a_setting_that_drops_waiting_tasks_is_a_violation_as_the_run_judges_it() -> None:
    from qtask_verify.discover.broker import _settings

    ttl = queue("jobs", consumers=1, policy="ops", effective_policy={"message-ttl": 60000})
    (row,) = [r for r in _settings(ttl, 1) if r.item == "policies"]
    assert row.assessment is Assessment.VIOLATION
    assert "message-ttl 60000 (policy ops" in row.why
    rejecting = queue(
        "jobs", consumers=1, arguments={"x-max-length": 9, "x-overflow": "reject-publish"}
    )
    (row,) = [r for r in _settings(rejecting, 1) if r.item == "policies"]
    assert row.assessment is Assessment.NOTE
