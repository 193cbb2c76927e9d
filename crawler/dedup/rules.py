"""The per-pair rules: what the content and the source links say two articles are to each other.

Pure functions over two stored articles, their :class:`PairScore` and the thresholds; nothing
here reads the catalog. The detector asks, for each candidate ``other`` of a ``new`` article:
``classify`` (the content's ladder: exact, repost, translation, sibling, story), then, for a
translation, which side is the original (``originals.py``), then ``decide`` (the source link
laid over the content's answer). ``refute_links`` drops links the content contradicts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from crawler.dedup import calibrated
from crawler.dedup.anchors import extract_anchors
from crawler.dedup.calibrated import Logistic
from crawler.dedup.defaults import DEFAULTS, Thresholds
from crawler.dedup.kinds import Basis, Kind
from crawler.dedup.scoring import PairScore
from crawler.dedup.store import StoredArticle

C = TypeVar("C")

#: ``observe(decision, new, other, features)``: told every pair a decision weighs, with its
#: features, before the model or threshold decides (``bench/fit_model.py`` collects them).
Observe = Callable[[str, "StoredArticle", "StoredArticle", dict[str, float]], None]

#: Anchor prefixes of ids that name one vulnerability.
INCIDENT_ID_PREFIXES = ("cve-", "ghsa-")


class Found(StrEnum):
    """How a candidate was found (a candidate may be found several ways)."""

    SAME_HASH = "exact"  # same content hash
    SIMHASH = "simhash"  # within the Hamming distance of a repost
    CITES = "cites"  # ``new`` names it as a source
    CITED_BY = "cited_by"  # it names ``new`` as a source
    SAME_SOURCE = "same_source"  # both name one source (a rarely cited one)
    CONTENT = "content"  # rare shared anchors and words


@dataclass(frozen=True)
class Relation:
    """What the content alone says: a kind and how strongly (with a calibrated model: its
    probability ``p`` and the features that moved it most, ``because``)."""

    kind: Kind
    score: float
    p: float | None = None
    because: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """A flag about to be stored between ``new`` and ``other``."""

    other: StoredArticle
    kind: Kind
    score: float
    basis: Basis
    detail: dict[str, Any] = field(default_factory=dict)


# --- facts about one article or one pair -----------------------------------------------------
def is_translation_side(new: StoredArticle, other: StoredArticle) -> bool:
    """Whether ``new`` is the translation (not the original) of a cross-language pair:
    the non-English side, or else the later one."""
    if new.lang != "en" and other.lang == "en":
        return True
    if new.lang == "en" and other.lang != "en":
        return False
    return (new.when or 0) >= (other.when or 0)


def translation_days(new: StoredArticle, other: StoredArticle, s: PairScore) -> float:
    """Days from the original's date to the translation's (0 when either date is unknown)."""
    if s.days is None:
        return 0.0
    return -s.days if is_translation_side(new, other) else s.days


def named_originals(art: StoredArticle) -> set[str]:
    """The pages an article says it translates (本文翻译自, 原文链接 ...), normalised."""
    return {link["url"] for link in art.signals.source_links if link["kind"] == "translated_from"}


def sources(art: StoredArticle) -> set[str]:
    """Every page an article names as its source or reference, normalised, without the query:
    to say that two articles name *different* pages, ``?web_view=true`` must not count."""
    return {link["url"].split("?", 1)[0] for link in art.signals.source_links}


def has_anchors(a: StoredArticle, b: StoredArticle, least: int = 3) -> bool:
    return len(a.signals.anchors) >= least and len(b.signals.anchors) >= least


def _memo(art: StoredArticle, key: str, compute):
    # Asked for every candidate pair; the store keeps one Signals object per cached article,
    # and signals never change once stored, so the answer is kept on it (not a field: not stored).
    d = art.signals.__dict__
    got = d.get(key)  # never None once computed
    if got is None:
        got = d[key] = compute()
    return got


def incident_ids(art: StoredArticle) -> frozenset[str]:
    """The ids that name one incident: CVE ids (and GHSA advisories)."""
    got = art.signals.__dict__.get("_incident_ids")  # ``_memo``'s lookup, inline: twice a candidate pair
    if got is None:
        got = _memo(art, "_incident_ids",
                    lambda: frozenset(a for a in art.signals.anchors if a.startswith(INCIDENT_ID_PREFIXES)))
    return got


def _principal_ids(art: StoredArticle) -> frozenset[str]:
    anchors = art.signals.anchors
    counts = {a: anchors[a] for a in incident_ids(art)}  # the ids among its anchors, a few
    top = max(counts.values(), default=0)
    return frozenset(a for a, n in counts.items() if n == top)


def principal_ids(art: StoredArticle) -> frozenset[str]:
    """The incident ids an article names most often: its subject. The others are context (the
    product's earlier bug, the flaw chained with it, the rest of a patch round)."""
    got = art.signals.__dict__.get("_principal_ids")
    return got if got is not None else _memo(art, "_principal_ids", lambda: _principal_ids(art))


def same_subject(a: StoredArticle, b: StoredArticle) -> bool:
    """Whether both articles are about the same vulnerabilities: what each names most is the same
    non-empty set of ids. One shared id is not enough: a report of a fake PoC or of the product's
    next flaw names the earlier CVE too, beside its own."""
    pa = principal_ids(a)
    return bool(pa) and pa == principal_ids(b)


def headline_names(art: StoredArticle) -> frozenset[str]:
    """What a headline names: its anchors less figures and dates (products, vendors, ids)."""
    got = art.signals.__dict__.get("_headline_names")
    return got if got is not None else _memo(art, "_headline_names", lambda: frozenset(
        a for a in extract_anchors(art.title, art.lang) if not a.startswith(("n:", "d:"))) if art.title else frozenset())


def conflicting_incidents(a: StoredArticle, b: StoredArticle, th: Thresholds = DEFAULTS) -> dict[str, list[str]] | None:
    """Whether the two name different incidents: related (one product, one vendor, one template)
    but not the same story. Returns what disagrees (``ids``, ``products``), or None:

    - both name vulnerabilities by id and not one is shared (two CVEs of one product, two
      advisories from one template, two patch rounds);
    - (``th.principal_ids``) both name ids, but what each names most is absent from the other:
      two incidents that cite each other's flaw in passing;
    - (``th.template_products``) one outlet, one language, and the headlines name products and
      share none: two items written from the outlet's template (CERT advisories) about two
      products. Reports of one story by one outlet name its product in every headline.

    Versions were measured too and dropped: translations and reports of one story cite
    different affected and fixed versions (2 true pairs of the corpus, 1 false flag)."""
    ia, ib = incident_ids(a), incident_ids(b)
    if ia and ib:
        if not (ia & ib):
            return {"ids": sorted(ia ^ ib)}
        pa, pb = principal_ids(a), principal_ids(b)
        if th.principal_ids and not (pa & ib) and not (pb & ia):
            return {"ids": sorted(pa | pb)}
    if th.template_products and a.source and a.source == b.source and a.lang == b.lang:
        ha, hb = headline_names(a), headline_names(b)
        if ha and hb and not (ha & hb):
            return {"products": sorted(ha ^ hb)}
    return None


def conflicts(a: StoredArticle, b: StoredArticle, th: Thresholds = DEFAULTS) -> bool:
    """Whether :func:`conflicting_incidents` finds something, without listing it (asked of every
    candidate pair; the lists are the evidence of a flag)."""
    return _Conflicts(a, th).with_(b)


class _Conflicts:
    """:func:`conflicts` of one article ``a`` with each of many, ``a``'s facts looked up once."""

    __slots__ = ("a", "ha", "ia", "pa", "th")

    def __init__(self, a: StoredArticle, th: Thresholds) -> None:
        self.a, self.th = a, th
        self.ia = incident_ids(a)
        self.pa: frozenset[str] | None = None
        self.ha: frozenset[str] | None = None

    def with_(self, b: StoredArticle) -> bool:
        a, th, ia = self.a, self.th, self.ia
        ib = incident_ids(b)
        if ia and ib:
            if ia.isdisjoint(ib):
                return True
            if th.principal_ids:
                pa = self.pa if self.pa is not None else principal_ids(a)
                self.pa = pa
                if pa.isdisjoint(ib) and principal_ids(b).isdisjoint(ia):
                    return True
        if th.template_products and a.source and a.source == b.source and a.lang == b.lang:
            ha = self.ha if self.ha is not None else headline_names(a)
            self.ha = ha
            hb = headline_names(b)
            if ha and hb and ha.isdisjoint(hb):
                return True
        return False


def is_exact(new: StoredArticle, other: StoredArticle) -> bool:
    """The same content (and some): ``classify``'s first rung."""
    return new.signals.content_hash == other.signals.content_hash and new.signals.length > 0


def rejected_by_content(new: StoredArticle, others: list[StoredArticle], th: Thresholds) -> list[bool]:
    """For each of ``others``, whether :func:`classify` says None whatever the pair's scores: not a
    copy of ``new``, and the two name different incidents. Such a pair no link joins needs no
    scores (``decide`` says None)."""
    if not th.incident_ids:
        return [False] * len(others)
    content_hash, length = new.signals.content_hash, new.signals.length
    ia = incident_ids(new)
    principal = th.principal_ids
    products, source, lang = th.template_products and bool(new.source), new.source, new.lang
    pa: frozenset[str] | None = None
    ha: frozenset[str] | None = None
    out = []
    # ``_Conflicts.with_`` of each, inline: a call per candidate (70 an article in crawl order)
    # and its facts looked up again were most of this
    for b in others:
        sb = b.signals
        if length > 0 and sb.content_hash == content_hash:
            out.append(False)  # a copy of ``new``
            continue
        if ia:
            ib = sb.__dict__.get("_incident_ids")  # ``incident_ids``' memo, inline
            if ib is None:
                ib = incident_ids(b)
            if ib:
                if ia.isdisjoint(ib):
                    out.append(True)
                    continue
                if principal:
                    if pa is None:
                        pa = principal_ids(new)
                    if pa.isdisjoint(ib) and principal_ids(b).isdisjoint(ia):
                        out.append(True)
                        continue
        if products and b.source == source and b.lang == lang:
            if ha is None:
                ha = headline_names(new)
            hb = headline_names(b)
            out.append(bool(ha and hb and ha.isdisjoint(hb)))
            continue
        out.append(False)
    return out


#: How a candidate is found when some link may join it (``link_relation`` says None otherwise).
LINKED = frozenset({Found.CITES, Found.CITED_BY, Found.SAME_SOURCE})


def link_relation(new: StoredArticle, other: StoredArticle, found: set[Found], new_links: dict[str, str]) -> Kind | None:
    """The relation the source links alone support, if any."""
    same_lang = new.lang == other.lang
    if Found.CITES in found or Found.CITED_BY in found:
        return Kind.ATTRIBUTED if same_lang else Kind.TRANSLATION
    if Found.SAME_SOURCE in found:
        shared = [link["url"] for link in other.signals.source_links if link["url"] in new_links]
        if shared and same_lang:
            if new.signals.translated or other.signals.translated:
                return Kind.TRANSLATION_SIBLING
            return Kind.SAME_STORY
        if shared:
            return Kind.SAME_STORY
    return None


# --- the rules ---------------------------------------------------------------------------------
def pair_features(new: StoredArticle, other: StoredArticle, s: PairScore) -> dict[str, float]:
    """The pair's features for a calibrated model (``calibrated.FEATURES``)."""
    a, b = new.signals.anchors, other.signals.anchors
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return calibrated.pair_features(
        s_anchors=s.anchors, s_terms=s.terms, s_headline=s.headline, s_anchors_contained=s.anchors_contained,
        s_terms_contained=s.terms_contained, days=s.days, same_subject=same_subject(new, other),
        shared_ids=len(incident_ids(new) & incident_ids(other)), shared_anchors=sum(1 for x in small if x in large),
        lengths=(new.signals.length, other.signals.length),
        translated=new.signals.translated or other.signals.translated)


def _weigh(decision: str, model: Logistic | None, score: float, least: float, new: StoredArticle,
           other: StoredArticle, s: PairScore, observe: Observe | None) -> tuple[float, float | None, tuple[str, ...]] | None:
    """One decision on a pair that passed its rules: with a model, its probability against the
    model's cut; without, the cascade's ``score >= least``. Returns (score, p, because) when
    accepted (the score is the probability with a model), else None."""
    if model is None and observe is None:
        return (score, None, ()) if score >= least else None
    x = pair_features(new, other, s)
    if observe is not None:
        observe(decision, new, other, x)
    if model is None:
        return (score, None, ()) if score >= least else None
    p = model.probability(x)
    return (p, p, tuple(model.because(x))) if p >= model.cut else None


def classify(new: StoredArticle, other: StoredArticle, s: PairScore, th: Thresholds, *,
             new_sources: set[str], observe: Observe | None = None) -> Relation | None:
    """What the content says the pair is. A cross-language match comes back as ``TRANSLATION``
    whichever side translates; the caller decides whether it stands (one original per translation).
    ``observe`` is told each decision weighed (see ``Observe``)."""
    if is_exact(new, other):
        return Relation(Kind.EXACT, 1.0)
    if th.incident_ids and conflicts(new, other, th):
        # Related, not the same incident: the likeness is the product's or the template's
        # (two advisories written from one CERT template are reposts by their words).
        return None
    same_lang = new.lang == other.lang
    if same_lang and (s.hamming <= th.repost_hamming or s.terms >= th.repost_cosine) and new.signals.length > 0:
        return Relation(Kind.REPOST, max(1.0 - s.hamming / 64.0, s.terms))
    if not same_lang:
        lo, hi = th.translation_window_days
        if lo <= translation_days(new, other, s) <= hi:
            took = _weigh("translation", th.translation_model, s.anchors, th.translation_min, new, other, s, observe)
            if took is not None:
                # The score stays the anchor cosine: the one-original choice (``originals.py``)
                # compares translations' scores by ``translation_margin``; ``p`` goes in the detail.
                return Relation(Kind.TRANSLATION, s.anchors, took[1], took[2])
        return None
    return _same_language(new, other, s, th, new_sources, observe)


def _same_language(new: StoredArticle, other: StoredArticle, s: PairScore, th: Thresholds,
                   new_sources: set[str], observe: Observe | None = None) -> Relation | None:
    days = abs(s.days) if s.days is not None else 0.0
    relation = None
    if new.lang == "zh":
        other_sources = sources(other)
        # Each names where it comes from, and they differ: two translations of two reports,
        # related through their originals (an en same_story), not siblings; they may still
        # report one incident. (English reports cite references freely: not applied there.)
        different_originals = bool(new_sources and other_sources and not (new_sources & other_sources))
        sibling = None
        if not different_originals and days <= th.sibling_window_days:
            sibling = _weigh("sibling", th.sibling_model, s.sibling, th.sibling_min, new, other, s, observe)
        if sibling is not None:
            translated = new.signals.translated or other.signals.translated
            relation = Relation(Kind.TRANSLATION_SIBLING if translated else Kind.SAME_STORY, *sibling)
        if (sibling is None or observe is not None) and (days <= th.zh_story_window_days or (
                days <= th.zh_story_subject_window_days and same_subject(new, other))):
            # Chinese outlets reporting one incident from different originals: their wording
            # shares little (each translates another report), their names and figures and the
            # words of the incident do, within days; or later (a follow-up, a weekly roundup)
            # when both are about the very same vulnerability ids.
            story = _weigh("zh_story", th.zh_story_model, s.mixed, th.zh_story_min, new, other, s, observe)
            if story is not None and sibling is None:
                relation = Relation(Kind.SAME_STORY, *story)
    elif days <= th.story_window_days:
        # Within days, two reports whose subject is the same vulnerability ids report one incident
        # however differently their teasers are worded (the vendor's fix, the exploitation, CISA).
        if th.story_model is None and th.story_same_subject and s.story < th.story_min and same_subject(new, other):
            story = (s.story, None, ())
            if observe is not None:
                observe("story", new, other, pair_features(new, other, s))
        else:
            story = _weigh("story", th.story_model, s.story, th.story_min, new, other, s, observe)
        if story is not None:
            relation = Relation(Kind.SAME_STORY, *story)
    if relation is not None and relation.kind == Kind.SAME_STORY and new.source and new.source == other.source:
        return None  # an outlet's follow-ups are its own stories, not a rewrite of another's
    return relation


#: Shared anchors listed as a flag's evidence, at most.
EVIDENCE_ANCHORS = 12


def evidence(new: StoredArticle, other: StoredArticle) -> dict[str, Any]:
    """Why an editor should believe a flag: the anchors both name (ids first), the incident ids
    only one names, and the source link that joins them, if any."""
    both = new.signals.anchors.keys() & other.signals.anchors.keys()
    # ids first, then names without a colon, then with one, each by name: the order of the key
    # ``(not id, ":" in x, x)``, by plain string sorts of the groups (a key call per shared
    # anchor, a hundred a flag, was most of this function)
    ids = sorted(x for x in both if x.startswith(INCIDENT_ID_PREFIXES))
    rest = [x for x in both if not x.startswith(INCIDENT_ID_PREFIXES)]
    shared = [*(x for x in ids if ":" not in x), *(x for x in ids if ":" in x)]
    # the first of each group only (``nsmallest``: ``sorted(...)[:n]``, without sorting a hundred names)
    if len(shared) < EVIDENCE_ANCHORS:
        shared += heapq.nsmallest(EVIDENCE_ANCHORS - len(shared), (x for x in rest if ":" not in x))
    if len(shared) < EVIDENCE_ANCHORS:
        shared += heapq.nsmallest(EVIDENCE_ANCHORS - len(shared), (x for x in rest if ":" in x))
    out: dict[str, Any] = {"shared": shared[:EVIDENCE_ANCHORS]}
    ia, ib = incident_ids(new), incident_ids(other)
    if (ia ^ ib) and ia and ib:
        out["conflicting"] = sorted(ia ^ ib)[:EVIDENCE_ANCHORS]
    conflict = conflicting_incidents(new, other)
    if conflict and conflict.get("products"):
        out["conflicting_products"] = conflict["products"][:EVIDENCE_ANCHORS]
    link = _joining_link(new, other)
    if link:
        out["source"] = link
    return out


def _joining_link(new: StoredArticle, other: StoredArticle) -> str | None:
    """The page one names that is the other, or that both name."""
    new_links, other_links = sources(new), sources(other)
    if other.url_key and other.url_key.split("?", 1)[0] in new_links:
        return other.url
    if new.url_key and new.url_key.split("?", 1)[0] in other_links:
        return new.url
    both = sorted(new_links & other_links)
    return both[0] if both else None


def decide(new: StoredArticle, other: StoredArticle, s: PairScore, relation: Relation | None,
           link: Kind | None, th: Thresholds) -> tuple[Decision | None, bool]:
    """The flag for the pair, from the content's relation and the link's; and whether it rests
    on a link the content does not confirm (a weak link, dropped if the content matches elsewhere)."""
    if relation is None and link is None:
        return None, False
    detail: dict[str, Any] = {"anchors": round(s.anchors, 4), "terms": round(s.terms, 4), "hamming": s.hamming,
                              "evidence": evidence(new, other)}
    if relation is not None and relation.p is not None:
        detail["p"] = round(relation.p, 4)
        detail["because"] = list(relation.because)
    if relation is not None:
        basis = Basis.CONTENT if link is None else Basis.CONTENT_LINK
        return Decision(other, relation.kind, relation.score, basis, detail), False
    if link is None:
        return None, False
    same_lang = new.lang == other.lang
    # Names and figures, not vocabulary: any two security reports share words.
    agree = s.anchors if not same_lang or has_anchors(new, other) else max(s.anchors, s.terms)
    score = max(s.mixed if same_lang else s.anchors, 0.0)
    return Decision(other, link, score, Basis.LINK, detail), agree < th.link_min_content


def refute_links(decided: list[Decision], weak: set[int], content_match: bool, named: set[str],
                 originals: list[C], unnamed: list[C]) -> tuple[list[Decision], list[C]]:
    """Drop the weak links when the content matches something else: a wrong link. When the page
    ``new`` names as its original is among them, its original is found by content instead, as
    for an article that names none. Returns the decisions kept and the original candidates."""
    if not (weak and content_match):
        return decided, originals
    refuted = {d.other.url_key for d in decided if d.other.id in weak}
    kept = [d for d in decided if d.other.id not in weak]
    if named and not originals and named & refuted:
        return kept, unnamed
    return kept, originals


def has_link_original(new: StoredArticle, decided: list[Decision]) -> bool:
    """Whether ``new`` already has an original it names by link."""
    return any(d.kind == Kind.TRANSLATION and d.basis != Basis.CONTENT and is_translation_side(new, d.other)
               for d in decided)
