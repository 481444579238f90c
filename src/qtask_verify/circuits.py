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
