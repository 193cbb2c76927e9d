"""NearDuplicateIndex: which stored 64-bit fingerprints lie within Hamming distance k of a query.

Pigeonhole over k+1 blocks: if two 64-bit values differ in at most k bits, at least one of
k+1 disjoint blocks is identical in both. One table per block holds the entries sorted by
that block (a "permuted table" in Manku et al., WWW 2007); a query looks its own block up
in each table, then checks the full distance of the few candidates. Exact for d <= k.

Memory per entry with k=3 (4 blocks of 16 bits): fingerprint 8 B + id 8 B + alive flag 1 B
+ per table a uint16 block and a uint32 position (4 x 6 B) = 41 B, plus 4 x 256 KiB bucket
offsets in total. New entries go to an append buffer scanned with numpy and merged into the
tables every ``buffer_size`` inserts, so an insert costs amortised microseconds.
Persistence: ``save(folder)`` / ``load(folder)`` as ``.npy`` files (the tables are rebuilt
from fingerprints on load: one argsort per table).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits per element of a uint64 array (numpy 1.26 has no bitwise_count)."""
    return _POP8[x.view(np.uint8)].reshape(-1, 8).sum(axis=1, dtype=np.int32)


class NearDuplicateIndex:
    """Insert, query and delete 64-bit fingerprints under integer ids (ids unique)."""

    def __init__(self, k: int = 3, *, buffer_size: int = 4096) -> None:
        if not 0 <= k <= 7:
            raise ValueError(f"k must be 0..7, got {k}")
        self.k = k
        self.buffer_size = buffer_size
        blocks = k + 1
        widths = [64 // blocks + (1 if i < 64 % blocks else 0) for i in range(blocks)]
        shifts, s = [], 64
        for w in widths:
            s -= w
            shifts.append(s)
        self._blocks = [(np.uint64(sh), np.uint64((1 << w) - 1), w) for sh, w in zip(shifts, widths)]
        self._blocks_py = [(t, sh, (1 << w) - 1) for t, (sh, w) in enumerate(zip(shifts, widths))]
        self._key_dtypes = [
            np.uint8 if w <= 8 else np.uint16 if w <= 16 else np.uint32 if w <= 32 else np.uint64 for w in widths
        ]
        self._fps = np.zeros(0, dtype=np.uint64)
        self._ids = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._keys: list[np.ndarray] = []
        self._order: list[np.ndarray] = []
        self._offsets: list[np.ndarray | None] = []
        self._buf_fps = np.zeros(buffer_size, dtype=np.uint64)
        self._buf_ids = np.zeros(buffer_size, dtype=np.int64)
        self._buf_n = 0
        self._deleted = 0
        self._id_set_size = 0
        self._rebuild_tables()

    # --- building -------------------------------------------------------------------
    def _rebuild_tables(self) -> None:
        self._keys, self._order, self._offsets = [], [], []
        for (shift, mask, width), dt in zip(self._blocks, self._key_dtypes):
            keys = ((self._fps >> shift) & mask).astype(dt)
            order = np.argsort(keys, kind="stable").astype(np.uint32)
            self._keys.append(keys[order])
            self._order.append(order)
            self._offsets.append(self._bucket_offsets(self._keys[-1], width))

    @staticmethod
    def _bucket_offsets(sorted_keys: np.ndarray, width: int) -> np.ndarray | None:
        if width > 20:
            return None  # searchsorted instead of a 2**width table
        counts = np.bincount(sorted_keys, minlength=1 << width)
        offsets = np.zeros((1 << width) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return offsets

    def bulk_load(self, ids: np.ndarray, fps: np.ndarray) -> None:
        """Replace the contents with these entries (fast: one sort per table)."""
        ids = np.asarray(ids, dtype=np.int64)
        fps = np.asarray(fps, dtype=np.uint64)
        order = np.argsort(ids, kind="stable")
        self._ids, self._fps = ids[order], fps[order]
        if len(self._ids) > 1 and not np.all(np.diff(self._ids) > 0):
            raise ValueError("ids must be unique")
        self._alive = np.ones(len(ids), dtype=bool)
        self._buf_n = 0
        self._deleted = 0
        self._rebuild_tables()

    def insert(self, item_id: int, fp: int) -> None:
        if self._buf_n == self.buffer_size:
            self.flush()
        self._buf_fps[self._buf_n] = np.uint64(fp)
        self._buf_ids[self._buf_n] = item_id
        self._buf_n += 1

    def flush(self) -> None:
        """Merge the append buffer into the sorted tables."""
        if not self._buf_n:
            return
        new_fps = self._buf_fps[: self._buf_n].copy()
        new_ids = self._buf_ids[: self._buf_n].copy()
        self._buf_n = 0
        by_id = np.argsort(new_ids, kind="stable")  # deletes reorder the buffer
        new_fps, new_ids = new_fps[by_id], new_ids[by_id]
        if len(self._ids) and new_ids.min() <= self._ids[-1] or len(np.unique(new_ids)) != len(new_ids):
            # Out-of-order ids: rebuild (rare: only when a caller inserts old ids).
            alive = self._alive
            self.bulk_load(np.concatenate([self._ids[alive], new_ids]), np.concatenate([self._fps[alive], new_fps]))
            return
        base = len(self._fps)
        self._fps = np.concatenate([self._fps, new_fps])
        self._ids = np.concatenate([self._ids, new_ids])
        self._alive = np.concatenate([self._alive, np.ones(len(new_ids), dtype=bool)])
        positions = np.arange(base, base + len(new_ids), dtype=np.uint32)
        for t, ((shift, mask, width), dt) in enumerate(zip(self._blocks, self._key_dtypes)):
            keys = ((new_fps >> shift) & mask).astype(dt)
            o = np.argsort(keys, kind="stable")
            keys, pos = keys[o], positions[o]
            at = np.searchsorted(self._keys[t], keys, side="right")
            self._keys[t] = np.insert(self._keys[t], at, keys)
            self._order[t] = np.insert(self._order[t], at, pos)
            if self._offsets[t] is not None:
                self._offsets[t] = self._bucket_offsets(self._keys[t], width)

    def delete(self, item_id: int) -> bool:
        """Remove an entry; returns whether it was there."""
        buf = self._buf_ids[: self._buf_n]
        hit = np.nonzero(buf == item_id)[0]
        if hit.size:
            i = int(hit[0])
            last = self._buf_n - 1
            self._buf_ids[i], self._buf_fps[i] = self._buf_ids[last], self._buf_fps[last]
            self._buf_n -= 1
            return True
        pos = int(np.searchsorted(self._ids, item_id))
        if pos < len(self._ids) and self._ids[pos] == item_id and self._alive[pos]:
            self._alive[pos] = False
            self._deleted += 1
            if self._deleted > 1024 and self._deleted * 4 > len(self._ids):
                self.compact()
            return True
        return False

    def compact(self) -> None:
        self.flush()
        alive = self._alive
        self.bulk_load(self._ids[alive], self._fps[alive])

    # --- querying -------------------------------------------------------------------
    def query(self, fp: int, k: int | None = None) -> list[tuple[int, int]]:
        """``[(id, distance)]`` of every entry within ``k`` (default: the index's k) bits,
        nearest first. Exact for ``k <= self.k``; a larger k raises ValueError."""
        k = self.k if k is None else k
        if k > self.k:
            raise ValueError(f"this index answers up to k={self.k}, asked {k}")
        fp = int(fp) & 0xFFFF_FFFF_FFFF_FFFF
        # Plain ints and one numpy gather: at a few dozen candidates per query, numpy's
        # per-call overhead, not the arithmetic, is the cost (p50 70 -> 20 us at 1M entries).
        parts = []
        for t, shift, mask in self._blocks_py:
            key = (fp >> shift) & mask
            off = self._offsets[t]
            if off is not None:
                lo, hi = off.item(key), off.item(key + 1)
            else:
                keys = self._keys[t]
                lo = int(np.searchsorted(keys, key, "left"))
                hi = int(np.searchsorted(keys, key, "right"))
            if hi > lo:
                parts.append(self._order[t][lo:hi])
        out: list[tuple[int, int]] = []
        if parts:
            cand = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if len(cand) > 256:  # a big catalog: filter in numpy first
                dist = popcount64(self._fps[cand] ^ np.uint64(fp))
                near = dist <= k
                cand, dists = cand[near], dist[near].tolist()
            else:
                dists = [(value ^ fp).bit_count() for value in self._fps[cand].tolist()]
            seen: set[int] = set()
            for pos, d in zip(cand.tolist(), dists):
                if d <= k and pos not in seen and self._alive.item(pos):
                    seen.add(pos)
                    out.append((self._ids.item(pos), d))
        if self._buf_n:
            bd = popcount64(self._buf_fps[: self._buf_n] ^ np.uint64(fp))
            ok = np.nonzero(bd <= k)[0]
            out.extend(zip(self._buf_ids[ok].tolist(), bd[ok].tolist()))
        out.sort(key=lambda p: (p[1], p[0]))
        return out

    def __len__(self) -> int:
        return int(self._alive.sum()) + self._buf_n

    def __contains__(self, item_id: int) -> bool:
        if np.any(self._buf_ids[: self._buf_n] == item_id):
            return True
        pos = int(np.searchsorted(self._ids, item_id))
        return pos < len(self._ids) and self._ids[pos] == item_id and bool(self._alive[pos])

    def nbytes(self) -> int:
        """Memory held by the arrays (the per-entry cost plus fixed bucket tables)."""
        arrays = [self._fps, self._ids, self._alive, self._buf_fps, self._buf_ids, *self._keys, *self._order]
        arrays += [o for o in self._offsets if o is not None]
        return int(sum(a.nbytes for a in arrays))

    # --- persistence ----------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.flush()
        alive = self._alive
        for name, arr in (("ids", self._ids[alive]), ("fps", self._fps[alive])):
            tmp = folder / f"{name}.npy.part"
            with open(tmp, "wb") as f:
                np.save(f, arr)
            tmp.replace(folder / f"{name}.npy")
        (folder / "meta.json").write_text(json.dumps({"k": self.k, "format": 1}))

    @classmethod
    def load(cls, folder: str | Path, *, buffer_size: int = 4096) -> NearDuplicateIndex:
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        index = cls(k=meta["k"], buffer_size=buffer_size)
        index.bulk_load(np.load(folder / "ids.npy"), np.load(folder / "fps.npy"))
        return index
