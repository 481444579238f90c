"""No false alarms: the healthy stack gives GO run after run (after the whole fault catalogue).

QTASK_FALSE_ALARM_RUNS sets how many runs in a row (default 2 for `make test`); each runs every
scenario but the P3 ones, which `python3 -m tests.faults.soak` includes (see its docstring).
"""

from __future__ import annotations

import os
from pathlib import Path

from qtask_stack import Stack
from tests.support.verify_process import run_verify

from .catalogue import Lab

RUNS = int(os.environ.get("QTASK_FALSE_ALARM_RUNS", "2"))
HEALTHY_SELECTION = ("-m", "not p3")


def test_the_healthy_stack_is_go_every_time(local_stack: Stack, tmp_path: Path) -> None:
    lab = Lab(local_stack)
    assert not (problems := lab.wait_pristine()), f"the stack is not healthy: {problems}"
    for number in range(1, RUNS + 1):
        run = run_verify(tmp_path / f"run-{number}", HEALTHY_SELECTION, lab.run_env())
        assert (run.code, run.verdict) == (0, "GO"), (
            f"false alarm in run {number} of {RUNS}: {run.findings()}\n{run.output[-2500:]}"
        )
        counts = run.record["counts"]
        assert counts["failed"] == 0 and counts["passed"] > 0, counts
