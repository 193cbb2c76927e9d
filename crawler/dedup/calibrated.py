"""The calibrated pair models: a logistic model per decision, over a handful of named pair features.

Where the cascade compares one similarity score with a hand-set threshold (a translation's
anchor cosine, a zh-zh sibling's containment, a same-story score), a :class:`Logistic` gives
the probability that the pair is what the decision says, from several features at once; the
pair is accepted when the probability reaches the model's ``cut``. The coefficients are fitted
by ``bench/fit_model.py`` and frozen in ``defaults.py``; nothing here learns. The features are
computed by :func:`pair_features` from the pair's :class:`PairScore` and the two articles'
facts (``rules.py`` passes those in: this module imports nothing of the detector).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Every feature a model may name, and what it measures (all about 0..1, so that one L2
#: penalty treats them alike and a coefficient reads as "from none to full").
FEATURES = {
    "anchors": "IDF-weighted cosine of the anchors (ids, names, figures, dates)",
    "terms": "IDF-weighted cosine of the words (same language only)",
    "headline": "cosine of the headlines' words (same language only)",
    "anchors_contained": "weighted share of the smaller anchor set found in the other",
    "terms_contained": "weighted share of the smaller word set found in the other",
    "sibling": "mean of anchors_contained and terms_contained (the cascade's zh-zh sibling score)",
    "mixed": "mean of anchors and terms (the cascade's zh same-story score)",
    "story": "mean of anchors, terms and headline (the cascade's en same-story score)",
    "days": "|days| between the two, over 30 (capped at 2)",
    "same_subject": "1 when what each names most is the same set of incident ids",
    "shared_ids": "incident ids both name, over 3 (capped at 1)",
    "shared_anchors": "log(1 + anchors both name) over log(51) (capped at 1)",
    "length_ratio": "the shorter text's length over the longer's",
    "translated": "1 when either says it is a translation",
}


@dataclass(frozen=True)
class Logistic:
    """``p = 1 / (1 + exp(-(intercept + sum(coef[i] * x[features[i]]))))``; accepted at ``p >= cut``."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    cut: float

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or len(self.coef) != len(self.features):
            raise ValueError(f"bad logistic model: unknown features {unknown} or {len(self.coef)} "
                             f"coefficients for {len(self.features)} features")

    @classmethod
    def of(cls, value: Logistic | Mapping[str, Any]) -> Logistic:
        """From a mapping (``DEDUP_THRESHOLDS`` holds plain values): ``{"features": [...],
        "coef": [...], "intercept": x, "cut": p}``."""
        if isinstance(value, Logistic):
            return value
        return cls(tuple(value["features"]), tuple(float(c) for c in value["coef"]), float(value["intercept"]),
                   float(value["cut"]))

    def logit(self, x: Mapping[str, float]) -> float:
        return self.intercept + sum(c * x[f] for f, c in zip(self.features, self.coef))

    def probability(self, x: Mapping[str, float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def because(self, x: Mapping[str, float], top: int = 3) -> list[str]:
        """The features that moved this pair's probability most, strongest first, as
        ``name +contribution`` (a contribution is ``coef * value`` in logit units)."""
        parts = sorted(((c * x[f], f) for f, c in zip(self.features, self.coef) if c * x[f]),
                       key=lambda t: -abs(t[0]))
        return [f"{f} {v:+.2f}" for v, f in parts[:top]]


def pair_features(*, s_anchors: float, s_terms: float, s_headline: float, s_anchors_contained: float,
                  s_terms_contained: float, days: float | None, same_subject: bool, shared_ids: int,
                  shared_anchors: int, lengths: tuple[int, int], translated: bool) -> dict[str, float]:
    """Every feature of ``FEATURES`` for one pair (see there)."""
    lo, hi = sorted(lengths)
    return {
        "anchors": s_anchors,
        "terms": s_terms,
        "headline": s_headline,
        "anchors_contained": s_anchors_contained,
        "terms_contained": s_terms_contained,
        "sibling": (s_anchors_contained + s_terms_contained) / 2,
        "mixed": (s_anchors + s_terms) / 2,
        "story": (s_anchors + s_terms + s_headline) / 3,
        "days": min(abs(days) / 30.0, 2.0) if days is not None else 0.0,
        "same_subject": 1.0 if same_subject else 0.0,
        "shared_ids": min(shared_ids / 3.0, 1.0),
        "shared_anchors": min(math.log1p(shared_anchors) / math.log(51.0), 1.0),
        "length_ratio": lo / hi if hi > 0 else 0.0,
        "translated": 1.0 if translated else 0.0,
    }
