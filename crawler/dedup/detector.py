"""Decides how a new article relates to the catalog: exact, repost, translation, sibling, same story, attributed.

One path for the crawl pipeline, the rebuild command and the quality benchmark:
``Detector.add(article)`` computes signals, finds candidates (same content hash, Hamming
neighbours of the simhash, source links, rare shared anchors and terms), scores each pair,
stores the article and its flags, and returns the flags. ``Detector.settle()`` decides a
young catalog's flags again at the end of a crawl (see its docstring).

Kinds (each pair has at most one, stored both ways):
- ``exact``: same normalised wording.
- ``repost``: same language, simhash within ``repost_hamming`` bits or term cosine at least
  ``repost_cosine`` (an edited reprint).
- ``translation``: different languages; the anchor cosine agrees (content) or one names the
  other as its source (link). A translation has one original: a zh article keeps only its
  best content-based original (the earliest close one, never a reprint of an earlier one).
- ``translation_sibling``: same language, both translations of one original (they cite the
  same source, or the containment of their anchors and words agrees and one says it is
  translated, or each is flagged a translation of the same archived original: basis
  ``inherited``). Two that name different sources are not siblings.
- ``same_story``: same language, one incident reported by two outlets within a few days
  (anchors, words and headline agree); an outlet's own follow-ups are not flagged.
- ``attributed``: one names the other as its source but the content does not confirm a
  closer relation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.near_index import NearDuplicateIndex
from crawler.dedup.normalize import fold
from crawler.dedup.features import Article, Signals, compute_signals, parse_when
from crawler.dedup.store import ArticleStore, StoredArticle, feature_names
from crawler.dedup.terms import terms

DAY = 86400.0
KINDS = ("exact", "repost", "translation", "translation_sibling", "same_story", "attributed")


@dataclass
class PairScore:
    anchors: float = 0.0  # cosine of IDF-weighted anchors
    terms: float = 0.0  # cosine of IDF-weighted words (same language only)
    anchors_contained: float = 0.0  # weighted share of the smaller anchor set found in the other
    terms_contained: float = 0.0
    headline: float = 0.0  # cosine of the titles' words (same language only)
    hamming: int = 64
    days: float | None = None  # other.when - new.when

    @property
    def mixed(self) -> float:
        return (self.anchors + self.terms) / 2

    @property
    def sibling(self) -> float:
        """Two Chinese translations of one original. Containment, not cosine: one outlet adds an
        editor's note, a digest of other news or a long footer, and a cosine counts all of it
        against the pair; what matters is how much of the shorter text the other one holds."""
        return (self.anchors_contained + self.terms_contained) / 2

    @property
    def story(self) -> float:
        """Two English reports of one incident: names, words, and the headline, which English
        outlets write plainly (WeChat headlines are not: "POC/EXP请私发我", so siblings leave them out)."""
        return (self.anchors + self.terms + self.headline) / 3


@dataclass
class Match:
    """A flag as returned to callers: the other article and the relation."""

    article_id: int
    url: str
    captured: str | None
    kind: str
    score: float
    basis: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_item(self) -> dict[str, Any]:
        return {"url": self.url, "captured": self.captured, "kind": self.kind, "score": round(self.score, 4), "basis": self.basis}


def _weights(counts: dict[str, int], idf: dict[str, float], prefix: str) -> dict[str, float]:
    return {k: (1.0 + math.log(v)) * idf.get(prefix + k, 0.0) for k, v in counts.items() if v > 0}


class _Vec:
    __slots__ = ("w", "norm", "mass")

    def __init__(self, w: dict[str, float]) -> None:
        self.w = w
        self.norm = math.sqrt(sum(v * v for v in w.values()))
        self.mass = sum(w.values())

    def contained(self, other: _Vec) -> float:
        """Weighted overlap over the smaller mass: 1.0 when one vector lies inside the other."""
        if not self.mass or not other.mass:
            return 0.0
        x, y = (self.w, other.w) if len(self.w) <= len(other.w) else (other.w, self.w)
        inter = sum(min(v, y[k]) for k, v in x.items() if k in y)
        return inter / min(self.mass, other.mass)

    def cosine(self, other: _Vec) -> float:
        if not self.norm or not other.norm:
            return 0.0
        x, y = (self.w, other.w) if len(self.w) <= len(other.w) else (other.w, self.w)
        dot = sum(v * y[k] for k, v in x.items() if k in y)
        return dot / (self.norm * other.norm) if dot > 0 else 0.0


class Detector:
    """The near-duplicate and translation detector over one :class:`ArticleStore`."""

    def __init__(
        self,
        store: ArticleStore,
        settings: Thresholds = DEFAULTS,
        *,
        index: NearDuplicateIndex | None = None,
        update_frequencies: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings
        #: False when the frequencies were seeded from the whole collection beforehand
        #: (benchmarks; a catalog seeded from an earlier crawl).
        self.update_frequencies = update_frequencies
        if index is None:
            index = NearDuplicateIndex(k=settings.repost_hamming)
            ids, fps = store.simhashes()
            if len(ids):
                index.bulk_load(ids, fps)
        self.index = index
        self._vec_cache: dict[int, tuple[int, _Vec, _Vec, _Vec]] = {}

    # --- public -------------------------------------------------------------------------
    def add(self, article: Article, signals: Signals | None = None) -> tuple[int, list[Match]]:
        """Store ``article`` and flag its relations to the catalog; returns (id, matches)."""
        sig = signals if signals is not None else compute_signals(article)
        old = self.store.by_url(article.url)
        if old is not None:
            self.delete(old.id)
        feats = feature_names(sig)
        if self.update_frequencies:
            self.store.features.count_document(feats)
        new_id = self.store.insert(article, sig)
        new = self.store.get(new_id)
        matches = self._relate(new)
        self.store.features.add(new_id, self._indexed_features(sig))
        self.index.insert(new_id, sig.simhash)
        return new_id, matches

    def settle(self) -> bool:
        """Decide every flag of a young catalog again, with the catalog's final statistics.

        In the first articles of a fresh catalog, word and anchor weights come from a handful
        of documents, mostly about the few stories crawled so far, so what two articles are
        to each other depends on which arrived first. While the catalog holds at most
        ``settings.young_catalog`` articles, this replays them in publication order against the
        frequencies of all of them (as ``bench/dedup_quality.py`` does), so the result no longer
        depends on crawl order. The crawl pipeline and ``dedup rebuild`` call it at the end.
        Returns whether it ran.
        """
        total = self.store.count()
        if not total or total > self.settings.young_catalog:
            return False
        articles = sorted(self.store.iter_articles(), key=lambda a: (a.when if a.when is not None else math.inf, a.id))
        self.store.clear_flags()
        for art in articles:
            self.store.features.remove(art.id)
            self.index.delete(art.id)
        self._vec_cache.clear()
        settled: set[int] = set()
        for art in articles:
            self._relate(art, among=settled)
            self.store.features.add(art.id, self._indexed_features(art.signals))
            self.index.insert(art.id, art.signals.simhash)
            settled.add(art.id)
        return True

    def delete(self, article_id: int) -> None:
        self._vec_cache.pop(article_id, None)
        self.store.delete(article_id)
        self.index.delete(article_id)

    # --- candidates ---------------------------------------------------------------------
    def _indexed_features(self, sig: Signals) -> list[str]:
        idf = self.store.features.idf(feature_names(sig))
        terms = _weights(sig.terms, idf, "t:")
        top = sorted(terms, key=lambda t: (-terms[t], t))[: self.settings.indexed_terms]
        return ["a:" + a for a in sig.anchors if not a.startswith("n:") or len(a) > 4] + ["t:" + t for t in top]

    def _candidates(self, new: StoredArticle, among: set[int] | None = None) -> dict[int, set[str]]:
        sig = new.signals
        found: dict[int, set[str]] = {}

        def note(i: int, why: str) -> None:
            if i != new.id and (among is None or i in among):
                found.setdefault(i, set()).add(why)

        for i in self.store.ids_by_content_hash(sig.content_hash):
            note(i, "exact")
        for i, _d in self.index.query(sig.simhash):
            note(i, "simhash")
        # Links: it names an archived page; archived pages name it; both name one source.
        for link in sig.source_links:
            for i in self.store.ids_by_url_key(link["url"]):
                note(i, "cites")
            citers = self.store.citing(link["url"])
            if len(citers) <= self.settings.shared_source_max:
                for i, _kind in citers:
                    note(i, "same_source")
        if sig.url_key:
            for i, _kind in self.store.citing(sig.url_key):
                note(i, "cited_by")
        # Content: rare shared anchors and terms.
        feats = self._indexed_features(sig)
        idf = self.store.features.idf(feats)
        max_df = max(self.settings.candidate_min_df, int(self.settings.candidate_max_df_ratio * self.store.features.total()))
        for i, _mass in self.store.features.candidates(
            {f: idf[f] for f in feats}, max_df=max_df, limit=self.settings.max_candidates
        ):
            note(i, "content")
        return found

    # --- scoring --------------------------------------------------------------------------
    def _vectors(self, art: StoredArticle, idf: dict[str, float] | None) -> tuple[_Vec, _Vec, _Vec]:
        """IDF-weighted anchor, word and headline-word vectors, cached while N moves < 1%."""
        total = self.store.features.total()
        hit = self._vec_cache.get(art.id)
        if hit is not None and abs(hit[0] - total) <= total * 0.01:
            return hit[1], hit[2], hit[3]
        headline = terms(fold(art.title), art.lang) if art.title else {}
        names = feature_names(art.signals) + ["t:" + w for w in headline]
        if idf is None:
            idf = self.store.features.idf(names)
        else:
            # The caller's idf covers the articles it expected to miss the cache; a stale
            # entry must not be rebuilt with weights of 0 for the features it lacks.
            missing = [f for f in names if f not in idf]
            if missing:
                idf = {**idf, **self.store.features.idf(missing)}
        va = _Vec(_weights(art.signals.anchors, idf, "a:"))
        vt = _Vec(_weights(art.signals.terms, idf, "t:"))
        vh = _Vec(_weights(headline, idf, "t:"))
        if len(self._vec_cache) > 100_000:
            self._vec_cache.clear()
        self._vec_cache[art.id] = (total, va, vt, vh)
        return va, vt, vh

    def score(self, a: StoredArticle, b: StoredArticle, idf: dict[str, float] | None = None) -> PairScore:
        if idf is None:
            idf = self.store.features.idf(feature_names(a.signals) + feature_names(b.signals))
        aa, at, ah = self._vectors(a, idf)
        ba, bt, bh = self._vectors(b, idf)
        s = PairScore()
        s.anchors = aa.cosine(ba)
        s.anchors_contained = aa.contained(ba)
        if a.lang == b.lang:
            s.terms = at.cosine(bt)
            s.terms_contained = at.contained(bt)
            s.headline = ah.cosine(bh)
        s.hamming = (a.signals.simhash ^ b.signals.simhash).bit_count()
        if a.when is not None and b.when is not None:
            s.days = (b.when - a.when) / DAY
        return s

    def _relate(self, new: StoredArticle, among: set[int] | None = None) -> list[Match]:
        """Flag ``new`` against the catalog (or only the articles ``among``, when settling)."""
        st = self.settings
        found = self._candidates(new, among)
        others = self.store.get_many(sorted(found))
        widest = max(st.sibling_window_days, st.story_window_days, *map(abs, st.translation_window_days)) * DAY
        for oid in list(others):
            o = others[oid]
            if found[oid] == {"content"} and new.when is not None and o.when is not None and abs(o.when - new.when) > widest:
                del others[oid]
        all_feats = set(feature_names(new.signals))
        for o in others.values():
            if o.id not in self._vec_cache:
                all_feats.update(feature_names(o.signals))
        idf = self.store.features.idf(all_feats)
        self._vec_cache.pop(new.id, None)
        new_links = {link["url"]: link["kind"] for link in new.signals.source_links}

        named_originals = _named_originals(new)
        new_sources = _sources(new)

        decided: list[tuple[StoredArticle, str, float, str, dict[str, Any]]] = []
        originals: list[tuple[float, StoredArticle, PairScore]] = []
        unnamed_originals: list[tuple[float, StoredArticle, PairScore]] = []
        content_match = False  # some candidate matches by content (refutes links the content contradicts)
        weak_links: set[int] = set()
        for oid in sorted(others):
            other = others[oid]
            why = found[oid]
            s = self.score(new, other, idf)
            same_lang = new.lang == other.lang
            link = self._link_relation(new, other, why, new_links)
            kind, score = None, 0.0
            if new.signals.content_hash == other.signals.content_hash and new.signals.length > 0:
                kind, score = "exact", 1.0
            elif same_lang and (s.hamming <= st.repost_hamming or s.terms >= st.repost_cosine) and new.signals.length > 0:
                kind, score = "repost", max(1.0 - s.hamming / 64.0, s.terms)
            elif not same_lang:
                zh_en_days = self._translation_days(new, other, s)
                if (
                    s.anchors >= st.translation_min
                    and zh_en_days is not None
                    and st.translation_window_days[0] <= zh_en_days <= st.translation_window_days[1]
                ):
                    content_match = True
                    if self._is_translation_side(new, other):
                        # An article that names its original is not matched to another by
                        # content, unless the named page is archived and its content refutes it.
                        if not named_originals or other.url_key in named_originals:
                            originals.append((s.anchors, other, s))
                        else:
                            unnamed_originals.append((s.anchors, other, s))
                    elif self._beats_current_original(other, new, s.anchors):
                        kind, score = "translation", s.anchors
            else:
                days = abs(s.days) if s.days is not None else 0.0
                if new.lang == "zh":
                    other_sources = _sources(other)
                    if new_sources and other_sources and not (new_sources & other_sources):
                        # Each names where it comes from, and they differ: two translations of
                        # two reports, related through their originals (an en same_story), not
                        # siblings. (English reports cite references freely: not applied there.)
                        pass
                    elif s.sibling >= st.sibling_min and days <= st.sibling_window_days:
                        translated = new.signals.translated or other.signals.translated
                        kind, score = ("translation_sibling" if translated else "same_story"), s.sibling
                elif s.story >= st.story_min and days <= st.story_window_days:
                    kind, score = "same_story", s.story
                if kind == "same_story" and new.source and new.source == other.source:
                    kind = None  # an outlet's follow-ups are its own stories, not a rewrite of another's
            basis = "content"
            if kind is not None:
                content_match = True
            if link is not None:
                if kind is None:
                    # Names and figures, not vocabulary: any two security reports share words.
                    agree = s.anchors if not same_lang or _has_anchors(new, other) else max(s.anchors, s.terms)
                    if agree < st.link_min_content:
                        weak_links.add(other.id)
                    kind, score, basis = link, max(s.mixed if same_lang else s.anchors, 0.0), "link"
                else:
                    basis = "content+link"
            if kind is not None:
                decided.append((other, kind, score, basis, {"anchors": round(s.anchors, 4), "terms": round(s.terms, 4), "hamming": s.hamming}))
        if weak_links and content_match:
            # The content matches something else and not the linked page: a wrong link.
            refuted = {d[0].url_key for d in decided if d[0].id in weak_links}
            decided = [d for d in decided if d[0].id not in weak_links]
            if named_originals and not originals and named_originals & refuted:
                # The page it names is archived and is not what it translates: find the
                # original by content, as for an article that names none.
                originals = unnamed_originals
        best_original = self._pick_original(originals)
        has_link_original = any(
            d[1] == "translation" and d[3] != "content" and self._is_translation_side(new, d[0]) for d in decided
        )
        if best_original is not None and has_link_original:
            # A translation has one original: the one it names wins over a content guess.
            if not any(d[0].id == best_original[1].id for d in decided):
                best_original = None
        if best_original is not None:
            best_original = self._first_copy(new, best_original, idf)
            score, other, s = best_original
            if not any(d[0].id == other.id for d in decided):
                decided.append((other, "translation", score, "content", {"anchors": round(s.anchors, 4), "hamming": s.hamming}))
            for d in decided:
                if d[0].id == other.id and d[1] == "translation" and d[3] == "link":
                    decided[decided.index(d)] = (d[0], d[1], d[2], "content+link", d[4])
                    break

        # A repost inherits what it copies: its original's translations, siblings and stories.
        have = {d[0].id for d in decided}
        for other, kind, _score, _basis, _detail in list(decided):
            if kind not in ("exact", "repost"):
                continue
            for f in self.store.flags_of(other.id):
                if f.other in have or f.other == new.id or f.kind in ("exact", "repost", "attributed"):
                    continue
                third = self.store.get(f.other)
                if third is None:
                    continue
                if f.kind == "translation":
                    if not self._is_translation_side(new, third):
                        # A copy of the original is not a second original: the translation
                        # keeps the one it has (and the copy is linked to it as a repost).
                        continue
                    if any(d[1] == "translation" and self._is_translation_side(new, d[0]) for d in decided):
                        continue  # one original per translation
                have.add(third.id)
                decided.append((third, f.kind, f.score, "inherited", {"via": other.url}))

        # Two translations of one original are siblings, however differently they are worded.
        have = {d[0].id for d in decided}
        for original in [d[0] for d in decided if d[1] == "translation" and self._is_translation_side(new, d[0])]:
            for f in self.store.flags_of(original.id):
                if f.kind != "translation" or f.other in have or f.other == new.id:
                    continue
                third = self.store.get(f.other)
                if third is None or third.lang != new.lang or not self._is_translation_side(third, original):
                    continue
                have.add(third.id)
                decided.append((third, "translation_sibling", f.score, "inherited", {"via": original.url}))

        matches = []
        for other, kind, score, basis, detail in decided:
            if kind == "translation" and not self._is_translation_side(new, other):
                # ``new`` is an original: it displaces the translation's content-based guess
                # (a weaker one, or any when ``new`` is named by link).
                for f in self.store.flags_of(other.id):
                    if f.kind == "translation" and f.basis == "content" and (basis != "content" or f.score < score):
                        self.store.remove_flag(other.id, f.other)
            first = new if (new.when or 0) <= (other.when or 0) else other
            detail["first"] = first.url
            if kind == "translation":
                detail["original"] = (other if self._is_translation_side(new, other) else new).url
            self.store.add_flag(new.id, other.id, kind, float(score), basis, detail)
            matches.append(Match(other.id, other.url, other.fetched_at or other.published, kind, float(score), basis, detail))
        self._link_siblings(new, decided)
        matches.sort(key=lambda m: (-m.score, m.article_id))
        return matches

    def _link_siblings(self, new: StoredArticle, decided: list) -> None:
        """``new`` is the original of several translations already archived: flag them as
        siblings of each other where they have no closer relation. A same_story flag made before
        the original arrived is upgraded: knowing the shared original is the more precise fact."""
        translations = [
            (d[0], d[2]) for d in decided if d[1] == "translation" and not self._is_translation_side(new, d[0])
        ]
        closer = ("exact", "repost", "translation_sibling")
        for n, (a, sa) in enumerate(translations):
            related = {f.other: f.kind for f in self.store.flags_of(a.id)}
            for b, sb in translations[n + 1:]:
                if related.get(b.id) in closer or a.lang != b.lang:
                    continue
                self.store.add_flag(a.id, b.id, "translation_sibling", float(min(sa, sb)), "inherited", {"via": new.url})

    # --- helpers ----------------------------------------------------------------------------
    def _link_relation(self, new: StoredArticle, other: StoredArticle, why: set[str], new_links: dict[str, str]) -> str | None:
        """The relation the source links alone support, if any."""
        same_lang = new.lang == other.lang
        if "cites" in why or "cited_by" in why:
            if not same_lang:
                return "translation"
            return "attributed"
        if "same_source" in why:
            shared = [u for u, _k in ((l["url"], l["kind"]) for l in other.signals.source_links) if u in new_links]
            if shared and same_lang:
                if new.signals.translated or other.signals.translated:
                    return "translation_sibling"
                return "same_story"
            if shared:
                return "same_story"
        return None

    @staticmethod
    def _is_translation_side(new: StoredArticle, other: StoredArticle) -> bool:
        """Whether ``new`` is the translation (not the original) of a cross-language pair:
        the non-English side, or else the later one."""
        if new.lang != "en" and other.lang == "en":
            return True
        if new.lang == "en" and other.lang != "en":
            return False
        return (new.when or 0) >= (other.when or 0)

    def _translation_days(self, new: StoredArticle, other: StoredArticle, s: PairScore) -> float | None:
        """Days from the original's date to the translation's."""
        if s.days is None:
            return 0.0
        return -s.days if self._is_translation_side(new, other) else s.days

    def _pick_original(
        self, originals: list[tuple[float, StoredArticle, PairScore]]
    ) -> tuple[float, StoredArticle, PairScore] | None:
        """The original among content candidates: the earliest of those within the margin of the best."""
        if not originals:
            return None
        best = max(o[0] for o in originals)
        close = [o for o in originals if o[0] >= self.settings.translation_margin * best]
        return min(close, key=lambda o: (o[1].when if o[1].when is not None else math.inf, -o[0], o[1].id))

    def _first_copy(
        self, new: StoredArticle, chosen: tuple[float, StoredArticle, PairScore], idf: dict[str, float]
    ) -> tuple[float, StoredArticle, PairScore]:
        """A reprint is not an original: when the chosen original is an exact copy or repost of
        an earlier article (a flag already in the catalog), the translation's original is that one."""
        score, art, s = chosen
        best = None
        for f in self.store.flags_of(art.id):
            if f.kind not in ("exact", "repost") or f.other == new.id:
                continue
            copy = self.store.get(f.other)
            if copy is None or copy.lang != art.lang or copy.when is None or art.when is None or copy.when >= art.when:
                continue
            if best is None or copy.when < best.when:
                best = copy
        if best is None:
            return chosen
        s_copy = self.score(new, best, idf)
        days = self._translation_days(new, best, s_copy)
        lo, hi = self.settings.translation_window_days
        if days is None or not lo <= days <= hi:
            return chosen
        return max(s_copy.anchors, score), best, s_copy

    def _beats_current_original(self, translation: StoredArticle, new: StoredArticle, score: float) -> bool:
        """Whether ``new`` (an original arriving after ``translation``) replaces its current original."""
        named = _named_originals(translation)
        if named and new.url_key not in named:
            return False
        r = self.settings.translation_margin
        for f in self.store.flags_of(translation.id):
            if f.kind != "translation":
                continue
            if f.basis != "content":
                return False
            current = self.store.get(f.other)
            cur_when = current.when if current is not None and current.when is not None else math.inf
            new_when = new.when if new.when is not None else math.inf
            if score >= r * f.score and f.score >= r * score:
                if new_when >= cur_when:
                    return False  # as good, but not earlier
            elif f.score > score:
                return False
        return True


def _named_originals(art: StoredArticle) -> set[str]:
    """The pages an article says it translates (本文翻译自, 原文链接 ...), normalised."""
    return {link["url"] for link in art.signals.source_links if link["kind"] == "translated_from"}


def _sources(art: StoredArticle) -> set[str]:
    """Every page an article names as its source or reference, normalised, without the query:
    to say that two articles name *different* pages, ``?web_view=true`` must not count."""
    return {link["url"].split("?", 1)[0] for link in art.signals.source_links}


def _has_anchors(a: StoredArticle, b: StoredArticle, least: int = 3) -> bool:
    return len(a.signals.anchors) >= least and len(b.signals.anchors) >= least


def find_related(store: ArticleStore, url: str) -> list[Match]:
    """The stored relations of the article at ``url`` (nearest first)."""
    art = store.by_url(url)
    if art is None:
        return []
    out = []
    flags = store.flags_of(art.id)
    others = store.get_many([f.other for f in flags])
    for f in flags:
        o = others.get(f.other)
        if o is not None:
            out.append(Match(o.id, o.url, o.fetched_at or o.published, f.kind, f.score, f.basis, f.detail))
    return out


__all__ = ["Detector", "Match", "PairScore", "KINDS", "find_related", "parse_when"]
