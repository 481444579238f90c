"""Time to verdict: how long `qtask-verify` takes to say GO or NO-GO, as a user runs it.

Against a private local stack (started here, stopped at the end), each case runs the console
script in a subprocess and times it from start to exit, process start-up included:

    full P1+P2 run on a healthy stack      -> GO       target <= 6 s
    `-m p1` on a healthy stack             -> GO       target <= 5 s
    full run with the workers stopped      -> NO-GO    target <= 5 s

    python3 -m benchmarks.suite [--repeat N]

Prints a table (median of N runs) and the slowest scenarios of the full run, the ones to look at
when a target is missed. Exits 1 if a case gave the wrong verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtask_stack import Stack, temporary_stack

REPOSITORY = Path(__file__).resolve().parents[1]
QTASK_VERIFY = Path(sys.executable).parent / "qtask-verify"
_SLOWEST_SHOWN = 6


@dataclass(frozen=True)
class Case:
    name: str
    arguments: tuple[str, ...]
    workers_stopped: bool
    expected_verdict: str
    target_s: float


CASES = (
    Case("full P1+P2, healthy", (), False, "GO", 6.0),
    Case("-m p1, healthy", ("-m", "p1"), False, "GO", 5.0),
    Case("full, workers stopped", (), True, "NO-GO", 5.0),
)


@dataclass(frozen=True)
class Timing:
    case: Case
    seconds: list[float]
    verdicts: list[str]
    record: dict[str, Any]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def in_scenarios_s(self) -> float:
        """Time spent inside scenarios in the last run; the rest is start-up, preflight, reports."""
        return sum(s["duration_s"] for f in self.record.get("features", []) for s in f["scenarios"])

    @property
    def correct(self) -> bool:
        return all(v == self.case.expected_verdict for v in self.verdicts)


def _verify_once(stack: Stack, case: Case, reports: Path) -> tuple[float, dict[str, Any]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QTASK_")}
    environ.update(stack.suite_env())
    environ["QTASK_STACK_DIR"] = str(stack.state_dir)
    started = time.monotonic()
    subprocess.run(
        [str(QTASK_VERIFY), "--report-dir", str(reports), *case.arguments],
        cwd=REPOSITORY,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )
    elapsed = time.monotonic() - started
    record: dict[str, Any] = json.loads((reports / "run.json").read_text(encoding="utf-8"))
    return elapsed, record


def measure(stack: Stack, case: Case, repeat: int, reports: Path) -> Timing:
    """Run one case `repeat` times; the workers are restarted afterwards if it stopped them."""
    seconds: list[float] = []
    verdicts: list[str] = []
    record: dict[str, Any] = {}
    try:
        for _ in range(repeat):
            if case.workers_stopped:  # every run starts without workers, whatever the last did
                stack.stop("worker")
            elapsed, record = _verify_once(stack, case, reports)
            seconds.append(elapsed)
            verdicts.append(record["verdict"])
    finally:
        if case.workers_stopped:
            stack.start("worker")
    return Timing(case, seconds, verdicts, record)


def render(timings: Sequence[Timing]) -> str:
    rows = [
        (
            "case",
            "verdict",
            "expected",
            "median s",
            "runs s",
            "in scenarios s",
            "target s",
            "within",
        )
    ]
    for t in timings:
        rows.append(
            (
                t.case.name,
                "/".join(sorted(set(t.verdicts))),
                t.case.expected_verdict,
                f"{t.median_s:.1f}",
                " ".join(f"{s:.1f}" for s in t.seconds),
                f"{t.in_scenarios_s:.1f}",
                f"{t.case.target_s:.0f}",
                "yes" if t.median_s <= t.case.target_s else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)) for row in rows
    )


def slowest_scenarios(record: dict[str, Any]) -> list[str]:
    scenarios = [s for f in record.get("features", []) for s in f["scenarios"]]
    scenarios.sort(key=lambda s: s["duration_s"], reverse=True)
    return [
        f"  {s['duration_s']:6.2f} s  [{s['priority']}] {s['name']}"
        for s in scenarios[:_SLOWEST_SHOWN]
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.suite", description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (median shown)")
    args = parser.parse_args(argv)
    print(f"suite time to verdict: starting a private stack ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="qtask-bench-") as scratch, temporary_stack() as stack:
        timings = [
            measure(stack, case, args.repeat, Path(scratch) / f"case{i}")
            for i, case in enumerate(CASES)
        ]
    print(render(timings))
    for timing in timings:
        print(f"slowest scenarios, {timing.case.name} (run record of the last run):")
        print("\n".join(slowest_scenarios(timing.record)))
    return 0 if all(t.correct for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
