"""Fit the calibrated pair models (``crawler/dedup/calibrated.py``) on labelled articles.

    python bench/fit_model.py --corpus ../shared/corpus

prints the logistic model of each decision fitted on the whole corpus, content only (what
``crawler/dedup/defaults.py`` freezes, with this command named there). ``bench/dedup_quality.py
--folds K --model logistic`` fits the same way on K-1 folds and scores the held-out fold.

How it works: one detector run over the corpus (links stripped, frequencies from all articles,
the cascade's settings) with ``Detector.observe`` set collects every pair each content decision
weighs (translation, sibling, zh_story, story) and its features, after the rules that stay rules
(exact copy, incident conflict, repost, windows, different named originals). The features do not
depend on any threshold, so one run serves every fold. Each decision's pairs are labelled from
the corpus groups (ambiguous ones left out), a logistic regression with an L2 penalty is fitted
by Newton's method (IRLS), and the cut is the probability with the best F1 on the training pairs
(halfway, in log-odds, between the last pair accepted and the next one).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fit_detector as fitting  # noqa: E402

from crawler.dedup.calibrated import Logistic  # noqa: E402
from crawler.dedup.defaults import DEFAULTS, Thresholds  # noqa: E402
from crawler.dedup.detector import Detector  # noqa: E402
from crawler.dedup.features import parse_when  # noqa: E402
from crawler.dedup.store import ArticleStore, StoredArticle, feature_names  # noqa: E402

#: Per decision: the ``Thresholds`` field its model goes in, the features it uses, and which
#: labelled relations make one of its pairs positive. A handful of features each: the corpus
#: has 30-140 positive pairs per decision, and the unseen half punished the fit before.
SPEC: dict[str, tuple[str, tuple[str, ...], frozenset[str]]] = {
    "translation": ("translation_model",
                    ("anchors", "anchors_contained", "shared_anchors", "shared_ids", "days"),
                    frozenset({"translation_of"})),
    "sibling": ("sibling_model",
                ("anchors_contained", "terms_contained", "anchors", "terms", "days", "length_ratio"),
                frozenset({"same_source_translation", "same_story"})),
    "zh_story": ("zh_story_model",
                 ("anchors", "terms", "anchors_contained", "terms_contained", "same_subject", "shared_ids", "days"),
                 frozenset({"same_source_translation", "same_story"})),
    "story": ("story_model",
              ("anchors", "terms", "headline", "same_subject", "shared_ids", "days"),
              frozenset({"same_story"})),
}
#: The ``Thresholds`` fields of the models.
MODEL_FIELDS = tuple(field_name for field_name, _f, _r in SPEC.values())
#: The L2 penalty on the coefficients (not the intercept), in units of one pair's log-loss.
L2 = 1.0


@dataclass(frozen=True)
class Observation:
    """One pair a decision weighed: the corpus ids and the features."""

    decision: str
    a: str
    b: str
    x: dict[str, float]

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.a, self.b))


def collect(prep: fitting.Prepared, th: Thresholds = DEFAULTS) -> list[Observation]:
    """Every pair each content decision weighs in one detector run over ``prep``."""
    id_of_url = {art.url: aid for aid, art in prep.items}
    out: list[Observation] = []

    def observe(decision: str, new: StoredArticle, other: StoredArticle, x: dict[str, float]) -> None:
        out.append(Observation(decision, id_of_url[new.url], id_of_url[other.url], dict(x)))

    with tempfile.TemporaryDirectory() as tmp:
        store = ArticleStore(Path(tmp) / "catalog.sqlite3")
        for aid, _art in prep.items:
            store.features.count_document(feature_names(prep.signals[aid]))
        det = Detector(store, th, update_frequencies=False)
        for aid, art in prep.items:
            det.templates.count(art.source, feature_names(prep.signals[aid]))
        det.observe = observe
        for aid, art in prep.items:
            det.add(art, prep.signals[aid])
        det.settle()
        store.close()
    # settle() may weigh a pair again: keep the last look at each.
    last = {(o.decision, o.pair): o for o in out}
    return list(last.values())


def label(o: Observation, labels: fitting.Labels, ambiguous: set[frozenset[str]]) -> int | None:
    """1 when the pair is labelled with a relation the decision stands for, 0 when with none,
    None (left out) when ambiguous or labelled only with another relation."""
    rels = labels.positive.get(o.pair, set())
    if rels & SPEC[o.decision][2]:
        return 1
    if rels or o.pair in ambiguous:
        return None
    return 0


# --- fitting ----------------------------------------------------------------------------------
def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = 50,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Coefficients and intercept minimising the (``weights``-weighted) log-loss plus
    ``l2 * |coef|^2 / 2`` (Newton)."""
    n, d = x.shape
    a = np.hstack([np.ones((n, 1)), x])
    sw = np.ones(n) if weights is None else weights
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -35, 35)))
        grad = a.T @ (sw * (p - y)) + penalty * w
        hess = (a * (sw * p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[1:], float(w[0])


def choose_cut(p: np.ndarray, y: np.ndarray) -> float:
    """The probability cut with the best F1 on ``(p, y)``: halfway in log-odds between the
    lowest accepted pair and the highest rejected one (ties to the higher cut)."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    positives = ys.sum()
    if positives == 0:
        return 1.0
    tp = np.cumsum(ys)
    f1 = 2 * tp / (np.arange(1, len(ys) + 1) + positives)
    # a cut can only fall between distinct probabilities
    last_of_value = np.r_[ps[1:] != ps[:-1], True]
    best = int(np.flatnonzero(last_of_value)[np.argmax(f1[last_of_value])])
    lo = ps[best]
    hi_logit = _logit(ps[best + 1]) if best + 1 < len(ps) else _logit(lo) - 2.0
    return float(1.0 / (1.0 + math.exp(-(_logit(lo) + hi_logit) / 2)))


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def fit_one(rows: list[tuple[dict[str, float], int]], features: tuple[str, ...], l2: float = L2,
            balanced: bool = False, cut_by: Callable[[np.ndarray], float] | None = None) -> Logistic | None:
    """A logistic model over ``features`` fitted on labelled feature rows (None without both
    classes). ``balanced`` weighs each class to the same total; ``cut_by(probabilities)``
    chooses the cut (default: the best F1 over the rows, ``choose_cut``)."""
    if not rows or len({y for _x, y in rows}) < 2:
        return None
    x = np.array([[r[f] for f in features] for r, _y in rows], dtype=float)
    y = np.array([y for _x, y in rows], dtype=float)
    weights = None
    if balanced:
        weights = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    coef, intercept = fit_logistic(x, y, l2, weights=weights)
    p = 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))
    cut = cut_by(p) if cut_by is not None else choose_cut(p, y)
    return Logistic(features, tuple(round(float(c), 4) for c in coef), round(intercept, 4), round(cut, 4))


def picked_cut(observations: list[Observation], y: np.ndarray, p: np.ndarray, when: dict[str, float],
               lang: dict[str, str], margin: float) -> float:
    """The translation cut with the best F1 of the originals it leads to: per translation, among
    the candidates it accepts, the earliest within ``margin`` of the best anchor cosine (as
    ``originals.pick_original``). A pair-level F1 would count the other reports of a story
    (which share the original's names) against a cut the one-original choice handles."""
    by_zh: dict[str, list[int]] = {}
    for i, o in enumerate(observations):
        by_zh.setdefault(o.a if lang[o.a] != "en" else o.b, []).append(i)
    positives = float(y.sum())
    cuts = sorted(set(p.tolist()), reverse=True)
    best_f1, best_at = -1.0, 0
    for n, c in enumerate(cuts):
        tp = fp = 0
        for rows in by_zh.values():
            took = [i for i in rows if p[i] >= c]
            if not took:
                continue
            top = max(observations[i].x["anchors"] for i in took)
            close = [i for i in took if observations[i].x["anchors"] >= margin * top]
            other = lambda i: observations[i].b if lang[observations[i].a] != "en" else observations[i].a  # noqa: E731
            pick = min(close, key=lambda i: (when.get(other(i), math.inf), -observations[i].x["anchors"], other(i)))
            tp += int(y[pick] == 1)
            fp += int(y[pick] == 0)
        f1 = 2 * tp / (2 * tp + fp + (positives - tp)) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_at = f1, n
    lo = cuts[best_at]
    hi = cuts[best_at + 1] if best_at + 1 < len(cuts) else 1 / (1 + math.exp(-(_logit(lo) - 2.0)))
    return float(1.0 / (1.0 + math.exp(-(_logit(lo) + _logit(hi)) / 2)))


def _picked_cut_of(kept: list[Observation], y: np.ndarray, opt: Options, p: np.ndarray) -> float:
    assert opt.when is not None and opt.lang is not None
    return picked_cut(kept, y, p, opt.when, opt.lang, opt.margin)


@dataclass(frozen=True)
class Options:
    """How the models are fitted (``dedup_quality.py --l2 / --balanced``)."""

    l2: float = L2
    balanced: bool = False
    #: Articles' dates and languages: with them the translation cut is chosen by the originals it
    #: leads to (``picked_cut``), else by pair F1.
    when: dict[str, float] | None = None
    lang: dict[str, str] | None = None
    margin: float = DEFAULTS.translation_margin


def fit_models(observations: list[Observation], labels: fitting.Labels, ambiguous: set[frozenset[str]],
               keep: Callable[[Observation], bool] = lambda o: True, decisions: tuple[str, ...] = tuple(SPEC),
               l2: float = L2, options: Options | None = None) -> dict[str, Logistic]:
    """A model per decision in ``decisions`` (the ``Thresholds`` field -> model), fitted on the
    observations ``keep`` admits (the training folds' pairs)."""
    opt = options or Options(l2=l2)
    models: dict[str, Logistic] = {}
    for decision in decisions:
        field_name, features, _rels = SPEC[decision]
        rows, kept = [], []
        for o in observations:
            if o.decision != decision or not keep(o):
                continue
            y = label(o, labels, ambiguous)
            if y is not None:
                rows.append((o.x, y))
                kept.append(o)
        cut_by = None
        if decision == "translation" and opt.when is not None and opt.lang is not None:
            ys = np.array([y for _x, y in rows], dtype=float)
            cut_by = partial(_picked_cut_of, kept, ys, opt)
        model = fit_one(rows, features, opt.l2, opt.balanced, cut_by)
        if model is not None:
            models[field_name] = model
    return models


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    args = ap.parse_args(argv)
    articles, groups = fitting.load_corpus(args.corpus)
    labels = fitting.Labels.of(articles, groups)
    amb = labels.ambiguous(groups)
    prep = fitting.prepare(articles, strip=True)
    observations = collect(prep)
    when = {aid: parse_when(art.published) or 0.0 for aid, art in prep.items}
    models = fit_models(observations, labels, amb, options=Options(when=when, lang=labels.lang))
    for decision, (field_name, _f, _r) in SPEC.items():
        n = [label(o, labels, amb) for o in observations if o.decision == decision]
        print(f"{decision}: {sum(1 for y in n if y == 1)} positive, {sum(1 for y in n if y == 0)} negative pairs")
        m = models.get(field_name)
        print(f"  {field_name} = " + (json.dumps({"features": m.features, "coef": m.coef, "intercept": m.intercept,
                                                   "cut": m.cut}) if m else "None"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
