"""The verdict table: every mix of outcomes and selections gives the row it says, and the README
prints the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtask_verify.run.decision import Decision
from qtask_verify.run.record import POLICY, Component, Diagnosis, Preflight, Scenario
from qtask_verify.run.verdict import RULES, RunFacts, decide, rules_table

README = Path(__file__).resolve().parents[3] / "README.md"
OK = Preflight(True, 0.1)


def scenario(
    name: str,
    priority: str | None,
    outcome: str,
    reason: str | None = None,
    said: tuple[str | None, str] | None = None,
    loss: bool = False,
) -> Scenario:
    diagnosis = Diagnosis(said[0], said[1], loss=loss) if said else None
    return Scenario(
        name,
        priority=priority,
        outcome=outcome,
        skip_reason=reason,
        diagnosis=diagnosis,
        losses=(diagnosis,) if loss and diagnosis else (),
    )


HEALTHY = [scenario("health", "p1", "passed"), scenario("schema", "p2", "passed")]
NO_WORKER = ("workers", "no worker is consuming quantum_tasks (0 consumers)")


def verdict(*scenarios: Scenario, **facts: object):  # type: ignore[no-untyped-def]
    return decide(RunFacts(scenarios=scenarios, preflight=facts.pop("preflight", OK), **facts))  # type: ignore[arg-type]


def test_all_passed_is_go_with_exit_0() -> None:
    result = verdict(*HEALTHY)
    assert (result.decision, result.exit_code, result.label) == (Decision.GO, 0, "GO")
    assert (result.reason, result.scope) == ("all 2 scenarios passed", None)


def test_failed_preflight_is_no_go_naming_the_components_even_if_nothing_ran() -> None:
    failed = Preflight(False, 0.1, ("database: password authentication failed", "queue: refused"))
    result = verdict(preflight=failed)
    assert (result.decision, result.exit_code) == (Decision.NO_GO, 1)
    assert result.reason == (
        "preflight failed: database: password authentication failed; queue: refused"
    )


def test_a_failed_p1_is_no_go_and_one_broken_component_is_one_cause() -> None:
    failures = [
        scenario("consumers", "p1", "failed", said=NO_WORKER),
        scenario("bell", "p1", "failed", said=("workers", "task stayed pending (2.0 s)")),
        scenario("burst", "p2", "failed", said=("workers", "task stayed pending (2.9 s)")),
    ]
    broken = [Component("workers", "down", None, NO_WORKER[1])]
    result = verdict(*HEALTHY, *failures, components=broken)
    assert (result.decision, result.exit_code) == (Decision.NO_GO, 1)
    assert result.reason == (
        "1 cause, 3 scenarios affected (2 P1): "
        "workers: no worker is consuming quantum_tasks (0 consumers)"
    )


def test_without_the_preflight_seeing_it_causes_group_by_diagnosis_numbers_aside() -> None:
    result = verdict(
        scenario("a", "p1", "failed", said=("workers", "task stayed pending (2.0 s)")),
        scenario("b", "p1", "failed", said=("workers", "task stayed pending (2.9 s)")),
        scenario("c", "p2", "failed", said=("database", "index ix_x is missing")),
    )
    assert result.reason.startswith("2 causes, 3 scenarios affected (2 P1): workers: task stayed")
    assert result.reason.endswith("; and 1 more cause(s)")


def test_untagged_scenario_is_judged_as_p1() -> None:
    assert verdict(*HEALTHY, scenario("untagged", None, "failed")).decision is Decision.NO_GO


def test_a_loss_is_no_go_whatever_the_priority_and_comes_first() -> None:
    lost = ("workers", "1 of 5 tasks was lost after the broker restart")
    result = verdict(
        *HEALTHY,
        scenario("slow", "p2", "failed", said=("api", "took 900 ms")),
        scenario("restart", "p3", "failed", said=lost, loss=True),
    )
    assert (result.decision, result.exit_code) == (Decision.NO_GO, 1)
    assert result.reason.startswith("an accepted task was lost: 1 cause, 1 scenario affected")
    assert lost[1] in result.reason


def test_a_loss_on_an_attempt_that_a_rerun_passed_still_is_no_go() -> None:
    lost = Diagnosis("workers", "a task was completed twice", loss=True)
    flaky = Scenario("burst", priority="p3", outcome="flaky", losses=(lost,))
    assert verdict(*HEALTHY, flaky).decision is Decision.NO_GO


@pytest.mark.parametrize("priority", ["p2", "p3"])
def test_only_p2_or_p3_failed_is_go_with_risks_exit_3(priority: str) -> None:
    result = verdict(*HEALTHY, scenario("latency", priority, "failed", said=("api", "slow")))
    assert (result.decision, result.exit_code, result.label) == (
        Decision.GO_WITH_RISKS,
        3,
        "GO WITH RISKS",
    )
    assert result.reason == "1 P2/P3 scenario failed (1 cause): api: slow"


def test_k_selecting_one_failing_p3_is_go_with_risks_not_nothing_verified() -> None:
    result = verdict(
        scenario("killed", "p3", "failed", said=("workers", "task lost")), selection="-k 'killed'"
    )
    assert (result.decision, result.scope) == (Decision.GO_WITH_RISKS, "selected with -k 'killed'")


def test_only_p3_selected_and_passing_is_go_for_that_selection() -> None:
    result = verdict(scenario("killed", "p3", "passed"), selection="-m 'p3'")
    assert (result.decision, result.scope) == (Decision.GO, "selected with -m 'p3'")


def test_a_skip_for_another_reason_than_policy_is_a_risk_whatever_the_priority() -> None:
    result = verdict(*HEALTHY, scenario("persistence", "p2", "skipped", "no controller"))
    assert result.decision is Decision.GO_WITH_RISKS
    assert result.reason == (
        "1 scenario not verified (skipped); 1 skipped (not verified): no controller (1)"
    )


def test_policy_skips_keep_go_and_name_the_scope() -> None:
    reason = f"{POLICY}: environment 'production' allows only read-only checks"
    result = verdict(
        *HEALTHY,
        scenario("lifecycle", "p1", POLICY, reason),
        scenario("errors", "p2", POLICY, reason),
        policy_scope="read-only checks",
    )
    assert (result.decision, result.exit_code, result.scope) == (
        Decision.GO,
        0,
        "read-only checks",
    )
    assert result.reason == f"2 of 4 scenarios passed; 2 {POLICY}"


def test_the_policy_scope_is_named_only_when_the_policy_left_something_out() -> None:
    assert verdict(*HEALTHY, policy_scope="non-disruptive checks").scope is None


def test_flaky_scenario_is_never_hidden() -> None:
    result = verdict(*HEALTHY, scenario("lifecycle", "p1", "flaky"))
    assert result.decision is Decision.GO_WITH_RISKS
    assert result.reason == "1 scenario passed only on a rerun: lifecycle"


def test_nothing_run_is_not_verified_exit_2_whatever_the_reason() -> None:
    skipped = [scenario("a", "p2", "skipped", "x"), scenario("b", "p1", POLICY, "y")]
    result = verdict(*skipped)
    assert (result.decision, result.exit_code) == (Decision.NOT_VERIFIED, 2)
    assert (
        result.reason
        == "nothing was verified: all 2 selected scenarios were skipped (x (1), y (1))"
    )


def test_nothing_collected_or_selected_is_a_configuration_error() -> None:
    for facts in ({"nothing_selected": True}, {}):
        result = verdict(*(HEALTHY if facts else ()), **facts)
        assert (result.decision, result.exit_code) == (Decision.NOT_VERIFIED, 2)
        assert "no scenario was collected or selected" in result.reason


def test_collection_errors_and_pytest_errors_are_not_verified() -> None:
    # pytest ends a run with collection errors as "interrupted": the errors decide first.
    result = verdict(*HEALTHY, collection_errors=["steps/x.py"], interrupted=True)
    assert (result.decision, result.exit_code) == (Decision.NOT_VERIFIED, 2)
    assert "could not be collected (steps/x.py)" in result.reason
    assert verdict(*HEALTHY, pytest_error="an internal error").decision is Decision.NOT_VERIFIED


def test_interrupted_run_is_interrupted_exit_130_even_when_what_ran_passed() -> None:
    result = verdict(*HEALTHY, scenario("c", "p1", "failed"), interrupted=True)
    assert (result.decision, result.exit_code, result.decision.in_history) == (
        Decision.INTERRUPTED,
        130,
        False,
    )
    assert result.reason == (
        "run interrupted after 3 of 3 scenarios: not verified; 1 failed before it stopped: c"
    )


def test_collect_only_gives_no_verdict_no_report_and_no_history() -> None:
    result = verdict(looked_only="--collect-only", preflight=Preflight(None))
    assert result.decision is Decision.NO_VERDICT
    assert (result.exit_code, result.decision.recorded, result.decision.in_history) == (
        0,
        False,
        False,
    )


def test_every_rule_is_reachable_and_only_verdicts_on_the_deployment_enter_history() -> None:
    assert [rule.decision.in_history for rule in RULES] == [
        rule.decision in (Decision.GO, Decision.NO_GO, Decision.GO_WITH_RISKS) for rule in RULES
    ]
    assert RULES[-1].decision is Decision.GO


def test_reason_lists_three_names_then_counts_the_rest() -> None:
    result = verdict(*(scenario(f"s{i}", "p1", "flaky") for i in range(5)))
    assert result.reason == "5 scenarios passed only on a rerun: s0, s1, s2 and 2 more"


def test_the_readme_prints_the_verdict_table() -> None:
    assert rules_table() in README.read_text(encoding="utf-8")
