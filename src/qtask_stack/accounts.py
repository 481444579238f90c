"""The broker accounts of the stack and exactly what each may do: the one place that says so.

Three accounts, least privilege each (RabbitMQ's access-control table: a passive `queue.declare`
needs no permission, only access to the vhost; a non-passive one needs configure on the queue;
`queue.bind` needs write on the queue and read on the exchange; `basic.consume` read on the queue):

- the **administrator** is the stack's own: its readiness probes, `qtask-stack` commands (vhost
  tracing), and `Stack.admin_env()` for fault-injection tests that delete queues or set policies.
- the **service** account (API and workers) has no management tag and configure/write/read on
  its vhost only: it declares its queue, dead-letter exchange and queue, publishes and consumes.
- the **verifier** account (the suite) reads the Management API with the `monitoring` tag and,
  over AMQP, may only declare passively (live counts) and declare, bind and consume a server-named
  exclusive queue (`amq.gen-*`) on the tracing exchange `amq.rabbitmq.trace`. It cannot publish,
  consume, purge or delete anything of the deployment's, nor switch tracing on (administrators
  only).

The accounts are created from a definitions file that the node imports on every boot, before its
listeners open, so the service never meets a broker without its account. Passwords are stored
there only as salted SHA-256 hashes (RabbitMQ's `rabbit_password_hashing_sha256`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

_HASHING = "rabbit_password_hashing_sha256"
_SERVER_NAMED = r"^amq\.gen-.*"


@dataclass(frozen=True)
class BrokerAccount:
    """One broker user: its Management API tags and its permission patterns on the stack's vhost."""

    name: str
    tags: tuple[str, ...]
    configure: str
    write: str
    read: str


ADMIN = BrokerAccount("qtask-admin", ("administrator",), ".*", ".*", ".*")
SERVICE = BrokerAccount("qtask", (), ".*", ".*", ".*")
VERIFIER = BrokerAccount(
    "qtask-verifier",
    ("monitoring",),
    configure=_SERVER_NAMED,
    write=_SERVER_NAMED,
    read=r"^(amq\.gen-.*|amq\.rabbitmq\.trace)$",
)
ACCOUNTS = (ADMIN, SERVICE, VERIFIER)
DEFAULT_VHOST = "/"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's stored form: base64(salt + sha256(salt + password)), with a 4-byte salt."""
    salt = secrets.token_bytes(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def definitions(vhost: str, passwords: Mapping[str, str]) -> str:
    """The definitions file: the vhosts, the three users and their permissions (JSON).

    The administrator may use the default vhost as well, where the node keeps its own; the
    service and the verifier only the stack's vhost.
    """
    vhosts = sorted({DEFAULT_VHOST, vhost})
    permissions = [_permission(ADMIN, name) for name in vhosts]
    permissions += [_permission(account, vhost) for account in (SERVICE, VERIFIER)]
    document = {
        "users": [
            {
                "name": account.name,
                "password_hash": password_hash(passwords[account.name]),
                "hashing_algorithm": _HASHING,
                "tags": list(account.tags),
            }
            for account in ACCOUNTS
        ],
        "vhosts": [{"name": name} for name in vhosts],
        "permissions": permissions,
    }
    return json.dumps(document, indent=2) + "\n"


def _permission(account: BrokerAccount, vhost: str) -> dict[str, str]:
    return {
        "user": account.name,
        "vhost": vhost,
        "configure": account.configure,
        "write": account.write,
        "read": account.read,
    }
