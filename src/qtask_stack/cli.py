"""`qtask-stack`: the command line of the local stack.

    qtask-stack [--state-dir DIR] up [--api-port N] [--workers N] [--vhost NAME] [--api-cmd CMD]
                                     [--worker-cmd CMD] [--env KEY=VALUE ...]
    qtask-stack [--state-dir DIR] down | destroy | status | env | where
    qtask-stack [--state-dir DIR] stop | start | kill | restart COMPONENT [INDEX]
    qtask-stack [--state-dir DIR] trace on | off | status
    qtask-stack list

COMPONENT is api, worker (all workers, or the one numbered INDEX from 1), database or broker.
Without --state-dir or QTASK_STACK_DIR, a command means ./.qtask-stack, or else the one stack
started from this directory that runs elsewhere (and says so): a stack is never lost to a
forgotten variable. Failures print one line (the component and the last lines of its log) and
exit 1; `status` exits 1 when anything is down. Only `env` prints secrets: it is meant for
`eval "$(qtask-stack env)"`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qtask_stack import registry
from qtask_stack.errors import StackError
from qtask_stack.stack import COMPONENTS, Stack, StackConfig
from qtask_stack.status import render_table


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StackError as exc:
        print(f"qtask-stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "qtask-stack: interrupted; `qtask-stack down` stops what was started", file=sys.stderr
        )
        return 130


def _stack(args: argparse.Namespace) -> Stack:
    """The stack the command means (see `registry.locate`), configured by `up`'s options."""
    state_dir, note = registry.locate(args.state_dir, Path.cwd())
    if note:
        print(f"qtask-stack: {note}", file=sys.stderr)
    if args.command != "up":
        return Stack(StackConfig(state_dir=state_dir))
    return Stack(
        StackConfig(
            state_dir=state_dir,
            api_port=args.api_port,
            workers=args.workers,
            vhost=args.vhost,
            api_argv=_split(args.api_cmd),
            worker_argv=_split(args.worker_cmd),
            extra_env=_env_pairs(args.env) if args.env else None,
        )
    )


def _up(args: argparse.Namespace) -> int:
    stack = _stack(args)
    started = time.monotonic()
    stack.up()
    print(f"qtask-stack: up in {time.monotonic() - started:.1f} s ({stack.state_dir})")
    print(render_table(stack.status()))
    return 0


def _down(args: argparse.Namespace) -> int:
    stack = _stack(args)
    if not (stack.state_dir / "state.json").exists():
        print(f"qtask-stack: no stack in {stack.state_dir}; nothing to stop")
        _mention_others(stack)
        return 0
    started = time.monotonic()
    if args.command == "destroy":
        stack.destroy()
        print(f"qtask-stack: destroyed in {time.monotonic() - started:.1f} s ({stack.state_dir})")
    else:
        stack.down()
        print(f"qtask-stack: down in {time.monotonic() - started:.1f} s ({stack.state_dir})")
    _mention_others(stack)
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = _stack(args)
    rows = stack.status()
    print(render_table(rows))
    _mention_others(stack)
    return 0 if all(row.is_up for row in rows) else 1


def _where(args: argparse.Namespace) -> int:
    print(_stack(args).state_dir)
    return 0


def _list(args: argparse.Namespace) -> int:
    """Every registered stack of this user: where, started from where, running or not."""
    rows = [("STATE DIR", "ORIGIN", "KIND", "STATE")]
    for entry in registry.entries():
        running = entry.is_running()
        state = "running" if running else "stopped"
        if running and entry.temporary and entry.owner_gone():
            state = f"running, orphaned (its test process {entry.owner_pid} is gone)"
        kind = "temporary" if entry.temporary else "user"
        rows.append((entry.state_dir, entry.origin or "?", kind, state))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in range(3)) + "  " + row[3])
    return 0


def _trace(args: argparse.Namespace) -> int:
    stack = _stack(args)
    enabled = {"on": True, "off": False, "status": None}[args.action]
    tracing = stack.tracing(enabled)
    print(f"qtask-stack: tracing on vhost {stack.vhost()}: {'on' if tracing else 'off'}")
    return 0


def _mention_others(stack: Stack) -> None:
    """Name the other stacks started from here that still run, and how to stop each."""
    here = Path.cwd().absolute()
    for entry in registry.entries():
        if (
            not entry.temporary
            and Path(entry.origin) == here
            and Path(entry.state_dir) != stack.state_dir
            and entry.is_running()
        ):
            print(
                f"qtask-stack: another stack started from here runs in {entry.state_dir}; "
                f"stop it with: qtask-stack --state-dir {shlex.quote(entry.state_dir)} down",
                file=sys.stderr,
            )


def _env(args: argparse.Namespace) -> int:
    for key, value in _stack(args).suite_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _component_command(args: argparse.Namespace) -> int:
    stack = _stack(args)
    action = args.command
    if action in ("start", "restart"):
        override_argv = _split(args.cmd)
        override_env = _env_pairs(args.env)
        getattr(stack, action)(args.component, args.index, argv=override_argv, env=override_env)
    else:
        getattr(stack, action)(args.component, args.index)
    suffix = f" {args.index}" if args.index is not None else ""
    print(f"qtask-stack: {action} {args.component}{suffix}: done")
    return 0


def _split(command: str | None) -> list[str] | None:
    return shlex.split(command) if command else None


def _env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StackError(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qtask-stack", description="The local reference deployment of the quantum task queue."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="state directory (default: $QTASK_STACK_DIR or ./.qtask-stack)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start whatever is not running and wait until ready")
    up.add_argument("--api-port", type=int, help="API port (default 8001; 0 picks a free port)")
    up.add_argument("--workers", type=int, help="number of workers (default 2)")
    up.add_argument("--vhost", help="broker vhost of the service and the suite (default /)")
    up.add_argument("--api-cmd", help="command replacing `python3 -m qtask_service.api` (kept)")
    up.add_argument(
        "--worker-cmd", help="command replacing `python3 -m qtask_service.worker` (kept)"
    )
    up.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra variable for the API, workers and migration (repeatable; kept, and given "
        "again replaces the kept ones)",
    )
    up.set_defaults(handler=_up)

    for name, handler, text in (
        ("down", _down, "stop everything; no process is left behind"),
        ("destroy", _down, "down, then delete the state directory and the data"),
        ("status", _status, "show each component; exit 1 if any is down"),
        ("env", _env, "print the suite's variables as export lines (with secrets)"),
        ("where", _where, "print the state directory the commands use"),
        ("list", _list, "list this user's stacks: where they run, started from where"),
    ):
        commands.add_parser(name, help=text).set_defaults(handler=handler)

    trace = commands.add_parser("trace", help="switch message tracing on the stack's vhost")
    trace.add_argument("action", choices=("on", "off", "status"))
    trace.set_defaults(handler=_trace)

    for name, text in (
        ("stop", "graceful stop (SIGTERM, then SIGKILL after a grace period)"),
        ("start", "start again on the same ports and wait until ready"),
        ("kill", "SIGKILL, as a crash"),
        ("restart", "stop, then start"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("component", choices=COMPONENTS)
        command.add_argument("index", type=int, nargs="?", help="worker number, from 1")
        if name in ("start", "restart"):
            command.add_argument("--cmd", help="command replacing the api's or workers' command")
            command.add_argument(
                "--env",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="extra variable for this start (repeatable)",
            )
        command.set_defaults(handler=_component_command)
    return parser
