"""URL canonicalisation: one fetch per canonical URL (fragments, tracking and session ids dropped)."""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from w3lib.url import safe_url_string

#: Query parameters that only say where a click came from (exact names, case-insensitive) ...
TRACKING_PARAMS = ("fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "spm", "ref_src")
#: ... and by prefix. The one list: the crawl's CANONICAL_DROP_* settings and the dedup's
#: comparison of cited links (crawler/dedup/sourcelinks.py) both start from these.
TRACKING_PREFIXES = ("utm_",)
#: Session ids: a new one per visit, the same page.
SESSION_PARAMS = ("sessionid", "session_id", "sid", "phpsessid", "jsessionid", "aspsessionid", "cfid", "cftoken")
#: Dropped before scheduling. Not ``from``: on some sites it is an offset (``?from=20``).
DEFAULT_DROP_PARAMS = SESSION_PARAMS + TRACKING_PARAMS
DEFAULT_DROP_PREFIXES = TRACKING_PREFIXES

_MATRIX_SESSION = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Unreserved characters must not be percent-encoded (RFC 3986 6.2.2.2).
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise_percent(component: str, safe: str) -> str:
    """RFC 3986 6.2.2: escapes of unreserved characters decoded, the others upper-cased, the rest
    (spaces, non-ASCII) encoded. Reserved escapes such as %2F stay escaped: they mean something."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else "%" + m.group(1).upper()

    return quote(_ESCAPE.sub(fix, component), safe=safe + "%")


def canonicalize(url: str, drop_params: Iterable[str] = DEFAULT_DROP_PARAMS,
                 drop_prefixes: Iterable[str] = DEFAULT_DROP_PREFIXES) -> str:
    """The URL we fetch and deduplicate on. Parameter order is kept (it can matter to servers)."""
    url = safe_url_string(url.strip())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    netloc = host  # host and port only: credentials in a crawled link are never kept
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    path = _MATRIX_SESSION.sub("", parts.path) or "/"
    path = _normalise_percent(path, safe="/;:@!$&'()*+,=%")
    drop = {p.lower() for p in drop_params}
    prefixes = tuple(p.lower() for p in drop_prefixes)
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in drop and not k.lower().startswith(prefixes)
    ]
    query = urlencode(kept, quote_via=quote, safe="/:@!$'()*+,;") if kept else ""
    return urlunsplit((scheme, netloc, path, query, ""))
