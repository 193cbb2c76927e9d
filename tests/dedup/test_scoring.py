"""Vectors and pair scores: cosine and containment over id arrays, equal to the plain dict
computation under the current frequencies (no stale weights), with bounded caches."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from crawler.dedup import scoring
from crawler.dedup.features import Article, compute_signals
from crawler.dedup.scoring import PairScore, Scorer
from crawler.dedup.store import ArticleStore, StoredArticle, feature_names
from crawler.dedup.templates import SourceTemplates

NO_WEIGHTS = np.zeros(0, dtype=np.float64)


class Vector:
    """The per-pair computation ``Scorer.score_many`` replaced (kept as its reference): a sparse weighted vector: feature ids (ascending) and their weights, with norm and mass."""

    __slots__ = ("ids", "mass", "norm", "w")

    def __init__(self, ids: np.ndarray, w: np.ndarray) -> None:
        self.ids = ids
        self.w = w
        self.norm = float(np.sqrt(np.dot(w, w)))
        self.mass = float(w.sum())

    def _shared(self, other: Vector) -> tuple[np.ndarray, np.ndarray]:
        """The weights of the features both hold, in each vector (looked up by binary search
        of the smaller vector's ids in the larger's: cheaper than ``np.intersect1d``'s sort)."""
        x, y = (self, other) if len(self.ids) <= len(other.ids) else (other, self)
        if not len(x.ids) or not len(y.ids):
            return NO_WEIGHTS, NO_WEIGHTS
        at = np.searchsorted(y.ids, x.ids)
        np.minimum(at, len(y.ids) - 1, out=at)
        hit = y.ids[at] == x.ids
        return x.w[hit], y.w[at[hit]]

    def compare(self, other: Vector) -> tuple[float, float]:
        """``(cosine, contained)`` with one intersection."""
        xs, ys = self._shared(other)
        cos = 0.0
        if self.norm and other.norm:
            dot = float(np.dot(xs, ys))
            cos = dot / (self.norm * other.norm) if dot > 0 else 0.0
        inside = 0.0
        if self.mass and other.mass:
            inside = float(np.minimum(xs, ys).sum()) / min(self.mass, other.mass)
        return cos, inside

    def contained(self, other: Vector) -> float:
        """Weighted overlap over the smaller mass: 1.0 when one vector lies inside the other."""
        return self.compare(other)[1]

    def cosine(self, other: Vector) -> float:
        return self.compare(other)[0]


def vectors(scorer: Scorer, art: StoredArticle) -> tuple[Vector, Vector, Vector]:
    """``art``'s anchor, word and headline-word vectors under the scorer's current weights."""
    got = scorer._weigh([art])
    assert got is not None
    f, w = got[0].feats, got[0].w
    t, h = f.words_at, f.headline_at
    return Vector(f.keys[:t], w[:t]), Vector(f.keys[t:h], w[t:h]), Vector(f.keys[h:], w[h:])


# --- the straightforward computation the arrays must equal ----------------------------------
def dict_weights(counts: dict[str, int], idf: dict[str, float], prefix: str,
                 drop: frozenset[str] = frozenset()) -> dict[str, float]:
    return {k: (1.0 + math.log(v)) * idf.get(prefix + k, 0.0) for k, v in counts.items()
            if v > 0 and prefix + k not in drop}


def dict_cosine(x: dict, y: dict) -> float:
    nx, ny = math.sqrt(sum(v * v for v in x.values())), math.sqrt(sum(v * v for v in y.values()))
    if not nx or not ny:
        return 0.0
    dot = sum(v * y[k] for k, v in x.items() if k in y)
    return dot / (nx * ny) if dot > 0 else 0.0


def dict_contained(x: dict, y: dict) -> float:
    mx, my = sum(x.values()), sum(y.values())
    if not mx or not my:
        return 0.0
    return sum(min(v, y[k]) for k, v in x.items() if k in y) / min(mx, my)


def sqlite_idf(store: ArticleStore) -> dict[str, float]:
    """IDF of every feature, from the df table itself (as of a flush: the store's commit)."""
    store.features.flush()
    n = store.features.total()
    return {f: math.log((n + 1) / (d + 0.5)) for f, d in store.conn.execute("SELECT feature, n FROM df")}


def dict_score(store: ArticleStore, a: StoredArticle, b: StoredArticle,
               drop: dict[str, frozenset[str]] | None = None) -> PairScore:
    idf = sqlite_idf(store)
    n = store.features.total()
    for art in (a, b):  # headline words no article holds: df 0
        for w in scoring.headline_words(art.title, art.lang):
            idf.setdefault("t:" + w, math.log((n + 1) / 0.5))
    da, db = (drop or {}).get(a.source, frozenset()), (drop or {}).get(b.source, frozenset())
    aa, ba = dict_weights(a.signals.anchors, idf, "a:", da), dict_weights(b.signals.anchors, idf, "a:", db)
    at, bt = dict_weights(a.signals.terms, idf, "t:", da), dict_weights(b.signals.terms, idf, "t:", db)
    ah = dict_weights(scoring.headline_words(a.title, a.lang), idf, "t:")
    bh = dict_weights(scoring.headline_words(b.title, b.lang), idf, "t:")
    s = PairScore(anchors=dict_cosine(aa, ba), anchors_contained=dict_contained(aa, ba))
    if a.lang == b.lang:
        s.terms, s.terms_contained, s.headline = dict_cosine(at, bt), dict_contained(at, bt), dict_cosine(ah, bh)
    s.hamming = (a.signals.simhash ^ b.signals.simhash).bit_count()
    return s


def assert_same_scores(got: PairScore, want: PairScore) -> None:
    for field in ("anchors", "terms", "anchors_contained", "terms_contained", "headline"):
        assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-12, abs=1e-15), field
    assert got.hamming == want.hamming


def vec(d: dict[int, float]) -> Vector:
    ids = np.array(sorted(d), dtype=np.int32)
    return Vector(ids, np.array([d[i] for i in sorted(d)], dtype=np.float64))


WORDS = ("ransomware hospital botnet phishing router browser stealer miner backdoor trojan patch "
         "outage exploit vendor advisory breach leak espionage wiper worm").split()


def random_articles(store: ArticleStore, n: int, seed: int, *, source: str = "") -> list[StoredArticle]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        words = rnd.sample(WORDS, 8) + [f"word{rnd.randrange(60)}" for _ in range(30)]
        cves = [f"CVE-2024-{rnd.randrange(1000, 1030)}" for _ in range(rnd.randrange(0, 4))]
        a = Article(url=f"https://{seed}.example/{i}", lang=rnd.choice(["en", "en", "zh"]),
                    text=" ".join(words + cves) + ".", title=" ".join(rnd.sample(WORDS, 3)),
                    source=source or rnd.choice(["cert", "news", ""]))
        sig = compute_signals(a)
        store.features.count_document(feature_names(sig))
        got = store.get(store.insert(a, sig))
        assert got is not None
        out.append(got)
    return out


# --- vectors --------------------------------------------------------------------------------
def test_cosine_and_containment() -> None:
    a = vec({1: 1.0, 2: 1.0})
    b = vec({1: 1.0, 2: 1.0, 3: 2.0})
    assert a.contained(b) == pytest.approx(1.0)  # a lies inside b
    assert a.cosine(b) == pytest.approx(2 / (math.sqrt(2) * math.sqrt(6)))
    assert vec({}).cosine(a) == vec({}).contained(a) == a.cosine(vec({})) == 0.0
    assert vec({1: 1.0}).cosine(vec({2: 1.0})) == 0.0
    assert vec({5: 1.0}).compare(vec({1: 1.0, 2: 1.0})) == (0.0, 0.0)  # past the end of the other


@pytest.mark.parametrize("seed", range(20))
def test_array_scores_equal_the_dict_computation_on_random_sparse_vectors(seed: int) -> None:
    rnd = random.Random(seed)
    space = rnd.choice([5, 50, 5000])
    x = {i: rnd.choice([0.0, rnd.random() * 5]) for i in rnd.sample(range(space), rnd.randrange(0, min(space, 400)))}
    y = {i: rnd.random() * 5 for i in rnd.sample(range(space), rnd.randrange(0, min(space, 400)))}
    for a, b in ((x, y), (y, x), (x, x)):
        cos, inside = vec(a).compare(vec(b))
        assert cos == pytest.approx(dict_cosine(a, b), rel=1e-12, abs=1e-15)
        assert inside == pytest.approx(dict_contained(a, b), rel=1e-12, abs=1e-15)


def test_pair_score_mixes() -> None:
    s = PairScore(anchors=0.6, terms=0.3, anchors_contained=0.9, terms_contained=0.7, headline=0.0)
    assert (s.mixed, s.sibling, s.story) == pytest.approx((0.45, 0.8, 0.3))


# --- the scorer ----------------------------------------------------------------------------
def test_scores_equal_the_dict_computation_as_the_frequencies_move() -> None:
    store = ArticleStore(":memory:")
    arts = random_articles(store, 12, seed=1)
    scorer = Scorer(store.features)
    for a in arts:
        for b in arts:
            assert_same_scores(scorer.score(a, b), dict_score(store, a, b))
    first = scorer.score(arts[0], arts[1])
    more = random_articles(store, 3, seed=2)  # 25% more documents, some sharing their words
    assert scorer.cached(arts[0].id)  # the arrays stay; the weights follow at once
    moved = scorer.score(arts[0], arts[1])
    assert moved != first
    assert_same_scores(moved, dict_score(store, arts[0], arts[1]))
    assert_same_scores(scorer.score(arts[0], more[0]), dict_score(store, arts[0], more[0]))
    scorer.forget(arts[0].id)
    assert not scorer.cached(arts[0].id)
    assert_same_scores(scorer.score(arts[0], arts[1]), moved)


def test_template_features_weigh_nothing_exactly_as_left_out() -> None:
    store = ArticleStore(":memory:")
    arts = random_articles(store, 30, seed=3)
    t = SourceTemplates(min_articles=3, min_share=0.3, min_lift=1.2)
    for a in arts:
        t.count(a.source, feature_names(a.signals))
    drop = {s: t.template(s, store.features.df, store.features.total()) for s in ("cert", "news", "")}
    assert drop["cert"] and drop["news"]  # the test means something
    scorer = Scorer(store.features, t)
    for a in arts[:10]:
        for b in arts[10:20]:
            assert_same_scores(scorer.score(a, b), dict_score(store, a, b, drop))


def test_a_restarted_vocabulary_gives_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crawler.dedup.feature_index.VOCABULARY_SIZE", 150)  # a few articles hold more
    store = ArticleStore(":memory:")
    arts = random_articles(store, 10, seed=4)
    scorer = Scorer(store.features)
    epoch = store.features.epoch
    for a in arts:
        for b in arts:
            assert_same_scores(scorer.score(a, b), dict_score(store, a, b))
    assert store.features.epoch > epoch > 0 and len(store.features._names) <= 150


def test_article_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "WEIGHTED_CACHE_SIZE", 3)
    store = ArticleStore(":memory:")
    arts = random_articles(store, 10, seed=5)
    scorer = Scorer(store.features)
    sizes = {a.id: len(scorer.article_features(a).keys) for a in arts}
    scorer.clear()
    bound = sizes[arts[0].id] + sizes[arts[-1].id] + sizes[arts[-2].id]
    monkeypatch.setattr(scoring, "ARTICLE_CACHE_FEATURES", bound)
    for a in arts:
        scorer.score(arts[0], a)
        assert scorer._cached_features == sum(len(f.keys) for f in scorer._cache.values()) <= bound
    assert len(scorer._weighted) <= 4
    assert scorer.cached(arts[-1].id) and not scorer.cached(arts[1].id)  # the least recently scored went
    scorer.forget(arts[-1].id)
    assert scorer._cached_features == sum(len(f.keys) for f in scorer._cache.values()) < bound
    assert_same_scores(scorer.score(arts[1], arts[2]), dict_score(store, arts[1], arts[2]))


# --- all of an article's pairs in one pass ----------------------------------------------------
def pairwise(scorer: Scorer, a: StoredArticle, b: StoredArticle) -> PairScore:
    """One pair through :class:`Vector` (the per-pair computation ``score_many`` replaces)."""
    (aa, at, ah), (ba, bt, bh) = vectors(scorer, a), vectors(scorer, b)
    s = PairScore()
    s.anchors, s.anchors_contained = aa.compare(ba)
    if a.lang == b.lang:
        s.terms, s.terms_contained = at.compare(bt)
        s.headline = ah.cosine(bh)
    s.hamming = (a.signals.simhash ^ b.signals.simhash).bit_count()
    return s


def scorer_of_random_articles(seed: int, *, templates: bool) -> tuple[ArticleStore, list, Scorer]:
    """25 random articles in a catalog in memory, and a scorer over them (with outlet templates
    counted from them when ``templates``)."""
    store = ArticleStore(":memory:")
    arts = random_articles(store, 25, seed=seed)
    t = None
    if templates:
        t = SourceTemplates(min_articles=3, min_share=0.3, min_lift=1.2)
        for a in arts:
            t.count(a.source, feature_names(a.signals))
    return store, arts, Scorer(store.features, t)


@pytest.mark.parametrize("templates", [False, True])
def test_score_many_equals_each_pair_scored_alone(templates: bool) -> None:
    store, arts, scorer = scorer_of_random_articles(6, templates=templates)
    for a in arts[:5]:
        many = scorer.score_many(a, arts)
        assert len(many) == len(arts)
        for b, s in zip(arts, many):
            assert_same_scores(s, pairwise(scorer, a, b))
            assert s == scorer.score(a, b)  # one pair is a batch of one: the same floats
    assert scorer.score_many(arts[0], []) == []


def test_copies_score_alike_in_one_batch() -> None:
    """Two copies of one article get the very same floats (which original a translation has is
    decided between candidates by their scores: a rounding difference must not choose)."""
    store = ArticleStore(":memory:")
    arts = random_articles(store, 8, seed=7)
    copy = Article(url="https://7.example/copy", lang=arts[3].lang, text="", title=arts[3].title,
                   source=arts[3].source)
    sig = arts[3].signals
    store.features.count_document(feature_names(sig))
    twin = store.get(store.insert(copy, sig))
    assert twin is not None
    scorer = Scorer(store.features)
    for a in arts:
        many = scorer.score_many(a, [arts[3], *arts, twin])
        assert many[0] == many[-1] == many[4]


def test_score_many_through_a_restarted_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose features outgrow the vocabulary is scored pair by pair (a pair always fits)."""
    monkeypatch.setattr("crawler.dedup.feature_index.VOCABULARY_SIZE", 150)
    store = ArticleStore(":memory:")
    arts = random_articles(store, 10, seed=8)
    scorer = Scorer(store.features)
    epoch = store.features.epoch
    for a in arts[:3]:
        for b, s in zip(arts, scorer.score_many(a, arts)):
            assert_same_scores(s, dict_score(store, a, b))
    assert store.features.epoch > epoch


# --- the same floats as the plain computation ---------------------------------------------------
def plain_scores(scorer: Scorer, a: StoredArticle, others: list[StoredArticle]) -> list[PairScore]:
    """What ``score_many`` computes, the plain way (the code before its arrays of divisions and
    IDF by frequency): ``idf_of`` per feature, sums run one by one in the order of ``b``'s
    features, the cosines and containments divided in Python. Equal float for float."""
    fi = scorer.features

    def weighed(art: StoredArticle) -> tuple[list[dict[int, float]], list[float], list[float]]:
        f = scorer.article_features(art)
        w = scoring.log_counts(f.counts) * fi.idf_of(f.keys // 3)
        if scorer.templates is not None:
            drop = scorer.templates.template(art.source, fi.df, fi.total())
            if drop:
                w[:f.headline_at][np.isin(f.keys[:f.headline_at] // 3, scorer._dropped(art.source, drop))] = 0.0
        parts, norms, masses = [], [], []
        for lo, hi in ((0, f.words_at), (f.words_at, f.headline_at), (f.headline_at, len(f.keys))):
            part = dict(zip(f.keys[lo:hi].tolist(), w[lo:hi].tolist()))
            squares = mass = 0.0
            for x in part.values():
                squares += x * x
                mass += x
            parts.append(part)
            norms.append(math.sqrt(squares))
            masses.append(mass)
        return parts, norms, masses

    pa, na, ma = weighed(a)
    out = []
    for b in others:
        pb, nb, mb = weighed(b)
        cos, inside = [], []
        for k in range(3):
            dot = shared = 0.0
            for key, y in pb[k].items():
                x = pa[k].get(key)
                if x is not None:
                    dot += x * y
                    shared += min(x, y)
            cos.append(dot / (na[k] * nb[k]) if na[k] and nb[k] and dot > 0 else 0.0)
            inside.append(shared / min(ma[k], mb[k]) if ma[k] and mb[k] else 0.0)
        s = PairScore(anchors=cos[0], anchors_contained=inside[0])
        if a.lang == b.lang:
            s.terms, s.terms_contained, s.headline = cos[1], inside[1], cos[2]
        s.hamming = (a.signals.simhash ^ b.signals.simhash).bit_count()
        if a.when is not None and b.when is not None:
            s.days = (b.when - a.when) / scoring.DAY
        out.append(s)
    return out


@pytest.mark.parametrize("templates", [False, True])
def test_score_many_is_the_plain_computation_float_for_float(templates: bool) -> None:
    store, arts, scorer = scorer_of_random_articles(9, templates=templates)
    for a in arts[:6]:
        assert scorer.score_many(a, arts) == plain_scores(scorer, a, arts)
        random_articles(store, 1, seed=10 + a.id)  # the frequencies move
        assert scorer.score_many(a, arts[::-1]) == plain_scores(scorer, a, arts[::-1])


def test_idf_by_frequency_is_idf_of() -> None:
    """The IDF gathered from a table by document frequency, for a few features and for more than
    the vocabulary holds, as the frequencies move: the floats ``idf_of`` computes."""
    store = ArticleStore(":memory:")
    arts = random_articles(store, 20, seed=11)
    scorer = Scorer(store.features)
    fi = store.features
    for n in range(3):
        few = scorer.article_features(arts[n]).keys
        every = np.concatenate([scorer.article_features(art).keys for art in arts])
        assert len(few) < 3 * fi.size() <= len(every)  # both ways
        for keys in (few, every, every[::-1]):
            assert np.array_equal(scorer._idf(keys), fi.idf_of(keys // 3))
        random_articles(store, 2, seed=12 + n)


def test_score_some_scores_only_the_wanted_and_looks_up_every_feature() -> None:
    """The pairs not wanted get None, the others the floats of ``score_many``; and the vocabulary
    hands out the same ids as when every pair is scored (a headline word no text holds gets its
    id when its article is first weighed): the order of later sums does not change."""
    got = {}
    for some in (False, True):
        store = ArticleStore(":memory:")
        arts = random_articles(store, 12, seed=13)
        extra = Article(url="https://13.example/x", lang="en", text="ransomware hospital botnet.",
                        title="quokka zebrafish ransomware", source="news")
        sig = compute_signals(replace(extra, title=""))  # signals without the title's words
        store.features.count_document(feature_names(sig))
        lone = store.get(store.insert(extra, sig))
        assert lone is not None
        arts.append(lone)
        scorer = Scorer(store.features)
        size = store.features.size()
        wanted = [n % 3 == 0 and n != len(arts) - 1 for n in range(len(arts))]  # not ``lone``
        scored = []
        for a in arts[:4]:
            scored.append(scorer.score_some(a, arts, wanted) if some else scorer.score_many(a, arts))
        assert store.features.size() > size  # the headline words were looked up
        got[some] = (scored, dict(store.features._ids))
    (every, vocabulary), (some_scored, some_vocabulary) = got[False], got[True]
    assert some_vocabulary == vocabulary
    for all_pairs, wanted_pairs in zip(every, some_scored):
        for n, (s, t) in enumerate(zip(all_pairs, wanted_pairs)):
            assert t == (s if n % 3 == 0 and n != 12 else None)


def test_counted_ids_give_the_vectors_and_vocabulary_of_names_looked_up() -> None:
    """A new article's vectors made from the ids ``count_document`` gave (``Scorer.named``) are
    those made by looking its names up: the same ids, and its new headline words get the ids
    they got when looked up with its anchors."""
    made = []
    for counted in (True, False):
        store = ArticleStore(":memory:")
        random_articles(store, 6, seed=5)
        scorer = Scorer(store.features)
        art = Article(url="https://x.example/new", lang="en", title="Quasar zebra advisory",
                      text="Quasar flaw CVE-2031-0001 in Zebra 4.2 exploited. " * 5)
        sig = compute_signals(art)
        names = feature_names(sig)
        ids = store.features.count_document(names, distinct=True)
        assert ids is not None
        new = store.get_many([store.insert(art, sig)])
        stored = next(iter(new.values()))
        scorer.named(stored.signals, names, ids if counted else None)
        feats = scorer.article_features(stored)
        made.append((feats.keys.tolist(), feats.counts.tolist(), store.features.names(list(range(store.features.size())))))
        store.close()
    assert made[0] == made[1]
