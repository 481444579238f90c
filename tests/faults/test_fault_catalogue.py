"""The suite catches every broken deployment of the catalogue, with the right verdict, the right
scenario, a diagnosis naming the component and cause, in bounded time; the stack recovers after.

One private stack (the session's `local_stack`) serves every fault in turn: each fault is
injected, `qtask-verify` runs against it, the fault is restored (also when the checks fail) and
the stack must be healthy again before the next one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from qtask_stack import Stack
from tests.support.verify_process import EXIT_CODES, run_verify

from .catalogue import FAULTS, Fault, Lab
from .doc import DOC, UPDATE_VARIABLE, Measurement, documented_rows, fixed_columns, render

MEASURED: dict[str, Measurement] = {}


@pytest.fixture(scope="session")
def lab(local_stack: Stack) -> Lab:
    return Lab(local_stack)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_the_suite_catches(fault: Fault, lab: Lab, tmp_path: Path) -> None:
    assert not (before := lab.wait_pristine()), f"the stack is not healthy before: {before}"
    try:
        with fault.inject(lab) as overrides:
            run = run_verify(tmp_path / "reports", fault.select, lab.run_env(**overrides))
    finally:
        after = lab.wait_pristine()
    findings = run.findings()
    context = f"{fault.id}: exit {run.code}, findings {findings}\n{run.output[-2500:]}"
    assert (run.code, run.verdict) == (EXIT_CODES[fault.verdict], fault.verdict), context
    matching = [f for f in findings if f.scenario == fault.scenario]
    assert matching, f"{fault.scenario!r} did not fail; {context}"
    caught = [f for f in matching if re.search(fault.diagnosis, f.diagnosis)]
    assert caught, f"no diagnosis of {fault.scenario!r} matches {fault.diagnosis!r}; {context}"
    assert run.seconds <= fault.max_s, f"verdict after {run.seconds:.1f} s > {fault.max_s} s"
    for secret in lab.secrets():
        assert secret not in run.output, (
            f"a secret of the stack appears in the output of {fault.id}"
        )
    assert not after, f"the stack did not recover from {fault.id}: {after}"
    MEASURED[fault.id] = Measurement(caught[0].diagnosis, run.seconds)


def test_the_fault_table_matches_the_catalogue() -> None:
    """With QTASK_UPDATE_FAULT_DOCS=1 after a full catalogue run, the table is rewritten first."""
    if os.environ.get(UPDATE_VARIABLE) == "1" and set(MEASURED) == {f.id for f in FAULTS}:
        DOC.write_text(render(FAULTS, MEASURED), encoding="utf-8")
    rows = documented_rows(DOC.read_text(encoding="utf-8")) if DOC.is_file() else []
    assert [row[:5] for row in rows] == [fixed_columns(f) for f in FAULTS], (
        f"{DOC} is out of date: run `{UPDATE_VARIABLE}=1 pytest tests/faults`"
    )
