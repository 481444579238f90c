"""The release verdict: what the outcomes of one run mean for a deployment.

One function, `decide`, so the rule that gates a release lives in one place and is unit tested:
NO-GO when the preflight failed, a P1 scenario failed, or nothing could be verified; INTERRUPTED
when the run was stopped (Ctrl-C, SIGTERM) before it finished, whatever it had seen; GO WITH
RISKS when only P2/P3 scenarios failed, a P1 scenario was not verified (skipped) or only passed
on a rerun; GO otherwise. A skipped scenario is never counted as passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum


class Decision(Enum):
    """The answers a run gives, with the process exit code CI gates on."""

    GO = ("GO", 0)
    NO_GO = ("NO-GO", 1)
    GO_WITH_RISKS = ("GO WITH RISKS", 3)
    # A stopped run verified nothing as a whole: the shell's code for SIGINT, never a pass.
    INTERRUPTED = ("INTERRUPTED", 130)

    def __init__(self, label: str, exit_code: int) -> None:
        self.label = label
        self.exit_code = exit_code


# Exit code for a usage or configuration error: no verdict could be reached.
EXIT_CONFIGURATION_ERROR = 2


@dataclass(frozen=True)
class ScenarioOutcome:
    """What the verdict needs to know about one scenario."""

    name: str
    priority: str | None  # "p1" | "p2" | "p3"; None (untagged) is judged as p1, the strict side
    outcome: str  # "passed" | "failed" | "skipped" | "flaky"
    skip_reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The decision, its exit code and a one-line reason a person can act on."""

    decision: Decision
    reason: str

    @property
    def label(self) -> str:
        return self.decision.label

    @property
    def exit_code(self) -> int:
        return self.decision.exit_code


_LISTED = 3  # scenario names quoted in a reason before it says "and N more"


def decide(
    scenarios: Sequence[ScenarioOutcome],
    *,
    preflight_ok: bool | None,
    preflight_failures: Sequence[str] = (),
    interrupted: bool = False,
) -> Verdict:
    """Judge one run. `preflight_ok` is None when no preflight ran (then scenarios alone decide)."""
    if preflight_ok is False:
        broken = "; ".join(preflight_failures) or "a component is unreachable"
        return Verdict(Decision.NO_GO, f"preflight failed: {broken}")

    failed = [s for s in scenarios if s.outcome == "failed"]
    p1_failed = [s for s in failed if _is_p1(s)]
    skipped = [s for s in scenarios if s.outcome == "skipped"]
    passed = [s for s in scenarios if s.outcome in ("passed", "flaky")]
    skipped_note = _skipped_note(skipped)

    if interrupted:
        seen = f"; {len(failed)} of them failed" if failed else ""
        return Verdict(
            Decision.INTERRUPTED,
            f"run interrupted after {len(passed) + len(failed)} of {len(scenarios)} scenarios"
            f" ran{seen}: the deployment was not fully verified",
        )
    if p1_failed:
        total_p1 = sum(1 for s in scenarios if _is_p1(s))
        reason = f"{len(p1_failed)} of {total_p1} P1 scenarios failed: {_names(p1_failed)}"
        others = len(failed) - len(p1_failed)
        if others:
            reason += f"; {others} other scenario{'s' if others != 1 else ''} failed"
        return Verdict(Decision.NO_GO, reason + skipped_note)
    if not passed:
        if not scenarios:
            return Verdict(Decision.NO_GO, "no scenario ran: nothing was verified")
        return Verdict(
            Decision.NO_GO,
            f"no scenario passed: nothing was verified{skipped_note}",
        )

    risks: list[str] = []
    if failed:
        risks.append(f"{len(failed)} P2/P3 scenario{_s(failed)} failed: {_names(failed)}")
    p1_skipped = [s for s in skipped if _is_p1(s)]
    if p1_skipped:
        risks.append(f"{len(p1_skipped)} P1 scenario{_s(p1_skipped)} not verified")
    flaky = [s for s in scenarios if s.outcome == "flaky"]
    if flaky:
        risks.append(f"{len(flaky)} scenario{_s(flaky)} passed only on a rerun: {_names(flaky)}")
    if risks:
        return Verdict(Decision.GO_WITH_RISKS, "; ".join(risks) + skipped_note)

    if skipped:
        return Verdict(
            Decision.GO, f"{len(passed)} of {len(scenarios)} scenarios passed{skipped_note}"
        )
    return Verdict(Decision.GO, f"all {len(passed)} scenarios passed")


def _is_p1(scenario: ScenarioOutcome) -> bool:
    return scenario.priority not in ("p2", "p3")


def _s(items: Sequence[object]) -> str:
    return "" if len(items) == 1 else "s"


def _names(scenarios: Sequence[ScenarioOutcome]) -> str:
    shown = ", ".join(s.name for s in scenarios[:_LISTED])
    more = len(scenarios) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _skipped_note(skipped: Sequence[ScenarioOutcome]) -> str:
    """'; 2 skipped (not verified): reason a (1), reason b (1)' or '' when nothing was skipped."""
    if not skipped:
        return ""
    reasons = Counter(_one_line(s.skip_reason) for s in skipped)
    return f"; {len(skipped)} skipped (not verified): {_count_list(reasons.items())}"


def _count_list(items: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{reason} ({count})" for reason, count in items)


def _one_line(text: str | None) -> str:
    if not text:
        return "no reason given"
    return text.strip().splitlines()[0] if text.strip() else "no reason given"
