"""Document frequencies in memory (by feature id) stay equal to SQLite's through adds, deletes,
replaced captures, a reopened catalog, a restarted vocabulary and a rollback."""

from __future__ import annotations

import math
import random
import sqlite3

import numpy as np
import pytest

from crawler.dedup import feature_index
from crawler.dedup.detector import Detector
from crawler.dedup.features import Article, compute_signals
from crawler.dedup.store import ArticleStore, feature_names

WORDS = [f"w{n}" for n in range(80)] + ["ransomware", "hospital", "LockBit"]


def articles(seed: int, n: int, host: str = "x.example", words: list[str] = WORDS) -> list[Article]:
    rnd = random.Random(seed)
    return [Article(url=f"https://{host}/{rnd.randrange(n)}", lang="en", title=rnd.choice(words),
                    text=" ".join(rnd.choices(words, k=40)) + f" CVE-2024-{rnd.randrange(1000, 1010)}.")
            for _ in range(n)]


def catalog_of(tmp_path, arts: list[Article]) -> tuple[ArticleStore, Detector]:
    """A catalog in ``tmp_path`` with ``arts`` added by its detector (not committed)."""
    store = ArticleStore(tmp_path / "c.sqlite3")
    det = Detector(store)
    for a in arts:
        det.add(a)
    return store, det


def assert_df_as_in_sqlite(store: ArticleStore) -> None:
    fi = store.features
    fi.flush()  # the table follows memory at a flush (the store's commit)
    table = dict(store.conn.execute("SELECT feature, n FROM df"))
    assert table, "the test means something"
    names = sorted(table)
    assert fi.df_of(fi.ids(names)).tolist() == [table[f] for f in names]
    assert fi.df(names) == table
    # every feature the vocabulary holds, including those met but never counted (df 0)
    held = list(fi._ids)
    assert fi.df_of(fi.ids(held)).tolist() == [table.get(f, 0) for f in held]
    n = int(store.conn.execute("SELECT n FROM df_total").fetchone()[0])
    assert fi.total() == n
    assert fi.idf_of(fi.ids(names)) == pytest.approx([math.log((n + 1) / (table[f] + 0.5)) for f in names],
                                                     rel=1e-13)


def test_frequencies_follow_adds_deletes_and_replaced_captures(tmp_path) -> None:
    store = ArticleStore(tmp_path / "c.sqlite3")
    det = Detector(store)
    added = [det.add(a)[0] for a in articles(1, 40)]  # 40 adds over ~25 URLs: recaptures replace
    assert store.count() < 40
    assert_df_as_in_sqlite(store)
    for article_id in added[::3]:
        det.delete(article_id)
    assert_df_as_in_sqlite(store)
    store.close()


@pytest.mark.parametrize("loaded", [True, False])
def test_a_reopened_catalog_reads_its_frequencies(tmp_path, monkeypatch: pytest.MonkeyPatch, loaded: bool) -> None:
    path = tmp_path / "c.sqlite3"
    store = ArticleStore(path)
    det = Detector(store)
    for a in articles(2, 30):
        det.add(a)
    store.commit()
    if not loaded:  # too many to load: each is read when first met
        rows = store.conn.execute("SELECT COUNT(*) FROM df").fetchone()[0]
        monkeypatch.setattr(feature_index, "VOCABULARY_SIZE", 2 * rows - 2)
    store.close()
    store = ArticleStore(path)
    assert store.features._complete is loaded
    det = Detector(store)
    for a in articles(3, 30, host="y.example"):
        det.add(a)
    assert_df_as_in_sqlite(store)
    store.close()


def test_a_full_vocabulary_starts_again(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feature_index, "VOCABULARY_SIZE", 250)  # three articles' features
    store, det = catalog_of(tmp_path, articles(4, 30, words=[f"v{n}" for n in range(1000)]))
    assert store.features.epoch > 0 and len(store.features._names) <= 250
    assert_df_as_in_sqlite(store)
    store.close()


def test_a_rollback_drops_the_frequencies_held_in_memory(tmp_path) -> None:
    store, det = catalog_of(tmp_path, articles(5, 10))
    store.commit()
    before = dict(store.conn.execute("SELECT feature, n FROM df"))
    for a in articles(6, 10, host="y.example"):
        det.add(a)
    store.rollback()
    assert dict(store.conn.execute("SELECT feature, n FROM df")) == before
    assert_df_as_in_sqlite(store)
    store.close()


def test_ids_are_stable_and_duplicates_allowed() -> None:
    store = ArticleStore(":memory:")
    fi = store.features
    ids = fi.ids(["t:a", "t:b", "t:a"])
    assert ids[0] == ids[2] != ids[1]
    assert np.array_equal(fi.ids(["t:b", "t:a"]), ids[[1, 0]])
    assert fi.name(int(ids[1])) == "t:b"
    assert fi.df_of(ids).tolist() == [0, 0, 0]


def test_counts_wait_for_the_commit_that_stores_their_articles(tmp_path) -> None:
    store = ArticleStore(tmp_path / "c.sqlite3")
    det = Detector(store)
    new_id, _ = det.add(articles(7, 1)[0])
    feats = feature_names(store.get(new_id).signals)
    assert store.features.total() == 1 and set(store.features.df(feats).values()) == {1}  # in memory at once
    assert store.conn.execute("SELECT COUNT(*) FROM df").fetchone()[0] == 0  # not yet written
    store.commit()
    assert store.conn.execute("SELECT n FROM df_total").fetchone()[0] == 1
    assert_df_as_in_sqlite(store)
    store.close()


KILLED_MID_BATCH = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.dedup.test_feature_index import articles
from crawler.dedup.detector import Detector
from crawler.dedup.store import ArticleStore
store = ArticleStore({path!r})
det = Detector(store)
for n, a in enumerate(articles(8, 60)):
    det.add(a)
    if n % 16 == 15:
        store.commit()
os.kill(os.getpid(), signal.SIGKILL)  # 12 articles added since the last commit
"""


def test_a_killed_process_leaves_frequencies_that_match_the_articles(tmp_path) -> None:
    import signal
    import subprocess
    import sys
    from collections import Counter
    from pathlib import Path

    path = tmp_path / "c.sqlite3"
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_BATCH.format(root=root, path=str(path))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = ArticleStore(path)
    stored = list(store.iter_articles())
    assert stored and store.count() < 60  # the last batch is gone (recaptures replace: fewer than 48)
    want = Counter(f for art in stored for f in set(feature_names(art.signals)))
    assert dict(store.conn.execute("SELECT feature, n FROM df WHERE n != 0")) == dict(want)
    assert store.features.total() == len(stored)
    assert_df_as_in_sqlite(store)
    det = Detector(store)  # and it goes on from there
    det.add(articles(9, 1, host="y.example")[0])
    assert_df_as_in_sqlite(store)
    store.close()


@pytest.mark.parametrize("limit", [300, 5, 1])
def test_candidate_ids_are_the_candidates_articles(tmp_path, limit: int) -> None:
    store, det = catalog_of(tmp_path, articles(10, 40))
    fi = store.features
    for a in articles(11, 5, host="y.example"):
        feats = det._indexed_features(store.get(det.add(a)[0]).signals)
        weights = fi.idf(feats)
        ranked = fi.candidates(weights, max_df=30, limit=limit)
        assert ranked, "the test means something"
        assert fi.candidate_ids(weights, max_df=30, limit=limit) == sorted(i for i, _mass in ranked)
    store.close()


def table_postings(store: ArticleStore) -> list[tuple[str, int]]:
    """Every (feature, article id) the table holds, in that order, without a flush."""
    out = set()
    for f, blob in store.conn.execute("SELECT feature, ids FROM posting_lists"):
        out.update((f, i) for i in np.frombuffer(blob, dtype="<i8").tolist())
    return sorted(out)


def sqlite_postings(store: ArticleStore, feats: list[str]) -> dict[str, list[int]]:
    """The table's posting lists once the postings added since the last flush are in it."""
    store.features.flush()
    out: dict[str, list[int]] = {}
    wanted = set(feats)
    for f, article_id in table_postings(store):
        if f in wanted:
            out.setdefault(f, []).append(article_id)
    return out


def held_postings(fi: feature_index.FeatureIndex, feats: list[str]) -> dict[str, list[int]]:
    got, lengths, ids = fi._postings_of(feats)
    out, at = {}, 0
    for f, n in zip(got, lengths):
        out[f] = ids[at:at + n].tolist()
        at += n
    return out


def test_postings_held_in_memory_stay_equal_to_the_table(tmp_path) -> None:
    """Adds (new articles, and older ones re-added out of order as settling does), a delete and a
    rollback: what candidate gathering reads from memory is what the table holds."""
    store, det = catalog_of(tmp_path, articles(12, 30))
    fi = store.features
    store.commit()
    feats = sorted(f for (f,) in store.conn.execute("SELECT DISTINCT feature FROM posting_lists"))
    assert held_postings(fi, feats) == sqlite_postings(store, feats)  # read, now held
    assert fi._postings_bytes > 0
    for a in articles(13, 5, host="y.example"):
        det.add(a)
        assert held_postings(fi, feats) == sqlite_postings(store, feats)
    ids = [i for (i,) in store.conn.execute("SELECT id FROM articles ORDER BY id")]
    fi.remove(ids[3])
    fi.remove(ids[-1])
    assert held_postings(fi, feats) == sqlite_postings(store, feats)
    fi.add(ids[3], ["t:w1", "t:w2", "a:cve-2024-1001"])  # older than the newest: inserted in order
    fi.add(ids[3], ["t:w1"])  # already there: ignored, as by SQLite
    assert held_postings(fi, feats) == sqlite_postings(store, feats)
    store.rollback()
    assert held_postings(fi, feats) == sqlite_postings(store, feats)
    store.close()


def test_posting_lists_past_the_bound_are_forgotten(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feature_index, "POSTINGS_CACHE_BYTES", 2000)
    store, det = catalog_of(tmp_path, articles(14, 30))
    fi = store.features
    feats = sorted(f for (f,) in store.conn.execute("SELECT DISTINCT feature FROM posting_lists"))
    assert held_postings(fi, feats) == sqlite_postings(store, feats)
    assert fi._postings_bytes <= 2000
    store.close()


def test_candidate_masses_are_summed_in_the_order_of_the_rows(tmp_path) -> None:
    """Weights whose sum depends on the order of addition (0.1 + 0.2 + 0.3 is not 0.1 + (0.2 + 0.3)):
    the articles kept at the limit are those :meth:`candidates` ranks first, ties by id."""
    store = ArticleStore(tmp_path / "c.sqlite3")
    fi = store.features
    fi.count_document(["t:x", "t:y", "t:z"])
    weights = {"t:z": 0.3, "t:x": 0.1, "t:y": 0.2}
    for article_id, feats in ((1, ["t:x", "t:y", "t:z"]), (2, ["t:z", "t:y", "t:x"]), (3, ["t:x", "t:z"]),
                              (4, ["t:y", "t:z"]), (5, ["t:x", "t:y", "t:z"])):
        fi.add(article_id, feats)
    for limit in range(1, 6):
        ranked = fi.candidates(weights, max_df=10, limit=limit)
        assert fi.candidate_ids(weights, max_df=10, limit=limit) == sorted(i for i, _mass in ranked)
    store.close()


def test_postings_wait_for_the_flush_and_are_found_before_it(tmp_path) -> None:
    """Postings added since the last flush are in no table row yet, yet candidate gathering finds
    them (read from the table or held in memory), equal to the reference; a rollback drops them."""
    store, det = catalog_of(tmp_path, articles(21, 20))
    fi = store.features
    store.commit()
    assert len(table_postings(store)) > 0
    committed = len(table_postings(store))
    fi._forget_postings()  # nothing held: pending lists merge into what the table gives
    later = articles(22, 15, host="y.example")
    for k, a in enumerate(later):
        a.url = f"https://y.example/{k}"  # no replaced capture (its delete would flush)
    queries = []
    for a in later:
        det.add(a)
        queries.append(fi.idf(det._indexed_features(compute_signals(a))))
        fi._forget_postings()  # the next add's lists are read from the table and the pending ones
    got = []
    for weights in queries:
        got.append(fi.candidate_ids(weights, max_df=30, limit=8))
        fi._forget_postings()
    assert fi._pending and len(table_postings(store)) == committed
    pending = {f: list(ids) for f, ids in fi._pending.items()}
    feats = sorted(pending)
    fi._forget_postings()
    in_memory = held_postings(fi, feats)
    for f, ids in pending.items():
        assert set(ids) <= set(in_memory[f])
    store.rollback()
    assert not fi._pending
    assert len(table_postings(store)) == committed
    for a in later:
        det.add(a)
    assert got == [sorted(i for i, _mass in fi.candidates(weights, max_df=30, limit=8))  # flushes first
                   for weights in queries]
    assert not fi._pending
    store.close()


def test_candidate_ids_by_idf_are_those_of_the_idf_weights(tmp_path) -> None:
    """The detector's one lookup of frequencies and weights finds what ``idf`` weights find."""
    store, det = catalog_of(tmp_path, articles(23, 40))
    fi = store.features
    for a in articles(24, 5, host="y.example"):
        feats = det._indexed_features(store.get(det.add(a)[0]).signals)
        for max_df, limit in ((30, 300), (30, 3), (5, 300), (0, 300)):
            assert fi.candidate_ids_by_idf(feats, max_df=max_df, limit=limit) == \
                fi.candidate_ids(fi.idf(feats), max_df=max_df, limit=limit)
    store.close()


def all_postings(store: ArticleStore) -> list[tuple[str, int]]:
    store.features.flush()
    return table_postings(store)


SCHEMA_1_POSTINGS = """
CREATE TABLE postings (
    feature TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    PRIMARY KEY (feature, article_id)
) WITHOUT ROWID;
CREATE INDEX postings_article ON postings (article_id);
"""


def test_a_catalog_of_schema_1_is_read_with_its_postings_in_lists(tmp_path) -> None:
    """Catalogs of schema 1 hold a row for each posting (table ``postings``, with an index by
    article): opened, their postings are moved into lists with the new schema version, read as
    they were, and deletes and adds go on from there. Older code refuses the catalog then (it
    would find no postings)."""
    path = tmp_path / "c.sqlite3"
    store = ArticleStore(path)
    det = Detector(store)
    added = [det.add(a)[0] for a in articles(25, 30)]
    before = all_postings(store)
    assert before, "the test means something"
    store.close()
    old = sqlite3.connect(path, isolation_level=None)  # written as schema 1 was
    old.executescript(SCHEMA_1_POSTINGS)
    old.execute("BEGIN")
    old.executemany("INSERT INTO postings (feature, article_id) VALUES (?, ?)", before)
    old.execute("DROP TABLE posting_lists")
    old.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    old.execute("COMMIT")
    old.close()

    store = ArticleStore(path)
    tables = {name for (name,) in store.conn.execute("SELECT name FROM sqlite_master")}
    assert "postings" not in tables and "postings_article" not in tables and "posting_lists" in tables
    assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert store.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    assert all_postings(store) == before
    det = Detector(store)
    gone = [i for i in dict.fromkeys(added) if store.get(i) is not None][:4]
    for article_id in gone:
        det.delete(article_id)
    assert all_postings(store) == [(f, i) for f, i in before if i not in gone]
    new_id, _ = det.add(articles(26, 1, host="y.example")[0])
    assert {f for f, i in all_postings(store) if i == new_id} == \
        set(det._indexed_features(store.get(new_id).signals))
    store.close()
    store = ArticleStore(path)  # reopened: nothing more to move
    assert store.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    store.close()


def test_lists_of_one_feature_from_several_flushes_read_as_one(tmp_path) -> None:
    """Settling posts older articles again after newer ones (lists that overlap), and an article
    posted twice under a feature is there once: read, the list is ascending, each id once; a
    delete leaves the others."""
    store = ArticleStore(tmp_path / "c.sqlite3")
    fi = store.features
    fi.count_document(["t:x", "t:y"])
    for batch in ([5, 9], [2, 7], [7, 5], [3]):
        for article_id in batch:
            fi.add(article_id, ["t:x", "t:y"] if article_id != 3 else ["t:x"])
        fi.flush()
    assert store.conn.execute("SELECT COUNT(*) FROM posting_lists WHERE feature = 't:x'").fetchone()[0] > 1
    assert held_postings(fi, ["t:x", "t:y"]) == {"t:x": [2, 3, 5, 7, 9], "t:y": [2, 5, 7, 9]}
    fi.remove(5, ["t:x", "t:y", "t:z"])
    fi.remove(9)
    assert held_postings(fi, ["t:x", "t:y"]) == {"t:x": [2, 3, 7], "t:y": [2, 7]}
    assert all_postings(store) == [("t:x", 2), ("t:x", 3), ("t:x", 7), ("t:y", 2), ("t:y", 7)]
    assert fi.candidates({"t:x": 1.0, "t:y": 0.5}, max_df=10, limit=5) == [(2, 1.5), (7, 1.5), (3, 1.0)]
    store.close()


def test_clearing_the_postings_removes_what_deleting_every_article_does(tmp_path) -> None:
    """A young catalog's settle takes every article out at once: flushed lists, lists held in
    memory and postings not flushed yet all go; the frequencies stay."""
    store = ArticleStore(tmp_path / "c.sqlite3")
    fi = store.features
    fi.count_document(["t:x", "t:y"])
    for article_id in (2, 5):
        fi.add(article_id, ["t:x", "t:y"])
    fi.flush()
    assert held_postings(fi, ["t:x"]) == {"t:x": [2, 5]}  # held in memory now
    fi.add(7, ["t:x"])  # not flushed
    fi.clear_postings()
    assert held_postings(fi, ["t:x", "t:y"]) == {}  # no list holds anything
    fi.flush()
    assert all_postings(store) == []
    assert fi.df(["t:x", "t:y"]) == {"t:x": 1, "t:y": 1}
    fi.add(5, ["t:y"])  # posted again, as the settle does
    fi.flush()
    assert all_postings(store) == [("t:y", 5)]
    store.close()


def test_a_delete_by_features_removes_what_a_delete_by_article_does(tmp_path) -> None:
    store, det = catalog_of(tmp_path, articles(27, 30))
    ids = [i for (i,) in store.conn.execute("SELECT id FROM articles ORDER BY id")]
    fi = store.features
    before = all_postings(store)
    fi.remove(ids[2], feature_names(store.get(ids[2]).signals))  # by key
    fi.remove(ids[5])  # the whole table read
    assert all_postings(store) == [(f, i) for f, i in before if i not in (ids[2], ids[5])]
    store.close()


KILLED_MID_COMMIT = """
import os, signal, sys
sys.path.insert(0, {root!r})
from tests.dedup.test_feature_index import articles
from crawler.dedup.detector import Detector
from crawler.dedup.store import ArticleStore
store = ArticleStore({path!r})
det = Detector(store)
for a in articles(28, 30):
    det.add(a)
store.commit()
print(store.count(), flush=True)
for k, a in enumerate(articles(29, 40, host="y.example")):
    a.url = f"https://y.example/{{k}}"
    det.add(a)
calls = []
def kill():  # SQLite calls it every 20 instructions of the commit's statements
    calls.append(1)
    if len(calls) == {after}:
        os.kill(os.getpid(), signal.SIGKILL)
store.conn.set_progress_handler(kill, 20)
store.commit()
print("committed", len(calls), flush=True)
"""


@pytest.mark.parametrize("after", [5, 300])
def test_a_process_killed_while_it_commits_leaves_the_last_commit(tmp_path, after: int) -> None:
    """Killed while its commit writes postings and frequencies (WAL, ``synchronous=NORMAL``): the
    catalog is intact and holds the articles of the commit before, with their postings and counts."""
    import signal
    import subprocess
    import sys
    from collections import Counter
    from pathlib import Path

    path = tmp_path / "c.sqlite3"
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_COMMIT.format(root=root, path=str(path), after=after)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    committed = int(proc.stdout.split()[0])
    store = ArticleStore(path)
    assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = list(store.iter_articles())
    assert len(stored) == committed and not any(a.url.startswith("https://y.example/") for a in stored)
    want = Counter(f for art in stored for f in set(feature_names(art.signals)))
    assert dict(store.conn.execute("SELECT feature, n FROM df WHERE n != 0")) == dict(want)
    posted = all_postings(store)
    assert {i for _f, i in posted} == {a.id for a in stored}
    features = {a.id: set(feature_names(a.signals)) for a in stored}
    assert all(f in features[i] for f, i in posted)
    det = Detector(store)  # and it goes on from there
    det.add(articles(30, 1, host="z.example")[0])
    store.commit()
    assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store.close()


@pytest.mark.parametrize("by_id", [True, False])
def test_candidates_ranked_by_id_or_by_sort_are_the_reference(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                             by_id: bool) -> None:
    """``_ranked`` counts rows by article id while ids are small and sorts them otherwise: the
    same articles either way, in the order and with the weights of ``candidates``."""
    if not by_id:
        monkeypatch.setattr(feature_index, "_BY_ID_ROWS", 0)
        monkeypatch.setattr(feature_index, "_BY_ID_EXTRA", 0)
    store, det = catalog_of(tmp_path, articles(31, 40))
    fi = store.features
    for a in articles(32, 5, host="y.example"):
        feats = det._indexed_features(store.get(det.add(a)[0]).signals)
        weights = fi.idf(feats)
        for max_df, limit in ((30, 300), (30, 3), (30, 1), (5, 300)):
            assert fi.candidate_ids(weights, max_df=max_df, limit=limit) == \
                sorted(i for i, _mass in fi.candidates(weights, max_df=max_df, limit=limit))
    store.close()


def test_count_document_gives_the_ids_of_its_features_in_order(tmp_path) -> None:
    """The ids ``count_document`` returns are what ``ids`` gives the same names (new features
    among them get theirs in name order); none for features that may repeat (not ``distinct``)."""
    store = ArticleStore(tmp_path / "c.sqlite3")
    fi = store.features
    fi.count_document(["t:m", "t:b", "a:x"], distinct=True)
    order = [fi.name(i) for i in range(fi.size())]
    assert order == ["a:x", "t:b", "t:m"]
    feats = ["t:z", "t:b", "a:c", "t:m", "a:a"]  # three new ones among known ones
    ids = fi.count_document(feats, distinct=True)
    assert ids is not None and ids.tolist() == fi.ids(feats).tolist()
    assert [fi.name(i) for i in range(3, fi.size())] == ["a:a", "a:c", "t:z"]  # new: by name
    assert fi.df(feats) == {"t:z": 1, "t:b": 2, "a:c": 1, "t:m": 2, "a:a": 1}
    assert fi.count_document(["t:b", "t:b"]) is None
    assert fi.count_document(("t:q",), distinct=True) is None  # not a list: a set made of it
    store.close()
