"""What the API accepts, as units: the submission model, the qubit count, the settings."""

from __future__ import annotations

import re

import pytest
from conftest import BELL
from pydantic import ValidationError

from qtask_service.api.app import create_app
from qtask_service.api.schemas import QC_PATTERN, TaskSubmission
from qtask_service.circuit_size import declared_qubits
from qtask_service.settings import VARIANT_ENVIRONMENT, Settings
from qtask_verify.checks.circuits import busy_circuit


def _accepted(body: dict[str, object]) -> bool:
    try:
        TaskSubmission.model_validate(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "qc",
    [
        BELL,
        "x",
        " \n",
        "\u3000\u2028",  # Unicode spaces: blank
        "\ufeff",  # a BOM is not whitespace to Python, though it is to JavaScript's \s
        "\x1c",
        "OPENQASM 3.0;\x00",
        "\x00",
        "é ok",
    ],
)
def test_the_documented_pattern_says_what_the_validator_accepts(qc: str) -> None:
    # The OpenAPI document is what schema-driven clients (and Schemathesis) trust.
    assert _accepted({"qc": qc}) == bool(re.fullmatch(QC_PATTERN, qc))


@pytest.mark.parametrize("qc", ["a\ud800b", "\udfff"])
def test_lone_surrogates_are_refused(qc: str) -> None:
    assert not _accepted({"qc": qc})


def test_text_postgresql_cannot_store_is_refused_naming_qc() -> None:
    with pytest.raises(ValidationError) as raised:
        TaskSubmission.model_validate({"qc": BELL + "\x00"})

    (error,) = raised.value.errors()
    assert error["loc"] == ("qc",)
    assert "U+0000" in error["msg"]


@pytest.mark.parametrize(("shots", "taken"), [(3424.0, 3424), (1e3, 1000), (100_000.0, 100_000)])
def test_integral_numbers_are_integers(shots: float, taken: int) -> None:
    submission = TaskSubmission.model_validate({"qc": BELL, "shots": shots})

    assert submission.shots == taken
    assert type(submission.shots) is int


@pytest.mark.parametrize("shots", [10.5, True, "100", float("inf"), float("nan"), 100_001.0, 0.0])
def test_other_shots_stay_refused(shots: object) -> None:
    assert not _accepted({"qc": BELL, "shots": shots})


def test_the_openapi_document_describes_the_real_answers() -> None:
    document = create_app(Settings()).openapi()

    submission = document["components"]["schemas"]["TaskSubmission"]
    assert submission["properties"]["shots"]["type"] == "integer"
    assert submission["properties"]["qc"]["pattern"] == QC_PATTERN
    assert {"required": ["qc"]} in submission["anyOf"]  # or `circuit`, the older name
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)  # 400 it is
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("source", "qubits"),
    [
        (BELL, 2),
        (busy_circuit(), 20),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[30];\ncreg c[30];\n', 30),
        ("OPENQASM 3.0;\nqubit[3] a;\nqubit b;\nqubit [ 4 ] c;\n", 8),
        ("OPENQASM 3.0;\n// qubit[99] x;\n/* qubit[50] y; */\nqubit[3] q;\n", 3),
        ("OPENQASM 3.0;\ndef f(qubit[40] a) { h a[0]; }\nqubit[2] r;\n", 2),  # a parameter
        ("OPENQASM 3.0;\nh $0;\ncx $0, $29;\n", 30),  # physical qubits
        ("OPENQASM 3.0;\nmyqubit[9] x;\n", 0),
    ],
)
def test_declared_qubits_are_counted_without_parsing(source: str, qubits: int) -> None:
    assert declared_qubits(source) == qubits


def test_dead_letter_names_derive_from_the_queue_unless_set() -> None:
    derived = Settings(queue_name="jobs")
    named = Settings(queue_name="jobs", dead_letter_queue="dead", dead_letter_exchange="dx")

    assert (derived.dead_letter_exchange, derived.dead_letter_queue) == ("jobs.dlx", "jobs.dlq")
    assert derived.dead_letter_routing_key == "jobs.dlq"
    assert (named.dead_letter_exchange, named.dead_letter_routing_key) == ("dx", "dead")


def test_a_delivery_limit_must_leave_the_worker_its_attempts() -> None:
    with pytest.raises(ValidationError, match="must exceed worker_max_attempts"):
        Settings(queue_type="quorum", queue_delivery_limit=3, worker_max_attempts=3)


def test_the_variant_environment_is_complete_and_differs_from_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = Settings()
    for name, value in VARIANT_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    variant = Settings()

    assert all(name.startswith("QTASK_SERVICE_") for name in VARIANT_ENVIRONMENT)
    assert not any(name.endswith("_URL") for name in VARIANT_ENVIRONMENT)
    assert (variant.migrations, variant.queue_type, variant.api_extras) == (
        "variant",
        "quorum",
        True,
    )
    for field in ("queue_name", "dead_letter_exchange", "dead_letter_queue"):
        assert getattr(variant, field) != getattr(reference, field), field
    assert variant.dead_letter_routing_key != reference.dead_letter_routing_key
