"""The exceptions of the local stack.

Every failure a user can act on is a `StackError` whose message is one line, so the CLI prints it
without a traceback and callers (tests, the suite's deployment controller) can catch one type.
"""


class StackError(Exception):
    """Base of every error the stack reports; its message is one line meant for a human."""


class MissingBinaryError(StackError):
    """The system binaries of PostgreSQL or RabbitMQ are not there and cannot be installed."""


class StateDirError(StackError):
    """The state directory cannot be used (unreadable state, or unreachable for `postgres`)."""


class ComponentError(StackError):
    """A component failed to start, to get ready or to stop.

    Carries the component's name and the last lines of its log, because the log holds the reason
    (a port already taken, a crash at import time) and the user should not have to look for it.
    """

    def __init__(self, component: str, reason: str, log_tail: str = "") -> None:
        self.component = component
        self.reason = reason
        self.log_tail = log_tail
        tail = " | ".join(line.strip() for line in log_tail.splitlines() if line.strip())
        message = f"{component}: {reason}"
        if tail:
            message += f"; last log lines: {tail}"
        super().__init__(message)
