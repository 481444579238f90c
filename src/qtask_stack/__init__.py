"""The local reference deployment of the quantum task queue (`qtask-stack`).

A private PostgreSQL cluster and a private RabbitMQ node, run from the system's Debian binaries on
free ports under a state directory, plus the service's API and N workers. Nothing is shared with
the system's servers or with another stack, so several stacks (tests, engineers) can run at once.

Python API::

    from qtask_stack import Stack, StackConfig

    stack = Stack(StackConfig(state_dir=Path("/tmp/s"), api_port=0, workers=2))
    stack.up()                      # idempotent; waits until everything is ready
    env = stack.suite_env()         # QTASK_API_URL, ... as the verifier account (with secrets)
    admin = stack.admin_env()       # the same with the broker administrator (fault injection)
    stack.kill("worker", 1)         # SIGKILL worker 1 (workers are numbered from 1)
    stack.start("worker", 1)        # same ports, waits until it consumes again
    stack.restart("api", argv=[sys.executable, "-m", "my_faulty_api"], env={"X": "1"})
    for row in stack.status(): ...  # ComponentStatus(name, state, pid, endpoint), masked
    stack.tracing(True)             # message tracing on the stack's vhost (administrators only)
    stack.down()                    # stops everything, sweeps leftovers
    stack.destroy()                 # down, then delete the state directory and the data

`StackConfig(vhost=..., extra_env=..., api_argv=...)` choose the broker vhost and the service
to run; the service's settings are kept in state.json for later `start`s. The broker accounts
(administrator, service, verifier) and what each may do are defined in `qtask_stack.accounts`.

For tests, `with temporary_stack(workers=2) as stack:` runs a stack in a new temporary directory
with a free API port and always destroys it (tests/conftest.py's `local_stack` uses it).

Components: "api", "worker", "database", "broker". Every failure raises a `StackError` with a one
line message; `ComponentError` (start-up failures) names the component and its log's last lines.
State lives in `<state_dir>/state.json` and `<state_dir>/stack.env` (both 0600), logs in
`<state_dir>/logs/`; every running stack is also recorded in the user's registry (`registry`),
so commands find it from the directory it was started from.
"""

from qtask_stack.errors import ComponentError, MissingBinaryError, StackError, StateDirError
from qtask_stack.stack import COMPONENTS, Stack, StackConfig
from qtask_stack.status import ComponentStatus
from qtask_stack.temporary import temporary_stack

__all__ = [
    "COMPONENTS",
    "ComponentError",
    "ComponentStatus",
    "MissingBinaryError",
    "Stack",
    "StackConfig",
    "StackError",
    "StateDirError",
    "temporary_stack",
]
