"""Invalid requests: what each kind sends, and what a clean refusal looks like.

A refusal is clean when it answers 400 with details naming the field, and nothing was stored
for it. The details may take any shape (the contract leaves it open), but must name the field
as data a client can act on: a key, a value that is the field's name or path, a list path such
as FastAPI's ``loc``; a sentence that mentions the field does not name it. "Nothing stored" is
judged by time window: every valid submission of the suite carries a marker in its circuit, so
a row submitted around the request without one (or with the request's own marker) was written
for the refused request.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..clients import ApiClient, ApiResponse, DatabaseInspector
from ..config import Expectations
from ..deployment.ledger import MARKER_PREFIX, ScenarioTasks
from ..errors import ConfigurationError, DeploymentFault, require

# The clocks of the database and the service may differ slightly.
CLOCK_MARGIN = timedelta(seconds=1)
# The contract accepts `circuit` as an older name of `qc`; details may name either.
FIELD_NAMES = {"qc": ("qc", "circuit"), "shots": ("shots",), "body": ("body",)}
MALFORMED_JSON = b'{"qc": "OPENQASM 3.0;", "shots": '

BodyOf = Callable[[str, Expectations], dict[str, Any]]


def _padded(circuit: str, expectations: Expectations) -> str:
    return circuit + "// padding\n" * (expectations.max_body_bytes // 11 + 1)


# Each kind of invalid submission, by the words of the Examples table: a fixed body, or a
# function that builds it around a valid circuit (marked, so a wrongly stored task is still
# cleaned up) and the environment's limits.
INVALID_SUBMISSIONS: dict[str, BodyOf | dict[str, Any]] = {
    "a task without a circuit": {"shots": 100},
    "a task with an empty circuit": {"qc": "", "shots": 100},
    "a task whose circuit is a number": {"qc": 12345, "shots": 100},
    "a task with zero shots": lambda qc, _: {"qc": qc, "shots": 0},
    "a task with more shots than allowed": lambda qc, e: {"qc": qc, "shots": e.max_shots + 1},
    "a task with a negative number of shots": lambda qc, _: {"qc": qc, "shots": -5},
    "a task whose shots are not a whole number": lambda qc, _: {"qc": qc, "shots": 10.5},
    "a task larger than the allowed request size": lambda qc, e: {
        "qc": _padded(qc, e),
        "shots": 100,
    },
}


@dataclass(frozen=True)
class RefusedRequest:
    """A request expected to be refused: the answer and the window in which it was made."""

    response: ApiResponse
    marker: str | None
    window_start: datetime
    window_end: datetime


async def _sent(
    database: DatabaseInspector, send: Callable[[], Awaitable[ApiResponse]], marker: str | None
) -> RefusedRequest:
    start = await database.now()
    response = await send()
    end = await database.now()
    return RefusedRequest(response, marker, start - CLOCK_MARGIN, end + CLOCK_MARGIN)


async def send_invalid_submission(
    description: str,
    circuit: str,
    expectations: Expectations,
    api: ApiClient,
    database: DatabaseInspector,
    tasks: ScenarioTasks,
) -> RefusedRequest:
    """Send the invalid submission the Examples row ``description`` names."""
    kind = INVALID_SUBMISSIONS.get(description)
    if kind is None:
        known = "; ".join(INVALID_SUBMISSIONS)
        raise ConfigurationError(
            f"the Examples row {description!r} names no known invalid submission (known: {known})"
        )
    if isinstance(kind, dict):
        return await _sent(database, lambda: api.post_task(kind), None)
    marker, marked = tasks.mark(circuit)
    body = kind(marked, expectations)
    return await _sent(database, lambda: api.post_task(body), marker)


async def send_malformed_json(api: ApiClient, database: DatabaseInspector) -> RefusedRequest:
    return await _sent(database, lambda: api.post_raw_task(MALFORMED_JSON), None)


@dataclass(frozen=True)
class RefusalBatch:
    """Every kind of invalid submission, sent one after the other from ``since`` on."""

    since: float  # time.monotonic() before the first was sent
    refused: list[RefusedRequest]


async def send_every_invalid_submission(
    circuit: str,
    expectations: Expectations,
    api: ApiClient,
    database: DatabaseInspector,
    tasks: ScenarioTasks,
) -> RefusalBatch:
    """Each kind the Examples table names, and a body that is not JSON."""
    since = time.monotonic()
    refused = [
        await send_invalid_submission(kind, circuit, expectations, api, database, tasks)
        for kind in INVALID_SUBMISSIONS
    ]
    refused.append(await send_malformed_json(api, database))
    return RefusalBatch(since, refused)


# Separators of a field's path in one string: "body.qc", "/body/qc" (a JSON pointer), "body[qc]",
# "$['body']['qc']", "#/qc". Each part between them must be a plain name, so a sentence (which
# has spaces) is never a path.
_PATH_SEPARATORS = re.compile(r"[./\[\]'\"#$]+")
_NAME = re.compile(r"[\w-]+")
# Keys whose value echoes the request (pydantic's "input"): the names in it name no problem.
_ECHOES = frozenset({"input"})


def _is_path_to(text: str, names: Collection[str]) -> bool:
    """``text`` is one of ``names`` or a path ending in one (dotted, slashed, bracketed)."""
    parts = [part for part in _PATH_SEPARATORS.split(text) if part]
    return bool(parts) and all(_NAME.fullmatch(p) for p in parts) and parts[-1] in names


def names_field(details: Any, names: Collection[str]) -> bool:
    """Whether the JSON ``details`` name one of ``names`` in a machine-readable way.

    A field is named by a key (``{"errors": {"qc": [...]}}``), by a string that is its name or a
    path ending in it (``"field": "body.qc"``, ``"pointer": "/qc"``) or by a list of names that
    is such a path (FastAPI's ``"loc": ["body", "qc"]``); a sentence mentioning it does not.
    """
    if isinstance(details, dict):
        return any(
            key in names or (key not in _ECHOES and names_field(value, names))
            for key, value in details.items()
        )
    if isinstance(details, list):
        if details and all(isinstance(item, str | int) for item in details):
            last = details[-1]
            return isinstance(last, str) and _is_path_to(last, names)
        return any(names_field(item, names) for item in details)
    return isinstance(details, str) and _is_path_to(details, names)


def mention_in_text(details: Any, names: Collection[str]) -> str | None:
    """The first string of ``details`` that mentions one of ``names`` as a word, if any."""
    if isinstance(details, dict):
        details = list(details.values())
    if isinstance(details, list):
        return next((found for item in details if (found := mention_in_text(item, names))), None)
    words = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
    return details if isinstance(details, str) and words.search(details) else None


def require_refused_naming(refused: RefusedRequest, field: str) -> None:
    """400, and details that name the field (or its alias) as data, not only in prose."""
    response = refused.response
    require(
        response.status_code == 400,
        "api",
        f"an invalid submission answered {response.status_code}, not 400: {response.text[:200]}",
    )
    names = FIELD_NAMES[field]
    if names_field(response.body, names):
        return
    text = mention_in_text(response.body, names)
    if text is None:
        seen = f"; its body is {_body(response)}"
    else:
        seen = f' (it is only mentioned in the text "{_clipped(text, 120)}")'
    raise DeploymentFault(
        "api",
        "the invalid submission was refused with 400, but no machine-readable detail names "
        f"{' or '.join(names)}{seen}",
    )


def require_refused_with_details(refused: RefusedRequest) -> None:
    response = refused.response
    require(
        response.status_code == 400 and isinstance(response.body, dict),
        "api",
        f"a malformed body answered {response.status_code}, not 400 with JSON details: "
        f"{response.text[:200]}",
    )


async def require_nothing_stored(refused: RefusedRequest, database: DatabaseInspector) -> None:
    stored = await database.count_untracked_tasks_between(
        refused.window_start,
        refused.window_end,
        MARKER_PREFIX,
        refused.marker or MARKER_PREFIX + "none",
    )
    require(stored == 0, "api", f"a refused submission left {stored} task(s) in the database")


# The contract's body for an unknown task; its status code is what is enforced (see below).
NOT_FOUND_BODY = {"status": "error", "message": "Task not found."}


def _body(response: ApiResponse) -> str:
    """The answer's body as the diagnosis quotes it: JSON compactly, else the first 200 chars."""
    if response.body is not None:
        text = json.dumps(response.body, separators=(", ", ": "))
    else:
        text = response.text or "empty"
    return _clipped(text, 200)


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def not_found_difference(lookup: ApiResponse) -> str | None:
    """How a 404's body differs from the contract's, in words; None if it is the contract's.

    Not a failure (see :func:`require_not_found`): a report may quote it as an observation.
    """
    if lookup.status_code != 404:
        return None
    if lookup.field("status") == "error" and lookup.field("message") == "Task not found.":
        return None
    return (
        f"GET of an unknown task answered 404 as required, but its body is {_body(lookup)}; "
        f"the contract's body is {json.dumps(NOT_FOUND_BODY)}"
    )


def require_not_found(lookup: ApiResponse) -> None:
    """An unknown task is answered 404; the body is not judged.

    The contract writes the reference's 404 body (``{"status": "error", "message": "Task not
    found."}``) but lists "the body of a 404 or 400 beyond its status code" among what may differ
    between implementations, and a profile never adopts a violation, so a differing body cannot
    be one: only the status code is required. (:func:`not_found_difference` words the
    difference, for anyone who wants to see it.) A 200, a 500 or anything but 404 fails, quoting
    the body that came instead.
    """
    require(
        lookup.status_code == 404,
        "api",
        f"GET of an unknown task answered {lookup.status_code}, not 404 as required; "
        f"its body is {_body(lookup)}",
    )


def require_invalid_or_unknown(lookup: ApiResponse) -> None:
    require(
        lookup.status_code in (400, 404) and lookup.body is not None,
        "api",
        f"a malformed task id answered {lookup.status_code}, not 400 or 404 with details: "
        f"{lookup.text[:200]}",
    )
