"""A 400 names the invalid field as data a client can act on, in whatever shape the
implementation chose; a field mentioned only in a sentence is not named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from qtask_verify.checks.refusals import RefusedRequest, require_refused_naming
from qtask_verify.clients import ApiResponse
from qtask_verify.errors import DeploymentFault

NAMING_QC: list[Any] = [
    # The reference service.
    {"status": "error", "details": [{"field": "qc", "message": "Field required"}]},
    # FastAPI's default.
    {"detail": [{"type": "missing", "loc": ["body", "qc"], "msg": "Field required"}]},
    # The older name, which the contract accepts as an alias.
    {"detail": [{"loc": ["body", "circuit"], "msg": "Field required"}]},
    {"errors": {"qc": ["required"]}},
    {"errors": [{"field": "body.qc"}]},
    {"errors": [{"pointer": "/qc"}]},
    {"errors": [{"source": {"pointer": "#/body/qc"}}]},
    {"errors": [{"path": "$['body']['qc']"}]},
    {"errors": [{"path": "body[qc]"}]},
    {"invalid": ["qc"]},
]

NOT_NAMING_QC: list[Any] = [
    {"detail": "the qc field is required"},
    {"message": "Invalid request: qc must not be empty."},
    {"detail": [{"loc": ["body", "qc", "shots"], "msg": "bad"}]},
    {"errors": [{"field": "body.shots"}]},
    {"errors": [{"field": "qcs"}]},
    # A request echoed back names nothing.
    {"detail": [{"loc": ["body"], "msg": "invalid", "input": {"qc": 12345}}]},
    {"status": "error", "message": "Invalid request."},
    [],
    None,
]


def _refused(body: Any, status: int = 400) -> RefusedRequest:
    now = datetime.now(UTC)
    text = json.dumps(body) if body is not None else "Bad Request"
    return RefusedRequest(ApiResponse(status, body, text, 1.0), None, now, now)


@pytest.mark.parametrize("body", NAMING_QC, ids=json.dumps)
def test_a_field_named_as_data_is_named(body: Any) -> None:
    require_refused_naming(_refused(body), "qc")


@pytest.mark.parametrize("body", NOT_NAMING_QC, ids=json.dumps)
def test_a_field_not_named_as_data_is_not_named(body: Any) -> None:
    with pytest.raises(DeploymentFault) as caught:
        require_refused_naming(_refused(body), "qc")
    assert caught.value.component == "api"
    assert caught.value.diagnosis.startswith(
        "the invalid submission was refused with 400, but no machine-readable detail names "
        "qc or circuit"
    )


def test_a_field_only_in_prose_is_quoted() -> None:
    with pytest.raises(DeploymentFault) as caught:
        require_refused_naming(_refused({"detail": "the qc field is required"}), "qc")
    assert caught.value.diagnosis == (
        "the invalid submission was refused with 400, but no machine-readable detail names "
        'qc or circuit (it is only mentioned in the text "the qc field is required")'
    )


def test_a_body_naming_nothing_is_quoted() -> None:
    with pytest.raises(DeploymentFault) as caught:
        require_refused_naming(_refused({"message": "Invalid request."}), "shots")
    assert caught.value.diagnosis == (
        "the invalid submission was refused with 400, but no machine-readable detail names "
        'shots; its body is {"message": "Invalid request."}'
    )


def test_another_status_than_400_is_diagnosed_first() -> None:
    with pytest.raises(DeploymentFault, match="answered 200, not 400"):
        require_refused_naming(_refused({"task_id": "x"}, status=200), "qc")
