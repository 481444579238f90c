"""A finished task's record: its timestamps in order, its history ending where it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qtask_verify.checks.accounting import record_problems
from qtask_verify.clients import HistoryRow, TaskRow

T0 = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def task(status: str = "completed", **times: datetime | None) -> TaskRow:
    stamps = {"submitted_at": at(0), "started_at": at(1), "completed_at": at(2)} | times
    return TaskRow("t1", "circuit", 10, status, result=None, error_message=None, **stamps)


HISTORY = [HistoryRow("pending", at(0), None), HistoryRow("processing", at(1), None),
           HistoryRow("completed", at(2), None)]  # fmt: skip


def test_a_consistent_record_has_no_problem() -> None:
    assert record_problems(task(), HISTORY) == []


def test_each_inconsistency_is_said_with_its_times() -> None:
    assert record_problems(task(completed_at=None), HISTORY) == ["completed_at not set"]
    assert record_problems(task(started_at=at(3)), HISTORY) == [
        "started_at 12:00:03.000 is later than completed_at 12:00:02.000"
    ]
    assert record_problems(task("failed"), HISTORY) == [
        "its history ends with completed but it is failed"
    ]
    late = [*HISTORY[:2], HistoryRow("completed", at(9), None)]
    assert record_problems(task(), late) == [
        "history rows outside its span 12:00:00.000 to 12:00:02.000: completed at 12:00:09.000"
    ]


def test_an_unfinished_task_is_a_problem() -> None:
    assert record_problems(task("processing", completed_at=None), HISTORY[:2]) == [
        "it is processing, not completed or failed",
        "completed_at not set",
    ]
