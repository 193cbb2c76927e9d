"""64-bit simhash of an article's wording, for exact copies and reposts.

How the ``simhash`` package (1e0n/simhash 2.1.2) is used: its ``Simhash`` object is the
fingerprint type (``.value``, ``.distance``), built from the value computed here with
``Simhash(value)``, and ``SimhashIndex`` is the reference the tests compare our index with.
We do not let it tokenise: ``Simhash(text)`` slides 4-character windows over the text in
Python and hashes each with md5 (415 docs/s on 3 KB). Here the features are shingles of
four tokens (a CJK character or a Latin/digit word is one token), each token hashed once
with xxh3-64, shingle hashes mixed from token hashes with numpy, and the weighted bit
counts summed with numpy. The result equals ``Simhash(features, hashfunc=shingle_hash)``
built by the package's own ``build_by_features`` over the same weighted shingles; the test
pins that equality and golden hex values.
"""

from __future__ import annotations

import re

import numpy as np
import xxhash
from simhash import Simhash

from crawler.dedup.normalize import fold, remove_urls

SHINGLE = 4  # tokens per feature: 4 CJK characters (about two words) or 4 English words
_TOKEN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[a-z0-9]+(?:['.][a-z0-9]+)*")
_SEP = "\x1f"

# Odd 64-bit multipliers (from splitmix64 / xxhash primes): one per shingle position, so
# "a b c d" and "d c b a" hash differently.
_MULT = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
    dtype=np.uint64,
)
#: Bit j (most significant first) of each byte value, and each byte position's bin offset.
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.int64)
_BYTE_OFFSETS = np.arange(8, dtype=np.intp) * 256
_token_cache: dict[str, int] = {}
_TOKEN_CACHE_MAX = 500_000


def tokens(text: str) -> list[str]:
    """The fingerprint's tokens of a folded text."""
    return _TOKEN_RE.findall(text)


def _token_hashes(toks: list[str]) -> np.ndarray:
    cache = _token_cache
    if len(cache) > _TOKEN_CACHE_MAX:
        cache.clear()
    for t in set(toks).difference(cache):
        cache[t] = xxhash.xxh3_64_intdigest(t.encode("utf-8"))
    return np.fromiter(map(cache.__getitem__, toks), dtype=np.uint64, count=len(toks))


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: every input bit flips about half the output bits.
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(toks: list[str]) -> np.ndarray:
    """One 64-bit hash per window of SHINGLE tokens (one window if the text is shorter)."""
    if not toks:
        return np.zeros(0, dtype=np.uint64)
    th = _token_hashes(toks)
    n = max(len(toks) - SHINGLE + 1, 1)
    width = min(SHINGLE, len(toks))
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(width):
            acc ^= th[i:i + n] * _MULT[i]
        return _mix(acc)


def shingle_hash(feature: bytes) -> int:
    """The hash of one shingle given as its tokens joined by U+001F: the ``hashfunc`` that
    makes ``Simhash(features, hashfunc=shingle_hash)`` equal :func:`simhash_value`."""
    toks = feature.decode("utf-8").split(_SEP)
    return int(shingle_hashes(toks)[0])


def shingles(toks: list[str]) -> list[str]:
    """The shingles as strings (for the package's ``build_by_features`` and for tests)."""
    n = max(len(toks) - SHINGLE + 1, 1)
    return [_SEP.join(toks[i:i + SHINGLE]) for i in range(n)] if toks else []


def simhash_value(text: str, *, prepared: bool = False) -> int:
    """The 64-bit simhash of ``text`` (folded and URLs removed first unless ``prepared``)."""
    if not prepared:
        text = fold(remove_urls(text))
    return simhash_of_tokens(tokens(text))


def simhash_of_tokens(toks: list[str]) -> int:
    """The 64-bit simhash of a folded text's :func:`tokens` (for a caller that has them)."""
    h = shingle_hashes(toks)
    if h.size == 0:
        return 0
    # Weights = how often each shingle occurs, as the package's build_by_text counts them:
    # summing the bits of every occurrence equals weighting the distinct shingles by their
    # counts, without np.unique's sort. Bits are counted per byte position with one bincount
    # and a 256 x 8 table, in integers: a float matrix product would go through BLAS, whose
    # threads made the fingerprint 4x slower on a busy 2-core machine.
    b = h.astype(">u8").view(np.uint8).reshape(-1, 8)
    cnt = np.bincount((b + _BYTE_OFFSETS).ravel(), minlength=2048).reshape(8, 256)
    sums = (cnt @ _BYTE_BITS).ravel()
    packed = np.packbits(sums > h.size / 2)
    return int.from_bytes(packed.tobytes(), "big")


def fingerprint(text: str, *, prepared: bool = False) -> Simhash:
    """The article's :class:`simhash.Simhash` (64 bits)."""
    return Simhash(simhash_value(text, prepared=prepared))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def to_signed(value: int) -> int:
    """SQLite integers are signed 64-bit."""
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
