"""The executor alone (a pure unit: Qiskit Aer in-process, no stack)."""

from __future__ import annotations

import pytest
from conftest import BELL

from qtask_service.executor import CircuitExecutor, InvalidCircuit


@pytest.fixture(scope="module")
def executor() -> CircuitExecutor:
    return CircuitExecutor(cache_size=4)


def test_bell_counts_sum_to_shots_and_are_correlated(executor: CircuitExecutor) -> None:
    counts = executor.run(BELL, 2000)

    assert sum(counts.values()) == 2000
    assert set(counts) <= {"00", "11"}


def test_several_registers_give_flat_bitstrings(executor: CircuitExecutor) -> None:
    source = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[1] a;\nbit[2] b;\n'
        "x q[0];\nx q[2];\na[0] = measure q[0];\nb[0] = measure q[1];\nb[1] = measure q[2];\n"
    )

    assert executor.run(source, 10) == {"101": 10}


@pytest.mark.parametrize(
    "source",
    [
        "garbage",
        "",
        "OPENQASM 3.0;\nqubit[1] q;\nnot_a_gate q[0];\n",
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nh q[0];\n',  # measures nothing
    ],
)
def test_invalid_sources_raise_a_readable_error(executor: CircuitExecutor, source: str) -> None:
    with pytest.raises(InvalidCircuit) as raised:
        executor.run(source, 10)

    message = str(raised.value)
    assert message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Gates Aer knows run as they are; the bit order is Qiskit's (qubit 0 rightmost).
        ("x q[0];\nc = measure q;\n", {"01": 10}),
        # A gate the source defines is not Aer's: the circuit is transpiled first.
        ("gate flip a { x a; }\nflip q[1];\nc = measure q;\n", {"10": 10}),
        # Control flow holds instructions the check of names does not see: transpiled too.
        (
            "x q[0];\nc[0] = measure q[0];\nif (c[0]) { x q[1]; }\nc[1] = measure q[1];\n",
            {"11": 10},
        ),
    ],
    ids=["native", "defined-gate", "control-flow"],
)
def test_circuits_run_with_or_without_transpiling(
    executor: CircuitExecutor, body: str, expected: dict[str, int]
) -> None:
    source = f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n{body}'

    assert executor.run(source, 10) == expected
