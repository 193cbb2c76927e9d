"""The catalog keeps articles, signals and symmetric flags across reopening; delete removes everything."""

from __future__ import annotations

from crawler.dedup.features import Article, compute_signals
from crawler.dedup.store import ArticleStore

TEXT = "LockBit ransomware hits St. Olaf Medical Center. CVE-2024-1709 exploited; 1.2 million records stolen."


def test_round_trip(tmp_path):
    path = tmp_path / "c.sqlite3"
    art = Article(url="https://a.example/x", lang="en", text=TEXT, title="T", source="a",
                  published="2024-03-01T10:00:00+00:00", fetched_at="2024-03-02T00:00:00Z", warc_record_id="<urn:uuid:1>")
    sig = compute_signals(art)
    with ArticleStore(path) as store:
        a = store.insert(art, sig)
        b = store.insert(Article(url="https://b.example/y", lang="en", text=TEXT + " Update."), compute_signals(
            Article(url="https://b.example/y", lang="en", text=TEXT + " Update.")))
        store.add_flag(a, b, "repost", 0.9, "content", {"hamming": 2})
        store.commit()
    with ArticleStore(path) as store:
        got = store.get(a)
        assert got.url == art.url and got.title == "T" and got.warc_record_id == "<urn:uuid:1>"
        assert got.signals == sig
        assert [(f.other, f.kind, f.basis) for f in store.flags_of(a)] == [(b, "repost", "content")]
        assert [(f.other, f.kind) for f in store.flags_of(b)] == [(a, "repost")]
        assert store.ids_by_content_hash(sig.content_hash) == [a]
        ids, fps = store.simhashes()
        assert list(ids) == [a, b] and int(fps[0]) == sig.simhash
        store.delete(a)
        assert store.get(a) is None and store.flags_of(b) == []
        assert store.count() == 1


def test_inserted_signals_read_back_as_stored(tmp_path):
    store = ArticleStore(tmp_path / "c.sqlite3")
    art = Article(url="https://a.example/1", lang="en", text="Microsoft fixed CVE-2024-21412 in March.")
    sig = compute_signals(art)
    i = store.insert(art, sig)
    cached = store.get(i).signals
    assert cached == sig and cached is not sig
    sig.anchors["later"] = 1  # the caller's object is not the catalog's
    assert "later" not in store.get(i).signals.anchors
    store.commit()
    store.close()
    again = ArticleStore(tmp_path / "c.sqlite3")
    assert again.get(i).signals == cached  # what the JSON decodes to
    again.close()


def test_get_many_mixes_cached_and_uncached_articles(tmp_path):
    store = ArticleStore(tmp_path / "c.sqlite3")
    ids = []
    for n in range(6):
        art = Article(url=f"https://a.example/{n}", lang="en", title=f"T{n}", text=f"Microsoft fixed CVE-2024-{1000 + n}.")
        ids.append(store.insert(art, compute_signals(art)))
    store.commit()
    store.close()
    store = ArticleStore(tmp_path / "c.sqlite3")  # nothing cached
    store.get(ids[4])
    store.get(ids[1])  # two cached, read without their JSON
    got = store.get_many([ids[0], ids[1], ids[3], ids[4], 999])
    assert list(got) == [ids[0], ids[1], ids[3], ids[4]]
    assert [a.title for a in got.values()] == ["T0", "T1", "T3", "T4"]
    assert all(f"cve-2024-{1000 + n}" in got[ids[n]].signals.anchors for n in (0, 1, 3, 4))
    store.close()


def test_signals_cache_is_bounded_by_features_held(tmp_path, monkeypatch):
    import crawler.dedup.store as store_module

    def article(n: int) -> Article:
        words = " ".join(f"word{n}x{k}" for k in range(40))  # 40 distinct terms each
        return Article(url=f"https://a.example/{n}", lang="en", text=f"Microsoft fixed CVE-2024-{1000 + n}. {words}")

    def held(store: ArticleStore) -> int:  # words not read yet (a candidate's) hold nothing
        return sum(1 + len(s.anchors) + (len(s.terms) if getattr(s.terms, "loaded", True) else 0)
                   for s in store._signals.values())

    sample = compute_signals(article(0))
    one = 1 + len(sample.terms) + len(sample.anchors)
    monkeypatch.setattr(store_module, "SIGNALS_CACHE_FEATURES", 3 * one)
    store = ArticleStore(tmp_path / "c.sqlite3")
    sigs = {}
    for n in range(12):
        sig = compute_signals(article(n))
        sigs[store.insert(article(n), sig)] = sig
        assert held(store) == store._signals_features <= 3 * one  # the count is exact, within the budget
    assert len(store._signals) == 3 and set(store._articles) <= set(store._signals)
    # evicted articles read back from their JSON, equal to what was stored
    got = store.get_many(sorted(sigs))
    assert all(got[i].signals == sigs[i] for i in sigs)
    assert held(store) == store._signals_features <= 3 * one
    store.delete(max(store._signals))
    assert held(store) == store._signals_features and len(store._signals) == 2
    store.close()


def reopened_with_three(path):
    """A catalog of three stored articles, opened again (nothing cached): ``(store, ids, signals)``."""
    arts = [Article(url=f"https://a.example/{n}", lang="en", title=f"T{n}",
                    text=f"Microsoft fixed CVE-2024-{1000 + n} after hospital ransomware word{n}.") for n in range(3)]
    sigs = [compute_signals(a) for a in arts]
    with ArticleStore(path) as store:
        ids = [store.insert(a, s) for a, s in zip(arts, sigs)]
    return ArticleStore(path), ids, sigs


def test_candidates_words_are_read_when_first_used(tmp_path):
    store, ids, sigs = reopened_with_three(tmp_path / "c.sqlite3")
    got = store.get_many(ids)
    terms = got[ids[0]].signals.terms
    assert getattr(terms, "loaded", True) is False  # anchors and links now, words later
    assert got[ids[0]].signals.anchors == sigs[0].anchors
    before = store._signals_features
    assert dict(terms.items()) == sigs[0].terms and list(terms) == list(sigs[0].terms)  # same words, same order
    assert store._signals_features == before + len(sigs[0].terms)  # counted in the cache once read
    assert all(got[i].signals == s for i, s in zip(ids, sigs))
    store.delete(ids[1])  # its words read before its row goes: frequencies come down by them
    store.rollback()
    assert store._signals == {} and store.get(ids[1]).signals == sigs[1]  # the rollback forgot the cache
    store.close()


def test_articles_read_for_callers_keep_their_words_after_the_store_closes(tmp_path):
    """A candidate read lazily by the detector and then listed by a caller (a report, a test's
    comparison) carries its words: the caller may use it after the store is closed."""
    store, ids, sigs = reopened_with_three(tmp_path / "c.sqlite3")
    store.get_many(ids)  # cached with their words not read yet
    listed = list(store.iter_articles())
    one = store.get(ids[2])
    store.close()
    assert [a.signals.terms for a in listed] == [s.terms for s in sigs]
    assert one is not None and dict(one.signals.terms) == sigs[2].terms


def test_signals_row_is_the_json_of_the_signals(tmp_path):
    """The row is spliced from the anchors' and words' JSON (``encoded_words``): the same text as
    encoding the signals whole."""
    import json

    store = ArticleStore(tmp_path / "c.sqlite3")
    art = Article(url="https://a.example/1", lang="en", text='Microsoft fixed CVE-2024-21412 in "March" \\ 勒索软件.')
    sig = compute_signals(art)
    sig.source_links = [{"url": "x.example/2", "kind": "source"}]
    i = store.insert(art, sig)
    (row,) = store.conn.execute("SELECT signals FROM articles WHERE id = ?", (i,)).fetchone()
    assert row == json.dumps(sig.to_json(), ensure_ascii=False)
    store.close()
