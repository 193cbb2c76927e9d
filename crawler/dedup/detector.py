"""Decides how a new article relates to the catalog: exact, repost, translation, sibling, same story, attributed.

One path for the crawl pipeline, the rebuild command and the quality benchmark:
``Detector.add(article)`` computes signals, finds candidates (same content hash, Hamming
neighbours of the simhash, source links, rare shared anchors and terms), scores each pair
(``scoring.py``), decides each pair (``rules.py``), chooses a translation's one original
(``originals.py``), lets copies and translations inherit relations, stores the article and its
flags, and returns the flags. ``Detector.settle()`` decides a young catalog's flags again at
the end of a crawl (see its docstring). The kinds are described in ``kinds.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from crawler.dedup import originals, rules
from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.features import Article, Signals, compute_signals, parse_when
from crawler.dedup.kinds import COPIES, Basis, Kind
from crawler.dedup.near_index import NearDuplicateIndex
from crawler.dedup.originals import Candidate
from crawler.dedup.rules import Decision, Found, is_translation_side
from crawler.dedup.scoring import DAY, PairScore, Scorer
from crawler.dedup.store import ArticleStore, StoredArticle, feature_names
from crawler.dedup.templates import SourceTemplates


@dataclass
class Match:
    """A flag as returned to callers: the other article and the relation."""

    article_id: int
    url: str
    captured: str | None
    kind: Kind
    score: float
    basis: Basis
    detail: dict[str, Any] = field(default_factory=dict)

    def as_item(self) -> dict[str, Any]:
        """The flag as an item's ``duplicates`` entry, with its evidence when known."""
        item = {"url": self.url, "captured": self.captured, "kind": str(self.kind), "score": round(self.score, 4),
                "basis": str(self.basis)}
        if self.detail.get("evidence"):
            item["evidence"] = self.detail["evidence"]
        return item

    def explain(self) -> str:
        """One line on why: how alike the content is, the anchors both name, what disagrees
        (incident ids, the products of one outlet's template), the source link, the article a
        flag is inherited through."""
        ev = self.detail.get("evidence") or {}
        parts = []
        alike = [f"{name} {self.detail[key]:.2f}" for key, name in (("anchors", "anchors"), ("terms", "words"))
                 if isinstance(self.detail.get(key), (int, float)) and self.detail[key]]
        if alike:
            parts.append(", ".join(alike))
        if ev.get("shared"):
            parts.append("shared " + ", ".join(ev["shared"]))
        if ev.get("conflicting"):
            parts.append("conflicting " + ", ".join(ev["conflicting"]))
        if ev.get("conflicting_products"):
            parts.append("different products " + ", ".join(ev["conflicting_products"]))
        if ev.get("source"):
            parts.append("source " + ev["source"])
        if self.detail.get("via"):
            parts.append("via " + self.detail["via"])
        return "; ".join(parts)


@dataclass
class _Judged:
    """Every candidate of one new article judged: the flags so far, and what decides the rest."""

    decided: list[Decision] = field(default_factory=list)
    #: Content candidates for the original of ``new`` (it is their translation) ...
    originals: list[Candidate] = field(default_factory=list)
    #: ... and those not among the pages it names as its original.
    unnamed: list[Candidate] = field(default_factory=list)
    #: Some candidate matches by content (refutes the links the content contradicts).
    content_match: bool = False
    weak_links: set[int] = field(default_factory=set)


class Detector:
    """The near-duplicate and translation detector over one :class:`ArticleStore`."""

    #: Told every pair each content decision weighs, with its features (``rules.Observe``):
    #: ``bench/fit_model.py`` sets it on its detector to collect what the models are fitted on.
    observe: rules.Observe | None = None

    def __init__(
        self,
        store: ArticleStore,
        thresholds: Thresholds = DEFAULTS,
        *,
        index: NearDuplicateIndex | None = None,
        update_frequencies: bool = True,
    ) -> None:
        self.store = store
        self.thresholds = thresholds
        #: False when the frequencies were seeded from the whole collection beforehand
        #: (benchmarks; a catalog seeded from an earlier crawl).
        self.update_frequencies = update_frequencies
        if index is None:
            index = NearDuplicateIndex(k=thresholds.repost_hamming)
            ids, fps = store.simhashes()
            if len(ids):
                index.bulk_load(ids, fps)
        self.index = index
        self.templates = SourceTemplates(min_articles=thresholds.template_min_articles,
                                         min_share=thresholds.template_min_share,
                                         min_lift=thresholds.template_min_lift)
        for art in store.iter_articles() if thresholds.source_templates else ():
            self.templates.count(art.source, feature_names(art.signals))
        self.scorer = Scorer(store.features, self.templates if thresholds.source_templates else None)
        #: (signals, generation, indexed features, their ids or None, vocabulary epoch of the ids)
        self._indexed_memo: tuple[Signals, int, list[str], np.ndarray | None, int] | None = None
        #: The new article's signals and their ``feature_names`` (made for its frequencies): its
        #: indexed anchors are those names, already hashed, instead of names made again; with
        #: their ids (``count_document``'s) and the vocabulary epoch of those, when counted.
        self._named: tuple[Signals, list[str], np.ndarray | None, int] | None = None

    @property
    def settings(self) -> Thresholds:
        """The thresholds, by their name before ``Thresholds``."""
        return self.thresholds

    @settings.setter
    def settings(self, value: Thresholds) -> None:
        self.thresholds = value

    # --- public -------------------------------------------------------------------------
    def add(self, article: Article, signals: Signals | None = None) -> tuple[int, list[Match]]:
        """Store ``article`` and flag its relations to the catalog; returns (id, matches)."""
        sig = signals if signals is not None else compute_signals(article)
        old = self.store.by_url(article.url)
        if old is not None:
            self.delete(old.id)
        feats = feature_names(sig)
        fi = self.store.features
        ids = None  # their ids, which spare the lookups of its vectors and candidates
        if self.update_frequencies:
            ids = fi.count_document(feats, distinct=True)
            if self.scorer.templates is not None:  # nothing reads the counts otherwise
                self.templates.count(article.source, feats)
        epoch = fi.epoch
        new_id = self.store.insert(article, sig, replace=False)  # an older capture is gone already
        new = self.store.get_many([new_id]).get(new_id)  # its signals are cached: the row without them
        assert new is not None  # just inserted
        if fi.epoch != epoch:  # the vocabulary started again since they were counted: ids void
            ids = None
        self.scorer.named(new.signals, feats, ids)  # its anchors and words in the order of ``sig``'s
        self._named = (new.signals, feats, ids, epoch)
        matches = self._relate(new)
        self.store.features.add(new_id, self._indexed_features(new.signals))  # as _candidates had them
        self.index.insert(new_id, sig.simhash)
        self.store.release_terms([new_id])  # the scorer holds what it needs of them
        return new_id, matches

    def settle(self) -> bool:
        """Decide every flag of a young catalog again, with the catalog's final statistics.

        In the first articles of a fresh catalog, word and anchor weights come from a handful
        of documents, mostly about the few stories crawled so far, so what two articles are
        to each other depends on which arrived first. While the catalog holds at most
        ``thresholds.young_catalog`` articles, this replays them in publication order against the
        frequencies of all of them (as ``bench/dedup_quality.py`` does), so the result no longer
        depends on crawl order. The crawl pipeline and ``dedup rebuild`` call it at the end.
        Returns whether it ran.
        """
        total = self.store.count()
        if not total or total > self.thresholds.young_catalog:
            return False
        articles = sorted(self.store.iter_articles(), key=lambda a: (a.when if a.when is not None else math.inf, a.id))
        self.store.clear_flags()
        self.store.features.clear_postings()  # every article is posted again below
        for art in articles:
            self.index.delete(art.id)
        self.scorer.clear()
        settled: set[int] = set()
        for art in articles:
            self._relate(art, among=settled)
            self.store.features.add(art.id, self._indexed_features(art.signals))
            self.index.insert(art.id, art.signals.simhash)
            settled.add(art.id)
        return True

    def delete(self, article_id: int) -> None:
        self.scorer.forget(article_id)
        self.store.delete(article_id)
        self.index.delete(article_id)

    def score(self, a: StoredArticle, b: StoredArticle) -> PairScore:
        return self.scorer.score(a, b)

    # --- candidates ---------------------------------------------------------------------
    def _indexed_features(self, sig: Signals) -> list[str]:
        """The anchors and the ``indexed_terms`` words of highest tf-idf (ties by name): what
        finds an article's candidates and what its postings hold."""
        return self._indexed(sig)[0]

    def _indexed(self, sig: Signals) -> tuple[list[str], np.ndarray | None]:
        """:meth:`_indexed_features` and their ids (``FeatureIndex.ids``) when known without a
        lookup (the new article's, its anchors' ids from ``count_document``), else None."""
        # add() needs them twice (candidates, then postings) with no frequency changed in
        # between: reused while the frequencies stand.
        memo = self._indexed_memo
        fi = self.store.features
        if memo is not None and memo[0] is sig and memo[1] == fi.generation:
            return memo[2], (memo[3] if memo[4] == fi.epoch else None)
        words, n = self.scorer.terms_of(sig), self.thresholds.indexed_terms
        top: list[str] = []
        top_ids: list[int] = []
        if len(words.ids) and n > 0:
            w = (1.0 + np.log(words.counts)) * fi.idf_of(words.ids)
            # the n heaviest and every word tied with the last of them, then exactly by (-weight, name)
            if len(w) > n:
                pick = np.flatnonzero(w >= np.partition(w, len(w) - n)[len(w) - n])
                weights, ids = w[pick].tolist(), words.ids[pick].tolist()
            else:
                weights, ids = w.tolist(), words.ids.tolist()
            name = fi.name
            # (-weight, name) pairs are distinct (names are): the id beside them changes no order
            chosen = sorted(zip([-x for x in weights], map(name, ids), ids))[:n]
            top = [f for _w, f, _i in chosen]
            top_ids = [i for _w, _f, i in chosen]
        epoch = fi.epoch
        named = self._named
        out_ids = None
        if named is not None and named[0] is sig:  # its anchors' names come first, in the order of its anchors
            keep = [not a.startswith("n:") or len(a) > 4 for a in sig.anchors]
            counted = named[2]
            if counted is not None and named[3] == epoch:
                out_ids = np.concatenate((counted[:len(keep)][np.array(keep, dtype=bool)],
                                          np.array(top_ids, dtype=np.int64)))
                # the same names, as the vocabulary holds them: the postings' lookups (candidates,
                # then ``FeatureIndex.add``) find them by identity
                out = fi.names(out_ids.tolist())
            else:
                out = [f for k, f in zip(keep, named[1]) if k] + top
        else:
            out = ["a:" + a for a in sig.anchors if not a.startswith("n:") or len(a) > 4] + top
        self._indexed_memo = (sig, fi.generation, out, out_ids, epoch)
        return out, out_ids

    def _candidates(self, new: StoredArticle, among: set[int] | None = None) -> dict[int, set[Found]]:
        th, sig = self.thresholds, new.signals
        found: dict[int, set[Found]] = {}

        def note(i: int, how: Found) -> None:
            if i != new.id and (among is None or i in among):
                found.setdefault(i, set()).add(how)

        for i in self.store.ids_by_content_hash(sig.content_hash):
            note(i, Found.SAME_HASH)
        for i, _d in self.index.query(sig.simhash):
            note(i, Found.SIMHASH)
        # Links: it names an archived page; archived pages name it; both name one source.
        for link in sig.source_links:
            for i in self.store.ids_by_url_key(link["url"]):
                note(i, Found.CITES)
            citers = self.store.citing(link["url"])
            if len(citers) <= th.shared_source_max:
                for i, _kind in citers:
                    note(i, Found.SAME_SOURCE)
        if sig.url_key:
            for i, _kind in self.store.citing(sig.url_key):
                note(i, Found.CITED_BY)
        # Content: rare shared anchors and terms (up to ``max_candidates`` of them: noted here
        # without a call each).
        feats, ids = self._indexed(sig)
        fi = self.store.features
        max_df = max(th.candidate_min_df, int(th.candidate_max_df_ratio * fi.total()))
        content = Found.CONTENT
        for i in fi.candidate_ids_by_idf(feats, max_df=max_df, limit=th.max_candidates, ids=ids):
            if i != new.id and (among is None or i in among):
                how = found.get(i)
                if how is None:
                    found[i] = {content}
                else:
                    how.add(content)
        return found

    def _in_window(self, new: StoredArticle, found: dict[int, set[Found]]) -> dict[int, StoredArticle]:
        """The candidates, less those found only by content and dated outside every window."""
        th = self.thresholds
        widest = max(th.sibling_window_days, th.story_window_days, th.zh_story_window_days,
                     *map(abs, th.translation_window_days)) * DAY
        others = self.store.get_many(sorted(found))
        when = new.when
        if when is None:
            return others
        content_only = {Found.CONTENT}
        # ``when`` is a property (a date parsed when there is none published): read once each
        for oid in [oid for oid in others if found[oid] == content_only]:
            o_when = others[oid].when
            if o_when is not None and abs(o_when - when) > widest:
                del others[oid]
        return others

    # --- deciding -----------------------------------------------------------------------------
    def _relate(self, new: StoredArticle, among: set[int] | None = None) -> list[Match]:
        """Flag ``new`` against the catalog (or only the articles ``among``, when settling)."""
        found = self._candidates(new, among)
        others = self._in_window(new, found)
        self.scorer.forget(new.id)
        judged = self._judge(new, others, found)
        decided, candidates = rules.refute_links(judged.decided, judged.weak_links, judged.content_match,
                                                 rules.named_originals(new), judged.originals, judged.unnamed)
        self._choose_original(new, decided, candidates)
        self._inherit_from_copies(new, decided)
        self._inherit_siblings(new, decided)
        matches = self._persist(new, decided)
        self._link_siblings(new, decided)
        matches.sort(key=lambda m: (-m.score, m.article_id))
        return matches

    def _judge(self, new: StoredArticle, others: dict[int, StoredArticle], found: dict[int, set[Found]]) -> _Judged:
        """Each candidate on its own: content rules, which side of a translation, the link."""
        th = self.thresholds
        judged = _Judged()
        new_links = {link["url"]: link["kind"] for link in new.signals.source_links}
        named = rules.named_originals(new)
        new_sources = rules.sources(new)
        order = sorted(others)
        arts = [others[oid] for oid in order]
        linked = rules.LINKED.isdisjoint
        links = [None if linked(how := found[oid]) else rules.link_relation(new, other, how, new_links)
                 for oid, other in zip(order, arts)]
        # A pair the content rejects whatever its scores, and no link joins, is decided (None) without
        # them: three candidates in four in crawl order (two reports of different incidents).
        rejected = rules.rejected_by_content(new, arts, th)
        wanted = [link is not None or not no for link, no in zip(links, rejected)]
        scores = self.scorer.score_some(new, arts, wanted)  # every pair wanted in one pass
        self.store.release_terms(order)  # words read for the scorer: it holds them now
        for other, link, s in zip(arts, links, scores):
            if s is None:
                continue
            relation = rules.classify(new, other, s, th, new_sources=new_sources, observe=self.observe)
            if relation is not None:
                judged.content_match = True
                if relation.kind == Kind.TRANSLATION:
                    relation = self._translation_side(new, other, s, relation, named, judged)
            decision, weak = rules.decide(new, other, s, relation, link, th)
            if weak:
                judged.weak_links.add(other.id)
            if decision is not None:
                judged.decided.append(decision)
        return judged

    def _translation_side(self, new: StoredArticle, other: StoredArticle, s: PairScore, relation: rules.Relation,
                          named: set[str], judged: _Judged) -> rules.Relation | None:
        """A translation by content. When ``new`` is the translation, ``other`` is one candidate
        for its one original (chosen later among all); when ``new`` is the original, the flag
        stands if ``new`` beats the translation's current original."""
        if is_translation_side(new, other):
            # An article that names its original is not matched to another by content,
            # unless the named page is archived and its content refutes it.
            ok = not named or other.url_key in named
            (judged.originals if ok else judged.unnamed).append(Candidate(s.anchors, other, s))
            return None
        says, _ratio, _wide = originals.reading(other, self.store.features.idf, self.thresholds)
        if originals.beats_current_original(self.store, other, new, s.anchors, self.thresholds, says):
            return relation
        return None

    def _choose_original(self, new: StoredArticle, decided: list[Decision], candidates: list[Candidate]) -> None:
        """Add the content-chosen original of ``new`` to ``decided`` (or confirm a link to it)."""
        th = self.thresholds
        best = originals.pick_original(candidates, th.translation_margin,
                                       *originals.reading(new, self.store.features.idf, th))
        if best is None:
            return
        if rules.has_link_original(new, decided) and not any(d.other.id == best.article.id for d in decided):
            return  # a translation has one original: the one it names wins over a content guess
        best = originals.first_copy(self.store, new, best, lambda other: self.score(new, other), self.thresholds)
        at = next((n for n, d in enumerate(decided) if d.other.id == best.article.id), None)
        if at is None:
            detail = {"anchors": round(best.pair.anchors, 4), "hamming": best.pair.hamming,
                      "evidence": rules.evidence(new, best.article)}
            decided.append(Decision(best.article, Kind.TRANSLATION, best.score, Basis.CONTENT, detail))
        elif decided[at].kind == Kind.TRANSLATION and decided[at].basis == Basis.LINK:
            decided[at] = replace(decided[at], basis=Basis.CONTENT_LINK)

    def _inherit_from_copies(self, new: StoredArticle, decided: list[Decision]) -> None:
        """A repost inherits what it copies: its original's translations, siblings and stories."""
        have = {d.other.id for d in decided}
        for copied in [d.other for d in decided if d.kind in COPIES]:
            for f in self.store.flags_of(copied.id):
                if f.other in have or f.other == new.id or f.kind in (*COPIES, Kind.ATTRIBUTED):
                    continue
                third = self.store.get_many([f.other]).get(f.other)  # its words are not needed
                if third is None:
                    continue
                if f.kind == Kind.TRANSLATION:
                    if not is_translation_side(new, third):
                        # A copy of the original is not a second original: the translation
                        # keeps the one it has (and the copy is linked to it as a repost).
                        continue
                    if any(d.kind == Kind.TRANSLATION and is_translation_side(new, d.other) for d in decided):
                        continue  # one original per translation
                have.add(third.id)
                decided.append(Decision(third, f.kind, f.score, Basis.INHERITED,
                                        {"via": copied.url, "evidence": rules.evidence(new, third)}))

    def _inherit_siblings(self, new: StoredArticle, decided: list[Decision]) -> None:
        """Two translations of one original are siblings, however differently they are worded."""
        have = {d.other.id: n for n, d in enumerate(decided)}
        for original in [d.other for d in decided if d.kind == Kind.TRANSLATION and is_translation_side(new, d.other)]:
            for f in self.store.flags_of(original.id):
                if f.kind != Kind.TRANSLATION or f.other == new.id:
                    continue
                at = have.get(f.other)
                if at is not None and decided[at].kind != Kind.SAME_STORY:
                    continue
                third = self.store.get_many([f.other]).get(f.other)  # its words are not needed
                if third is None or third.lang != new.lang or not is_translation_side(third, original):
                    continue
                # Two reports of one story that translate one original: siblings, the closer fact.
                sibling = Decision(third, Kind.TRANSLATION_SIBLING, f.score, Basis.INHERITED,
                                   {"via": original.url, "evidence": rules.evidence(new, third)})
                if at is None:
                    have[third.id] = len(decided)
                    decided.append(sibling)
                else:
                    decided[at] = sibling

    def _persist(self, new: StoredArticle, decided: list[Decision]) -> list[Match]:
        """Store each decision both ways (with who came first and, for a translation, which side
        is the original); an arriving original displaces its translations' weaker content guesses."""
        matches = []
        for d in decided:
            other = d.other
            if d.kind == Kind.TRANSLATION and not is_translation_side(new, other):
                # ``new`` is an original: it displaces the translation's content-based guess.
                # By content it is here only because it beats every current original
                # (``beats_current_original``: better, as good and earlier, or its opening is the
                # one translated), whatever its score: a translation keeps one original.
                for f in self.store.flags_of(other.id):
                    if f.kind == Kind.TRANSLATION and f.basis == Basis.CONTENT:
                        self.store.remove_flag(other.id, f.other)
            first = new if (new.when or 0) <= (other.when or 0) else other
            detail = {**d.detail, "first": first.url}
            if d.kind == Kind.TRANSLATION:
                detail["original"] = (other if is_translation_side(new, other) else new).url
            self.store.add_flag(new.id, other.id, d.kind, float(d.score), d.basis, detail)
            matches.append(Match(other.id, other.url, other.fetched_at or other.published, d.kind, float(d.score),
                                 d.basis, detail))
        return matches

    def _link_siblings(self, new: StoredArticle, decided: list[Decision]) -> None:
        """``new`` is the original of several translations already archived: flag them as
        siblings of each other where they have no closer relation. A same_story flag made before
        the original arrived is upgraded: knowing the shared original is the more precise fact."""
        translations = [(d.other, d.score) for d in decided
                        if d.kind == Kind.TRANSLATION and not is_translation_side(new, d.other)]
        closer = (*COPIES, Kind.TRANSLATION_SIBLING)
        for n, (a, sa) in enumerate(translations):
            related = {f.other: f.kind for f in self.store.flags_of(a.id)}
            for b, sb in translations[n + 1:]:
                if related.get(b.id) in closer or a.lang != b.lang:
                    continue
                self.store.add_flag(a.id, b.id, Kind.TRANSLATION_SIBLING, float(min(sa, sb)), Basis.INHERITED,
                                    {"via": new.url, "evidence": rules.evidence(a, b)})


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


__all__ = ["Basis", "Detector", "Kind", "Match", "PairScore", "find_related", "parse_when"]
