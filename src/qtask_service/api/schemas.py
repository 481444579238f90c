"""Request and response bodies of the API, as documented in OpenAPI."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)

MAX_SHOTS = 100_000


class TaskSubmission(BaseModel):
    """`qc` (or its older alias `circuit`): OpenQASM 3 source; `shots`: 1..100000."""

    model_config = ConfigDict(extra="ignore")

    qc: StrictStr = Field(
        validation_alias=AliasChoices("qc", "circuit"),
        description="OpenQASM 3 source of the circuit (alias: circuit).",
        min_length=1,
    )
    shots: Annotated[StrictInt, Field(ge=1, le=MAX_SHOTS)] = 1024

    @field_validator("qc")
    @classmethod
    def _not_blank(cls, value: str) -> str:
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
