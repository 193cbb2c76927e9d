"""warcio's ``br`` Content-Encoding decoder, made to work with the current ``brotli`` package.

warcio 1.8 decodes ``br`` with the API of the old ``brotlipy`` package (``decompress``,
``flush``, a settable ``unused_data``); Google's ``brotli`` (1.1+, the one Scrapy uses) has
``process`` and refuses new attributes, so every warcio reader that decodes a brotli capture
(``content_stream()``: cdxj-indexer's request pairing, py-wacz, our readers) ended in
``AttributeError: 'brotli.Decompressor' object has no attribute 'unused_data'``.

:func:`install` puts an adapter in warcio's decoder registry (``BufferedReader.DECOMPRESSORS``,
the table warcio looks decoders up in). Output is bounded: a brotli bomb stops at
:data:`MAX_DECODED_SIZE` (the same ceiling as ``newsarchive get``), where warcio's reader ends
the stream with one line on stderr instead of filling memory. pywb's own venv ships ``brotlipy``,
whose API warcio expects, and needs nothing.
"""

from __future__ import annotations

#: Ceiling on what one brotli payload may decode to (a stored bomb stays a bomb).
MAX_DECODED_SIZE = 256 * 1024 * 1024
#: Output produced per ``process`` call, so one call never holds more than this beyond the data.
_STEP = 1 << 20


class BrotliDecodeError(ValueError):
    """A brotli payload is corrupt."""


class BrotliSizeExceeded(BrotliDecodeError):
    """A brotli payload decodes past the ceiling (:data:`MAX_DECODED_SIZE` unless told)."""


class BrotliDecompressor:
    """The zlib-decompressobj-like interface warcio's BufferedReader drives, over Google's brotli."""

    def __init__(self, max_size: int = MAX_DECODED_SIZE) -> None:
        import brotli

        self._brotli = brotli
        self._d = brotli.Decompressor()
        self._max_size = max_size
        self._total = 0
        # warcio reads it after each call: bytes past the end of a gzip member. A brotli stream
        # is one stream; Google's decoder rejects trailing bytes itself (an error, below).
        self.unused_data = b""

    def decompress(self, data: bytes) -> bytes:
        out = bytearray()
        try:
            out += self._d.process(data, output_buffer_limit=_STEP)
            while not self._d.can_accept_more_data() and not self._d.is_finished():
                if self._total + len(out) > self._max_size:
                    break
                out += self._d.process(b"", output_buffer_limit=_STEP)
        except self._brotli.error as e:
            raise BrotliDecodeError(f"bad brotli payload: {e}") from e
        self._total += len(out)
        if self._total > self._max_size:
            raise BrotliSizeExceeded(f"brotli payload decodes past {self._max_size} bytes")
        return bytes(out)

    def flush(self) -> bytes:
        return b""


def install() -> bool:
    """Register the adapter for ``br`` in warcio (idempotent). False when brotli is missing."""
    try:
        import brotli
        from warcio.bufferedreaders import BufferedReader
    except ImportError:  # pragma: no cover - brotli is a dependency; warcio then skips br
        return False
    if not hasattr(brotli.Decompressor(), "process"):  # pragma: no cover - brotlipy: warcio's own works
        return True
    BufferedReader.DECOMPRESSORS["br"] = BrotliDecompressor
    return True
