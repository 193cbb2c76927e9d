"""The calibrated pair models: probability and cut, the rules that stay rules, the frozen models, settings."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from crawler.dedup import calibrated, rules
from crawler.dedup.calibrated import Logistic
from crawler.dedup.defaults import DEFAULTS, MODEL_FIELDS, Thresholds
from crawler.dedup.kinds import Kind
from tests.dedup.test_rules import art, score

#: A story model that leans on the headline and the shared subject (not the frozen one: these
#: tests are about how a model is used, whatever its values).
STORY = Logistic(("anchors", "terms", "headline", "same_subject", "days"), (3.0, 3.0, 5.0, 2.0, -1.0), -5.0, 0.5)


def with_ids(a, ids: list[str]):
    a.signals.anchors.update({i: 3 for i in ids})
    return a


def story_pair(ids_a=("cve-2024-0001",), ids_b=("cve-2024-0001",), day: float = 1.0):
    a = with_ids(art(1, "en", source="a"), list(ids_a))
    b = with_ids(art(2, "en", day=day, source="b"), list(ids_b))
    return a, b


def classify(a, b, s, th: Thresholds):
    return rules.classify(a, b, s, th, new_sources=rules.sources(a))


def test_probability_is_monotone_in_the_main_similarity() -> None:
    x = calibrated.pair_features(s_anchors=0.0, s_terms=0.3, s_headline=0.3, s_anchors_contained=0.0,
                                 s_terms_contained=0.0, days=1.0, same_subject=False, shared_ids=0,
                                 shared_anchors=0, lengths=(100, 120), translated=False)
    ps = [STORY.probability({**x, "anchors": v}) for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    assert ps == sorted(ps) and ps[0] < ps[-1]
    assert all(0.0 < p < 1.0 for p in ps)


def test_a_model_decides_in_place_of_the_threshold_and_its_probability_is_the_score() -> None:
    a, b = story_pair()
    th = replace(DEFAULTS, story_model=STORY)
    strong = classify(a, b, score(a, b, anchors=0.6, terms=0.5, headline=0.6), th)
    assert strong is not None and strong.kind == Kind.SAME_STORY
    assert strong.p is not None and strong.score == strong.p >= STORY.cut
    assert strong.because and strong.because[0].split()[0] in STORY.features
    assert classify(a, b, score(a, b, anchors=0.05, terms=0.05, headline=0.0), th) is None


def test_conflicting_incident_ids_are_never_flagged_whatever_the_model_says() -> None:
    a, b = story_pair(("cve-2024-0001",), ("cve-2024-0002",))
    certain = Logistic(("anchors",), (1.0,), 30.0, 0.5)
    th = replace(DEFAULTS, story_model=certain, sibling_model=certain, zh_story_model=certain,
                 translation_model=certain)
    assert classify(a, b, score(a, b, anchors=0.9, terms=0.9, headline=0.9), th) is None
    zh_a = with_ids(art(3, "zh"), ["cve-2024-0001"])
    zh_b = with_ids(art(4, "zh", day=1.0), ["cve-2024-0002"])
    assert classify(zh_a, zh_b, score(zh_a, zh_b, anchors=0.9, terms=0.9), th) is None
    assert classify(zh_b, a, score(zh_b, a, anchors=0.9), th) is None


def test_windows_and_same_outlet_stay_rules() -> None:
    certain = Logistic(("anchors",), (1.0,), 30.0, 0.5)
    th = replace(DEFAULTS, story_model=certain)
    near_a, near_b = story_pair(day=1.0)
    assert classify(near_a, near_b, score(near_a, near_b, anchors=0.9, terms=0.6, headline=0.9), th) is not None
    a, b = story_pair(day=th.story_window_days + 1)
    assert classify(a, b, score(a, b, anchors=0.9, terms=0.6, headline=0.9), th) is None
    same_outlet = with_ids(art(5, "en", day=1.0, source="a"), ["cve-2024-0001"])
    assert classify(a, same_outlet, score(a, same_outlet, anchors=0.9, terms=0.6, headline=0.9), th) is None


def test_the_evidence_of_a_model_flag_names_its_probability_and_why() -> None:
    a, b = story_pair()
    th = replace(DEFAULTS, story_model=STORY)
    s = score(a, b, anchors=0.6, terms=0.5, headline=0.6)
    decision, _weak = rules.decide(a, b, s, classify(a, b, s, th), None, th)
    assert decision is not None
    assert decision.detail["p"] == pytest.approx(decision.score, abs=1e-4)
    assert decision.detail["because"] and "headline" in " ".join(decision.detail["because"])


def test_frozen_models_load_and_reproduce_their_own_decisions() -> None:
    frozen = [(name, getattr(DEFAULTS, name)) for name in MODEL_FIELDS if getattr(DEFAULTS, name) is not None]
    for _name, model in frozen:
        again = Logistic.of({"features": list(model.features), "coef": list(model.coef),
                             "intercept": model.intercept, "cut": model.cut})
        assert again == model
        everything = dict.fromkeys(calibrated.FEATURES, 0.0)
        # Full similarity on every feature the model rewards is accepted; none at all is not.
        best = {**everything, **{f: 1.0 for f, c in zip(model.features, model.coef) if c > 0}}
        assert model.probability(best) >= model.cut > model.probability(everything)


def test_models_are_settings_like_the_thresholds() -> None:
    th = Thresholds.from_mapping({"story_model": {"features": ["anchors", "headline"], "coef": [2, 3],
                                                  "intercept": -2, "cut": 0.6}, "story_min": 0.5})
    assert th.story_model == Logistic(("anchors", "headline"), (2.0, 3.0), -2.0, 0.6)
    assert hash(th) == hash(Thresholds.from_mapping({"story_model": th.story_model, "story_min": 0.5}))
    assert Thresholds.from_mapping({"story_model": None}).story_model is None
    with pytest.raises(ValueError):
        Thresholds.from_mapping({"story_model": {"features": ["colour"], "coef": [1], "intercept": 0, "cut": 0.5}})
    assert set(MODEL_FIELDS) <= {f.name for f in fields(Thresholds)}
