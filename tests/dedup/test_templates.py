"""Outlet templates: features most of one outlet's articles hold, and few others, weigh nothing."""

from __future__ import annotations

from crawler.dedup import templates
from crawler.dedup.features import Article, compute_signals
from crawler.dedup.scoring import Scorer
from crawler.dedup.store import ArticleStore, feature_names
from crawler.dedup.templates import SourceTemplates


def df_of(counts: dict[str, int]):
    return lambda feats: {f: counts.get(f, 0) for f in feats}


def test_a_template_is_common_in_its_outlet_and_rare_elsewhere() -> None:
    t = SourceTemplates(min_articles=5, min_share=0.5, min_lift=2.0)
    for n in range(10):
        t.count("cert", ["t:footer", "t:fix", f"t:story{n}"] + (["t:half"] if n % 2 else []))
    df = df_of({"t:footer": 10, "t:fix": 80, "t:half": 5})
    # footer: all 10 of the outlet's articles, 10 of 100 overall (lift 10); fix: everywhere (lift
    # 1.25); half: 50% of the outlet; story words: one article each.
    assert t.template("cert", df, 100) == {"t:footer", "t:half"}
    assert t.template("elsewhere", df, 100) == frozenset()
    few = SourceTemplates(min_articles=5, min_share=0.5, min_lift=2.0)
    for _ in range(4):
        few.count("new", ["t:footer"])
    assert few.template("new", df, 100) == frozenset()  # too few articles to tell


def test_rare_features_are_pruned_but_the_template_stays() -> None:
    t = SourceTemplates(min_articles=5, min_share=0.5, min_lift=2.0)
    for n in range(templates.PRUNE_EVERY):
        t.count("cert", ["t:footer", f"t:story{n}"])
    assert set(t._held["cert"]) == {"t:footer"}
    assert t.template("cert", df_of({"t:footer": 64}), 1000) == {"t:footer"}


def test_the_outlet_template_no_longer_makes_two_stories_alike() -> None:
    store = ArticleStore(":memory:")
    footer = "Follow Sunzhonghao on QQ 82992251 for Zhonghao Weekly."
    texts = [f"Story {w} about {w.lower()}ware and Vendor{n}. {footer}"
             for n, w in enumerate(["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"])]
    texts += [f"Unrelated item {n} on Product{n}." for n in range(20)]
    t = SourceTemplates(min_articles=5, min_share=0.5, min_lift=2.0)
    stored = []
    for n, text in enumerate(texts):
        a = Article(url=f"https://x.example/{n}", lang="en", text=text, title="", source="cert" if n < 6 else "other")
        sig = compute_signals(a)
        store.features.count_document(feature_names(sig))
        t.count(a.source, feature_names(sig))
        stored.append(store.get(store.insert(a, sig)))
    plain, discounted = Scorer(store.features), Scorer(store.features, t)
    before = plain.score(stored[0], stored[1])
    after = discounted.score(stored[0], stored[1])
    assert before.terms > 0.25 and before.anchors > 0.4  # the footer alone makes them alike
    assert after.terms < 0.05 and after.anchors < 0.05
