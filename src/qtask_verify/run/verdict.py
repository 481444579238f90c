"""The verdict rules: one table, first matching row wins, for every mix of outcomes and selections.

`RULES` is the table; `decide` applies it and `rules_table` prints it for the README (a test keeps
the two equal). A scenario skipped by the profile's policy ("not run by policy": read-only or
non-disruptive profiles) narrows the verdict's scope and is named in it; a scenario skipped for
any other reason was meant to run and did not, so it is a risk. A skipped scenario never counts
as passed. An untagged scenario is judged as P1, the strict side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .causes import Cause, group_causes
from .decision import Decision
from .record import POLICY, Component, Preflight, Scenario

_LISTED = 3  # names quoted in a reason before it says "and N more"
# The release gate: what `qtask-verify` runs without -m. P3 (resilience) runs when asked for.
RELEASE_GATE = "not p3"


@dataclass(frozen=True)
class RunFacts:
    """Everything the verdict depends on, gathered by the reporting plugin."""

    scenarios: Sequence[Scenario] = ()
    preflight: Preflight = field(default_factory=lambda: Preflight(None))
    components: Sequence[Component] = ()
    looked_only: str | None = None  # the option (--collect-only, ...) when nothing was to run
    interrupted: bool = False
    pytest_error: str | None = None  # "a usage error", "an internal error": pytest's own failure
    collection_errors: Sequence[str] = ()
    nothing_selected: bool = False
    policy_scope: str | None = None  # what the profile's policy verifies, e.g. "read-only checks"
    selection: str | None = None  # how the user narrowed the run, e.g. "-k 'killed'"

    def of(self, *outcomes: str) -> list[Scenario]:
        return [s for s in self.scenarios if s.outcome in outcomes]

    @property
    def causes(self) -> tuple[Cause, ...]:
        return group_causes(self.scenarios, self.components)


@dataclass(frozen=True)
class Verdict:
    """The decision, a one-line reason a person can act on, and the scope it covers."""

    decision: Decision
    reason: str
    scope: str | None = None

    @property
    def label(self) -> str:
        return self.decision.label

    @property
    def exit_code(self) -> int:
        return self.decision.exit_code


@dataclass(frozen=True)
class Rule:
    when: str  # the row as the README prints it
    decision: Decision
    applies: Callable[[RunFacts], bool]
    reason: Callable[[RunFacts], str]


def _is_p1(scenario: Scenario) -> bool:
    return scenario.priority not in ("p2", "p3")


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _names(scenarios: Sequence[Scenario]) -> str:
    shown = ", ".join(s.name for s in scenarios[:_LISTED])
    more = len(scenarios) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _one_line(text: str | None) -> str:
    stripped = (text or "").strip()
    return stripped.splitlines()[0] if stripped else "no reason given"


def _reasons(scenarios: Iterable[Scenario]) -> str:
    counted = Counter(_one_line(s.skip_reason) for s in scenarios)
    return ", ".join(f"{reason} ({count})" for reason, count in counted.items())


def _not_run_note(facts: RunFacts) -> str:
    """'; 2 skipped (not verified): … ; 15 not run by policy', or ''."""
    note = ""
    if skipped := facts.of("skipped"):
        note += f"; {len(skipped)} skipped (not verified): {_reasons(skipped)}"
    if policy := facts.of(POLICY):
        note += f"; {len(policy)} {POLICY}"
    return note


def _causes_said(causes: Sequence[Cause]) -> str:
    first = causes[0].said
    return first if len(causes) == 1 else f"{first}; and {len(causes) - 1} more cause(s)"


def _failures(facts: RunFacts, loss: bool) -> str:
    causes = [c for c in facts.causes if c.loss == loss]
    scenarios = {id(s): s for c in causes for s in c.scenarios}  # one may fail several checks
    p1 = sum(1 for s in scenarios.values() if _is_p1(s))
    return (
        f"{len(causes)} cause{_s(len(causes))}, {len(scenarios)} scenario{_s(len(scenarios))} "
        f"affected ({p1} P1): {_causes_said(causes)}"
    )


def _interrupted(facts: RunFacts) -> str:
    ran = len(facts.of("passed", "failed", "flaky"))
    failed = facts.of("failed")
    seen = f"; {len(failed)} failed before it stopped: {_names(failed)}" if failed else ""
    return f"run interrupted after {ran} of {len(facts.scenarios)} scenarios: not verified{seen}"


def _risks(facts: RunFacts) -> str:
    risks: list[str] = []
    if failed := facts.of("failed"):
        causes = facts.causes
        risks.append(
            f"{len(failed)} P2/P3 scenario{_s(len(failed))} failed "
            f"({len(causes)} cause{_s(len(causes))}): {_causes_said(causes)}"
        )
    if skipped := facts.of("skipped"):
        risks.append(f"{len(skipped)} scenario{_s(len(skipped))} not verified (skipped)")
    if flaky := facts.of("flaky"):
        risks.append(
            f"{len(flaky)} scenario{_s(len(flaky))} passed only on a rerun: {_names(flaky)}"
        )
    return "; ".join(risks) + _not_run_note(facts)


def _go(facts: RunFacts) -> str:
    passed = facts.of("passed")
    if len(passed) == len(facts.scenarios):
        return f"all {len(passed)} scenarios passed"
    return f"{len(passed)} of {len(facts.scenarios)} scenarios passed{_not_run_note(facts)}"


RULES: tuple[Rule, ...] = (
    Rule(
        "the run only looked at the suite (`--collect-only`, `--markers`, `--fixtures`, "
        "`--generate-missing`, `--setup-plan`, `--setup-only`)",
        Decision.NO_VERDICT,
        lambda f: f.looked_only is not None,
        lambda f: f"{f.looked_only}: nothing was verified",
    ),
    Rule(
        "the preflight found a component unreachable or a credential refused",
        Decision.NO_GO,
        lambda f: f.preflight.ok is False,
        lambda f: (
            "preflight failed: " + ("; ".join(f.preflight.failures) or "a component is unreachable")
        ),
    ),
    Rule(
        "a feature or step module could not be collected",
        Decision.NOT_VERIFIED,
        lambda f: bool(f.collection_errors),
        lambda f: (
            "configuration error: the suite could not be collected "
            f"({', '.join(f.collection_errors[:3])})"
        ),
    ),
    Rule(
        "the run was interrupted (Ctrl-C, SIGTERM), whatever had passed",
        Decision.INTERRUPTED,
        lambda f: f.interrupted,
        _interrupted,
    ),
    Rule(
        "pytest itself failed (a usage error, an internal error) before the session finished",
        Decision.NOT_VERIFIED,
        lambda f: f.pytest_error is not None,
        lambda f: f"pytest ended with {f.pytest_error}: the verdict cannot be trusted",
    ),
    Rule(
        "no scenario was collected or selected (`-m`/`-k` matched nothing)",
        Decision.NOT_VERIFIED,
        lambda f: f.nothing_selected or not f.scenarios,
        lambda f: "configuration error: no scenario was collected or selected (check -m / -k)",
    ),
    Rule(
        "a scenario of any priority saw an accepted task lost, duplicated or left unfinished "
        "(on any attempt)",
        Decision.NO_GO,
        lambda f: any(c.loss for c in f.causes),
        lambda f: "an accepted task was lost: " + _failures(f, loss=True),
    ),
    Rule(
        "a P1 scenario (or an untagged one) failed",
        Decision.NO_GO,
        lambda f: any(_is_p1(s) for s in f.of("failed")),
        lambda f: _failures(f, loss=False) + _not_run_note(f),
    ),
    Rule(
        "no selected scenario ran: every one was skipped or not run by policy",
        Decision.NOT_VERIFIED,
        lambda f: not f.of("passed", "failed", "flaky"),
        lambda f: (
            f"nothing was verified: all {len(f.scenarios)} selected scenarios were "
            f"skipped ({_reasons(f.scenarios)})"
        ),
    ),
    Rule(
        "only P2/P3 scenarios failed (`-k` on one failing P3 included), a scenario was skipped "
        "for a reason other than the profile's policy, or one passed only on a rerun",
        Decision.GO_WITH_RISKS,
        lambda f: bool(f.of("failed", "skipped", "flaky")),
        _risks,
    ),
    Rule(
        "everything that ran passed (scenarios not run by policy narrow the scope, "
        "e.g. `GO (read-only checks)`)",
        Decision.GO,
        lambda f: True,
        _go,
    ),
)


def scope_of(facts: RunFacts) -> str | None:
    """What the verdict covers, when it is less than the whole selection of the release gate."""
    parts = []
    if facts.policy_scope and facts.of(POLICY):
        parts.append(facts.policy_scope)
    if facts.selection:
        parts.append(f"selected with {facts.selection}")
    return "; ".join(parts) or None


def decide(facts: RunFacts) -> Verdict:
    """Judge one run: the first rule of `RULES` that applies."""
    rule = next(r for r in RULES if r.applies(facts))
    return Verdict(rule.decision, rule.reason(facts), scope_of(facts))


def rules_table() -> str:
    """The table as the README prints it (Markdown)."""
    lines = [
        "| # | when | verdict | exit | history line |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, rule in enumerate(RULES, start=1):
        history = "yes" if rule.decision.in_history else "no"
        lines.append(
            f"| {number} | {rule.when} | {rule.decision.label} | {rule.decision.exit_code} "
            f"| {history} |"
        )
    return "\n".join(lines)
