"""NearDuplicateIndex returns exactly what brute force returns, and agrees with simhash.SimhashIndex."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from simhash import Simhash, SimhashIndex

from crawler.dedup.near_index import NearDuplicateIndex

U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


def near(base: int, rnd: random.Random, bits: int) -> int:
    for b in rnd.sample(range(64), bits):
        base ^= 1 << b
    return base


def brute(entries: dict[int, int], q: int, k: int) -> list[tuple[int, int]]:
    out = [(i, (fp ^ q).bit_count()) for i, fp in entries.items()]
    return sorted(((i, d) for i, d in out if d <= k), key=lambda p: (p[1], p[0]))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 300), k=st.integers(0, 5), buffer_size=st.sampled_from([4, 64, 4096]))
def test_matches_brute_force(seed, n, k, buffer_size):
    rnd = random.Random(seed)
    idx = NearDuplicateIndex(k=k, buffer_size=buffer_size)
    entries: dict[int, int] = {}
    bases = [rnd.getrandbits(64) for _ in range(5)]
    for i in range(n):
        fp = near(rnd.choice(bases), rnd, rnd.randint(0, k + 3)) if rnd.random() < 0.7 else rnd.getrandbits(64)
        idx.insert(i, fp)
        entries[i] = fp
        if rnd.random() < 0.1 and entries:
            victim = rnd.choice(sorted(entries))
            assert idx.delete(victim)
            del entries[victim]
    for _ in range(20):
        q = near(rnd.choice(bases), rnd, rnd.randint(0, k + 2))
        for kk in range(k + 1):
            assert idx.query(q, kk) == brute(entries, q, kk)
    assert len(idx) == len(entries)


@settings(max_examples=30, deadline=None)
@given(fps=st.lists(U64, min_size=1, max_size=60), queries=st.lists(U64, min_size=1, max_size=5), data=st.data())
def test_agrees_with_simhash_index(fps, queries, data):
    # Add near copies so there is something to find.
    fps = fps + [fp ^ (1 << data.draw(st.integers(0, 63))) for fp in fps[:10]]
    ref = SimhashIndex([(str(i), Simhash(fp)) for i, fp in enumerate(fps)], k=2)
    idx = NearDuplicateIndex(k=3)
    for i, fp in enumerate(fps):
        idx.insert(i, fp)
    for q in queries + fps[:5]:
        ours = {str(i) for i, d in idx.query(q, 2)}
        assert ours == set(ref.get_near_dups(Simhash(q)))


def test_bulk_load_save_load(tmp_path):
    rnd = random.Random(7)
    fps = [rnd.getrandbits(64) for _ in range(5000)]
    idx = NearDuplicateIndex(k=3, buffer_size=100)
    for i, fp in enumerate(fps):
        idx.insert(i * 2, fp)
    idx.delete(10)
    idx.save(tmp_path / "nd")
    loaded = NearDuplicateIndex.load(tmp_path / "nd")
    assert len(loaded) == len(idx) == 4999
    for fp in fps[:50]:
        assert loaded.query(fp) == idx.query(fp)
    assert 10 not in loaded and 12 in loaded
    assert idx.nbytes() / len(idx) < 48 + (4 * 65537 * 8 + 2 * 100 * 8) / len(idx)


def test_crowded_bucket_matches_brute_force():
    """Thousands of entries share one 16-bit block (a big catalog, or fingerprints of one
    template): the query filters its candidates in numpy there; same answers as brute force."""
    rnd = random.Random(11)
    top = rnd.getrandbits(16) << 48
    entries = {i: top | rnd.getrandbits(48) for i in range(3000)}
    base = next(iter(entries.values()))
    for i in range(3000, 3040):
        entries[i] = near(base, rnd, rnd.randint(0, 4))
    idx = NearDuplicateIndex(k=3, buffer_size=512)
    for i, fp in entries.items():
        idx.insert(i, fp)
    for victim in (3001, 3002, 5):
        assert idx.delete(victim)
        del entries[victim]
    for q in [base, near(base, rnd, 2), top | rnd.getrandbits(48)] + [entries[i] for i in (3010, 3020, 7)]:
        assert len(idx._order[0]) > 256
        for k in range(4):
            assert idx.query(q, k) == brute(entries, q, k)
