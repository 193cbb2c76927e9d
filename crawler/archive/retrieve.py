"""Getting archived bytes back: find captures, pick one, read exactly its byte range, resolve revisits.

Find, resolve and load stay separate (as in pywb): the catalog finds entries, the archive
names the file, storage reads one range, warcio parses the record.

Content-Encoding is undone here rather than by warcio's ``content_stream()``: on a payload that
does not inflate, warcio returns the compressed bytes as if they were the content (or writes the
zlib error to stderr and stops), and it knows neither ``x-gzip`` nor stacked codings
(``gzip, br``). tests/archive/test_retrieve.py pins each of these. Brotli goes through the
bounded decoder of warcio_brotli.py, the one warcio's readers use here too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import timestamp_to_datetime

from crawler.archive.archive import WARCS, Archive
from crawler.archive.cdxj import CaptureEntry
from crawler.archive.records import NOT_MODIFIED_PROFILE
from crawler.archive.warcscan import PARSE_ERRORS, UnreadableWarc
from crawler.errors import NewsarchiveError
from crawler.http_text import MAX_DECODED_SIZE, decode_content
from crawler.http_text import DecodeError as DecodeError  # get's errors: the one decoder's
from crawler.http_text import PayloadTooLarge as PayloadTooLarge


class NotArchived(NewsarchiveError, LookupError):
    """No capture of this URL (or of the record a revisit refers to) is in the archive."""


@dataclass
class Capture:
    entry: CaptureEntry
    status_line: str
    headers: list[tuple[str, str]]
    payload: bytes  # as received: still Content-Encoded
    payload_entry: CaptureEntry  # where the payload came from (the original, for a revisit)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def decoded(self, max_size: int = MAX_DECODED_SIZE) -> bytes:
        return decode_content(self.payload, self.header("Content-Encoding"), max_size)


def load_record(archive: Archive, entry: CaptureEntry):
    """Exactly one ranged read, then parse the single gzip member as a WARC record."""
    raw = archive.storage.open_range(WARCS + entry.filename, entry.offset, entry.length)
    return parse_record(raw, entry.filename, entry.offset)


def parse_record(raw: bytes, filename: str, offset: int):
    """One record's bytes (a single gzip member) as ``(record, payload)``; a revisit's payload is
    empty. Raises UnreadableWarc naming the file and offset."""
    try:
        record = next(iter(ArchiveIterator(io.BytesIO(raw), check_digests=False)))
        payload = record.raw_stream.read() if record.rec_type != "revisit" else b""
    except (*PARSE_ERRORS, StopIteration) as e:
        raise UnreadableWarc.at(filename, offset, e) from e
    return record, payload


def list_captures(archive: Archive, url: str) -> list[CaptureEntry]:
    return archive.catalog.captures(url)


def closest(entries: list[CaptureEntry], at: str | None) -> CaptureEntry:
    """The capture closest in time to ``at`` (a 1-14 digit timestamp); the latest without it."""
    if not entries:
        raise NotArchived("no captures")
    if not at:
        return entries[-1]
    target = timestamp_to_datetime(at)

    def distance(e: CaptureEntry) -> tuple[float, str]:
        return (abs((timestamp_to_datetime(e.timestamp) - target).total_seconds()), e.warc_date)

    return min(entries, key=distance)


def get_capture(archive: Archive, url: str, at: str | None = None) -> Capture:
    entries = list_captures(archive, url)
    if not entries:
        raise NotArchived(f"{url} is not in the archive")
    entry = closest(entries, at)
    record, payload = load_record(archive, entry)
    http = record.http_headers
    payload_entry = entry
    if record.rec_type == "revisit":
        payload_entry = _original_for(archive, record, entry)
        orig_record, payload = load_record(archive, payload_entry)
        if record.rec_headers.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE:
            # a 304 confirms the original representation: its status and headers (Content-Encoding
            # among them) describe the payload; the 304's own head stays in the revisit record
            http = orig_record.http_headers
    status_line = f"{http.protocol} {http.statusline}" if http is not None else ""
    headers = list(http.headers) if http is not None else []
    return Capture(entry, status_line, headers, payload, payload_entry)


def _original_for(archive: Archive, record, entry: CaptureEntry) -> CaptureEntry:
    refers_id = record.rec_headers.get_header("WARC-Refers-To")
    if refers_id:
        original = archive.catalog.by_record_id(refers_id)
        if original is not None:
            return original
    refers_uri = record.rec_headers.get_header("WARC-Refers-To-Target-URI") or entry.url
    original = archive.catalog.original_of(refers_uri, entry.digest or "")
    if original is None:
        raise NotArchived(f"revisit of {entry.url} refers to a capture that is not in the archive")
    return original


def parse_at(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits or len(digits) > 14:
        raise ValueError(f"--at wants a timestamp like 20261128120000, got {value!r}")
    timestamp_to_datetime(digits)  # validates
    return digits

