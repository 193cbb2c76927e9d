"""Links built from crawled URLs: only absolute http(s) ones become an href."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit


def safe_href(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL (safe in an href once escaped), else None."""
    if not url:
        return None
    u = url.strip()
    # Browsers drop tabs and newlines inside a scheme ("java\tscript:"): refuse any control character.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in u):
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return u


def timestamp14(iso: str | None) -> str:
    """A WARC-Date (ISO 8601) as pywb's 14-digit timestamp; '' when there is none."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y%m%d%H%M%S")


def replay_href(replay_base: str | None, url: str, captured: str | None, collection: str = "archive") -> str | None:
    """pywb's replay URL of ``url`` near its capture time, or None without a replay server or for a non-http URL."""
    if not replay_base or safe_href(url) is None:
        return None
    # Quote what a path cannot hold; keep the URL readable (pywb takes it verbatim after the timestamp).
    return (
        f"{replay_base.rstrip('/')}/{collection}/{timestamp14(captured)}/{quote(url.strip(), safe=':/?&=%#@+,;~!$()*')}"
    )


def get_command(url: str) -> str:
    """The shell command that prints the archived copy (shown as text, never run)."""
    return f"newsarchive get {shlex.quote(url)}"
