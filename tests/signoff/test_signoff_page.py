"""The sign-off page shows every part of a run to a reader, whatever the run looked like."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import RunFactory
from signoff_dom import Element, parse

from qtask_verify.reports.signoff import publish


def _page(run: dict[str, Any], tmp_path: Path) -> Element:
    return parse(publish(run, tmp_path).html.read_text("utf-8"))


def _scenario(dom: Element, name: str) -> Element:
    return dom.one("data-scenario", name, tag="article")


def test_go_page_shows_verdict_environment_fingerprint_components_and_performance(
    make_run: RunFactory, tmp_path: Path
) -> None:
    dom = _page(make_run("go"), tmp_path)
    verdict = dom.one("id", "verdict")
    assert verdict.attrs["data-verdict"] == "GO"
    assert "verdict--go" in verdict.attrs["class"].split()
    assert "This deployment works" in verdict.text
    assert dom.one("data-env", "database_url").text == (
        "postgresql://qtask:***@db.staging.example.com:5432/qtask"
    )
    assert dom.one("data-fingerprint", "alembic revision").text == "0002"
    assert dom.one("data-fingerprint", "queue · durable").text == "yes"
    assert [c.attrs["data-component"] for c in dom.find_all("data-component", tag="tr")] == [
        "api",
        "database",
        "queue",
        "workers",
    ]
    row = dom.one("data-metric", "submission latency")
    assert row.attrs["data-passed"] == "passed"
    assert "12 ms" in row.text and "40 ms" in row.text and "500 ms" in row.text
    assert dom.find_all("id", "attention") == []


def test_every_scenario_is_shown_in_gherkin_with_step_outcomes(
    make_run: RunFactory, tmp_path: Path
) -> None:
    run = make_run("go")
    dom = _page(run, tmp_path)
    expected = [s["name"] for f in run["features"] for s in f["scenarios"]]
    assert [a.attrs["data-scenario"] for a in dom.find_all("data-scenario", tag="article")] == (
        expected
    )
    bell = _scenario(dom, "A Bell circuit completes")
    steps = bell.find_all("data-step-outcome", tag="li")
    assert [s.attrs["data-keyword"] for s in steps] == ["Given", "When", "Then", "And", "And"]
    assert "When I submit a Bell circuit with 1024 shots" in steps[1].text
    assert all(s.attrs["data-step-outcome"] == "passed" for s in steps)
    assert "Feature: Task lifecycle" in dom.one("data-feature", "Task lifecycle").text


def test_nogo_failure_shows_diagnosis_timeline_and_failed_step(
    make_run: RunFactory, tmp_path: Path
) -> None:
    dom = _page(make_run("nogo"), tmp_path)
    assert dom.one("id", "verdict").attrs["data-verdict"] == "NO-GO"
    bell = _scenario(dom, "A Bell circuit completes")
    assert bell.attrs["data-outcome"] == "failed"
    outcomes = [s.attrs["data-step-outcome"] for s in bell.find_all("data-step-outcome")]
    assert outcomes == ["passed", "passed", "passed", "failed", "not run"]
    diagnosis = bell.one("data-diagnosis")
    assert diagnosis.attrs["data-component"] == "workers"
    assert "no worker is consuming quantum_tasks (0 consumers)" in diagnosis.text
    timeline = [li.attrs["data-t"] for li in bell.find_all("data-t", tag="li")]
    assert timeline == ["0.0", "5.0", "30.0"]
    assert "gave up: task still pending after 30 s" in bell.one("data-timeline").text
    attention = dom.one("id", "attention")
    assert dom.one("id", "causes-summary").text == "1 cause, 1 scenario affected"
    [cause] = attention.find_all("data-cause", tag="li")
    assert cause.attrs["data-cause"] == "workers: 0 consumers on quantum_tasks"  # the preflight's
    kinds = [i.attrs["data-attention"] for i in attention.find_all("data-attention")]
    assert kinds == ["flaky", "performance"]  # workers down is the cause, not said twice
    # The cause links to the scenario that explains it.
    link = next(a for a in cause.iter() if a.tag == "a" and "Bell" in a.text)
    assert link.attrs["href"] == "#" + bell.attrs["id"]
    assert dom.one("data-metric", "end-to-end time").attrs["data-passed"] == "failed"


def test_a_policy_skip_shows_its_reason_the_scope_and_is_never_counted_as_passed(
    make_run: RunFactory, tmp_path: Path
) -> None:
    dom = _page(make_run("go"), tmp_path)
    excluded = _scenario(dom, "A task survives a broker restart")
    assert excluded.attrs["data-outcome"] == "not run by policy"
    reason = excluded.one("data-skip-reason").text
    assert reason.startswith("Not run by policy: environment 'staging' does not allow stopping")
    assert dom.one("data-count", "not run by policy").text == "1 not run by policy"
    assert dom.one("data-count", "passed").text == "4 passed"
    assert dom.one("id", "verdict-word").text == "GO (non-disruptive checks)"
    assert dom.find_all("id", "attention") == []  # by policy: nothing needs attention


def test_a_skip_for_another_reason_needs_attention(make_run: RunFactory, tmp_path: Path) -> None:
    run = make_run("go", verdict="GO WITH RISKS", exit_code=3)
    run["features"][2]["scenarios"][0].update(outcome="skipped", skip_reason="no controller")
    dom = _page(run, tmp_path)
    [item] = dom.one("id", "attention").find_all("data-attention")
    assert item.attrs["data-attention"] == "skipped"
    assert "not verified: no controller" in item.text
    assert dom.one("data-count", "skipped").text == "1 skipped"


def test_tags_are_shown_in_a_fixed_order_priority_safety_component(
    make_run: RunFactory, tmp_path: Path
) -> None:
    run = make_run("go")
    run["features"][0]["scenarios"][0]["tags"] = ["api", "read_only", "p1"]  # an older writer
    dom = _page(run, tmp_path)
    chips = _scenario(dom, "The API reports healthy within 2 seconds").one("class", "tags")
    assert chips.text.split() == ["@p1", "@read_only", "@api"]
    resilience = _scenario(dom, "A task survives a broker restart").one("class", "tags")
    assert resilience.text.split() == [
        "@p3",
        "@mutating",
        "@disruptive",
        "@needs_controller",
        "@queue",
    ]


def test_step_data_tables_are_shown(make_run: RunFactory, tmp_path: Path) -> None:
    run = make_run("go")
    step = run["features"][0]["scenarios"][0]["steps"][1]
    step["datatable"] = [["column", "type"], ["task_id", "uuid"], ["shots", "integer"]]
    table = _scenario(parse(publish(run, tmp_path).html.read_text("utf-8")),
                      "The API reports healthy within 2 seconds").one("data-datatable")  # fmt: skip
    rows = [row for row in table.iter() if row.tag == "tr"]
    assert [[c.tag for c in row.children] for row in rows] == [
        ["th", "th"],
        ["td", "td"],
        ["td", "td"],
    ]
    assert "task_id uuid" in table.text


def test_every_performance_figure_is_shown_or_said_not_measured(
    make_run: RunFactory, tmp_path: Path
) -> None:
    run = make_run("nogo")
    run["performance"].append(
        {"name": "A burst completes", "not_measured": "the scenario failed before measuring: "
         "workers: task stayed pending"}
    )  # fmt: skip
    dom = _page(run, tmp_path)
    row = dom.one("data-metric", "A burst completes")
    assert row.attrs["data-passed"] == "not measured"
    assert row.one("data-not-measured").text == (
        "not measured: the scenario failed before measuring: workers: task stayed pending"
    )
    assert len(dom.find_all("data-metric", tag="tr")) == 3


def test_flaky_scenario_is_marked_with_its_attempts(make_run: RunFactory, tmp_path: Path) -> None:
    dom = _page(make_run("nogo"), tmp_path)
    flaky = _scenario(dom, "Every transition is recorded in order")
    assert flaky.attrs["data-outcome"] == "flaky"
    assert [a.attrs["data-attempt"] for a in flaky.find_all("data-attempt")] == [
        "failed",
        "passed",
    ]
    assert dom.one("data-count", "flaky").text == "1 flaky"


def test_failed_then_passed_is_flaky_even_if_the_writer_said_passed(
    make_run: RunFactory, tmp_path: Path
) -> None:
    run = make_run("go")
    run["features"][0]["scenarios"][0].update(outcome="passed", attempts=["failed", "passed"])
    dom = _page(run, tmp_path)
    assert _scenario(dom, "The API reports healthy within 2 seconds").attrs["data-outcome"] == (
        "flaky"
    )
    assert dom.one("data-count", "flaky").text == "1 flaky"


def test_preflight_failure_without_features_renders(make_run: RunFactory, tmp_path: Path) -> None:
    dom = _page(make_run("preflight"), tmp_path)
    assert dom.one("id", "verdict").attrs["data-verdict"] == "NO-GO"
    assert "password authentication failed" in dom.one("id", "preflight-failures").text
    assert "preflight check failed" in dom.one("id", "no-features").text
    assert dom.find_all("data-scenario") == []
    assert "Not recorded" in dom.one("id", "fingerprint").text


@pytest.mark.parametrize(
    "run",
    [
        {},
        {"verdict": "maybe", "features": "not a list", "components": [None, 3]},
        {
            "verdict": "GO WITH RISKS",
            "features": [{"scenarios": [{"name": "bare"}, {"steps": [{}], "timeline": [{}]}]}],
            "performance": [{"name": "x", "p95": "fast"}],
            "fingerprint": {"queue": None},
            "preflight": None,
            "environment": None,
        },
    ],
    ids=["empty", "malformed", "sparse"],
)
def test_partial_or_malformed_records_never_crash(run: dict[str, Any], tmp_path: Path) -> None:
    published = publish(run, tmp_path)
    dom = parse(published.html.read_text("utf-8"))
    expected = run["verdict"] if run.get("verdict") == "GO WITH RISKS" else "UNKNOWN"
    assert dom.one("id", "verdict").attrs["data-verdict"] == expected
    # Only a verdict on the deployment enters the history.
    assert published.history_appended is (expected != "UNKNOWN")


def test_page_is_self_contained(make_run: RunFactory, tmp_path: Path) -> None:
    html = publish(make_run("nogo"), tmp_path).html.read_text("utf-8")
    assert not re.search(r"""<(script|link|img|iframe)\b""", html)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the CSP forbids any fetch a later edit might add
    assert "@media print" in html


def test_a_password_left_in_a_url_is_masked(make_run: RunFactory, tmp_path: Path) -> None:
    run = make_run("go")
    run["environment"]["amqp_url"] = "amqp://qtask:hunter2@mq.example.com:5672/"
    published = publish(run, tmp_path)
    for path in (published.html, published.history, published.health):
        assert "hunter2" not in path.read_text("utf-8")
    dom = parse(published.html.read_text("utf-8"))
    assert dom.one("data-env", "amqp_url").text == "amqp://qtask:***@mq.example.com:5672/"


@pytest.mark.parametrize("verdict", ["INTERRUPTED", "NOT VERIFIED"])
def test_an_interrupted_or_unverified_run_is_shown_but_never_enters_the_history(
    verdict: str, make_run: RunFactory, tmp_path: Path
) -> None:
    published = publish(make_run("nogo", verdict=verdict), tmp_path)
    assert not published.history_appended and not published.history.exists()
    dom = parse(published.html.read_text("utf-8"))
    assert dom.one("id", "verdict").attrs["data-verdict"] == verdict
    assert "not" in dom.one("class", "verdict__meaning").text


def test_the_page_and_the_health_verdict_are_readable_like_the_other_reports(
    make_run: RunFactory, tmp_path: Path
) -> None:
    published = publish(make_run("go"), tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    for path in (published.html, published.health, published.history):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_figures_under_one_keep_two_significant_digits() -> None:
    from qtask_verify.reports.signoff.page import number

    assert (number(0.023, "s"), number(0.5, "s"), number(0.0, "s")) == ("0.023 s", "0.5 s", "0 s")
    assert (number(4.72, "ms"), number(1234.0, "ms")) == ("4.7 ms", "1,234 ms")
