"""Runs OpenQASM 3 sources on the Qiskit Aer simulator and returns flat measurement counts.

Parsing costs more than simulating a small circuit (design, section 5), so each executor keeps
one simulator and an LRU cache of circuits already parsed and transpiled, keyed by source.
Transpiling costs more still (about 75 ms for a Bell pair, 25 times the parse and the run), and
Aer runs most circuits as they are: only one with an instruction Aer does not know (a gate the
source defines, say) or with control flow is transpiled. A
circuit with more qubits than the service runs is refused once parsed, before it is simulated.
A worker runs its executor in a simulator process of its own (`worker.simulator`).
"""

import warnings
from collections import OrderedDict

import qiskit.qasm3
from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator

# Instructions whose bodies hold further instructions, which the check of names does not see.
_CONTROL_FLOW = frozenset(
    {"if_else", "for_loop", "while_loop", "switch_case", "break_loop", "continue_loop", "box"}
)


class InvalidCircuit(Exception):
    """The source is not a runnable OpenQASM 3 program; the message is meant for the user."""


class CircuitExecutor:
    """One per worker process: not thread-safe, used from one executor thread."""

    def __init__(self, cache_size: int = 256, max_qubits: int | None = None) -> None:
        # Aer's default OpenMP parallelism spins on every core for a tiny circuit: 5x the CPU
        # per run on this 2-core machine. Workers scale by process, so one thread each.
        self._simulator = AerSimulator(max_parallel_threads=1)
        self._native = frozenset(self._simulator.target.operation_names) | {"barrier"}
        self._cache: OrderedDict[str, QuantumCircuit] = OrderedDict()
        self._cache_size = cache_size
        self._max_qubits = max_qubits

    def run(self, source: str, shots: int) -> dict[str, int]:
        """Counts of `shots` executions, bitstring (registers concatenated) -> count."""
        circuit = self._compiled(source)
        try:
            result = self._simulator.run(circuit, shots=shots).result()
            counts = result.get_counts(circuit)
        except Exception as exc:
            raise InvalidCircuit(f"the simulator could not run the circuit: {exc}") from exc
        flat: dict[str, int] = {}
        for bits, count in counts.items():
            # Multiple classical registers come out as "01 1"; the contract wants "011".
            key = bits.replace(" ", "")
            flat[key] = flat.get(key, 0) + count
        return flat

    def _compiled(self, source: str) -> QuantumCircuit:
        cached = self._cache.get(source)
        if cached is not None:
            self._cache.move_to_end(source)
            return cached
        circuit = _parse(source)
        if self._max_qubits is not None and circuit.num_qubits > self._max_qubits:
            raise InvalidCircuit(
                f"the circuit has {circuit.num_qubits} qubits; this service runs at most "
                f"{self._max_qubits}"
            )
        if circuit.num_clbits == 0:
            raise InvalidCircuit("the circuit measures nothing: it has no classical bits")
        names = {instruction.operation.name for instruction in circuit.data}
        if names <= self._native and not names & _CONTROL_FLOW:
            compiled = circuit
        else:
            try:
                compiled = transpile(circuit, self._simulator)
            except Exception as exc:
                raise InvalidCircuit(f"the simulator cannot compile the circuit: {exc}") from exc
        if self._cache_size:
            self._cache[source] = compiled
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled


def _parse(source: str) -> QuantumCircuit:
    """The native parser first (30x faster); the reference importer when it refuses the source."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return qiskit.qasm3.loads_experimental(source)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # also the Rust parser's panics (e.g. on a non-literal register size)
        pass
    try:
        return qiskit.qasm3.loads(source)
    except Exception as exc:
        raise InvalidCircuit(f"invalid OpenQASM 3: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    """The importer's own words when it has some (first line, bounded), else what failed."""
    text = str(exc).strip().strip("'\"")
    if not text or isinstance(exc, AttributeError):  # the importer trips over empty programs
        return f"the source could not be parsed ({type(exc).__name__})"
    return text.splitlines()[0][:500]
