"""Folding test reports into the run record: attempts, flaky, steps, diagnosis, order, counts;
the typed record written and read back by the same code, tolerant of older writers."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from qtask_verify.run.decision import Decision
from qtask_verify.run.log import RunLog, ScenarioLog, skip_reason
from qtask_verify.run.record import (
    POLICY,
    Component,
    Diagnosis,
    Preflight,
    RunRecord,
    read_run_record,
    write_run_record,
)


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
    scenario = log.to_scenario()
    assert scenario.outcome == "passed"
    assert scenario.attempts == ("passed",)
    assert scenario.duration_s == 0.3
    assert scenario.steps[0].outcome == "passed"
    assert scenario.diagnosis is None
    assert scenario.timeline == ()


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
    scenario = log.to_scenario()
    assert scenario.outcome == "failed"
    assert scenario.diagnosis == Diagnosis("workers", str(fault["message"]), None, False)
    assert [(o.t_s, o.observation) for o in scenario.timeline] == [(0.0, "task pending")]


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
    assert log.to_scenario().outcome == "flaky"


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
    assert (log.outcome, log.to_scenario().skip_reason) == ("skipped", "no controller")
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
    features = log.features()
    assert [f.file for f in features] == [
        "features/p1_health.feature",
        "features/p2_schema.feature",
    ]
    assert [s.name for s in features[0].scenarios] == ["A1", "A2"]


def test_run_record_round_trips_through_the_file(tmp_path: Path) -> None:
    log = RunLog()
    run(
        log,
        report("t::a", "setup", "passed"),
        report("t::a", "call", "passed", qtask_scenario=described("A")),
    )
    record = RunRecord(
        run_id="id",
        started_at="2026-11-23T23:40:00+00:00",
        finished_at="2026-11-23T23:40:01+00:00",
        duration_s=1.235,
        environment={"name": "local", "database_url": "postgresql://q:***@h/db"},
        preflight=Preflight(True, 0.2, ()),
        components=(Component("api", "up", 1.0, "healthy"),),
        fingerprint={"alembic_revision": "0002"},
        features=log.features(),
    ).with_verdict(Decision.GO, "all 1 scenarios passed", "read-only checks")
    path = write_run_record(record, tmp_path / "reports")
    assert read_run_record(tmp_path / "reports") == record
    written = json.loads(path.read_text())
    assert written["schema"] == "qtask-verify/run/2"
    assert (written["verdict"], written["exit_code"], written["scope"]) == (
        "GO",
        0,
        "read-only checks",
    )
    assert written["counts"] == {
        "passed": 1,
        "failed": 0,
        "flaky": 0,
        "skipped": 0,
        POLICY: 0,
    }
    assert written["features"][0]["scenarios"][0]["nodeid"] == "t::a"
    assert read_run_record(tmp_path / "missing") is None


def test_an_older_record_is_read_with_its_counts_and_an_unknown_verdict_is_unknown() -> None:
    older = {
        "schema": "qtask-verify/run/1",
        "verdict": "GO",
        "exit_code": 0,
        "counts": {"passed": 2, "failed": 0, "skipped": 1, "flaky": 0},
        "environment": {"name": "staging", "amqp_url": "amqp://u:hunter2@mq/"},
    }
    record = RunRecord.from_json(older)
    assert (record.verdict, record.scope, record.counts["passed"]) == ("GO", None, 2)
    assert record.environment["amqp_url"] == "amqp://u:***@mq/"
    assert RunRecord.from_json({"verdict": "maybe"}).verdict == "UNKNOWN"
    assert RunRecord.from_json("not a record").verdict == "UNKNOWN"


def test_a_policy_skip_is_not_run_by_policy_and_a_loss_survives_a_passing_rerun() -> None:
    policy = ScenarioLog("t::p")
    run(
        policy,
        report("t::p", "setup", "skipped", longrepr=("f", 1, "Skipped: not run by policy: x"),
               qtask_not_run_by_policy=True),
    )  # fmt: skip
    assert policy.outcome == POLICY
    lost = {"component": "workers", "message": "1 task lost", "loss": True}
    rerun = ScenarioLog("t::l")
    run(
        rerun,
        report("t::l", "setup", "passed"),
        report("t::l", "call", "rerun", qtask_fault=lost),
        report("t::l", "setup", "passed"),
        report("t::l", "call", "passed"),
    )
    scenario = rerun.to_scenario()
    assert scenario.outcome == "flaky"
    assert scenario.losses == (Diagnosis("workers", "1 task lost", None, True),)


def test_a_performance_scenario_that_measured_nothing_says_why() -> None:
    fault = {"component": "workers", "message": "task stayed pending", "timeline": []}
    log = ScenarioLog("t::perf")
    run(
        log,
        report("t::perf", "setup", "passed"),
        report("t::perf", "call", "failed", qtask_fault=fault,
               qtask_scenario=described("Fast", tags=["p2", "performance"])),
    )  # fmt: skip
    [metric] = log.metrics()
    assert (metric.name, metric.p95) == ("Fast", None)
    assert (
        metric.not_measured == "the scenario failed before measuring: workers: task stayed pending"
    )


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
