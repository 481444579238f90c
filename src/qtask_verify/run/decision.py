"""The answers a run can give, each with the exit code CI gates on and what it leaves behind."""

from __future__ import annotations

from enum import Enum


class Decision(Enum):
    """GO, GO WITH RISKS and NO-GO judge the deployment; the others say why none could be given.

    ``in_history``: only runs that judged the deployment add a line to ``history.jsonl``, so the
    trend never shows a configuration error or an interrupted run as a run of the deployment.
    ``recorded``: a run that only looked at the suite (``--collect-only``) writes no report.
    """

    GO = ("GO", 0, True, True)
    NO_GO = ("NO-GO", 1, True, True)
    GO_WITH_RISKS = ("GO WITH RISKS", 3, True, True)
    NOT_VERIFIED = ("NOT VERIFIED", 2, False, True)
    INTERRUPTED = ("INTERRUPTED", 130, False, True)
    NO_VERDICT = ("no verdict", 0, False, False)

    def __init__(self, label: str, exit_code: int, in_history: bool, recorded: bool) -> None:
        self.label = label
        self.exit_code = exit_code
        self.in_history = in_history
        self.recorded = recorded

    @classmethod
    def of_label(cls, label: object) -> Decision | None:
        """The decision a record names, or None for a label no writer ever used."""
        text = str(label or "").strip().upper()
        return next((d for d in cls if d.label.upper() == text), None)


# Exit code for a usage or configuration error: no verdict could be reached.
EXIT_CONFIGURATION_ERROR = Decision.NOT_VERIFIED.exit_code
