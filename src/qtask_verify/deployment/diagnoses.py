"""Naming what the drivers report obscurely, in the words of what was observed.

asyncpg, aio-pika and httpx describe some plain situations in their own terms: a TLS client
meeting a plain port sees ``WRONG_VERSION_NUMBER``; a broker that will not open a vhost for a
user closes the connection, which aiormq reports as an unexpected ``Connection.Close`` frame; a
port that accepts connections and never answers is only a timeout. These functions turn such
errors into one sentence saying what happened; the driver's text stays in the detail.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import aiormq

# OpenSSL's reasons when the peer's first bytes are not a TLS record.
_PLAIN_PEER = {
    "WRONG_VERSION_NUMBER",
    "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
}
_PORT_PROBE_S = 0.5


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        for cause in current.args:
            if isinstance(cause, BaseException):
                yield from _chain(cause)
        current = current.__cause__ or current.__context__


def speaks_plain_tcp(error: BaseException) -> bool:
    """Whether a TLS handshake failed because the peer answered with something else than TLS."""
    for link in _chain(error):
        if isinstance(link, ssl.SSLError) and (
            link.reason in _PLAIN_PEER or "wrong version number" in str(link)
        ):
            return True
        if isinstance(link, aiormq.exceptions.AMQPConnectionError) and any(
            reason.lower().replace("_", " ") in str(link).lower().replace("_", " ")
            for reason in _PLAIN_PEER
        ):
            return True
    return False


def plain_tcp(endpoint: str) -> str:
    return (
        f"{endpoint} answered the TLS handshake in plain text: the port speaks plain TCP, not TLS"
    )


def refused_tls(error: BaseException) -> bool:
    """PostgreSQL's answer to a client that requires TLS from a server that offers none."""
    return any("rejected SSL upgrade" in str(link) for link in _chain(error))


def vhost_refused(error: BaseException) -> bool:
    """The broker closed the connection instead of opening the vhost (unknown, or not allowed)."""
    return any(
        isinstance(link, aiormq.exceptions.InvalidFrameError)
        and "Connection.OpenOk" in str(link)
        and "Connection.Close" in str(link)
        for link in _chain(error)
    )


def vhost_message(vhost: str, user: str) -> str:
    return f'vhost "{vhost}" does not exist or user "{user}" may not use it'


async def accepts_connections(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` opens within a short bound."""
    try:
        async with asyncio.timeout(_PORT_PROBE_S):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def silence(what: str, timeout_s: float, accepted: bool | None) -> str:
    """A component that did not answer: say whether its port accepted the connection."""
    if accepted:
        return f"{what} accepts connections but sent no answer within {timeout_s:.1f} s"
    if accepted is False:
        return f"no connection to {what} could be opened within {timeout_s:.1f} s"
    return f"no answer from {what} within {timeout_s:.1f} s"
