"""Clusters of related articles from the dedup catalog: who was first, who followed, and why.

A cluster is a connected component of the flag graph (any kind). Its *original* is the
earliest member by publication time (capture time when the page gave no date) among those
that are not the translated side of a translation. Every relation is oriented original
first: for a translation, the side the detector named as the original; otherwise the
earlier side. All three report formats and the web app read this one model, so they agree
on orientation, wording and order (newest cluster first).

The catalog is read only through :class:`~crawler.dedup.store.ArticleStore`'s methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from crawler.dedup.defaults import DEFAULTS
from crawler.dedup.kinds import Kind
from crawler.dedup.store import ArticleBrief, ArticleStore

#: Most telling relation first (pairs within a cluster; a member's main relation): Kind's order.
KIND_ORDER: dict[str, int] = {kind: n for n, kind in enumerate(Kind)}
KIND_LABEL: dict[str, str] = {
    Kind.EXACT: "exact copy",
    Kind.REPOST: "repost",
    Kind.TRANSLATION: "translation",
    Kind.TRANSLATION_SIBLING: "translations of one original",
    Kind.SAME_STORY: "same story",
    Kind.ATTRIBUTED: "names as its source",
}
KINDS = tuple(str(k) for k in Kind)

#: How far above its kind's threshold a content-only score must be to be called "strong";
#: closer than this it is "borderline". The thresholds were picked in a flat region of the
#: F1 curve (``crawler/dedup/defaults.py``); within 0.1 of them is where the sweep shows
#: true and false pairs mixed.
STRONG_MARGIN = 0.1
#: The score from which a content-only relation is "strong", from the detector's thresholds.
STRONG_FROM: dict[str, float] = {
    Kind.EXACT: 0.0,
    Kind.REPOST: min(1.0, DEFAULTS.repost_cosine + STRONG_MARGIN),
    Kind.TRANSLATION: DEFAULTS.translation_min + STRONG_MARGIN,
    Kind.TRANSLATION_SIBLING: DEFAULTS.sibling_min + STRONG_MARGIN,
    Kind.SAME_STORY: DEFAULTS.story_min + STRONG_MARGIN,
    Kind.ATTRIBUTED: float("inf"),  # a link the content does not confirm: never strong on content
}
CONFIDENCE_WORDS = {
    "link": "confirmed by a source link",
    "strong": "strong",
    "borderline": "borderline",
}
CONFIDENCE_LEGEND = {
    "link": "the later article links to the other as its source, and the contents agree",
    "strong": "no link, but the contents agree well above the detector's threshold",
    "borderline": "no link, and the contents agree only just above the threshold: check by eye",
}


@dataclass(frozen=True)
class Filters:
    """What the editor asked for; empty means everything. Times are seconds since the epoch."""

    since: float | None = None
    until: float | None = None
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def describe(self) -> dict[str, object]:
        return {
            "since": _iso(self.since),
            "until": _iso(self.until),
            "sources": list(self.sources),
            "langs": list(self.langs),
            "kinds": list(self.kinds),
        }


@dataclass
class Member:
    id: int
    url: str
    source: str
    lang: str
    title: str
    published: str | None
    captured: str | None
    when: float | None
    anchors: frozenset[str] = frozenset()
    #: Set once the cluster is built: how this member relates to the cluster's original.
    role: str = ""  # "original" or a kind
    delta: float | None = None  # seconds after the original (negative: before)

    @property
    def outlet(self) -> str:
        """The source name, else the URL's host (a crawled string: escape it)."""
        if self.source:
            return self.source
        try:
            return urlsplit(self.url).hostname or self.url
        except ValueError:
            return self.url


@dataclass
class Relation:
    a: Member  # the original (or earlier) side
    b: Member
    kind: str
    score: float
    basis: str

    @property
    def confidence(self) -> str:
        return confidence(self.kind, self.score, self.basis)

    @property
    def shared_anchors(self) -> list[str]:
        return sorted(self.a.anchors & self.b.anchors)


@dataclass
class Cluster:
    id: int  # the smallest article id in it: stable while the cluster does not merge with another
    members: list[Member]
    relations: list[Relation] = field(default_factory=list)

    @property
    def original(self) -> Member:
        return self.members[0]

    @property
    def latest(self) -> float:
        return max((m.when for m in self.members if m.when is not None), default=float("-inf"))

    def kinds(self) -> list[str]:
        return sorted({r.kind for r in self.relations}, key=lambda k: KIND_ORDER.get(k, 9))


def confidence(kind: str, score: float, basis: str) -> str:
    """``link``, ``strong`` or ``borderline`` (see :data:`CONFIDENCE_LEGEND`)."""
    if "link" in basis:
        return "link"
    if kind == "exact" or score >= STRONG_FROM.get(kind, 1.0):
        return "strong"
    return "borderline"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def member_of(store: ArticleStore, article_id: int) -> Member | None:
    """One article as a cluster member would show it (for an article with no relations)."""
    brief = store.briefs([article_id]).get(article_id)
    return None if brief is None else _member(brief)


def _member(art: ArticleBrief) -> Member:
    return Member(
        id=art.id,
        url=art.url,
        source=art.source or "",
        lang=art.lang or "",
        title=art.title or "",
        published=art.published,
        captured=art.fetched_at,
        when=art.when,
        anchors=frozenset(art.anchors),
    )


def _sort_key(m: Member) -> tuple[float, int]:
    return (m.when if m.when is not None else float("inf"), m.id)


def components(pairs: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """Union-find over article-id pairs: ``{smallest id: sorted member ids}``."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in sorted(parent):
        groups.setdefault(find(i), []).append(i)
    return groups


def build_clusters(store: ArticleStore, filters: Filters | None = None) -> list[Cluster]:
    """Every cluster that passes ``filters``, newest first (by its latest member).

    A cluster passes when some member falls in the date range, is from one of the sources and
    in one of the languages, and some relation is of one of the kinds; only relations of the
    asked kinds are kept, but every member is shown (the original is the context).
    """
    filters = filters or Filters()
    flags = store.all_flags()
    groups = components((a, b) for a, b, *_ in flags)
    by_root: dict[int, list[tuple]] = {}
    root_of = {i: root for root, ids in groups.items() for i in ids}
    for f in flags:
        by_root.setdefault(root_of[f[0]], []).append(f)
    out: list[Cluster] = []
    kinds = set(filters.kinds)
    if kinds:
        groups = {root: ids for root, ids in groups.items() if any(r[2] in kinds for r in by_root.get(root, []))}
    briefs = store.briefs([i for ids in groups.values() for i in ids])
    for root, ids in groups.items():
        rows = by_root.get(root, [])
        members = {i: _member(briefs[i]) for i in ids if i in briefs}
        if not members or not _passes(list(members.values()), filters):
            continue
        out.append(_cluster(store, root, members, rows, kinds))
    out.sort(key=lambda c: (-c.latest, -c.id))
    return out


def cluster_of(store: ArticleStore, article_id: int, limit: int = 5000) -> Cluster | None:
    """The cluster holding one article (walked through its flags), or None if it has none."""
    seen, todo = {article_id}, [article_id]
    rows: dict[tuple[int, int], tuple] = {}
    while todo and len(seen) < limit:
        i = todo.pop()
        for f in store.flags_of(i):
            key = (min(i, f.other), max(i, f.other))
            rows[key] = (key[0], key[1], f.kind, f.score, f.basis)
            if f.other not in seen:
                seen.add(f.other)
                todo.append(f.other)
    if not rows:
        return None
    members = {i: _member(a) for i, a in store.briefs(sorted(seen)).items()}
    return _cluster(store, min(seen), members, list(rows.values()), set())


def _passes(members: list[Member], f: Filters) -> bool:
    if f.since is not None or f.until is not None:
        lo = f.since if f.since is not None else float("-inf")
        hi = f.until if f.until is not None else float("inf")
        if not any(m.when is not None and lo <= m.when < hi for m in members):
            return False
    if f.sources and not any(m.outlet in f.sources for m in members):
        return False
    if f.langs and not any(m.lang in f.langs for m in members):
        return False
    return True


def _cluster(store: ArticleStore, root: int, members: dict[int, Member], rows: list[tuple], kinds: set[str]) -> Cluster:
    originals: dict[tuple[int, int], int] = {}
    for a, b, kind, _score, _basis in rows:
        if kind == "translation" and a in members and b in members:
            originals[(a, b)] = _translation_original(store, members[a], members[b])
    translated = {(b if o == a else a) for (a, b), o in originals.items()}
    ordered = sorted(members.values(), key=_sort_key)
    first = next((m for m in ordered if m.id not in translated), ordered[0])
    ordered.remove(first)
    ordered.insert(0, first)
    relations: list[Relation] = []
    for a, b, kind, score, basis in rows:
        if a not in members or b not in members:
            continue
        x, y = members[a], members[b]
        orig = originals.get((a, b))
        if orig is not None:
            x, y = (x, y) if orig == a else (y, x)
        elif _sort_key(y) < _sort_key(x) or y is first:
            x, y = y, x
        relations.append(Relation(x, y, kind, float(score), basis))
    _assign_roles(first, ordered, relations)
    if kinds:
        relations = [r for r in relations if r.kind in kinds]
    rank = {m.id: n for n, m in enumerate(ordered)}
    relations.sort(key=lambda r: (KIND_ORDER.get(r.kind, 9), rank[r.a.id], rank[r.b.id]))
    return Cluster(id=root, members=ordered, relations=relations)


def _translation_original(store: ArticleStore, x: Member, y: Member) -> int:
    detail = next((f.detail for f in store.flags_of(x.id) if f.other == y.id), {})
    orig_url = detail.get("original")
    if orig_url == x.url:
        return x.id
    if orig_url == y.url:
        return y.id
    if x.lang != y.lang and "en" in (x.lang, y.lang):  # no detail: the English side
        return x.id if x.lang == "en" else y.id
    return x.id if _sort_key(x) <= _sort_key(y) else y.id


def _assign_roles(first: Member, members: list[Member], relations: list[Relation]) -> None:
    """Each member's relation to the original: the direct one, else its most telling one."""
    first.role, first.delta = "original", 0.0
    for m in members[1:]:
        mine = [r for r in relations if m in (r.a, r.b)]
        direct = [r for r in mine if first in (r.a, r.b)]
        best = min(direct or mine, key=lambda r: (KIND_ORDER.get(r.kind, 9), -r.score), default=None)
        m.role = best.kind if best else "related"
        if best is not None and best.kind == "translation" and best.b is not m:
            m.role = "translation_source"  # m is the original another member translates
        m.delta = (m.when - first.when) if (m.when is not None and first.when is not None) else None


# --- wording -----------------------------------------------------------------------------
def duration_words(seconds: float | None) -> str:
    """``1 day 3 h later``, ``45 min earlier``, ``at the same time``; '' when unknown."""
    if seconds is None:
        return ""
    s = abs(seconds)
    if s < 60:
        return "at the same time"
    days, rest = divmod(int(s), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if not days and minutes:
        parts.append(f"{minutes} min")
    if not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts) + (" later" if seconds > 0 else " earlier")


_ROLE_WORDS = {
    "translation": "translated by {who}",
    "translation_source": "translated from {who}",
    "translation_sibling": "another translation, by {who}",
    "repost": "reposted by {who}",
    "exact": "copied by {who}",
    "same_story": "same story, also reported by {who}",
    "attributed": "names it as a source: {who}",
    "related": "related, by {who}",
}


def member_words(m: Member) -> str:
    """ "translated by 4hou, 1 day 3 h later" (plain text: escape it where it is shown)."""
    if m.role == "original":
        return f"original, by {m.outlet}"
    text = _ROLE_WORDS.get(m.role, "related, by {who}").format(who=m.outlet)
    when = duration_words(m.delta)
    return f"{text}, {when}" if when else text


def display_anchor(anchor: str) -> str:
    """An anchor as an editor reads it: ``v:23.9.8`` -> ``23.9.8``, ``n:1200000`` -> ``1,200,000``."""
    kind, sep, value = anchor.partition(":")
    if not sep or kind not in ("v", "n", "d", "dom"):
        return anchor
    if kind == "n" and value.isdigit():
        return f"{int(value):,}"
    return value


__all__ = [
    "CONFIDENCE_LEGEND",
    "CONFIDENCE_WORDS",
    "KINDS",
    "KIND_LABEL",
    "Cluster",
    "Filters",
    "Member",
    "Relation",
    "build_clusters",
    "cluster_of",
    "components",
    "confidence",
    "display_anchor",
    "duration_words",
    "member_words",
]
