"""Request and response bodies of the API, as documented in OpenAPI.

The documented schema says exactly what is accepted: `qc` must hold a character other than
whitespace and none that PostgreSQL's `text` cannot store (NUL, lone UTF-16 surrogates, which
JSON can carry as `\\ud800`); `shots` is an integer, and JSON Schema counts `3424.0` as one, so
integral numbers are taken as that integer. The qubit limit, a setting, is checked by the route.
"""

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)

MAX_SHOTS = 100_000

# Python's whitespace (`str.isspace`), spelled for JSON Schema's (ECMA 262) regular expressions,
# whose `\s` is a slightly different set.
_WHITESPACE = (
    r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a"
    r"\u2028\u2029\u202f\u205f\u3000"
)
_NUL = r"\u0000"
_STORABLE = f"[^{_NUL}]"
_VISIBLE = f"[^{_NUL}{_WHITESPACE}]"
QC_PATTERN = f"^{_STORABLE}*{_VISIBLE}{_STORABLE}*$"
"""What `qc` may hold, for the OpenAPI document; the validator checks the same in linear time.
Lone surrogates are refused too, but left out of the pattern: most regular expression engines
(JSON Schema validators' among them) cannot express them, and JSON tools cannot produce them."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _integral_number(value: object) -> object:
    """`3424.0` is the integer 3424 (as in JSON Schema); `10.5` and booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Shots = Annotated[StrictInt, Field(ge=1, le=MAX_SHOTS), BeforeValidator(_integral_number)]


def _document_alias(schema: dict[str, Any]) -> None:
    """`circuit` is accepted when `qc` is absent (AliasChoices); say so in the schema."""
    properties = schema["properties"]
    properties["circuit"] = {
        "description": "Older name of qc, read only when qc is absent.",
        "deprecated": True,
    }
    schema.pop("required", None)
    schema["anyOf"] = [
        {"required": ["qc"]},
        {"required": ["circuit"], "properties": {"circuit": dict(properties["qc"])}},
    ]


class TaskSubmission(BaseModel):
    """`qc` (or its older alias `circuit`): OpenQASM 3 source; `shots`: 1..100000."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_document_alias)

    qc: StrictStr = Field(
        validation_alias=AliasChoices("qc", "circuit"),
        description=(
            "OpenQASM 3 source of the circuit (alias: circuit). It must hold a character other "
            "than whitespace and no NUL or lone surrogate (text cannot store them); a circuit "
            "declaring more qubits than the service runs is refused."
        ),
        min_length=1,
        json_schema_extra={"pattern": QC_PATTERN},
    )
    shots: Shots = 1024

    @field_validator("qc")
    @classmethod
    def _storable_and_not_blank(cls, value: str) -> str:
        unstorable = _UNSTORABLE.search(value)
        if unstorable is not None:
            # The character itself is not echoed: a lone surrogate cannot even be encoded.
            raise ValueError(
                f"holds U+{ord(unstorable.group()):04X} at offset {unstorable.start()}, a "
                "character that cannot be stored as text"
            )
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SubmissionAccepted(BaseModel):
    """The task is stored and queued."""

    task_id: uuid.UUID
    message: Literal["Task submitted successfully."]


class TaskView(BaseModel):
    """A task as the API shows it; fields depend on its status."""

    task_id: uuid.UUID
    status: Literal["pending", "processing", "completed", "failed"]
    shots: int
    submitted_at: dt.datetime
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    attempts: int = Field(
        description="Deliveries that claimed the task; above 1 it was run again after a worker "
        "died."
    )
    message: str | None = None
    result: dict[str, int] | None = Field(
        default=None, description="Measurement counts, bitstring -> count, summing to shots."
    )
    error: str | None = None


class Health(BaseModel):
    """Health of the API and of its two dependencies."""

    status: Literal["healthy", "unhealthy"]
    database_status: Literal["connected", "disconnected"]
    queue_status: Literal["connected", "disconnected"]
    version: str
    failing: list[Literal["database", "queue"]] = []
    details: dict[str, str] = {}


class ErrorDetail(BaseModel):
    """One invalid field."""

    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    status: Literal["error"]
    message: str
    details: list[ErrorDetail] | None = None
