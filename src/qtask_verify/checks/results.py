"""What a completed task measured, judged against what its circuit must give.

Counts are a flat object of bitstring -> count that sums to the shots (the contract). Wrong
counts are the workers' fault, said in one line with what was found, unless the database stored
other counts than the API shows: then the API misreports them, and the diagnosis says so.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..clients import DatabaseInspector, TaskRow
from ..deployment.probes import quietly
from ..errors import DeploymentFault, require
from .circuits import KnownAnswer, row_distribution
from .tasks import StoredTask, TaskState


class MeasuredCounts(dict[str, int]):
    """A task's counts as the API showed them, and where the task is stored (None: unknown)."""

    def __init__(self, counts: Mapping[str, int], stored: StoredTask | None) -> None:
        super().__init__(counts)
        self.stored = stored


def stored_result(stored: StoredTask) -> tuple[bool, Any]:
    """(whether it could be read, the result the database stored for the task).

    The checks are synchronous and run on the suite's event loop, so the database is read on a
    thread of its own, only when a result is already found wrong.
    """

    async def read() -> TaskRow | None:
        database = await DatabaseInspector.connect(stored.database_url)
        try:
            return await database.fetch_task(stored.task_id)
        finally:
            await database.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        row = pool.submit(asyncio.run, quietly(read)).result()
    return (False, None) if row is None else (True, row.result)


def _shown(result: Any) -> str:
    if isinstance(result, dict) and all(isinstance(v, int) for v in result.values()):
        return _plain(result) or "no counts"
    return "no result" if result is None else f"{result!r}"


def stored_otherwise(shown: Any, stored: StoredTask | None) -> str | None:
    """The result the database stored, plainly, if it differs from the one the API ``shown``;
    None if they agree or the stored one cannot be read."""
    if stored is None:
        return None
    read, saved = stored_result(stored)
    return _shown(saved) if read and saved != shown else None


def result_fault(diagnosis: str, shown: Any, stored: StoredTask | None) -> DeploymentFault:
    """A wrong result: the workers' fault, unless the database stored another one than the API
    shows (``shown``), which makes it the API's."""
    saved = stored_otherwise(shown, stored)
    if saved is None or stored is None:
        return DeploymentFault("workers", diagnosis)
    return DeploymentFault(
        "api",
        f"{diagnosis}, but the database stored {saved} for task {stored.task_id}: the API does "
        "not show the stored result",
    )


def _require(condition: bool, counts: Mapping[str, int], diagnosis: str) -> None:
    """Raise the fault of wrong ``counts`` (see :func:`result_fault`) unless ``condition``."""
    __tracebackhide__ = True
    if not condition:
        stored = counts.stored if isinstance(counts, MeasuredCounts) else None
        raise result_fault(diagnosis, dict(counts), stored)


def measured_counts(state: TaskState) -> MeasuredCounts:
    """The counts a completed task reports; a DeploymentFault if they are malformed."""
    detail = state.detail if isinstance(state.detail, dict) else {}
    result = detail.get("result")
    if not (
        isinstance(result, dict)
        and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in result.items()
        )
    ):
        diagnosis = f"the result is not a flat object of bitstring -> count: {result!r}"
        raise result_fault(diagnosis, result, state.stored)
    return MeasuredCounts(result, state.stored)


def require_width(counts: Mapping[str, int], width: int) -> None:
    wrong = [k for k in counts if len(k) != width or set(k) - {"0", "1"}]
    _require(not wrong, counts, f"bitstrings not {width} bits wide: {wrong}")


def require_total(counts: Mapping[str, int], shots: int) -> None:
    total = sum(counts.values())
    _require(total == shots, counts, f"the counts sum to {total}, not {shots}")


def require_only(counts: Mapping[str, int], outcomes: tuple[str, ...]) -> None:
    unexpected = {k: v for k, v in counts.items() if k not in outcomes and v}
    _require(not unexpected, counts, f"outcomes other than {outcomes} measured: {unexpected}")


def require_fair_coin(counts: Mapping[str, int], outcomes: tuple[str, str], sigma: float) -> None:
    """Each shot is a fair coin between the two outcomes.

    The count of one outcome is Binomial(n, 1/2), whose standard deviation is sqrt(n)/2; each
    may deviate from n/2 by ``sigma`` of them (5 sigma: a false alarm in ~1.7 million runs).
    """
    shots = sum(counts.values())
    bound = sigma * math.sqrt(shots) / 2
    for bitstring in outcomes:
        observed = counts.get(bitstring, 0)
        _require(
            abs(observed - shots / 2) <= bound,
            counts,
            f"{bitstring} occurred {observed} times in {shots} shots, more than "
            f"{sigma:g} sigma ({bound:.0f}) from {shots / 2:.0f}",
        )


# --- known answers -----------------------------------------------------------------------------
#
# A circuit's outcome is a draw from its known distribution in every shot, so the count of one
# outcome over n shots is Binomial(n, p), exactly. The check accepts a count unless it lies in
# one of the two tails of that binomial whose exact probability is at most a share of the
# false-alarm rate: with k outcomes of probability strictly between 0 and 1, each tail gets
# rate / (2 k) (two outcomes: one count fixes the other, so only the first is tested and each
# tail gets rate / 2). By the union bound a healthy deployment fails the check with probability
# at most `rate`; `interval_false_alarm` computes the exact figure. Outcomes of probability 0
# must never be measured, and a circuit with one outcome must measure it in every shot: exact.


def _log_binomial_pmf(shots: int, probability: float) -> list[float]:
    """log P(X = k) for k = 0..shots, X ~ Binomial(shots, probability), 0 < probability < 1."""
    log_p, log_q = math.log(probability), math.log1p(-probability)
    log_n = math.lgamma(shots + 1)
    return [
        log_n - math.lgamma(k + 1) - math.lgamma(shots - k + 1) + k * log_p + (shots - k) * log_q
        for k in range(shots + 1)
    ]


def binomial_interval(shots: int, probability: float, tail: float) -> tuple[int, int]:
    """The counts an outcome of ``probability`` may show in ``shots`` shots, both ends included:
    from the smallest count whose lower tail P(X <= count) exceeds ``tail`` to the largest whose
    upper tail P(X >= count) does. Beyond each end lies at most ``tail`` of the probability."""
    if probability <= 0:
        return 0, 0
    if probability >= 1:
        return shots, shots
    pmf = [math.exp(v) for v in _log_binomial_pmf(shots, probability)]
    low, below = 0, 0.0
    while below + pmf[low] <= tail:  # P(X <= low) <= tail: low would be rejected
        below += pmf[low]
        low += 1
    high, above = shots, 0.0
    while above + pmf[high] <= tail:
        above += pmf[high]
        high -= 1
    return low, high


def interval_false_alarm(shots: int, probability: float, interval: tuple[int, int]) -> float:
    """The exact probability that a correct outcome's count falls outside ``interval``."""
    if probability <= 0 or probability >= 1:
        return 0.0
    low, high = interval
    pmf = _log_binomial_pmf(shots, probability)
    return sum(math.exp(v) for k, v in enumerate(pmf) if k < low or k > high)


def tested_outcomes(distribution: Mapping[str, Fraction]) -> list[str]:
    """The outcomes whose counts the statistical test bounds (see above)."""
    uncertain = [outcome for outcome, p in distribution.items() if 0 < p < 1]
    return uncertain[:1] if len(uncertain) == 2 else uncertain


def tail_share(distribution: Mapping[str, Fraction], rate: float) -> float:
    """The probability each tail of each tested outcome may hold, for ``rate`` in all."""
    tested = len(tested_outcomes(distribution))
    return rate / (2 * tested) if tested > 1 else rate / 2


def distribution_false_alarm(
    distribution: Mapping[str, Fraction], shots: int, rate: float
) -> float:
    """An upper bound (the union bound) on the chance a correct result fails the check."""
    tail = tail_share(distribution, rate)
    total = 0.0
    for outcome in tested_outcomes(distribution):
        p = float(distribution[outcome])
        total += interval_false_alarm(shots, p, binomial_interval(shots, p, tail))
    return total


def _share(p: Fraction) -> str:
    return "every shot" if p == 1 else f"{p} of the shots"


def known_answer_problems(
    counts: Mapping[str, int], known: KnownAnswer, shots: int, rate: float
) -> list[str]:
    """What in ``counts`` contradicts the known answer of ``known`` run ``shots`` times (empty:
    nothing). Each problem is one clause saying what was measured and what was due."""
    width = known.width
    malformed = sorted(k for k in counts if len(k) != width or set(k) - {"0", "1"})
    if malformed:
        return [f"keys {malformed[:4]} are not bitstrings of the circuit's {width} classical bits"]
    problems = []
    total = sum(counts.values())
    if total != shots:
        problems.append(f"the counts sum to {total}, not {shots}")
    impossible = {k: v for k, v in counts.items() if v and not known.distribution.get(k)}
    if impossible:
        due = ", ".join(f"{k} in {_share(p)}" for k, p in known.distribution.items() if p)
        never = ", ".join(sorted(impossible))
        problems.append(f"the circuit never gives {never} (it measures {due})")
    if problems or known.certain is not None:
        return problems
    tail = tail_share(known.distribution, rate)
    for outcome in tested_outcomes(known.distribution):
        p = known.distribution[outcome]
        low, high = binomial_interval(shots, float(p), tail)
        seen = counts.get(outcome, 0)
        if not low <= seen <= high:
            problems.append(
                f"{outcome} was measured {seen} times in {shots} shots; with probability {p} "
                f"it lands in {low}..{high} (exact binomial bound, false-alarm rate {rate:g})"
            )
    return problems


def _plain(counts: Mapping[str, int]) -> str:
    """Counts as "01: 1000, 10: 24", the most frequent first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{k}: {v}" for k, v in ordered[:6])
    return shown + (f" and {len(ordered) - 6} more" if len(ordered) > 6 else "")


def require_known_answer(
    counts: Mapping[str, int], known: KnownAnswer, shots: int, rate: float
) -> None:
    """A DeploymentFault(workers) naming every way the counts contradict the known answer."""
    problems = known_answer_problems(counts, known, shots, rate)
    _require(
        not problems,
        counts,
        f'"{known.name}" for {shots} shots measured {_plain(counts)}: ' + "; ".join(problems),
    )


def require_completed_total(state: TaskState, shots: int) -> None:
    """The task completed (else its status and error are said) with counts summing to ``shots``."""
    error = f": {state.error}" if state.error else ""
    require(state.status == "completed", "workers", f"the task {state.status}{error}")
    require_total(measured_counts(state), shots)


def require_circuit_width(counts: Mapping[str, int], known: KnownAnswer) -> None:
    """Every key is a bitstring as wide as the circuit's classical bits (all registers)."""
    wrong = sorted(k for k in counts if len(k) != known.width or set(k) - {"0", "1"})
    _require(
        not wrong,
        counts,
        f'"{known.name}" has {known.width} classical bits, but the result has keys that are '
        f"not {known.width}-bit strings: {wrong[:4]} (measured {_plain(counts)})",
    )


def require_row_answer(
    counts: Mapping[str, int], known: KnownAnswer, shots: int, expected: str, rate: float
) -> None:
    """The counts are the answer an Examples row expects (the catalogue's, checked first)."""
    row_distribution(known, expected)
    require_known_answer(counts, known, shots, rate)


SHOWN_FINDINGS = 3  # tasks a burst's diagnosis describes; the others are counted


@dataclass(frozen=True)
class KnownTask:
    """A task of a burst: its id, the circuit it ran, its shots and what it reported."""

    task_id: str
    known: KnownAnswer
    shots: int
    state: TaskState


def require_own_answers(tasks: Sequence[KnownTask], rate: float) -> None:
    """Every task of a burst completed with its own circuit's answer for its own shots.

    A task whose counts are another task's answer (they pass that task's check) is named with
    it: the deployment wrote results to the wrong task. Every task is judged before the fault is
    raised, so one diagnosis lists all of them.
    """
    findings = []
    misshown = 0  # wrong counts the database stored otherwise
    for task in tasks:
        status, error = task.state.status, task.state.error
        if status != "completed":
            findings.append(f"task {task.task_id} ({task.known.name}) is {status}: {error}")
            continue
        counts = measured_counts(task.state)
        problems = known_answer_problems(counts, task.known, task.shots, rate)
        if not problems:
            continue
        owners = [
            other
            for other in tasks
            if other is not task
            and not known_answer_problems(counts, other.known, other.shots, rate)
        ]
        owner = (
            f' — that is the answer of task {owners[0].task_id} ("{owners[0].known.name}", '
            f"{owners[0].shots} shots)"
            if owners
            else ""
        )
        saved = stored_otherwise(dict(counts), counts.stored)
        misshown += saved is not None
        stored = "" if saved is None else f" (the database stored {saved})"
        findings.append(
            f'task {task.task_id} ("{task.known.name}", {task.shots} shots) measured '
            f"{_plain(counts)}: {'; '.join(problems)}{owner}{stored}"
        )
    if findings:
        hidden = len(findings) - SHOWN_FINDINGS
        more = f" | and {hidden} more" if hidden > 0 else ""
        crossed = sum("that is the answer of task" in f for f in findings)
        cause = f", {crossed} of them another task's answer" if crossed else ""
        # The API's fault only if every wrong answer it showed differs from the stored one.
        raise DeploymentFault(
            "api" if misshown == len(findings) else "workers",
            f"{len(findings)} of {len(tasks)} concurrent tasks did not get their own circuit's "
            f"answer{cause}: " + " | ".join(findings[:SHOWN_FINDINGS]) + more,
        )
