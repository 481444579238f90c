"""A scenario with several promises checks every one: a failed check does not stop it.

Full pytest-bdd runs (pytester, in process) with the engine's real hook wiring and the reporting
plugin: a failed ``Then`` that provides nothing is held and the scenario goes on; it fails at its
end with every failure, each its own diagnosis in the run record, a loss first and NO-GO. A
failing ``Then`` with a target fixture, or a ``When``, still stops the scenario.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from qtask_verify.reports import terminal
from qtask_verify.run.causes import group_causes
from qtask_verify.run.record import Diagnosis, Feature, Preflight, RunRecord, Scenario
from qtask_verify.run.verdict import RunFacts, decide

pytest_plugins = ("pytester",)

FEATURE = """\
Feature: Promises
  @p3 @queue
  Scenario: Two checks fail
    Given a deployment
    Then the health is wrong
    And the broker is wrong
    And all is well

  @p3 @queue
  Scenario: A check fails, then a task is lost
    Given a deployment
    Then the health is wrong
    When I submit a task
    Then the task is lost
    And all is well

  @p3 @queue
  Scenario: A check that provides a fixture stops the scenario
    Given a deployment
    Then the health is wrong
    And the tasks are read
    And all is well

  @p3 @queue
  Scenario: A skip after a failed check does not hide it
    Given a deployment
    Then the health is wrong
    When the deployment cannot be changed here
    Then all is well
"""

STEPS = """\
import pytest
from pytest_bdd import scenarios

from qtask_verify.bdd import given, then, when
from qtask_verify.errors import DeploymentFault

scenarios("promises.feature")


@given("a deployment")
def _():
    pass


@then("the health is wrong")
def _():
    raise DeploymentFault("api", "with the queue down, /health answered 200")


@then("the broker is wrong")
def _():
    raise DeploymentFault("queue", "queue quantum_tasks is not durable")


@when("I submit a task")
def _():
    pass


@then("the task is lost")
def _():
    raise DeploymentFault("queue", "1 of 1 accepted task(s): their messages were lost", loss=True)


@then("the tasks are read", target_fixture="tasks")
def _():
    raise DeploymentFault("workers", "1 of 1 accepted task(s) did not finish")


@when("the deployment cannot be changed here")
def _():
    pytest.skip("no controller configured")


@then("all is well")
def _():
    pass
"""

# The engine's real hook wiring, without its preflight (no deployment here).
CONFTEST = """\
from qtask_verify.plugin import (  # noqa: F401
    pytest_bdd_before_scenario,
    pytest_bdd_before_step,
    pytest_runtest_call,
)
"""


def _run(
    pytester: pytest.Pytester, keyword: str, *extra: str
) -> tuple[pytest.RunResult, RunRecord]:
    pytester.makefile(".feature", promises=FEATURE)
    pytester.makepyfile(test_promises=STEPS)
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "-p",
        "qtask_verify.reports.plugin",
        "--qtask-report-dir",
        "reports",
        "--junitxml",
        "junit.xml",
        "-k",
        keyword,
        *extra,
    )
    raw = json.loads((pytester.path / "reports" / "run.json").read_text(encoding="utf-8"))
    return result, RunRecord.from_json(raw)


def _junit_message(pytester: pytest.Pytester) -> str:
    failure = ET.parse(pytester.path / "junit.xml").getroot().find(".//failure")
    assert failure is not None
    return failure.get("message", "")


def _only(record: RunRecord) -> Scenario:
    [scenario] = record.scenarios
    return scenario


def _outcomes(scenario: Scenario) -> list[str]:
    return [step.outcome for step in scenario.steps]


def test_two_failed_checks_are_both_reported_and_the_scenario_fails(
    pytester: pytest.Pytester,
) -> None:
    result, record = _run(pytester, "two_checks_fail")
    result.assert_outcomes(failed=1)
    scenario = _only(record)
    assert scenario.outcome == "failed"
    assert _outcomes(scenario) == ["passed", "failed", "failed", "passed"]
    assert [d.said for d in scenario.diagnoses] == [
        "api: with the queue down, /health answered 200",
        "queue: queue quantum_tasks is not durable",
    ]
    assert scenario.diagnosis is not None and scenario.diagnosis.component == "api"
    assert [c.said for c in record.causes] == [d.said for d in scenario.diagnoses]
    assert record.verdict == "GO WITH RISKS"
    assert "1 P2/P3 scenario failed (2 causes)" in record.reason
    # Each failure with its traceback in the terminal; the one-line message names the first.
    result.stdout.fnmatch_lines(
        [
            "*DeploymentFault: api: with the queue down, /health answered 200",
            "*DeploymentFault: queue: queue quantum_tasks is not durable",
        ]
    )
    assert _junit_message(pytester) == (
        "api: with the queue down, /health answered 200 (and 1 more failure(s))"
    )


def test_a_loss_after_a_failed_check_is_no_go_with_the_loss_first(
    pytester: pytest.Pytester,
) -> None:
    result, record = _run(pytester, "then_a_task_is_lost")
    result.assert_outcomes(failed=1)
    scenario = _only(record)
    assert _outcomes(scenario) == ["passed", "failed", "passed", "failed", "passed"]
    assert [(d.component, d.loss) for d in scenario.diagnoses] == [("api", False), ("queue", True)]
    assert scenario.diagnosis == scenario.diagnoses[1]  # the headline is the loss
    assert [d.component for d in scenario.losses] == ["queue"]
    assert record.verdict == "NO-GO"
    assert record.reason.startswith(
        "an accepted task was lost: 1 cause, 1 scenario affected (0 P1): queue: 1 of 1 accepted"
    )
    causes = record.causes
    assert [(c.component, c.loss) for c in causes] == [("queue", True), ("api", False)]
    assert _junit_message(pytester).startswith("queue: 1 of 1 accepted task(s): their messages")


def test_a_failed_check_that_provides_a_fixture_stops_the_scenario(
    pytester: pytest.Pytester,
) -> None:
    result, record = _run(pytester, "provides_a_fixture")
    result.assert_outcomes(failed=1)
    scenario = _only(record)
    assert _outcomes(scenario) == ["passed", "failed", "failed", "not run"]
    assert [d.said for d in scenario.diagnoses] == [
        "api: with the queue down, /health answered 200",
        "workers: 1 of 1 accepted task(s) did not finish",
    ]


def test_a_skip_after_a_failed_check_leaves_the_scenario_failed(
    pytester: pytest.Pytester,
) -> None:
    result, record = _run(pytester, "skip_after")
    result.assert_outcomes(failed=1)
    scenario = _only(record)
    assert scenario.outcome == "failed"
    assert [d.said for d in scenario.diagnoses] == [
        "api: with the queue down, /health answered 200"
    ]
    result.stdout.fnmatch_lines(["*Skipped: no controller configured*"])


def test_without_the_engines_hooks_a_failed_check_stops_the_scenario(
    pytester: pytest.Pytester,
) -> None:
    """Nothing holds a failure where nothing would raise it at the end."""
    pytester.makefile(".feature", promises=FEATURE)
    pytester.makepyfile(test_promises=STEPS)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:asyncio", "-k", "two_checks_fail"
    )
    result.assert_outcomes(failed=1)
    assert "queue quantum_tasks is not durable" not in result.stdout.str()


def test_the_cucumber_json_marks_each_failed_check(pytester: pytest.Pytester) -> None:
    _run(pytester, "two_checks_fail", "--cucumberjson", "cucumber.json")
    [feature] = json.loads((pytester.path / "cucumber.json").read_text(encoding="utf-8"))
    [element] = feature["elements"]
    results = [step["result"] for step in element["steps"]]
    assert [r["status"] for r in results] == ["passed", "failed", "failed", "passed"]
    assert [r.get("error_message") for r in results[1:3]] == [
        "api: with the queue down, /health answered 200",
        "queue: queue quantum_tasks is not durable",
    ]


# --- the record and the causes, without pytest ------------------------------------------------


def test_each_failure_is_a_cause_unless_its_component_failed_earlier_in_the_scenario() -> None:
    health = Diagnosis("api", "with the queue down, /health answered 200")
    failed = Diagnosis("workers", "the task failed: the simulator is unavailable")
    no_result = Diagnosis("workers", "the result is not a flat object of bitstring -> count: None")
    bell = Scenario(
        "Bell",
        priority="p1",
        outcome="failed",
        diagnosis=health,
        diagnoses=(health, failed, no_result, no_result),
    )
    # The missing result follows from the failed task: no cause of its own.
    assert [(c.said, len(c.scenarios)) for c in group_causes([bell], [])] == [
        (health.said, 1),
        (failed.said, 1),
    ]
    # Where another scenario establishes it, the consequence joins it, counted once.
    other = Scenario(
        "Other", priority="p1", outcome="failed", diagnosis=no_result, diagnoses=(no_result,)
    )
    causes = group_causes([bell, other], [])
    assert {c.said: [s.name for s in c.scenarios] for c in causes} == {
        health.said: ["Bell"],
        failed.said: ["Bell"],
        no_result.said: ["Other", "Bell"],
    }
    assert next(c for c in causes if c.said == no_result.said).diagnosis_of(bell) == no_result
    facts = RunFacts(scenarios=[bell, other], preflight=Preflight(True))
    assert decide(facts).reason.startswith("3 causes, 2 scenarios affected (2 P1): ")
    assert terminal.cause_lines(causes)[0] == "3 causes, 2 scenarios affected:"


def test_the_record_keeps_every_diagnosis_and_an_older_one_its_headline() -> None:
    lost = Diagnosis("queue", "their messages were lost", loss=True)
    health = Diagnosis("api", "/health answered 200")
    scenario = Scenario(
        "Lost", outcome="failed", diagnosis=lost, losses=(lost,), diagnoses=(health, lost)
    )
    record = RunRecord(features=(Feature("F", scenarios=(scenario,)),))
    [read] = RunRecord.from_json(json.loads(json.dumps(record.to_json()))).scenarios
    assert read.failures == (health, lost)
    older = Scenario("Old", outcome="failed", diagnosis=health)
    assert older.failures == (health,)
