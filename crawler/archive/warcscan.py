"""Reading WARC files back: index entries from a stream, and torn-tail repair after a crash."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.archive.cdxj import CaptureEntry, entry_for, needs_payload_digest
from crawler.errors import NewsarchiveError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


#: What warcio and zlib raise on bytes that are not (or no longer) a WARC; garbage that warcio
#: half-parses (as ARC, or a record without its headers) ends in the Type/Key/IndexErrors.
PARSE_ERRORS = (ArchiveLoadFailed, EOFError, zlib.error, ValueError, TypeError, KeyError, IndexError)


class UnreadableWarc(NewsarchiveError):
    """A WARC file, or the record an index entry points at, cannot be parsed (damaged or not a WARC)."""

    @classmethod
    def at(cls, filename: str, offset: int | None, error: BaseException) -> UnreadableWarc:
        first = (str(error).splitlines() or [type(error).__name__])[0][:120]
        where = filename if offset is None else f"{filename} at offset {offset}"
        return cls(f"{where}: not a readable WARC record ({first}); `newsarchive verify` lists the damage")


def iter_entries(stream: BinaryIO, filename: str) -> Iterator[CaptureEntry]:
    """Index entries of every indexed record in a WARC stream, in file order (one pass, streaming)."""
    it = ArchiveIterator(stream, check_digests=False)
    offset = 0
    try:
        for record in it:
            digest = block_digest_if_needed(record)
            it.read_to_end(record)
            offset = it.get_record_offset() + it.get_record_length()
            entry = entry_for(record, it.get_record_offset(), it.get_record_length(), filename, digest)
            if entry is not None:
                yield entry
    except PARSE_ERRORS as e:
        raise UnreadableWarc.at(filename, offset, e) from e


def block_digest_if_needed(record) -> str | None:
    """Read (and so consume) a record's stored block and return its sha1, if the index needs it
    (:func:`~crawler.archive.cdxj.needs_payload_digest`); None, reading nothing, otherwise."""
    h = record.rec_headers
    if not needs_payload_digest(record.rec_type, h.get_header("Content-Type"), h.get_header("WARC-Target-URI"),
                                h.get_header("WARC-Payload-Digest")):
        return None
    sha1 = hashlib.sha1()
    while chunk := record.raw_stream.read(_CHUNK):
        sha1.update(chunk)
    return "sha1:" + base64.b32encode(sha1.digest()).decode("ascii")


def complete_members_end(stream: BinaryIO) -> tuple[int, int]:
    """Scan gzip members; return (end offset of the last complete member, number of complete members).

    A member is complete when zlib reaches its end and its CRC/length trailer checks out.
    Bytes after that (a member torn by a crash) are not part of the WARC.
    """
    pos = 0  # start of the current member
    good_end = 0
    members = 0
    d = zlib.decompressobj(zlib.MAX_WBITS + 16)
    consumed = 0  # bytes of the current member fed so far
    buf = b""
    while True:
        if not buf:
            buf = stream.read(_CHUNK)
            if not buf:
                break
        try:
            d.decompress(buf, 0)
        except zlib.error:
            break
        # Throw away decompressed output as we go; only framing matters here.
        if d.eof:
            used = len(buf) - len(d.unused_data)
            consumed += used
            pos += consumed
            good_end = pos
            members += 1
            buf = d.unused_data
            consumed = 0
            d = zlib.decompressobj(zlib.MAX_WBITS + 16)
        else:
            consumed += len(buf)
            buf = b""
    return good_end, members


def repair_torn_tail(path: Path) -> tuple[int, int]:
    """Truncate a WARC after its last complete gzip member. Returns (bytes dropped, complete members)."""
    with open(path, "rb") as f:
        good_end, members = complete_members_end(f)
    size = path.stat().st_size
    dropped = size - good_end
    if dropped:
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return dropped, members
