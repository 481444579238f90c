"""The reporting plugin and CLI on a tiny Gherkin suite with a fake engine (no deployment needed).

The fake engine stands in for `qtask_verify.plugin`: it loads the environment the real way and
stores a canned preflight report under the real stash keys. The suite leaks its password every
way a failing scenario can (assertion, stdout, stderr, logging, warnings): no report, no terminal
line may contain it, serial or under xdist.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET = "Pw-3xample_s3cret"

FEATURE_P1 = """\
@p1 @read_only @api
Feature: Demo health
  What a deployment must do.

  Scenario: Everything is up
    Given a deployment
    When I look at it
    Then it is healthy

  Scenario: The password leaks in a failure
    Given a deployment
    When I connect with the password
    Then it is healthy

  Scenario: Workers are gone
    Given a deployment
    When I wait for a worker
    Then it is healthy

  Scenario: Not verifiable here
    Given a deployment
    When I need a controller
    Then it is healthy
"""

FEATURE_P2 = """\
@p2 @read_only @queue
Feature: Demo quality

  Scenario Outline: Numbers are checked
    Given a deployment
    When I check <n>
    Then it is healthy

    Examples:
      | n |
      | 1 |
      | 2 |
"""

FEATURE_P3 = """\
@p3 @read_only @worker
Feature: Demo mistakes in step definitions

  Scenario: An async step registered with plain pytest-bdd
    Given a deployment
    Then an async check registered the wrong way passes
"""

STEPS = """\
import logging
import os
import sys
import warnings

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from qtask_verify.errors import DeploymentFault, Observation
from qtask_verify.plugin.performance import record_performance

scenarios("../features")


@then("an async check registered the wrong way passes")
async def _():
    raise AssertionError("never reached: pytest-bdd does not await this")


@given("a deployment")
def _():
    pass


@when("I look at it")
def _():
    print("looking")


@when("I connect with the password")
def _():
    url = os.environ["QTASK_DATABASE_URL"]
    password = url.split(":")[2].split("@")[0]
    print(f"connecting to {url}")
    sys.stderr.write(f"password is {password}\\n")
    logging.getLogger("demo").warning("dsn %s", url)
    warnings.warn(f"the password {password} is weak")
    assert password == "right", f"password {password} refused by {url}"


@when("I wait for a worker")
def _():
    raise DeploymentFault(
        "workers",
        "no worker is consuming quantum_tasks (0 consumers)",
        [Observation(0.0, "task pending"), Observation(2.0, "still pending, 0 consumers")],
    )


@when("I need a controller")
def _():
    pytest.skip("no controller configured for this environment")


@when(parsers.parse("I check {n:d}"))
def _(n, request):
    record_performance(request.node, f"check {n}", "ms", [1.0, 2.0], 5.0)
    flag = os.environ.get("FAKE_FLAKY_FILE")
    if flag and n == 2 and not os.path.exists(flag):
        open(flag, "w").close()
        raise AssertionError("first attempt fails")


@then("it is healthy")
def _():
    pass
"""

FAKE_ENGINE = """\
import os

import pytest

from qtask_verify.config import load_environment
from qtask_verify.plugin.markers import MARKERS
from qtask_verify.plugin.startup import ENVIRONMENT_KEY, PREFLIGHT_KEY
from qtask_verify.deployment.preflight import ComponentHealth, PreflightReport
from qtask_verify.plugin import pytest_bdd_before_step_call  # the real wiring


def pytest_configure(config):
    for name in MARKERS:
        config.addinivalue_line("markers", name)
    config.stash[ENVIRONMENT_KEY] = load_environment()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    if hasattr(session.config, "workerinput"):
        return
    ok = os.environ.get("FAKE_PREFLIGHT") != "fail"
    failures = [] if ok else ['database: password authentication failed for user "qtask"']
    session.config.stash[PREFLIGHT_KEY] = PreflightReport(
        ok=ok,
        duration_s=0.1,
        failures=failures,
        components=[
            ComponentHealth("api", "up", 1.5, "healthy"),
            ComponentHealth("database", "up" if ok else "down", 2.0, "alembic revision 0002"),
            ComponentHealth("queue", "up", 3.0, "quantum_tasks: 0 waiting"),
            ComponentHealth("workers", "down", None, "no worker is consuming quantum_tasks"),
        ],
        fingerprint={"alembic_revision": "0002", "queue": None, "api_version": "0.1.0"},
    )
    if not ok:
        pytest.exit("preflight failed:\\n  " + "\\n  ".join(failures), returncode=1)
"""

INI = """\
[pytest]
testpaths = steps
addopts = --strict-markers -p no:asyncio -p fake_engine
"""

ENVIRONMENTS = """\
default = "local"

[profiles.local]
allow_mutating = true
"""


@dataclass
class Run:
    code: int
    output: str
    reports: Path

    def load(self, name: str) -> object:
        return json.loads((self.reports / name).read_text())

    def record(self) -> dict:
        record = self.load("run.json")
        assert isinstance(record, dict)
        return record


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    (root / "features").mkdir()
    (root / "steps").mkdir()
    (root / "features" / "p1_demo.feature").write_text(FEATURE_P1)
    (root / "features" / "p2_demo.feature").write_text(FEATURE_P2)
    (root / "features" / "p3_demo.feature").write_text(FEATURE_P3)
    (root / "steps" / "test_demo.py").write_text(STEPS)
    (root / "steps" / "fake_engine.py").write_text(FAKE_ENGINE)
    (root / "suite.ini").write_text(INI)
    (root / "environments.toml").write_text(ENVIRONMENTS)
    return root


def qtask_verify(suite: Path, reports: str, *args: str, **env: str) -> Run:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))},
        "PYTHONPATH": str(suite / "steps"),
        "QTASK_API_URL": "http://127.0.0.1:9",
        "QTASK_DATABASE_URL": f"postgresql://qtask:{SECRET}@127.0.0.1:9/qtask",
        "QTASK_AMQP_URL": f"amqp://qtask:{SECRET}@127.0.0.1:9/",
        "QTASK_MANAGEMENT_URL": "http://127.0.0.1:9",
        **env,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "qtask_verify.cli", "--report-dir", reports, *args],
        cwd=suite,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(completed.returncode, completed.stdout + completed.stderr, suite / reports)


@pytest.fixture(scope="module")
def serial(suite: Path) -> Run:
    return qtask_verify(suite, "serial", "--alluredir", "serial/allure")


@pytest.fixture(scope="module")
def distributed(suite: Path) -> Run:
    return qtask_verify(suite, "distributed", "-n", "2", "--alluredir", "distributed/allure")


def all_text(run: Run) -> Iterator[tuple[str, str]]:
    yield "terminal", run.output
    for path in sorted(run.reports.rglob("*")):
        if path.is_file():
            yield path.name, path.read_text(errors="replace")


@pytest.mark.parametrize("mode", ["serial", "distributed"])
def test_the_password_appears_in_no_report_and_no_terminal_line(
    mode: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(mode)
    names = [name for name, _ in all_text(run)]
    assert {"report.html", "report.json", "junit.xml", "cucumber.json", "run.json"} <= set(names)
    leaks = [name for name, text in all_text(run) if SECRET in text]
    assert leaks == []
    failure = next(
        s
        for f in run.record()["features"]
        for s in f["scenarios"]
        if s["name"] == "The password leaks in a failure"
    )
    assert failure["diagnosis"]["message"].startswith("AssertionError: password *** refused")


@pytest.mark.parametrize("mode", ["serial", "distributed"])
def test_run_record_has_verdict_steps_diagnosis_and_performance(
    mode: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(mode)
    record = run.record()
    assert run.code == record["exit_code"] == 1
    assert record["verdict"] == "NO-GO"
    assert record["reason"].startswith(
        "2 causes, 2 scenarios affected (2 P1): workers: no worker is consuming quantum_tasks"
    )
    assert "1 skipped (not verified): no controller configured" in record["reason"]
    assert record["counts"] == {
        "passed": 3,
        "failed": 2,
        "flaky": 0,
        "skipped": 1,
        "not run by policy": 0,
    }
    assert record["environment"]["database_url"] == "postgresql://qtask:***@127.0.0.1:9/qtask"
    assert [c["name"] for c in record["components"]] == ["api", "database", "queue", "workers"]
    scenarios = {s["name"]: s for f in record["features"] for s in f["scenarios"]}
    workers = scenarios["Workers are gone"]
    assert workers["diagnosis"] == {
        "component": "workers",
        "message": "no worker is consuming quantum_tasks (0 consumers)",
        "detail": None,
        "loss": False,
    }
    assert [t["observation"] for t in workers["timeline"]] == [
        "task pending",
        "still pending, 0 consumers",
    ]
    assert [s["outcome"] for s in workers["steps"]] == ["passed", "failed", "not run"]
    skipped = scenarios["Not verifiable here"]
    assert skipped["skip_reason"] == "no controller configured for this environment"
    assert [s["outcome"] for s in skipped["steps"]] == ["passed", "skipped", "not run"]
    assert sorted(p["name"] for p in record["performance"]) == ["check 1", "check 2"]
    assert "workers: no worker is consuming quantum_tasks  [seen by the preflight]" in run.output
    assert run.output.rstrip().splitlines()[-1].startswith("NO-GO: 2 causes, 2 scenarios")


def cucumber_scenarios(run: Run) -> list[tuple[str, str, tuple[str, ...]]]:
    features = run.load("cucumber.json")
    assert isinstance(features, list)
    return sorted(
        (f["uri"], e["name"], tuple(s["result"]["status"] for s in e["steps"]))
        for f in features
        for e in f["elements"]
    )


def test_cucumber_json_has_the_same_scenarios_serial_and_under_xdist(
    serial: Run, distributed: Run
) -> None:
    scenarios = cucumber_scenarios(serial)
    assert len(scenarios) == 6
    assert scenarios == cucumber_scenarios(distributed)


@pytest.mark.parametrize("mode", ["serial", "distributed"])
def test_html_shows_gherkin_steps_and_json_has_steps_and_environment(
    mode: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(mode)
    html = (run.reports / "report.html").read_text()
    assert html.count("gherkin-steps") >= 6
    assert "I wait for a worker" in html
    report = run.load("report.json")
    assert isinstance(report, dict)
    assert report["environment"]["Deployment"]["name"] == "local"
    tests = {t["nodeid"]: t for t in report["tests"]}
    assert len(tests) == 6
    assert all(len(t["metadata"]["steps"]) == 3 for t in tests.values())
    junit = ET.parse(run.reports / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == 6


def test_a_scenario_that_passes_on_a_rerun_is_flaky_not_passed(suite: Path) -> None:
    run = qtask_verify(
        suite,
        "rerun",
        "--rerun-failed",
        "1",
        "-k",
        "numbers",
        FAKE_FLAKY_FILE=str(suite / "flaky-flag"),
    )
    record = run.record()
    flaky = [s for f in record["features"] for s in f["scenarios"] if s["outcome"] == "flaky"]
    assert [s["attempts"] for s in flaky] == [["failed", "passed"]]
    assert record["verdict"] == "GO WITH RISKS"
    assert run.code == 3
    assert len(cucumber_scenarios(run)) == 2


def test_failed_preflight_is_no_go_with_its_lines_and_no_password(suite: Path) -> None:
    run = qtask_verify(suite, "preflight", FAKE_PREFLIGHT="fail")
    record = run.record()
    assert (run.code, record["verdict"], record["exit_code"]) == (1, "NO-GO", 1)
    assert record["reason"] == (
        'preflight failed: database: password authentication failed for user "qtask"'
    )
    assert SECRET not in run.output
    assert SECRET not in (run.reports / "run.json").read_text()


def test_only_passing_scenarios_selected_is_go(suite: Path) -> None:
    run = qtask_verify(suite, "go", "-k", "everything or numbers")
    assert (run.code, run.record()["verdict"]) == (0, "GO")


def test_a_filter_that_selects_nothing_is_a_configuration_error_not_go(suite: Path) -> None:
    run = qtask_verify(suite, "none", "-k", "no_such_scenario")
    assert run.code == 2
    assert "no scenario was collected or selected" in run.output


@pytest.mark.parametrize("mode", ["serial", "distributed"])
def test_the_terminal_is_quiet_and_groups_failures_by_cause(
    mode: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(mode)
    lines = run.output.splitlines()
    assert not [line for line in lines if "Traceback" in line or "_pytest" in line]
    assert "2 causes, 2 scenarios affected:" in lines
    assert "  1. workers: no worker is consuming quantum_tasks  [seen by the preflight]" in lines
    assert "     [p1] Workers are gone" in lines
    assert len(lines) <= 40, run.output


def test_with_tb_the_traceback_is_back(suite: Path) -> None:
    run = qtask_verify(suite, "verbose", "--tb=short", "-k", "workers")
    assert "raise DeploymentFault(" in run.output
    assert "qtask_verify/bdd.py" not in run.output  # the wrappers hide their frames


def _workers_element(run: Run) -> dict:
    features = run.load("cucumber.json")
    assert isinstance(features, list)
    return next(e for f in features for e in f["elements"] if e["name"] == "Workers are gone")


@pytest.mark.parametrize("mode", ["serial", "distributed"])
def test_cucumber_steps_after_a_failure_are_skipped_and_the_message_is_the_diagnosis(
    mode: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(mode)
    steps = [step["result"] for step in _workers_element(run)["steps"]]
    assert [s["status"] for s in steps] == ["passed", "failed", "skipped"]
    assert (
        steps[1]["error_message"] == "workers: no worker is consuming quantum_tasks (0 consumers)"
    )
    assert "error_message" not in steps[2]


def test_junit_message_is_the_diagnosis(serial: Run) -> None:
    junit = ET.parse(serial.reports / "junit.xml").getroot()
    failure = next(
        case.find("failure")
        for case in junit.iter("testcase")
        if case.get("name", "").startswith("test_workers_are_gone")
    )
    assert failure is not None
    assert failure.get("message") == "workers: no worker is consuming quantum_tasks (0 consumers)"
    assert "raise DeploymentFault(" in (failure.text or "")  # the traceback stays in the body


def _allure_results(run: Run) -> dict[str, dict]:
    results = {}
    for path in (run.reports / "allure").glob("*-result.json"):
        result = json.loads(path.read_text())
        results[result["name"]] = result
    return results


@pytest.mark.parametrize("mode", ["serial", "distributed"])
def test_allure_results_have_steps_the_diagnosis_and_the_component_as_category(
    mode: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(mode)
    results = _allure_results(run)
    workers = results["Workers are gone"]
    assert workers["status"] == "failed"
    assert workers["statusDetails"]["message"] == (
        "workers: no worker is consuming quantum_tasks (0 consumers)"
    )
    assert [s["status"] for s in workers["steps"]] == ["passed", "failed", "skipped"]
    assert {"name": "severity", "value": "critical"} in workers["labels"]
    assert results["Everything is up"]["status"] == "passed"
    categories = json.loads((run.reports / "allure" / "categories.json").read_text())
    workers_category = next(c for c in categories if c["name"].startswith("workers"))
    assert re.fullmatch(workers_category["messageRegex"], workers["statusDetails"]["message"])
    assert "name=local" in (run.reports / "allure" / "environment.properties").read_text()


def test_an_async_step_registered_with_plain_pytest_bdd_fails_loudly(suite: Path) -> None:
    run = qtask_verify(suite, "unawaited", "-m", "p3")
    [scenario] = [s for f in run.record()["features"] for s in f["scenarios"]]
    assert scenario["outcome"] == "failed"
    assert "would never be awaited" in scenario["diagnosis"]["message"]
    assert run.code == 3  # a P3 failure: GO WITH RISKS, never a silent pass


def test_collect_only_verifies_nothing_and_keeps_the_last_reports(suite: Path) -> None:
    reports = suite / "looking"
    reports.mkdir()
    (reports / "run.json").write_text('{"verdict": "GO"}')
    run = qtask_verify(suite, "looking", "--collect-only")
    assert run.code == 0, run.output
    assert "test_workers_are_gone" in run.output
    assert "--collect-only: nothing was verified" in run.output
    assert (reports / "run.json").read_text() == '{"verdict": "GO"}'
    assert not (reports / "history.jsonl").exists()


def test_lf_reruns_the_last_failures_and_the_verdict_says_so(suite: Path) -> None:
    first = qtask_verify(suite, "last-failed")
    assert first.record()["counts"]["failed"] == 2
    again = qtask_verify(suite, "last-failed", "--lf")
    record = again.record()
    names = sorted(s["name"] for f in record["features"] for s in f["scenarios"])
    assert names == ["The password leaks in a failure", "Workers are gone"]
    assert record["scope"] == "selected with --lf"
    assert (suite / "last-failed" / ".pytest_cache").is_dir()
