"""The stack's private PostgreSQL cluster.

A cluster of its own (initdb into the state directory), listening only on 127.0.0.1 at the
stack's port and on no Unix socket, so it never meets the system's PostgreSQL or another stack's.
Authentication is scram for everyone, the superuser included (its password lives in state.json),
because any local user can reach a TCP port. PostgreSQL refuses to run as root: then the cluster
belongs to the `postgres` system user, which must be able to traverse to the data directory. When
it cannot reach the state directory (a clone in /root, a 0700 temporary directory), the cluster
lives in a root-owned, traversable directory of its own instead, `/var/lib/qtask-stack/<stack id>`
(the id is derived from the state directory's path, so stacks never share one); state.json
records where, and `discard` removes it with the stack.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

from qtask_stack.binaries import Binaries
from qtask_stack.errors import ComponentError
from qtask_stack.process import Launcher, log_tail
from qtask_stack.state import DATABASE, DB_USER, DB_VERIFIER, HOST, SUPERUSER, StackState

COMPONENT = "database"
STOP_SIGNAL = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave
SYSTEM_USER = "postgres"
START_TIMEOUT_S = 30.0
EXTERNAL_ROOT = Path("/var/lib/qtask-stack")


class PostgresCluster:
    """One private cluster: create it once, start it, make the service's role and database."""

    def __init__(self, state_dir: Path, state: StackState, binaries: Binaries, log_dir: Path):
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        if state.postgres_dir is None:
            state.postgres_dir = str(self._choose_location(state_dir, state.stack_id))
        self.base_dir = Path(state.postgres_dir)
        self.data_dir = self.base_dir / "data"
        self.log_path = log_dir / "postgres.log"
        self._state = state
        self._binaries = binaries

    def ensure_initialized(self) -> None:
        """initdb on first use; a no-op when the cluster exists."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.base_dir.parent.parent == EXTERNAL_ROOT:
            for directory in (EXTERNAL_ROOT, self.base_dir.parent):
                directory.mkdir(mode=0o711, exist_ok=True)
                directory.chmod(0o711)
        self.base_dir.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.base_dir / "superuser.pw"
        pwfile.write_text(self._state.credentials.postgres_superuser + "\n")
        pwfile.chmod(0o600)
        if self._user is not None:
            self._hand_over_to_system_user(pwfile)
        try:
            result = subprocess.run(
                [
                    self._binaries.postgres("initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                ],
                capture_output=True,
                text=True,
                check=False,
                **self._run_as(),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with self.log_path.open("a") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise ComponentError(COMPONENT, "initdb failed", log_tail(self.log_path))

    def launcher(self, env: dict[str, str]) -> Launcher:
        """The postmaster, ready when it accepts connections (not merely when the port opens)."""
        argv = [
            self._binaries.postgres("postgres"),
            "-D",
            str(self.data_dir),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            f"port={self._state.ports.postgres}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ]
        return Launcher(
            COMPONENT,
            argv,
            ready=self.accepts_connections,
            log_path=self.log_path,
            env=env,
            timeout=START_TIMEOUT_S,
            user=self._user,
            cwd=self.base_dir,
        )

    def accepts_connections(self) -> bool:
        """pg_isready over TCP: true only once the server would accept a session."""
        result = subprocess.run(
            [self._binaries.postgres("pg_isready"), "-q", *self._superuser_session(), "-t", "1"],
            check=False,
        )
        return result.returncode == 0

    def _superuser_session(self) -> list[str]:
        """Client options for the superuser's session on the maintenance database, over TCP."""
        port = str(self._state.ports.postgres)
        return ["-h", HOST, "-p", port, "-U", SUPERUSER, "-d", "postgres"]

    def bootstrap(self) -> None:
        """Create (or re-password) the service's role and its database; idempotent."""
        sql = (
            _login_role(DB_USER, self._state.credentials.database)
            + f"SELECT 'CREATE DATABASE {DATABASE} OWNER {DB_USER}' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec\n"
        )
        self._run_superuser_sql(sql, "postgres", "creating the roles and database failed")

    def grant_verifier(self) -> None:
        """What the suite needs, once the schema exists: read everything the service keeps
        (also tables later migrations add), delete tasks and their history (the suite's own),
        and read the cluster's identity. Nothing else: no insert, update or DDL. Idempotent; it
        also creates (or re-passwords) the verifier's role."""
        sql = (
            _login_role(DB_VERIFIER, self._state.credentials.database_verifier)
            + f"GRANT CONNECT ON DATABASE {DATABASE} TO {DB_VERIFIER};\n"
            f"GRANT USAGE ON SCHEMA public TO {DB_VERIFIER};\n"
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {DB_VERIFIER};\n"
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {DB_USER} IN SCHEMA public "
            f"GRANT SELECT ON TABLES TO {DB_VERIFIER};\n"
            "DO $$ BEGIN "
            "IF to_regclass('tasks') IS NOT NULL AND to_regclass('status_history') IS NOT NULL "
            f"THEN GRANT DELETE ON tasks, status_history TO {DB_VERIFIER}; END IF; END $$;\n"
            f"GRANT EXECUTE ON FUNCTION pg_control_system() TO {DB_VERIFIER};\n"
        )
        self._run_superuser_sql(sql, DATABASE, "granting the verifier its access failed")

    def _run_superuser_sql(self, sql: str, database: str, failure: str) -> None:
        session = [*self._superuser_session()[:-1], database]
        result = subprocess.run(
            [self._binaries.postgres("psql"), *("-X", "-q", "-v", "ON_ERROR_STOP=1"), *session],
            input=sql,
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": self._state.credentials.postgres_superuser},
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            for secret in self._state.secrets():
                output = output.replace(secret, "***")
            raise ComponentError(COMPONENT, failure, output)

    def _run_as(self) -> dict[str, Any]:
        if self._user is None:
            return {}
        return {"user": self._user, "group": self._user, "extra_groups": []}

    def _hand_over_to_system_user(self, pwfile: Path) -> None:
        """Give the cluster's directory to `postgres` (its location is reachable by it)."""
        account = pwd.getpwnam(SYSTEM_USER)
        for path in (self.base_dir, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)

    def _choose_location(self, state_dir: Path, stack_id: str) -> Path:
        """Inside the state directory, unless `postgres` must run it and cannot get there."""
        inside = state_dir / "postgres"
        if self._user is None:
            return inside
        account = pwd.getpwnam(self._user)
        ancestors = state_dir.resolve().parents
        if all(_traversable(path, account.pw_uid) for path in ancestors):
            # Only the state directory itself needs opening, and only for traversal.
            state_dir.chmod(stat.S_IMODE(state_dir.stat().st_mode) | stat.S_IXOTH)
            return inside
        return EXTERNAL_ROOT / stack_id / "postgres"


def remove_external_cluster(stack_id: str) -> None:
    """Delete `/var/lib/qtask-stack/<stack id>`, if there: the stack is destroyed or new."""
    shutil.rmtree(EXTERNAL_ROOT / stack_id, ignore_errors=True)


def _traversable(path: Path, uid: int) -> bool:
    info = path.stat()
    return info.st_uid == uid or bool(info.st_mode & stat.S_IXOTH)


def _login_role(name: str, password: str) -> str:
    """SQL that creates the login role, or sets its password if it exists."""
    quoted = password.replace("'", "''")
    return (
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
        f"CREATE ROLE {name} LOGIN PASSWORD '{quoted}'; "
        f"ELSE ALTER ROLE {name} LOGIN PASSWORD '{quoted}'; END IF; END $$;\n"
    )
