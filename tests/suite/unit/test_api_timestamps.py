"""The API's timestamps of a task against the database's: the same instants, said plainly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qtask_verify.checks.views import api_time, timestamp_differences
from qtask_verify.clients import TaskRow

STORED = datetime(2026, 12, 6, 16, 23, 45, 346512, tzinfo=UTC)


def task(**times: datetime | None) -> TaskRow:
    stamps = {
        "submitted_at": STORED - timedelta(seconds=2),
        "started_at": STORED - timedelta(seconds=1),
        "completed_at": STORED,
    } | times
    return TaskRow("t1", "circuit", 10, "completed", result=None, error_message=None, **stamps)


def differences(**shown: object) -> list[str]:
    return timestamp_differences("t1", shown, task())


def test_the_same_instant_in_any_iso_8601_form_agrees() -> None:
    for value in (
        "2026-12-06T16:23:45.346512+00:00",
        "2026-12-06T16:23:45.346512Z",
        "2026-12-06T17:23:45.346512+01:00",
        "2026-12-06 16:23:45.346512",  # no offset: read as UTC
        "2026-12-06T16:23:45.346Z",  # milliseconds, truncated
        "2026-12-06T16:23:45.347Z",  # milliseconds, rounded
        "2026-12-06T16:23:45Z",  # whole seconds: agrees to its last digit
    ):
        assert differences(completed_at=value) == [], value


def test_a_missing_field_is_no_difference_and_null_agrees_with_an_unset_column() -> None:
    assert differences() == []
    assert timestamp_differences("t1", {"started_at": None}, task(started_at=None)) == []


def test_another_instant_is_named_with_both_times() -> None:
    assert differences(completed_at="2026-12-06T17:23:45.346512+00:00") == [
        "the API reports completed_at 17:23:45.346 for task t1, the database 16:23:45.346"
    ]
    assert differences(started_at="2026-12-06T16:23:43.346512+00:00") == [
        "the API reports started_at 16:23:43.346 for task t1, the database 16:23:44.346"
    ]


def test_more_than_a_millisecond_apart_differs_when_the_api_gives_microseconds() -> None:
    assert differences(completed_at="2026-12-06T16:23:45.347600+00:00") == [
        "the API reports completed_at 16:23:45.347 for task t1, the database 16:23:45.346"
    ]


def test_a_time_without_offset_says_how_it_was_read() -> None:
    assert differences(completed_at="2026-12-06T17:23:45.346512") == [
        "the API reports completed_at 17:23:45.346 (given without an offset, read as UTC) "
        "for task t1, the database 16:23:45.346"
    ]


def test_another_day_shows_the_dates() -> None:
    assert differences(completed_at="2026-12-07T16:23:45.346512+00:00") == [
        "the API reports completed_at 2026-12-07 16:23:45.346 for task t1, "
        "the database 2026-12-06 16:23:45.346"
    ]


def test_null_unreadable_or_unstored_times_are_differences() -> None:
    assert differences(completed_at=None) == [
        "the API reports completed_at null for task t1, the database 16:23:45.346"
    ]
    assert differences(completed_at="yesterday") == [
        "the API reports completed_at 'yesterday', which is not an ISO 8601 time, "
        "for task t1, the database 16:23:45.346"
    ]
    unstored = timestamp_differences(
        "t1", {"completed_at": "2026-12-06T16:23:45Z"}, task(completed_at=None)
    )
    assert unstored == [
        "the API reports completed_at 16:23:45.000 for task t1, the database has none"
    ]


def test_the_resolution_is_the_last_digit_given() -> None:
    assert (parsed := api_time("2026-12-06T16:23:45.346+00:00")) is not None
    assert parsed.resolution == timedelta(milliseconds=1)
    assert parsed.zoned
    assert (whole := api_time("2026-12-06T16:23:45")) is not None
    assert whole.resolution == timedelta(seconds=1)
    assert not whole.zoned
    assert api_time(1733500000) is None
