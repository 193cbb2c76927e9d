"""warcio reads brotli payloads with the current brotli package, within a ceiling."""

from __future__ import annotations

import io
import os

import brotli
import pytest
from warcio.bufferedreaders import BufferedReader

import crawler.archive  # noqa: F401  (installs the decoder)
from crawler.archive.retrieve import DecodeError, decode_content
from crawler.archive.warcio_brotli import BrotliDecompressor, BrotliSizeExceeded

HTML = b"<html><body>" + b"<p>brotli keeps this page</p>" * 20_000 + os.urandom(3000).hex().encode() + b"</body></html>"


def read_all(data: bytes) -> bytes:
    reader = BufferedReader(io.BytesIO(data), decomp_type="br")
    out = bytearray()
    while chunk := reader.read(65536):
        out += chunk
    return bytes(out)


def test_warcio_decodes_brotli_in_blocks() -> None:
    assert read_all(brotli.compress(HTML, quality=5)) == HTML


def test_a_brotli_bomb_stops_at_the_ceiling() -> None:
    bomb = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=5)
    d = BrotliDecompressor(max_size=8 * 1024 * 1024)
    with pytest.raises(BrotliSizeExceeded):
        d.decompress(bomb)
    with pytest.raises(DecodeError, match="refusing to inflate"):
        decode_content(bomb, "br", max_size=8 * 1024 * 1024)
    assert decode_content(brotli.compress(HTML), "br") == HTML


def test_corrupt_brotli_is_an_error_not_a_crash() -> None:
    bad = b"not brotli at all \xff\xff"
    with pytest.raises(DecodeError, match="bad brotli payload"):
        decode_content(bad, "br")
    # warcio's reader: the first block fails, so it hands back the stored bytes, as for bad gzip
    assert read_all(bad) == bad
    # a truncated stream decodes as far as it goes (as zlib does for a truncated gzip body)
    truncated = brotli.compress(HTML, quality=5)[:2000]
    partial = decode_content(truncated, "br")
    assert partial and HTML.startswith(partial)
