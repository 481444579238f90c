"""Known-answer circuits: the catalogue's answers are Qiskit Aer's, the exact binomial test holds
its false-alarm rate, and every way a result can be wrong is named."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import pytest

from qtask_verify.checks import results
from qtask_verify.checks.circuits import (
    KNOWN_ANSWERS,
    ExamplesRowError,
    KnownAnswer,
    known_answer,
    row_distribution,
)
from qtask_verify.checks.results import (
    KnownTask,
    binomial_interval,
    distribution_false_alarm,
    interval_false_alarm,
    known_answer_problems,
    require_own_answers,
)
from qtask_verify.checks.tasks import TaskState
from qtask_verify.checks.timing import burst_plan
from qtask_verify.config import Thresholds
from qtask_verify.errors import DeploymentFault

RATE = Thresholds().known_answer_false_alarm

FLIPPED = KNOWN_ANSWERS["qubit 0 of two flipped"]
REGISTERS = KNOWN_ANSWERS["two classical registers"]
GHZ = KNOWN_ANSWERS["a GHZ state on three qubits"]
ROTATION = KNOWN_ANSWERS["a rotation of one chance in four"]


def exact_tail_below(n: int, p: Fraction, k: int) -> Fraction:
    """P(X <= k) for X ~ Binomial(n, p), in exact rational arithmetic."""
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)), Fraction(0))


# --- the catalogue is Qiskit's answer ----------------------------------------------------------


@pytest.mark.parametrize("known", KNOWN_ANSWERS.values(), ids=list(KNOWN_ANSWERS))
def test_qiskit_aer_measures_the_known_answer(known: KnownAnswer) -> None:
    """Both of Qiskit's OpenQASM 3 importers, Aer, 4096 shots, registers joined as the contract
    says (Qiskit separates them by a space): the answer passes its own check."""
    qasm3 = pytest.importorskip("qiskit.qasm3")
    aer = pytest.importorskip("qiskit_aer")
    from qiskit import transpile

    simulator = aer.AerSimulator()
    for parse in (qasm3.loads, qasm3.loads_experimental):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            circuit = parse(known.source)
        raw = simulator.run(transpile(circuit, simulator), shots=4096).result().get_counts()
        counts = {bits.replace(" ", ""): n for bits, n in raw.items()}
        assert known_answer_problems(counts, known, 4096, RATE) == [], (parse.__name__, raw)


def test_qiskit_puts_qubit_0_rightmost_and_the_last_register_leftmost() -> None:
    qasm3 = pytest.importorskip("qiskit.qasm3")
    aer = pytest.importorskip("qiskit_aer")
    simulator = aer.AerSimulator()
    for known, raw in ((FLIPPED, "01"), (REGISTERS, "11 01")):
        result = simulator.run(qasm3.loads(known.source), shots=3).result()
        assert result.get_counts() == {raw: 3}


def test_every_circuit_declares_consistent_outcomes() -> None:
    for known in KNOWN_ANSWERS.values():
        assert sum(known.distribution.values()) == 1, known.name
        assert {len(outcome) for outcome in known.distribution} == {known.width}, known.name
    assert FLIPPED.certain == "01" and GHZ.certain is None


# --- the exact binomial test -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "p"), [(20, Fraction(1, 2)), (30, Fraction(1, 4)), (7, Fraction(3, 4))]
)
def test_the_interval_leaves_at_most_the_tail_on_either_side(n: int, p: Fraction) -> None:
    tail = 0.01
    low, high = binomial_interval(n, float(p), tail)
    assert exact_tail_below(n, p, low - 1) <= tail < exact_tail_below(n, p, low)
    above = 1 - exact_tail_below(n, p, high)  # P(X > high)
    at_or_above = 1 - exact_tail_below(n, p, high - 1)  # P(X >= high)
    assert above <= tail < at_or_above


@pytest.mark.parametrize("known", [GHZ, ROTATION], ids=["ghz", "rotation"])
@pytest.mark.parametrize("shots", [1, 3, 1000, 1024, 4096, 100_000])
def test_a_correct_result_fails_at_most_at_the_false_alarm_rate(
    known: KnownAnswer, shots: int
) -> None:
    assert distribution_false_alarm(known.distribution, shots, RATE) <= RATE


def test_the_bound_is_tight_enough_to_catch_a_few_percent() -> None:
    """At 4096 shots the GHZ interval spans about +-3.8 % of the shots around the half."""
    low, high = binomial_interval(4096, 0.5, RATE / 2)
    assert (low, high) == (4096 - high, high)
    assert 0.03 < (high - 2048) / 4096 < 0.04
    assert interval_false_alarm(4096, 0.5, (low, high)) > RATE / 4


def test_one_shot_of_a_two_outcome_circuit_is_never_a_false_alarm() -> None:
    assert known_answer_problems({"111": 1}, GHZ, 1, RATE) == []
    assert known_answer_problems({"000": 1}, GHZ, 1, RATE) == []


# --- what a wrong result is called -------------------------------------------------------------


def test_the_right_answer_passes() -> None:
    assert known_answer_problems({"01": 1000}, FLIPPED, 1000, RATE) == []
    assert known_answer_problems({"000": 2050, "111": 2046}, GHZ, 4096, RATE) == []
    assert known_answer_problems({"0": 751, "1": 249}, ROTATION, 1000, RATE) == []


def test_reversed_bits_are_an_outcome_the_circuit_never_gives() -> None:
    assert known_answer_problems({"10": 1000}, FLIPPED, 1000, RATE) == [
        "the circuit never gives 10 (it measures 01 in every shot)"
    ]


def test_the_default_shots_instead_of_the_requested_ones() -> None:
    assert known_answer_problems({"01": 1024}, FLIPPED, 1000, RATE) == [
        "the counts sum to 1024, not 1000"
    ]


def test_unflattened_registers_are_not_bitstrings_of_the_width() -> None:
    (problem,) = known_answer_problems({"11 01": 10}, REGISTERS, 10, RATE)
    assert "['11 01'] are not bitstrings of the circuit's 4 classical bits" in problem
    with pytest.raises(DeploymentFault, match=r"not 4-bit strings: \['11 01'\]"):
        results.require_circuit_width({"11 01": 10}, REGISTERS)


def test_a_skewed_distribution_is_named_with_its_bound() -> None:
    (problem,) = known_answer_problems({"0": 650, "1": 350}, ROTATION, 1000, RATE)
    assert problem.startswith("0 was measured 650 times in 1000 shots; with probability 3/4")
    assert "false-alarm rate 1e-06" in problem


def test_a_burst_names_the_task_whose_answer_another_got() -> None:
    def task(task_id: str, known: KnownAnswer, shots: int, counts: dict[str, int]) -> KnownTask:
        return KnownTask(task_id, known, shots, TaskState("completed", None, {"result": counts}))

    crossed = [
        task("a", FLIPPED, 1000, {"000": 500, "111": 500}),
        task("b", GHZ, 1000, {"01": 1000}),
        task("c", ROTATION, 10, {"0": 8, "1": 2}),
    ]
    with pytest.raises(DeploymentFault) as caught:
        require_own_answers(crossed, RATE)
    diagnosis = caught.value.diagnosis
    assert diagnosis.startswith(
        "2 of 3 concurrent tasks did not get their own circuit's answer, 2 of them another "
        "task's answer"
    )
    assert 'that is the answer of task b ("a GHZ state on three qubits", 1000 shots)' in diagnosis
    require_own_answers(crossed[2:], RATE)


def test_a_failed_task_of_a_burst_is_named_with_its_error() -> None:
    failed = KnownTask("a", FLIPPED, 5, TaskState("failed", "simulator unavailable"))
    with pytest.raises(DeploymentFault, match=r"task a .* is failed: simulator unavailable"):
        require_own_answers([failed], RATE)


# --- the feature's rows ------------------------------------------------------------------------


def test_an_unknown_circuit_names_the_row_and_the_known_ones() -> None:
    with pytest.raises(ExamplesRowError) as caught:
        known_answer("a teleported qubit")
    message = str(caught.value)
    assert message.startswith(
        'the Examples row with circuit "a teleported qubit" names no known-answer circuit'
    )
    assert '"qubit 0 of two flipped"' in message


def test_a_row_expecting_another_answer_is_the_feature_s_error() -> None:
    assert row_distribution(FLIPPED, "01") == {"01": 1}
    assert row_distribution(GHZ, "000 in 1/2, 111 in 1/2") == {
        "000": Fraction(1, 2),
        "111": Fraction(1, 2),
    }
    with pytest.raises(
        ExamplesRowError, match='expects "10", but the catalogue knows it measures 01 in 1'
    ):
        row_distribution(FLIPPED, "10")
    with pytest.raises(ExamplesRowError, match="not of the form"):
        row_distribution(GHZ, "half 000")


def test_the_burst_table_is_read_row_by_row() -> None:
    table = [
        ["circuit", "shots"],
        ["qubit 0 of two flipped", "3"],
        ["a GHZ state on three qubits", "7"],
    ]
    assert burst_plan(table) == [(FLIPPED, 3), (GHZ, 7)]
    with pytest.raises(ExamplesRowError, match=r'row 2 of the burst\'s table \("nope", 3\)'):
        burst_plan([["circuit", "shots"], ["qubit 0 of two flipped", "3"], ["nope", "3"]])
    with pytest.raises(ExamplesRowError, match="not a whole number"):
        burst_plan([["circuit", "shots"], ["qubit 0 of two flipped", "many"]])
