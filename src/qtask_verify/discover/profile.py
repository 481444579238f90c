"""The draft profile: a `[profiles.NAME]` block that adopts every allowed difference found.

Appended as it is to environments.toml, `qtask-verify --env NAME` runs against the deployment
with the same QTASK_* variables: the block holds no URL and no secret (connections come from the
environment), and a violation is never adopted (its key is left out, so the contract's default
stays expected and the run reports the defect).
"""

from __future__ import annotations

import re

from .findings import Discovery

# A TOML bare key: a profile name that needs no quoting in `[profiles.NAME]`.
PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (control characters escaped)."""
    escaped = "".join(
        _ESCAPES.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in text
    )
    return f'"{escaped}"'


def render_profile(discovery: Discovery, name: str, description: str | None = None) -> str:
    """The draft `[profiles.NAME]` block (with its expectations) as TOML text."""
    if not PROFILE_NAME.match(name):
        raise ValueError(f"profile name {name!r}: use letters, digits, '-' and '_' only")
    draft = discovery.draft
    description = description or f"Discovered by `qtask-verify discover` from {discovery.api_url}."
    lines = [
        f"# Drafted by `qtask-verify discover`: {len(discovery.allowed)} allowed difference(s),"
        f" {len(discovery.violations)} violation(s) (not adopted).",
    ]
    if discovery.violations:
        lines.append("# Not adopted, they stay expected by the contract and fail the run:")
        lines += [f"#   {f.component}: {f.item}: {f.found} ({f.why})" for f in discovery.violations]
    lines += [
        "# Connections come from the QTASK_* variables (the broker's vhost from QTASK_AMQP_URL).",
        f"[profiles.{name}]",
        f"description = {toml_string(description)}",
        "# The release gate submits test tasks (and deletes them afterwards from the database):",
        "# set it to false to run only the read-only checks.",
        "allow_mutating = true",
        "allow_disruption = false      # never stop, pause or restart a component here",
        "",
        f"[profiles.{name}.expectations]",
    ]
    values = {
        "alembic_head": draft.alembic_head,
        "status_type": draft.status_type,
        "queue_name": draft.queue_name,
        "dead_letter_exchange": draft.dead_letter_exchange,
        "dead_letter_routing_key": draft.dead_letter_routing_key,
        "dead_letter_queue": draft.dead_letter_queue,
        "history_foreign_key": draft.history_foreign_key,
    }
    lines += [f"{key} = {toml_string(value)}" for key, value in values.items() if value is not None]
    if draft.indexes:
        lines.append("indexes = [")
        for index in draft.indexes:
            columns = ", ".join(toml_string(c) for c in index.columns)
            entry = f"table = {toml_string(index.table)}, columns = [{columns}]"
            if index.name is not None:
                entry += f", name = {toml_string(index.name)}"
            lines.append(f"  {{ {entry} }},")
        lines.append("]")
    return "\n".join(lines) + "\n"
