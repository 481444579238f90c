"""The release rule: which outcomes give GO, GO WITH RISKS or NO-GO, and what the reason says."""

from __future__ import annotations

import pytest

from qtask_verify.run.verdict import Decision, ScenarioOutcome, decide


def scenario(name: str, priority: str | None, outcome: str, reason: str | None = None):
    return ScenarioOutcome(name, priority, outcome, reason)


HEALTHY = [scenario("health", "p1", "passed"), scenario("schema", "p2", "passed")]


def test_all_passed_is_go_with_exit_0() -> None:
    verdict = decide(HEALTHY, preflight_ok=True)
    assert (verdict.decision, verdict.exit_code, verdict.label) == (Decision.GO, 0, "GO")
    assert verdict.reason == "all 2 scenarios passed"


def test_failed_preflight_is_no_go_naming_the_components_even_if_nothing_ran() -> None:
    verdict = decide(
        [],
        preflight_ok=False,
        preflight_failures=["database: password authentication failed", "queue: refused"],
    )
    assert (verdict.decision, verdict.exit_code) == (Decision.NO_GO, 1)
    assert verdict.reason == (
        "preflight failed: database: password authentication failed; queue: refused"
    )


def test_failed_p1_is_no_go_and_names_the_scenario() -> None:
    outcomes = [*HEALTHY, scenario("workers consume", "p1", "failed")]
    verdict = decide(outcomes, preflight_ok=True)
    assert (verdict.decision, verdict.exit_code) == (Decision.NO_GO, 1)
    assert verdict.reason == "1 of 2 P1 scenarios failed: workers consume"


def test_untagged_scenario_is_judged_as_p1() -> None:
    verdict = decide([*HEALTHY, scenario("untagged", None, "failed")], preflight_ok=True)
    assert verdict.decision is Decision.NO_GO


@pytest.mark.parametrize("priority", ["p2", "p3"])
def test_only_p2_or_p3_failed_is_go_with_risks_exit_3(priority: str) -> None:
    verdict = decide([*HEALTHY, scenario("latency", priority, "failed")], preflight_ok=True)
    assert (verdict.decision, verdict.exit_code, verdict.label) == (
        Decision.GO_WITH_RISKS,
        3,
        "GO WITH RISKS",
    )
    assert verdict.reason == "1 P2/P3 scenario failed: latency"


def test_skipped_scenarios_are_not_counted_as_passed_and_their_reasons_are_given() -> None:
    outcomes = [
        *HEALTHY,
        scenario("persistence", "p2", "skipped", "Skipped: no controller\nmore"),
        scenario("broker restart", "p2", "skipped", "no controller"),
        scenario("other", "p2", "skipped", None),
    ]
    verdict = decide(outcomes, preflight_ok=True)
    assert verdict.decision is Decision.GO
    assert verdict.reason == (
        "2 of 5 scenarios passed; 3 skipped (not verified): "
        "Skipped: no controller (1), no controller (1), no reason given (1)"
    )


def test_a_skipped_p1_scenario_is_a_risk_not_a_go() -> None:
    outcomes = [*HEALTHY, scenario("lifecycle", "p1", "skipped", "read-only profile")]
    verdict = decide(outcomes, preflight_ok=True)
    assert verdict.decision is Decision.GO_WITH_RISKS
    assert verdict.reason.startswith("1 P1 scenario not verified; 1 skipped (not verified)")


def test_flaky_scenario_is_never_hidden() -> None:
    verdict = decide([*HEALTHY, scenario("lifecycle", "p1", "flaky")], preflight_ok=True)
    assert verdict.decision is Decision.GO_WITH_RISKS
    assert verdict.reason == "1 scenario passed only on a rerun: lifecycle"


def test_nothing_passed_is_no_go() -> None:
    skipped = [scenario("a", "p2", "skipped", "x"), scenario("b", "p2", "skipped", "x")]
    assert decide(skipped, preflight_ok=True).decision is Decision.NO_GO
    assert decide([], preflight_ok=None).reason == "no scenario ran: nothing was verified"


def test_interrupted_run_is_interrupted_with_its_own_code_even_when_what_ran_passed() -> None:
    verdict = decide(HEALTHY, preflight_ok=True, interrupted=True)
    assert (verdict.decision, verdict.label, verdict.exit_code) == (
        Decision.INTERRUPTED,
        "INTERRUPTED",
        130,
    )
    assert "interrupted" in verdict.reason


def test_interrupted_run_stays_interrupted_after_a_p1_failure_and_says_so() -> None:
    outcomes = [scenario("a", "p1", "failed"), *HEALTHY]
    verdict = decide(outcomes, preflight_ok=True, interrupted=True)
    assert verdict.decision is Decision.INTERRUPTED
    assert "1 of them failed" in verdict.reason


def test_reason_lists_three_names_then_counts_the_rest() -> None:
    failed = [scenario(f"s{i}", "p1", "failed") for i in range(5)]
    verdict = decide(failed, preflight_ok=True)
    assert verdict.reason == "5 of 5 P1 scenarios failed: s0, s1, s2 and 2 more"


def test_p1_failure_reason_also_counts_other_failures() -> None:
    outcomes = [scenario("a", "p1", "failed"), scenario("b", "p2", "failed"), *HEALTHY]
    assert decide(outcomes, preflight_ok=True).reason == (
        "1 of 2 P1 scenarios failed: a; 1 other scenario failed"
    )
