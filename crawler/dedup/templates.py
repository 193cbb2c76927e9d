"""Each outlet's template: the words and anchors most of its articles hold and few others do.

An outlet wraps every article in the same text: its name, a footer ("关注我们", a QQ group, the
editor's name and number), an RSS tail ("The post ... appeared first on SecurityWeek"), an
advisory template. Those features say which outlet wrote an article, not which story it tells,
yet they weigh in the similarity of its articles with each other and with an outlet that shares
a template author. ``SourceTemplates`` counts, per source, how many of its articles hold each
feature; a feature held by at least ``min_share`` of a source's articles, and at least
``min_lift`` times as common there as in the whole catalog, is that source's template and carries
no weight in the vectors of the source's articles (``Scorer.vectors``). These are unlabelled
document statistics, like the IDF.

Memory stays bounded: every ``PRUNE_EVERY`` articles of a source, features held by fewer than half
of ``min_share`` of them are forgotten (a template feature is in most articles from the first one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

#: A source's rare features are forgotten every this many of its articles.
PRUNE_EVERY = 64


class SourceTemplates:
    """Per-source feature counts and, from them, each source's template features."""

    def __init__(self, *, min_articles: int, min_share: float, min_lift: float) -> None:
        self.min_articles = min_articles
        self.min_share = min_share
        self.min_lift = min_lift
        self._articles: Counter[str] = Counter()
        self._held: dict[str, Counter[str]] = {}
        self._cache: dict[str, tuple[int, int, frozenset[str]]] = {}

    def count(self, source: str, features: Iterable[str]) -> None:
        """One more article of ``source`` holding ``features``."""
        if not source:
            return
        self._articles[source] += 1
        held = self._held.setdefault(source, Counter())
        held.update(set(features))
        n = self._articles[source]
        if n % PRUNE_EVERY == 0:
            floor = self.min_share * n / 2
            self._held[source] = Counter({f: c for f, c in held.items() if c >= floor})

    def template(self, source: str, df: Callable[[Iterable[str]], dict[str, int]], total: int) -> frozenset[str]:
        """The template features of ``source`` (none below ``min_articles`` articles). ``df`` gives
        the catalog's document frequencies, ``total`` its number of documents."""
        n = self._articles.get(source, 0)
        if n < self.min_articles or not total:
            return frozenset()
        hit = self._cache.get(source)
        if hit is not None and hit[0] == n and abs(hit[1] - total) <= total * 0.01:
            return hit[2]
        common = [f for f, c in self._held[source].items() if c >= self.min_share * n]
        dfs = df(common) if common else {}
        out = frozenset(f for f in common
                        if self._held[source][f] / n >= self.min_lift * max(dfs.get(f, 0), 1) / total)
        self._cache[source] = (n, total, out)
        return out
