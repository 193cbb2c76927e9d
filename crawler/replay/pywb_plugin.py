"""pywb's ``wayback`` with server-not-modified revisits replayed as the capture they confirm.

Runs inside pywb's own venv and is never imported by newsarchive (pywb is not installed beside
it): crawler/replay/pywb.py starts ``VENV/bin/python -I pywb_plugin.py -p PORT ...`` instead of
``VENV/bin/wayback``. ``-I`` keeps this file's folder, which holds ``pywb.py``, off ``sys.path``
so that ``import pywb`` finds pywb.

Why: a ``304 Not Modified`` to a conditional refetch is stored as a ``revisit`` with the WARC 1.1
server-not-modified profile, its 304 head as received (ISO 28500 §6.7.3). By that profile the
record's payload is the original payload the server confirmed, and the record names it
(WARC-Refers-To-Target-URI, WARC-Refers-To-Date, WARC-Refers-To, and the original's
WARC-Payload-Digest). pywb 2.x (``pywb/warcserver/resource/resolvingloader.py``,
``ResolvingLoader.load_headers_and_payload``) never looks at WARC-Profile: a revisit whose head is
3xx replays as that head with an empty body ("if redirect, don't load payload record"), and any
other revisit with a head replays its own head over the original payload. Right for
identical-payload revisits of redirects, wrong for a 304: the browser gets an empty 304 to a
request that had no validators. Heritrix writes such revisits with an empty block and no
WARC-Refers-To-Target-URI, which pywb cannot resolve; Browsertrix never stores 304s and warcprox
writes no server-not-modified revisits, so pywb has no path for a stored 304 head.

What changes: for a server-not-modified revisit only, the original is looked up as pywb looks up
the original of any revisit (WARC-Refers-To-Target-URI, else the record's own URL; closest to
WARC-Refers-To-Date; same digest; not a revisit) and replayed with its own status and headers,
dated by the revisit (Memento-Datetime), as ``newsarchive get`` resolves it. Every other record
takes pywb's own path, unchanged. The WARC and the CDXJ line (what cdxj-indexer writes) stay as
they are.
"""

from __future__ import annotations

import sys
from typing import Any

# First: importing pywb's CLI gevent-patches the standard library, before anything else loads it.
from pywb.apps.cli import wayback  # type: ignore[import-not-found]
from pywb.utils.wbexception import NotFoundException  # type: ignore[import-not-found]
from pywb.warcserver.resource import responseloader  # type: ignore[import-not-found]
from pywb.warcserver.resource.resolvingloader import ResolvingLoader  # type: ignore[import-not-found]
from warcio.recordloader import ArchiveLoadFailed
from warcio.timeutils import iso_date_to_timestamp

#: WARC-Profile values of a server-not-modified revisit: WARC 1.1, WARC 1.0, and the spelling of
#: the standard's own annex example (without "revisit/").
NOT_MODIFIED_PROFILES = frozenset({
    "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    "http://netpreserve.org/warc/1.0/revisit/server-not-modified",
    "http://netpreserve.org/warc/1.0/server-not-modified",
})

#: The pywb internals this relies on (as in pywb 2.10); checked at start, not at the first 304.
_NEEDED = ("load_headers_and_payload", "_load_different_url_payload", "_resolve_path_load", "load_cdx_for_dupe")


def is_not_modified_revisit(record: Any) -> bool:
    profile = (record.rec_headers.get_header("WARC-Profile") or "").strip()
    return record.rec_type == "revisit" and profile in NOT_MODIFIED_PROFILES


class NotModifiedResolvingLoader(ResolvingLoader):
    """pywb's record resolver, with server-not-modified revisits resolved to their original."""

    def load_headers_and_payload(self, cdx: Any, failed_files: Any, cdx_loader: Any) -> tuple[Any, Any]:
        headers_record, payload_record = super().load_headers_and_payload(cdx, failed_files, cdx_loader)
        if headers_record is None or not is_not_modified_revisit(headers_record):
            return headers_record, payload_record
        if payload_record is headers_record:  # pywb stopped at the 3xx head: no payload looked up
            payload_record = self._load_different_url_payload(cdx, headers_record, failed_files, cdx_loader)
        # The original's head describes the payload (status, Content-Type, Content-Encoding); the 304
        # stays in the WARC. pywb keeps the revisit's WARC-Date and target URI for the response.
        headers_record.http_headers = payload_record.http_headers
        return headers_record, payload_record

    def _load_different_url_payload(self, cdx: Any, headers_record: Any, failed_files: Any, cdx_loader: Any) -> Any:
        if not is_not_modified_revisit(headers_record):
            return super()._load_different_url_payload(cdx, headers_record, failed_files, cdx_loader)
        rec_headers = headers_record.rec_headers
        # pywb's own lookup, except: the record's own URL when WARC-Refers-To-Target-URI is missing
        # (a 304 confirms the URL it answered), and no short cut for the empty payload's digest,
        # which for a 304 is the digest of nothing received, not of the original (Heritrix before 2015).
        url = rec_headers.get_header("WARC-Refers-To-Target-URI") or rec_headers.get_header("WARC-Target-URI")
        refers_date = rec_headers.get_header("WARC-Refers-To-Date")
        timestamp = iso_date_to_timestamp(refers_date) if refers_date else cdx["timestamp"]
        digest = cdx.get("digest")
        if digest in ("-", self.EMPTY_DIGEST, f"sha1:{self.EMPTY_DIGEST}"):
            digest = None
        try:
            originals = self.load_cdx_for_dupe(url, timestamp, digest, cdx_loader)
            for original in originals:
                try:
                    return self._resolve_path_load(original, False, failed_files)
                except ArchiveLoadFailed:
                    continue
        except NotFoundException:
            pass
        # pywb then tries the next closest capture, as for any revisit whose original is missing.
        raise ArchiveLoadFailed(self.MISSING_REVISIT_MSG)


def install() -> None:
    """Make pywb's WARC loader (``WARCPathLoader``, built per collection) use our resolver."""
    missing = [f"ResolvingLoader.{name}" for name in _NEEDED if not hasattr(ResolvingLoader, name)]
    if getattr(responseloader, "ResolvingLoader", None) is not ResolvingLoader:
        missing.append("responseloader.ResolvingLoader")
    if missing:
        # Refuse rather than replay every stored 304 as an empty page without saying so.
        raise SystemExit(f"newsarchive: this pywb has no {', '.join(missing)}: cannot resolve "
                         "server-not-modified revisits; use pywb >=2.9,<3 (.ci/pywb-venv.sh)")
    responseloader.ResolvingLoader = NotModifiedResolvingLoader


def main(argv: list[str] | None = None) -> int:
    install()
    return wayback(argv) or 0


if __name__ == "__main__":
    sys.exit(main())
