"""Circuits with known answers: what the suite submits, so a deployment's results are checkable.

The project's own service tests and benchmarks submit the same circuits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from ..errors import QtaskVerifyError

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


# --- known answers -----------------------------------------------------------------------------
# Circuits whose outcome distribution is known exactly, written to catch what a Bell pair cannot:
# the order of the bits in a key, the flattening of several classical registers, the number of
# shots, a result written to another task. Each expectation was checked against Qiskit Aer
# (tests/suite/unit/test_known_answers.py runs them when Qiskit is installed).


class ExamplesRowError(QtaskVerifyError):
    """A feature's Examples row the catalogue cannot honour: an unknown circuit, or an expected
    answer other than the one the catalogue knows. The feature is wrong, not the deployment."""


@dataclass(frozen=True)
class KnownAnswer:
    """A circuit and the exact probability of each outcome it measures (outcomes as keys of the
    contract: every classical bit, bit 0 rightmost, the last-declared register leftmost)."""

    name: str
    source: str
    distribution: Mapping[str, Fraction]

    @property
    def width(self) -> int:
        """The circuit's total classical width: the length of every key it measures."""
        return len(next(iter(self.distribution)))

    @property
    def certain(self) -> str | None:
        """The one outcome of every shot, or None when several are possible."""
        possible = [outcome for outcome, p in self.distribution.items() if p]
        return possible[0] if len(possible) == 1 else None


def _program(qubits: int, registers: str, body: str) -> str:
    return f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[{qubits}] q;\n{registers}\n{body}\n'


HALF, QUARTER = Fraction(1, 2), Fraction(1, 4)
KNOWN_ANSWERS: dict[str, KnownAnswer] = {
    known.name: known
    for known in (
        # Qubit 0 is the rightmost bit: "01", never "10" (a reversed bit order shows here).
        KnownAnswer(
            "qubit 0 of two flipped",
            _program(2, "bit[2] c;", "x q[0];\nc = measure q;"),
            {"01": Fraction(1)},
        ),
        KnownAnswer(
            "qubits 1 and 2 of three flipped",
            _program(3, "bit[3] c;", "x q[1];\nx q[2];\nc = measure q;"),
            {"110": Fraction(1)},
        ),
        # Register low (declared first) holds 01, high holds 11: the key is high then low,
        # "1101"; not "11 01" (not flattened), "0111" (first-declared leftmost), "1011".
        KnownAnswer(
            "two classical registers",
            _program(
                4,
                "bit[2] low;\nbit[2] high;",
                "x q[0];\nx q[2];\nx q[3];\n"
                "low[0] = measure q[0];\nlow[1] = measure q[1];\n"
                "high[0] = measure q[2];\nhigh[1] = measure q[3];",
            ),
            {"1101": Fraction(1)},
        ),
        KnownAnswer(
            "a GHZ state on three qubits",
            _program(3, "bit[3] c;", "h q[0];\ncx q[0], q[1];\ncx q[1], q[2];\nc = measure q;"),
            {"000": HALF, "111": HALF},
        ),
        # ry(theta) leaves amplitude sin(theta / 2) on 1; theta = 2 arcsin(1/2) = pi/3 makes it
        # 1/2, so 1 is measured in a quarter of the shots. The angle is written as a number:
        # some parsers (Qiskit's native one) refuse an expression such as pi / 3.
        KnownAnswer(
            "a rotation of one chance in four",
            _program(1, "bit[1] c;", f"ry({2 * math.asin(0.5)!r}) q[0];\nc = measure q;"),
            {"0": 3 * QUARTER, "1": QUARTER},
        ),
    )
}


def known_answer(name: str, row: str | None = None) -> KnownAnswer:
    """The catalogue's circuit of that name; ExamplesRowError naming ``row`` (by default the
    Examples row with that circuit) and the known circuits otherwise."""
    known = KNOWN_ANSWERS.get(name)
    if known is None:
        names = ", ".join(f'"{n}"' for n in KNOWN_ANSWERS)
        where = row or f'the Examples row with circuit "{name}"'
        raise ExamplesRowError(
            f"{where} names no known-answer circuit; the catalogue holds {names}"
        )
    return known


def parse_shares(text: str) -> dict[str, Fraction]:
    """Shares as a feature writes them: "000 in 1/2, 111 in 1/2"; "01" alone means every shot.

    ValueError when the text is not of that form.
    """
    shares: dict[str, Fraction] = {}
    for part in text.split(","):
        outcome, _, share = part.strip().partition(" in ")
        if not outcome or set(outcome) - {"0", "1"}:
            raise ValueError(f"{outcome!r} is not an outcome of 0s and 1s")
        shares[outcome] = Fraction(share.strip()) if share else Fraction(1)
    return shares


def row_distribution(known: KnownAnswer, expected: str) -> dict[str, Fraction]:
    """The distribution an Examples row states for ``known``, which must be the catalogue's.

    A row that states another answer (or cannot be read) is an ExamplesRowError naming the row:
    the check would otherwise blame a correct deployment.
    """
    row = f'the Examples row with circuit "{known.name}" expects "{expected}"'
    try:
        stated = parse_shares(expected)
    except ValueError as exc:
        raise ExamplesRowError(
            f"{row}, which is not of the form '01' or '0 in 3/4, 1 in 1/4': {exc}"
        ) from None
    wanted = {outcome: p for outcome, p in known.distribution.items() if p}
    if stated != wanted:
        due = ", ".join(f"{k} in {p}" for k, p in wanted.items())
        raise ExamplesRowError(f"{row}, but the catalogue knows it measures {due}")
    return stated
