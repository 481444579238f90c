"""Soak: verify a healthy private stack N times in a row and count anything but GO.

    .venv/bin/python3 -m tests.faults.soak [--runs 20] [-- qtask-verify arguments]

Starts its own private stack (free ports, brought down at the end), runs `qtask-verify` (by
default its release gate, P1 and P2; `-- -m p3` for resilience) N times, prints one line per run
and exits 1 if any run was not GO.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from qtask_stack import temporary_stack
from tests.support.verify_process import run_verify

from .catalogue import Lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.faults.soak", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("verify_args", nargs="*", help="passed to qtask-verify (after --)")
    options = parser.parse_args(argv)
    alarms = 0
    with temporary_stack(workers=2) as stack, tempfile.TemporaryDirectory() as reports:
        lab = Lab(stack)
        for number in range(1, options.runs + 1):
            run = run_verify(Path(reports) / str(number), options.verify_args, lab.run_env())
            counts = run.record.get("counts", {})
            print(
                f"run {number:2d}: {run.verdict} (exit {run.code}) in {run.seconds:.1f} s {counts}"
            )
            if run.code != 0:
                alarms += 1
                for finding in run.findings():
                    print(f"    {finding.scenario}: {finding.diagnosis}")
    print(f"{options.runs - alarms} of {options.runs} runs GO")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
