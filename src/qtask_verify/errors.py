"""The suite's exceptions.

Every error the engine raises derives from :class:`QtaskVerifyError`, so callers can tell the
suite's own failures from bugs. :class:`DeploymentFault` is the one that matters for the verdict:
it says which component of the deployment is broken and why, in the deployment's words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Component = Literal["api", "database", "queue", "workers"]


class QtaskVerifyError(Exception):
    """Base class of every error raised by the suite's engine."""


class ConfigurationError(QtaskVerifyError):
    """The environment configuration cannot be used (missing file, unknown profile, bad value)."""


class ControllerError(QtaskVerifyError):
    """A deployment controller command failed or is not configured for an action."""


@dataclass(frozen=True)
class Observation:
    """One thing seen while waiting, ``t_s`` seconds after the wait began."""

    t_s: float
    observation: str


class DeploymentFault(QtaskVerifyError, AssertionError):
    """The deployment does not behave as the contract says.

    It is an ``AssertionError`` so pytest reports the scenario as failed (not errored).
    ``component`` names the broken part (api | database | queue | workers), ``diagnosis`` says
    what was observed in one line, and ``timeline`` lists what the suite observed on the way
    there. ``detail`` keeps the raw text behind it (a driver's error, an HTTP body), which is
    never the headline. ``loss`` marks a fault that shows an accepted task lost, duplicated or
    left unfinished: whatever the scenario's priority, the deployment must not be released.
    """

    def __init__(
        self,
        component: Component,
        diagnosis: str,
        timeline: Sequence[Observation] = (),
        *,
        detail: str | None = None,
        loss: bool = False,
    ) -> None:
        super().__init__(f"{component}: {diagnosis}")
        self.component: Component = component
        self.diagnosis = diagnosis
        self.timeline: list[Observation] = list(timeline)
        self.detail = detail
        self.loss = loss


def require(condition: bool, component: Component, diagnosis: str) -> None:
    """Raise DeploymentFault(component, diagnosis) unless ``condition`` holds.

    Steps use it instead of a bare ``assert`` so a failure names the broken component.
    """
    __tracebackhide__ = True
    if not condition:
        raise DeploymentFault(component, diagnosis)


# --- unexpected exceptions, in the deployment's words ------------------------------------------

_LIBRARY_COMPONENT: dict[str, Component] = {
    "asyncpg": "database",
    "httpx": "api",
    "httpcore": "api",
    "aiormq": "queue",
    "aio_pika": "queue",
    "pamqp": "queue",
}
_COMPONENT_WORDS: dict[Component, str] = {
    "api": "the API",
    "database": "the database",
    "queue": "the broker",
    "workers": "the workers",
}
# Tags of the scenarios (features/*.feature) -> components of a diagnosis.
COMPONENT_TAGS: dict[str, Component] = {
    "api": "api",
    "database": "database",
    "queue": "queue",
    "worker": "workers",
}
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")


def _names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def _library(error: BaseException) -> str | None:
    for cls in type(error).__mro__:
        root = cls.__module__.split(".")[0]
        if root in _LIBRARY_COMPONENT:
            return root
    return None


def _quoted(text: str) -> str | None:
    match = _QUOTED.search(text)
    return (match.group(1) or match.group(2)) if match else None


def _database_sentence(error: BaseException) -> str:
    names = _names(error)
    text = str(error)
    name = _quoted(text)
    if "UndefinedColumnError" in names:
        column = f" {name}" if name else ""
        return f"the database has no column{column} that this step reads"
    if "UndefinedTableError" in names:
        table = f" {name}" if name else ""
        return f"the database has no table{table} that this step reads"
    if "UndefinedObjectError" in names or "UndefinedFunctionError" in names:
        return "the database lacks a type or function that this step's query uses"
    if "InsufficientPrivilegeError" in names:
        return "the suite's database account is not allowed what this step needs"
    if "InvalidTextRepresentationError" in names or "DataError" in names:
        return "the database holds a value that this step cannot read as the contract's type"
    if names & {"PostgresConnectionError", "ConnectionDoesNotExistError", "CannotConnectNowError"}:
        return "the connection to the database was refused or lost during this step"
    if "PostgresError" in names:
        code = getattr(error, "sqlstate", None)
        return f"the database answered a query of this step with an error (SQLSTATE {code})"
    return "the suite's connection to the database failed during this step"


def _http_component(error: BaseException) -> Component:
    """httpx serves the task API and the broker's Management API (whose paths start /api/)."""
    try:
        path = str(error.request.url.path)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return "api"
    return "queue" if path.startswith("/api/") else "api"


def _http_sentence(error: BaseException, component: Component) -> str:
    names = _names(error)
    who = "the broker's Management API" if component == "queue" else "the API"
    if "TimeoutException" in names:
        return f"{who} did not answer in time"
    if "HTTPStatusError" in names:
        status = getattr(getattr(error, "response", None), "status_code", "an error")
        return f"{who} answered {status} where this step expected a success"
    if "TransportError" in names:
        return f"{who} could not be reached, or dropped the connection"
    if "DecodingError" in names:
        return f"{who} answered a body that cannot be decoded"
    return f"the HTTP request of this step to {who} failed"


def _amqp_sentence(error: BaseException) -> str:
    names = _names(error)
    text = str(error)
    if "ChannelNotFoundEntity" in names:
        match = re.search(r"no (queue|exchange) '([^']+)'", text)
        what = f"{match.group(1)} {match.group(2)}" if match else "queue or exchange"
        return f"the broker has no {what} that this step uses"
    if "ChannelAccessRefused" in names or "ProbableAuthenticationError" in names:
        return "the suite's broker account is not allowed what this step needs"
    if "ChannelPreconditionFailed" in names:
        return "the broker refused this step's declaration: the queue's settings differ"
    if names & {"AMQPConnectionError", "ConnectionClosed", "ChannelInvalidStateError"}:
        return "the connection to the broker was refused or closed during this step"
    return "the broker answered this step with an AMQP error"


def _shape_sentence(error: BaseException, component: Component) -> str:
    who = _COMPONENT_WORDS[component]
    if isinstance(error, json.JSONDecodeError):
        return f"{who} answered something that is not valid JSON"
    if isinstance(error, KeyError):
        return f"an answer of {who} has no field {error.args[0]!r}, which this step reads"
    if isinstance(error, IndexError):
        return f"an answer of {who} has fewer items than this step reads"
    return f"an answer of {who} does not have the shape this step reads"


_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def unexpected_fault(
    error: BaseException, component: Component | None = None
) -> DeploymentFault | None:
    """The diagnosis of an exception no check anticipated, or None if it is the suite's own.

    A driver's error names its component by its library: asyncpg -> database, httpx -> api
    (queue for the Management API's ``/api/...`` paths), aiormq / aio-pika -> queue. A timeout,
    a connection error or an answer of an unexpected shape (a missing key, a wrong type,
    invalid JSON) is attributed to ``component``, the scenario's component tag, when one is
    given. The headline is one plain sentence; the raw error goes to ``detail``. The suite's
    own errors (:class:`QtaskVerifyError`, a plain ``AssertionError``) and anything else are
    left alone: None.
    """
    if isinstance(error, (QtaskVerifyError, AssertionError)) or not isinstance(error, Exception):
        return None
    detail = f"{type(error).__module__}.{type(error).__qualname__}: {error}"
    library = _library(error)
    found: Component | None = None
    sentence = ""
    if library == "asyncpg":
        found, sentence = "database", _database_sentence(error)
    elif library in ("httpx", "httpcore"):
        found = _http_component(error)
        sentence = _http_sentence(error, found)
    elif library in ("aiormq", "aio_pika", "pamqp"):
        found, sentence = "queue", _amqp_sentence(error)
    elif component is not None and isinstance(error, TimeoutError):
        found, sentence = component, f"{_COMPONENT_WORDS[component]} did not answer in time"
    elif component is not None and isinstance(error, OSError):
        reason = f" ({error.strerror.lower()})" if error.strerror else ""
        found = component
        sentence = f"the connection to {_COMPONENT_WORDS[component]} failed{reason}"
    elif component is not None and isinstance(error, _SHAPE_ERRORS):
        found, sentence = component, _shape_sentence(error, component)
    if found is None:
        return None
    fault = DeploymentFault(found, sentence, detail=detail)
    fault.__cause__ = error
    return fault
