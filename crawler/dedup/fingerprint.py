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
from functools import lru_cache

import numpy as np
import xxhash
from simhash import Simhash

from crawler.dedup.normalize import code_points, fold, remove_urls

SHINGLE = 4  # tokens per feature: 4 CJK characters (about two words) or 4 English words
# Possessive repeats: the greedy ones' matches, without their backtracking points (anchors._LATIN_WORD_RE).
_TOKEN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[a-z0-9]++(?:['.][a-z0-9]++)*+")
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
    return _shingles_of(_token_hashes(toks))


def _shingles_of(th: np.ndarray) -> np.ndarray:
    """:func:`shingle_hashes` from the tokens' hashes (at least one)."""
    n = max(th.size - SHINGLE + 1, 1)
    width = min(SHINGLE, th.size)
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
    return _simhash_of_shingles(shingle_hashes(toks))


def _simhash_of_shingles(h: np.ndarray) -> int:
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


# --- the fingerprint of a folded text without a Python step per token ----------------------
# ``tokens`` + ``simhash_of_tokens`` + the content hash made a string, a dict look-up and an
# int conversion per token: 3.3 of the 12 CPU-ms of a realistic article's signals. Here the
# tokens are found on the text's code points (numpy masks), each token's xxh3-64 is taken from a
# table (a CJK character) or computed with numpy (a Latin token of up to 16 bytes: XXH3's short
# paths, below), and the content hash is taken of the tokens joined on the code-point array.
# Tests hold the result equal to the token path and the hashes equal to the xxhash package's.

#: xxh3's default secret, bytes 0-55: all that its paths for 1-16 bytes read (seed 0).
_XXH3_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248e")
_U64 = np.uint64


def _secret64(offset: int) -> int:
    return int.from_bytes(_XXH3_SECRET[offset:offset + 8], "little")


_BITFLIP_1TO3 = _U64(int.from_bytes(_XXH3_SECRET[0:4], "little") ^ int.from_bytes(_XXH3_SECRET[4:8], "little"))
_BITFLIP_4TO8 = _U64(_secret64(8) ^ _secret64(16))
_BITFLIP_9TO16_LO = _U64(_secret64(24) ^ _secret64(32))
_BITFLIP_9TO16_HI = _U64(_secret64(40) ^ _secret64(48))
_PRIME64_2 = _U64(0xC2B2AE3D27D4EB4F)
_PRIME64_3 = _U64(0x165667B19E3779F9)
_PRIME_MX1 = _U64(0x165667919E3779F9)
_PRIME_MX2 = _U64(0x9FB21C651E98DF25)
_LOW32 = _U64(0xFFFFFFFF)


def _sh(x: np.ndarray, n: int) -> np.ndarray:
    return x >> _U64(n)


def _xxh64_avalanche(h: np.ndarray) -> np.ndarray:
    h = h ^ _sh(h, 33)
    h = h * _PRIME64_2
    h = h ^ _sh(h, 29)
    h = h * _PRIME64_3
    return h ^ _sh(h, 32)


def _mul128_fold64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Low and high 64 bits of the 128-bit product, xor-ed (from 32-bit halves)."""
    a_lo, a_hi, b_lo, b_hi = a & _LOW32, _sh(a, 32), b & _LOW32, _sh(b, 32)
    lo_lo, hi_lo, lo_hi, hi_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi, a_hi * b_hi
    cross = _sh(lo_lo, 32) + (hi_lo & _LOW32) + lo_hi
    upper = _sh(hi_lo, 32) + _sh(cross, 32) + hi_hi
    lower = (cross << _U64(32)) | (lo_lo & _LOW32)
    return lower ^ upper


def _words_at(buf: np.ndarray) -> np.ndarray:
    """``w[i]`` = the little-endian 64-bit integer of ``buf[i:i + 8]`` (uint8, contiguous), for
    every ``i`` that has 8 bytes from it: a read-only view of ``buf`` with a stride of one byte
    (overlapping, unaligned words). Reading a token's bytes is then one gather (``w[at]``), where
    a (tokens x width) index array and its gather took 4 of the 7 ms of hashing the Latin tokens
    of 100 realistic English articles; the view replaced eight strided copies of the text's bytes
    (0.1 ms a realistic English article; its gathers cost 0.03 ms more)."""
    n = max(buf.size - 7, 0)
    return np.ndarray((n,), dtype="<u8", buffer=buf, strides=(1,)) if n else np.zeros(0, dtype=np.uint64)


def xxh3_short(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``xxhash.xxh3_64_intdigest(bytes(buf[s:s + n]))`` for each ``s, n`` of ``start, length``
    (1 <= n <= 16; ``buf`` holds 8 bytes past every string): XXH3's paths for 1-3, 4-8 and 9-16
    bytes with the default secret and seed 0, in numpy."""
    out = np.empty(start.size, dtype=np.uint64)
    n = length.astype(np.uint64)
    words = _words_at(buf) if (length >= 4).any() else np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        m = length <= 3
        if m.any():
            s, ln = start[m], length[m]
            c1, c2, c3 = buf[s].astype(np.uint64), buf[s + (ln >> 1)].astype(np.uint64), buf[s + ln - 1].astype(np.uint64)
            combined = (c1 << _U64(16)) | (c2 << _U64(24)) | c3 | (n[m] << _U64(8))
            out[m] = _xxh64_avalanche(combined ^ _BITFLIP_1TO3)
        m = (length >= 4) & (length <= 8)
        if m.any():
            s, ln = start[m], length[m]
            h = ((words[s + ln - 4] & _LOW32) + (words[s] << _U64(32))) ^ _BITFLIP_4TO8
            h = h ^ ((h << _U64(49)) | _sh(h, 15)) ^ ((h << _U64(24)) | _sh(h, 40))
            h = h * _PRIME_MX2
            h = h ^ (_sh(h, 35) + n[m])
            h = h * _PRIME_MX2
            out[m] = h ^ _sh(h, 28)
        m = length >= 9
        if m.any():
            s, ln = start[m], length[m]
            lo = words[s] ^ _BITFLIP_9TO16_LO
            hi = words[s + ln - 8] ^ _BITFLIP_9TO16_HI
            acc = n[m] + lo.byteswap() + hi + _mul128_fold64(lo, hi)
            acc = acc ^ _sh(acc, 37)
            acc = acc * _PRIME_MX1
            out[m] = acc ^ _sh(acc, 32)
    return out


_CJK_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF))  # the CJK class of _TOKEN_RE
#: Shorter texts take the token path, unless they hold many CJK characters. The token path
#: costs a string and a look-up per token; the numpy path a fixed 0.2 ms and little per token,
#: once its Latin tokens are many enough for :func:`xxh3_short` (:data:`LATIN_VECTOR_MIN`).
#: Measured on the realistic bench pages cut to a length (CPU ms, token vs numpy path): English
#: 0.26 vs 0.37 at 3,000 characters, 0.50 vs 0.58 at 6,000, 0.59 vs 0.62 at 8,000, 1.07 vs 0.88
#: at 2,250 tokens (about 14,000 characters); Chinese 0.21 vs 0.23 at 700 characters, 0.27 vs
#: 0.25 at 1,000, 0.40 vs 0.28 at 1,500, where CJK characters (one token each) make the count.
VECTOR_MIN_CHARS = 9_000
#: ... or this many CJK characters (estimated as half the extra bytes of the UTF-8 encoding: a
#: CJK character takes 3 bytes).
VECTOR_MIN_WIDE = 450
_APOSTROPHE, _DOT = ord("'"), ord(".")


@lru_cache(maxsize=1)
def _cjk_hashes() -> np.ndarray:
    """The xxh3-64 of each CJK token's UTF-8 (three bytes), by code point minus 0x3400."""
    table = np.zeros(_CJK_RANGES[1][1] + 1 - _CJK_RANGES[0][0], dtype=np.uint64)
    for lo, hi in _CJK_RANGES:
        chars = "".join(map(chr, range(lo, hi + 1))).encode("utf-8") + bytes(8)
        count = hi + 1 - lo
        table[lo - _CJK_RANGES[0][0]:hi + 1 - _CJK_RANGES[0][0]] = xxh3_short(
            np.frombuffer(chars, dtype=np.uint8), np.arange(count, dtype=np.intp) * 3, np.full(count, 3, dtype=np.intp))
    return table


def fingerprint_of_folded(folded: str, *, points: np.ndarray | None = None) -> tuple[int, int, int]:
    """``(simhash_of_tokens(t), xxh3_64(" ".join(t)), len(t))`` for ``t = tokens(folded)``;
    ``points`` is ``code_points(folded)`` if the caller has it.

    A token of ``_TOKEN_RE`` is a CJK character, or a maximal run of ASCII letters and digits
    and of the apostrophes and dots that stand between two of them: the masks below."""
    if len(folded) < VECTOR_MIN_CHARS and (
            len(folded) < VECTOR_MIN_WIDE
            or len(folded.encode("utf-8", "surrogatepass")) - len(folded) < 2 * VECTOR_MIN_WIDE):
        toks = tokens(folded)
        return simhash_of_tokens(toks), xxhash.xxh3_64_intdigest(" ".join(toks).encode("utf-8")), len(toks)
    return fingerprint_numpy(folded, points=points)


def fingerprint_numpy(folded: str, *, points: np.ndarray | None = None) -> tuple[int, int, int]:
    """:func:`fingerprint_of_folded` by the numpy path, whatever the length."""
    cp = code_points(folded) if points is None else points
    cjk = np.zeros(cp.size, dtype=bool)
    for lo, hi in _CJK_RANGES:
        cjk |= (cp >= lo) & (cp <= hi)
    latin = ((cp >= ord("a")) & (cp <= ord("z"))) | ((cp >= ord("0")) & (cp <= ord("9")))
    if cp.size > 2:
        joins = (cp[1:-1] == _APOSTROPHE) | (cp[1:-1] == _DOT)
        latin[1:-1] |= joins & latin[:-2] & latin[2:]  # latin[:-2], latin[2:]: letters or digits there
    before = np.zeros(cp.size, dtype=bool)
    before[1:] = latin[:-1]
    after = np.zeros(cp.size, dtype=bool)
    after[:-1] = latin[1:]
    latin_starts = np.flatnonzero(latin & ~before)
    latin_lengths = np.flatnonzero(latin & ~after) + 1 - latin_starts
    starts = latin & ~before | cjk
    token_at = np.flatnonzero(starts)
    if token_at.size == 0:
        return 0, xxhash.xxh3_64_intdigest(b""), 0
    th = np.empty(token_at.size, dtype=np.uint64)
    is_cjk = cjk[token_at]
    th[is_cjk] = _cjk_hashes()[cp[token_at[is_cjk]] - _CJK_RANGES[0][0]]
    th[~is_cjk] = _latin_hashes(folded, cp, latin_starts, latin_lengths)
    simhash = _simhash_of_shingles(_shingles_of(th))
    # " ".join(tokens): the token characters in order, a space before each token but the first.
    if not is_cjk.any():
        # Latin tokens only (ASCII), each after a character of no token (the first one aside):
        # that character, made a space, is the separator. One selection of bytes, where the
        # general case below inserts the spaces into UTF-32 and decodes it (0.1 ms less a
        # realistic English article).
        keep = latin.copy()
        keep[latin_starts[1:] - 1] = True
        ascii_bytes = np.where(latin[keep], cp[keep], ord(" ")).astype(np.uint8).tobytes()
        return simhash, xxhash.xxh3_64_intdigest(ascii_bytes), int(token_at.size)
    chars = np.flatnonzero(latin | cjk)
    joined = np.full(chars.size + token_at.size - 1, ord(" "), dtype=np.uint32)
    # Every token start is a token character: the running count of starts over the token
    # characters alone is the same count, on fewer elements.
    joined[np.arange(chars.size) + np.cumsum(starts[chars]) - 1] = cp[chars]
    content = joined.tobytes().decode("utf-32-le").encode("utf-8")
    return simhash, xxhash.xxh3_64_intdigest(content), int(token_at.size)


#: Fewer Latin tokens than this are hashed through the token cache (a string and a dict look-up
#: each, 0.3 us) rather than by :func:`xxh3_short`, whose hundred-odd array operations cost
#: about 0.18 ms whatever the count (then 0.06 us a token): a Chinese article holds a few
#: hundred Latin tokens among thousands of characters.
LATIN_VECTOR_MIN = 500


def _latin_hashes(folded: str, cp: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """xxh3-64 of each Latin token (ASCII: a byte per code point)."""
    if starts.size < LATIN_VECTOR_MIN:
        return _token_hashes([folded[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist())])
    out = np.empty(starts.size, dtype=np.uint64)
    short = lengths <= 16
    buf = np.concatenate([cp.astype(np.uint8), np.zeros(8, dtype=np.uint8)])
    out[short] = xxh3_short(buf, starts[short], lengths[short])
    for i in np.flatnonzero(~short):
        out[i] = xxhash.xxh3_64_intdigest(folded[starts[i]:starts[i] + lengths[i]].encode("ascii"))
    return out
