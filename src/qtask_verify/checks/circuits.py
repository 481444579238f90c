"""Circuits with known answers: what the suite submits, so a deployment's results are checkable.

The project's own service tests and benchmarks submit the same circuits.
"""

BELL_CIRCUIT = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""
"""Two entangled qubits: only 00 and 11 are ever measured, each in about half of the shots."""

UNPARSABLE_CIRCUIT = """OPENQASM 3.0;
qubit[2] q;
this is not a gate;
"""
"""Not OpenQASM 3: accepted on submission, then failed by the worker with a message."""


def busy_circuit(qubits: int = 20, layers: int = 16) -> str:
    """A circuit whose simulation keeps a worker busy for seconds (a 20-qubit statevector).

    Measured on the reference worker (Aer, one thread) on a loaded 2-core machine: 20 qubits
    and 10 layers take 2.3 s, 16 layers about 3.5 s; the number of shots hardly matters, since
    Aer samples every shot from one final statevector.
    """
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{qubits}] q;", f"bit[{qubits}] c;"]
    for layer in range(layers):
        gate = "h" if layer % 2 == 0 else "rx(0.3)"
        lines += [f"{gate} q[{i}];" for i in range(qubits)]
        lines += [f"cx q[{i}], q[{i + 1}];" for i in range(qubits - 1)]
    lines.append("c = measure q;")
    return "\n".join(lines) + "\n"
