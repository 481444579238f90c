"""Folding test reports into the run record: attempts, flaky, steps, diagnosis, order, counts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from qtask_verify.run import record as runrecord
from qtask_verify.run.record import RunLog, ScenarioLog, build_run_record, skip_reason
from qtask_verify.run.verdict import Decision, Verdict


def described(name: str, file: str = "features/p1_health.feature", line: int = 3, **extra: Any):
    return {
        "feature": {"name": "Health", "file": file, "description": ""},
        "name": name,
        "line": line,
        "tags": ["p1", "read_only"],
        "priority": "p1",
        "steps": [{"keyword": "Then", "text": "it is up", "outcome": "passed", "duration_s": 0.1}],
        **extra,
    }


def report(nodeid: str, when: str, outcome: str, **attrs: Any) -> SimpleNamespace:
    values = {"duration": 0.1, "longrepr": None, "user_properties": [], **attrs}
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, **values)


def run(log: ScenarioLog | RunLog, *reports: SimpleNamespace) -> None:
    for each in reports:
        log.add(each)


def test_passed_scenario_has_one_attempt_and_its_steps() -> None:
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed", qtask_scenario=described("A")),
        report("t::a", "teardown", "passed"),
    )
    data = log.to_json()
    assert data["outcome"] == "passed"
    assert data["attempts"] == ["passed"]
    assert data["duration_s"] == 0.3
    assert data["steps"][0]["outcome"] == "passed"
    assert data["diagnosis"] is None
    assert data["timeline"] == []


def test_failure_carries_diagnosis_and_timeline() -> None:
    fault = {
        "component": "workers",
        "message": "no worker is consuming quantum_tasks (0 consumers)",
        "timeline": [{"t_s": 0.0, "observation": "task pending"}],
    }
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "failed", qtask_scenario=described("A"), qtask_fault=fault),
        report("t::a", "teardown", "passed"),
    )
    data = log.to_json()
    assert data["outcome"] == "failed"
    assert data["diagnosis"] == {
        "component": "workers",
        "message": fault["message"],
        "detail": None,
        "loss": False,
    }
    assert data["timeline"] == fault["timeline"]


def test_teardown_error_fails_a_passed_scenario() -> None:
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed"),
        report("t::a", "teardown", "failed"),
    )
    assert log.outcome == "failed"


def test_rerun_then_pass_is_flaky_with_every_attempt() -> None:
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "rerun", qtask_fault={"component": None, "message": "x"}),
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed"),
        report("t::a", "teardown", "passed"),
    )
    assert log.attempts == ["failed", "passed"]
    assert log.outcome == "flaky"
    assert log.verdict_input().outcome == "flaky"


def test_rerun_that_keeps_failing_is_failed() -> None:
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "rerun"),
        report("t::a", "setup", "passed"),
        report("t::a", "call", "failed"),
        report("t::a", "teardown", "passed"),
    )
    assert (log.outcome, log.attempts) == ("failed", ["failed", "failed"])


def test_skip_reason_is_kept_without_pytest_prefix() -> None:
    log = ScenarioLog("t::a")
    run(log, report("t::a", "setup", "skipped", longrepr=("f.py", 3, "Skipped: no controller")))
    run(log, report("t::a", "teardown", "passed"))
    assert (log.outcome, log.to_json()["skip_reason"]) == ("skipped", "no controller")
    assert skip_reason(["f.py", 3, "Skipped: over the wire"]) == "over the wire"
    assert skip_reason(None) is None


def test_performance_figures_come_from_user_properties() -> None:
    figure = {"name": "submission latency", "unit": "ms", "p50": 12.0, "passed": True}
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed"),
        report("t::a", "teardown", "passed", user_properties=[("qtask_performance", figure)]),
    )
    assert log.performance == [figure]


def test_features_are_grouped_and_ordered_by_file_and_line_whatever_the_arrival() -> None:
    log = RunLog()
    b = described("B", file="features/p2_schema.feature", line=9)
    a2 = described("A2", line=20)
    a1 = described("A1", line=5)
    for nodeid, scenario in (("z::b", b), ("y::a2", a2), ("x::a1", a1)):
        run(
            log,
            report(nodeid, "setup", "passed"),
            report(nodeid, "call", "passed", qtask_scenario=scenario),
        )
    features = runrecord.group_by_feature(log.scenarios())
    assert [f["file"] for f in features] == [
        "features/p1_health.feature",
        "features/p2_schema.feature",
    ]
    assert [s["name"] for s in features[0]["scenarios"]] == ["A1", "A2"]


def test_run_record_round_trips_through_the_file(tmp_path: Path) -> None:
    log = RunLog()
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed", qtask_scenario=described("A")),
    )
    record = build_run_record(
        run_id="id",
        started_at="2026-11-23T23:40:00+00:00",
        finished_at="2026-11-23T23:40:01+00:00",
        duration_s=1.23456,
        environment={"name": "local", "database_url": "postgresql://q:***@h/db"},
        preflight={"ok": True, "duration_s": 0.2, "failures": []},
        components=[{"name": "api", "status": "up", "latency_ms": 1.0, "detail": "healthy"}],
        fingerprint={"alembic_revision": "0002"},
        verdict=Verdict(Decision.GO, "all 1 scenarios passed"),
        exit_code=0,
        logs=log.scenarios(),
    )
    path = runrecord.write_run_record(record, tmp_path / "reports")
    loaded = runrecord.read_run_record(tmp_path / "reports")
    assert loaded == json.loads(path.read_text())
    assert loaded is not None
    assert loaded["schema"] == "qtask-verify/run/1"
    assert (loaded["verdict"], loaded["exit_code"], loaded["duration_s"]) == ("GO", 0, 1.235)
    assert loaded["counts"] == {"passed": 1, "failed": 0, "skipped": 0, "flaky": 0}
    assert loaded["features"][0]["scenarios"][0]["nodeid"] == "t::a"
    assert runrecord.read_run_record(tmp_path / "missing") is None


def test_performance_of_a_rerun_item_keeps_the_last_attempt_only() -> None:
    first = {"name": "latency", "p50": 900.0, "passed": False}
    second = {"name": "latency", "p50": 10.0, "passed": True}
    log = ScenarioLog("t::a")
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "rerun"),
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed"),
        report(
            "t::a",
            "teardown",
            "passed",
            user_properties=[("qtask_performance", first), ("qtask_performance", second)],
        ),
    )
    assert log.performance == [second]
