"""What `status` reports, and the table it prints.

Endpoints are shown with passwords masked: the table is for eyes and logs, and only
`qtask-stack env` may print secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

UP = "up"
DOWN = "down"
UNRESPONSIVE = "unresponsive"


@dataclass(frozen=True)
class ComponentStatus:
    """One row: a component (or one worker), whether it runs, its pid and where it answers."""

    name: str
    state: str
    pid: int | None
    endpoint: str

    @property
    def is_up(self) -> bool:
        """Only `up` counts: a running process that does not answer is not serving."""
        return self.state == UP


def mask_url(url: str) -> str:
    """The URL with its password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def render_table(rows: list[ComponentStatus]) -> str:
    """A fixed-width table: component, state, pid, endpoint."""
    header = ("COMPONENT", "STATE", "PID", "ENDPOINT")
    cells = [header] + [
        (row.name, row.state, str(row.pid) if row.pid else "-", row.endpoint) for row in rows
    ]
    widths = [max(len(cell[column]) for cell in cells) for column in range(3)]
    return "\n".join(
        "  ".join(cell[column].ljust(widths[column]) for column in range(3)) + "  " + cell[3]
        for cell in cells
    )
