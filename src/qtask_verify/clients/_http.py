"""What httpx clients of the suite share."""

from __future__ import annotations

from urllib.parse import urlsplit


def verify_tls(url: str) -> bool:
    """Whether a client of ``url`` needs TLS verification (and so httpx's CA bundle).

    httpx builds an SSL context with the CA bundle for every client unless told not to, which
    costs 30-100 ms per client on a loaded machine; a plain-HTTP endpoint never uses it (the
    clients follow no redirects), so it is built only for ``https`` URLs.
    """
    return urlsplit(url).scheme.lower() != "http"
