"""What a completed task measured, judged against what its circuit must give.

Counts are a flat object of bitstring -> count that sums to the shots (the contract); anything
else is the workers' fault, said in one line with what was found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import require
from .tasks import TaskState


def measured_counts(state: TaskState) -> dict[str, int]:
    """The counts a completed task reports; a DeploymentFault(workers) if they are malformed."""
    detail = state.detail if isinstance(state.detail, dict) else {}
    result = detail.get("result")
    require(
        isinstance(result, dict)
        and all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in result.items()
        ),
        "workers",
        f"the result is not a flat object of bitstring -> count: {result!r}",
    )
    assert isinstance(result, dict)
    return result


def require_width(counts: Mapping[str, int], width: int) -> None:
    wrong = [k for k in counts if len(k) != width or set(k) - {"0", "1"}]
    require(not wrong, "workers", f"bitstrings not {width} bits wide: {wrong}")


def require_total(counts: Mapping[str, int], shots: int) -> None:
    total = sum(counts.values())
    require(total == shots, "workers", f"the counts sum to {total}, not {shots}")


def require_only(counts: Mapping[str, int], outcomes: tuple[str, ...]) -> None:
    unexpected = {k: v for k, v in counts.items() if k not in outcomes and v}
    require(not unexpected, "workers", f"outcomes other than {outcomes} measured: {unexpected}")


def require_fair_coin(counts: Mapping[str, int], outcomes: tuple[str, str], sigma: float) -> None:
    """Each shot is a fair coin between the two outcomes.

    The count of one outcome is Binomial(n, 1/2), whose standard deviation is sqrt(n)/2; each
    may deviate from n/2 by ``sigma`` of them (5 sigma: a false alarm in ~1.7 million runs).
    """
    shots = sum(counts.values())
    bound = sigma * math.sqrt(shots) / 2
    for bitstring in outcomes:
        observed = counts.get(bitstring, 0)
        require(
            abs(observed - shots / 2) <= bound,
            "workers",
            f"{bitstring} occurred {observed} times in {shots} shots, more than "
            f"{sigma:g} sigma ({bound:.0f}) from {shots / 2:.0f}",
        )
