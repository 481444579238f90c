"""pytest plugin: redacted reports with Gherkin steps, serial and under xdist, and the run record.

- every test/collect report and captured output is redacted on the node that made it, before the
  terminal, xdist, pytest-html, pytest-json-report, JUnit XML or Cucumber JSON see it;
- each scenario's Gherkin steps (with outcomes) and its diagnosis ride on the report to the
  controller; pytest-html gets them as an extra, pytest-json-report as test metadata;
- pytest-json-report's empty `environment` is filled from pytest-metadata (plus the deployment);
- pytest-bdd's Cucumber JSON, empty under xdist, gets its scenario data carried over;
- at the end the controller writes `run.json` with the verdict and hands it to the sign-off page,
  then makes Cucumber JSON agree with it (`reports.cucumber`); Allure results (`--alluredir`,
  allure-pytest-bdd) get the diagnosis and the component through `reports.allure`;
- a failure's one-line message (JUnit `message`, the short summary) is its diagnosis; a
  scenario that failed several checks (``promises``) carries each, headed by the worst.
A run that only looked at the suite (`--collect-only`, ...) writes no run record.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.parser import Feature, Scenario, Step

# Cucumber JSON under xdist: pytest-bdd keeps each report's scenario in this registry and has
# no hook to carry it across processes (see pytest_report_to_serializable below).
from pytest_bdd.reporting import ReportContext, test_report_context_registry
from pytest_metadata.plugin import metadata_key

from .. import promises
from ..errors import DeploymentFault, unexpected_fault
from ..plugin.ordering import NOT_RUN_BY_POLICY, policy_scope
from ..plugin.preflight_case import is_preflight_case
from ..plugin.startup import ENVIRONMENT_KEY, looking_only
from ..run import log as runlog
from ..run.record import RunRecord, write_run_record
from ..run.verdict import RunFacts, decide
from . import allure, cucumber, html, scrub
from . import scenario as scenario_module
from .deployment import DeploymentView, PreflightView
from .selection import selection_of
from .signoff import publish

_PYTEST_ERRORS: dict[int | None, str] = {
    None: "the session unfinished",
    pytest.ExitCode.USAGE_ERROR: "a usage error",
    pytest.ExitCode.INTERNAL_ERROR: "an internal error",
}
_BDD_CONTEXT = "qtask_bdd_context"  # pytest-bdd's report context, on the xdist wire
_STEPS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("qtask-verify reports").addoption(
        "--qtask-report-dir",
        default="reports",
        help="directory of run.json, the run record with the verdict (default: reports)",
    )
    parser.getgroup("qtask-verify reports").addoption(
        "--qtask-quiet",
        action="store_true",
        help="print no traceback in the terminal (the HTML, JUnit and JSON reports keep them)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ReportingPlugin(config), "qtask-reporting")


class ReportingPlugin:
    """One per pytest process (controller or xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.controller = not hasattr(config, "workerinput")
        self.report_dir = Path(config.getoption("qtask_report_dir"))
        self.run_id = str(uuid.uuid4())
        self.started_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.log = runlog.RunLog()
        self.exitstatus: int | None = None
        self.interrupted = False
        self.collection_errors: list[str] = []
        self._deployment: DeploymentView | None = None

    @property
    def deployment(self) -> DeploymentView:
        """Read lazily and kept once known: the engine's plugin may configure it after this one
        registers (early warnings are replayed to this plugin before that)."""
        if self._deployment is None:
            view = DeploymentView.of(self.config)
            if not view.configured:
                return view
            self._deployment = view
        return self._deployment

    def redact(self, text: str) -> str:
        return self.deployment.redactor(text)

    # -- redaction and per-scenario data, on the node that runs the test ---------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self) -> None:
        """Name the deployment (URLs masked) in the environment of the HTML and JSON reports."""
        metadata = self.config.stash.get(metadata_key, None)
        if metadata is not None:
            metadata["Deployment"] = dict(self.deployment.environment)
            scrub.scrub(metadata, self.redact)
        allure.install(self.config, self.redact)

    @pytest.hookimpl(tryfirst=True)
    def pytest_bdd_before_scenario(
        self, request: pytest.FixtureRequest, feature: Feature, scenario: Scenario
    ) -> None:
        described = scenario_module.describe(feature, scenario, self.config.rootpath)
        request.node.stash[scenario_module.PROGRESS_KEY] = scenario_module.ScenarioProgress(
            described
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, step: Step) -> None:
        progress = request.node.stash.get(scenario_module.PROGRESS_KEY, None)
        if progress is not None:
            progress.step_started(step)

    @pytest.hookimpl(tryfirst=True)
    def pytest_bdd_after_step(self, request: pytest.FixtureRequest, step: Step) -> None:
        progress = request.node.stash.get(scenario_module.PROGRESS_KEY, None)
        if progress is not None:  # a failed check the scenario went on after ended too
            progress.step_ended(failed=promises.failed_at(request.node, step))

    @pytest.hookimpl(tryfirst=True)
    def pytest_bdd_step_error(self, request: pytest.FixtureRequest) -> None:
        progress = request.node.stash.get(scenario_module.PROGRESS_KEY, None)
        if progress is not None:
            progress.step_ended(failed=True)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Innermost wrapper: runs right after the report exists, before plugins copy from it."""
        report = yield
        scrub.scrub_item(item, self.redact)
        scrub.scrub_report(report, self.redact)
        if call.excinfo is not None and report.failed:
            faults, fault = self._faults(call.excinfo.value)
            setattr(report, runlog.FAULTS_ATTR, faults)
            setattr(report, runlog.FAULT_ATTR, fault)
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None and fault["component"]:  # JUnit's message, the short summary
                more = f" (and {len(faults) - 1} more failure(s))" if len(faults) > 1 else ""
                crash.message = f"{fault['component']}: {fault['message']}{more}"
        if NOT_RUN_BY_POLICY in item.stash and report.skipped:
            setattr(report, runlog.POLICY_ATTR, True)
        if report.when == "teardown":
            return report
        progress = item.stash.get(scenario_module.PROGRESS_KEY, None)
        if report.when == "call" and progress is not None:
            described = dict(progress.described)
            steps = progress.step_outcomes(report.outcome)
        else:
            found = scenario_module.describe_item(item, item.config.rootpath)
            if found is None:
                return report
            described, steps = found, scenario_module.not_run(found)
        described["steps"] = steps
        setattr(report, runlog.SCENARIO_ATTR, described)
        item.stash[_STEPS] = {
            "feature": described["feature"]["name"],
            "scenario": described["name"],
            "tags": described["tags"],
            "steps": steps,
        }
        if report.when == "call" or not report.passed:
            # pytest-html reads `report.extras`; a plain attribute, so it crosses xdist too.
            extra = html.steps_extra(steps, getattr(report, runlog.FAULTS_ATTR, ()))
            setattr(report, "extras", [*getattr(report, "extras", []), extra])  # noqa: B010
        return report

    def _faults(self, error: BaseException) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every failure of the scenario, in step order, and the headline among them."""
        if isinstance(error, promises.ScenarioFaults):
            faults = [self._fault(failure) for failure in error.exceptions]
            return faults, faults[error.exceptions.index(error.headline)]
        fault = self._fault(error)
        return [fault], fault

    def _fault(self, error: BaseException) -> dict[str, Any]:
        """The failure in the deployment's words when the engine diagnosed it, else one line.

        A driver's error that escaped every check (in a fixture, say) is still diagnosed by its
        library (``errors.unexpected_fault``): a component, one plain sentence, the raw error as
        the detail. Anything else is a suite error, headed by its type and first line.
        """
        if not isinstance(error, DeploymentFault):
            error = unexpected_fault(error) or error
        if isinstance(error, DeploymentFault):
            return {
                "component": error.component,
                "message": self.redact(error.diagnosis),
                "detail": self.redact(error.detail) if error.detail else None,
                "loss": error.loss,
                "timeline": [
                    {"t_s": round(o.t_s, 3), "observation": self.redact(o.observation)}
                    for o in error.timeline
                ],
            }
        text = str(error).strip()
        first = text.splitlines()[0] if text else ""
        message = f"{type(error).__name__}: {first}" if first else type(error).__name__
        return {
            "component": None,
            "message": self.redact(message),
            "detail": None,
            "loss": False,
            "timeline": [],
        }

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        scrub.scrub_report(report, self.redact)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: Any) -> None:
        """Warnings are printed in the summary and kept in the JSON report: redact them too."""
        text = str(warning_message.message)
        cleaned = self.redact(text)
        if cleaned != text:
            warning_message.message = UserWarning(cleaned)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"qtask-verify: {self.deployment.environment.get('name') or 'deployment'}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, "<th>Scenario</th>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        cells.insert(
            1, f"<td>{html.scenario_cell(getattr(report, runlog.SCENARIO_ATTR, None))}</td>"
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_runtest_metadata(self, item: pytest.Item) -> dict[str, Any]:
        """Feature, scenario, tags and step outcomes of each test in the JSON report."""
        return item.stash.get(_STEPS, {})

    # -- carrying pytest-bdd's scenario data across xdist ------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(
        self, report: Any
    ) -> Generator[None, dict[str, Any] | None, dict[str, Any] | None]:
        """Worker: pytest-bdd keeps it in a WeakKeyDictionary that never reaches the controller."""
        data = yield
        context = test_report_context_registry.get(report)
        if data is not None and context is not None:
            data[_BDD_CONTEXT] = {"scenario": context.scenario, "name": context.name}
        return data

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self, data: Any) -> Generator[None, Any, Any]:
        """Controller: register the carried scenario so pytest-bdd's `--cucumberjson` sees it."""
        carried = data.pop(_BDD_CONTEXT, None) if isinstance(data, dict) else None
        report = yield
        if carried is not None and report is not None and report.outcome != "rerun":
            test_report_context_registry[report] = ReportContext(**carried)
        return report

    # -- the run record, on the controller ---------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.outcome == "rerun":  # a failed attempt that will be retried: no Cucumber result
            test_report_context_registry.pop(report, None)
        if self.controller and not is_preflight_case(report.nodeid):
            self.log.add(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(report.nodeid or "(root)")

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        """pytest-json-report reads `config._metadata`, gone in pytest-metadata 3: fill it in."""
        metadata = dict(self.config.stash.get(metadata_key, {}))
        json_report["environment"] = scrub.scrub(metadata, self.redact)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C (or a signal turned into one); pytest.exit of a failed preflight is not."""
        if isinstance(excinfo.value, KeyboardInterrupt):
            self.interrupted = True

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self.exitstatus = int(exitstatus)
        if self.config.getoption("qtask_quiet") and not self.collection_errors:
            # Reports were made with full tracebacks; the terminal's summary, which runs after
            # this hook, prints none (`--tb=no` from the start would strip them from JUnit too).
            self.config.option.tbstyle = "no"

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        """Write run.json last, also when the preflight ended the run before the session did."""
        if not self.controller:
            return
        record = self.run_record()
        if record.decision is None or not record.decision.recorded:
            return
        write_run_record(record, self.report_dir)
        cucumber.agree_with(self.config.option.cucumber_json_path, record)
        allure.write_categories(self.config, self.deployment.environment)
        try:
            publish(record, self.report_dir)
        except Exception as error:  # the verdict stands even if the page cannot be made
            print(
                f"qtask-verify: sign-off page not written: {self.redact(str(error))}",
                file=sys.stderr,
            )

    def run_record(self) -> RunRecord:
        view = PreflightView.of(self.config)
        record = RunRecord(
            run_id=self.run_id,
            started_at=self.started_at.isoformat(timespec="seconds"),
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            duration_s=round(time.monotonic() - self.started, 3),
            environment=dict(self.deployment.environment),
            preflight=view.preflight,
            components=view.components,
            fingerprint=view.fingerprint,
            features=self.log.features(),
            performance=self.log.metrics(),
        )
        verdict = decide(self.facts(record))
        return record.with_verdict(verdict.decision, verdict.reason, verdict.scope)

    def facts(self, record: RunRecord) -> RunFacts:
        environment = self.config.stash.get(ENVIRONMENT_KEY, None)
        status = self.exitstatus
        return RunFacts(
            scenarios=record.scenarios,
            preflight=record.preflight,
            components=record.components,
            looked_only=looking_only(self.config),
            # pytest ends with INTERRUPTED after collection errors too: the verdict's table
            # checks those first.
            interrupted=self.interrupted or status in (pytest.ExitCode.INTERRUPTED, 130),
            pytest_error=_PYTEST_ERRORS.get(status),
            collection_errors=self.collection_errors,
            nothing_selected=status == pytest.ExitCode.NO_TESTS_COLLECTED,
            policy_scope=policy_scope(environment) if environment is not None else None,
            selection=selection_of(self.config),
        )
