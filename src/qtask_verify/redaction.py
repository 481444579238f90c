"""Keep secrets out of everything the suite prints or writes.

Two tools: :func:`mask_url` for showing a connection URL (the password becomes ``***``) and
:class:`Redactor`, which replaces every known secret, also in its URL-encoded forms, in any text.
Reports, error messages and the terminal all go through them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@ anywhere in a text; the password part stops at '@' (encoded '@' is %40).
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)@"
)


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (user, host, port and path are kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:{MASK}"
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    netloc = f"{userinfo}@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _encoded_forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}


class Redactor:
    """Replace known secrets, and any password written inside a URL, with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= _encoded_forms(secret)
        # Longest first, so a secret that contains another is masked whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        """Return ``text`` with every known secret and every URL password masked."""
        text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text)
        for form in self._forms:
            text = text.replace(form, MASK)
        return text
