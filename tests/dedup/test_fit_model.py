"""bench/fit_model.py: the logistic fit finds a separating model and a cut between the classes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    # Loaded by path: putting bench/ on sys.path would let its scripts shadow installed packages.
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up; fit_model imports fit_detector
    spec.loader.exec_module(module)
    return module


fitting = sys.modules.get("fit_detector") or _load("fit_detector")
fit_model = _load("fit_model")


def synthetic(n: int = 200, seed: int = 3) -> list[tuple[dict[str, float], int]]:
    """Positives have high anchors and terms, negatives low; ``days`` is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        y = i % 4 == 0
        centre = 0.7 if y else 0.2
        rows.append(({"anchors": float(np.clip(rng.normal(centre, 0.08), 0, 1)),
                      "terms": float(np.clip(rng.normal(centre, 0.08), 0, 1)),
                      "days": float(rng.uniform(0, 1))}, int(y)))
    return rows


def test_the_fit_separates_a_separable_set_with_a_cut_between_the_classes() -> None:
    rows = synthetic()
    model = fit_model.fit_one(rows, ("anchors", "terms", "days"))
    assert model is not None
    got = [model.probability(x) >= model.cut for x, _y in rows]
    assert got == [bool(y) for _x, y in rows]
    anchors, terms, days = model.coef
    assert anchors > 0 and terms > 0 and abs(days) < min(anchors, terms)
    # the cut lies strictly between the classes' probabilities
    assert max(model.probability(x) for x, y in rows if not y) < model.cut < min(model.probability(x) for x, y in rows if y)


def test_stronger_regularisation_shrinks_the_coefficients() -> None:
    rows = synthetic()
    loose = fit_model.fit_one(rows, ("anchors", "terms"), l2=0.1)
    tight = fit_model.fit_one(rows, ("anchors", "terms"), l2=30.0)
    assert loose is not None and tight is not None
    assert sum(abs(c) for c in tight.coef) < sum(abs(c) for c in loose.coef)


def test_one_class_fits_nothing() -> None:
    assert fit_model.fit_one([({"anchors": 0.5}, 1)] * 5, ("anchors",)) is None


def test_the_cut_maximises_f1_on_the_training_pairs() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0], dtype=float)
    cut = fit_model.choose_cut(p, y)
    assert 0.3 < cut < 0.4  # taking the 0.4 positive (with the 0.7 negative) beats stopping at 0.8


def test_labels_follow_the_decision_and_leave_out_ambiguous_and_other_relations() -> None:
    articles = [{"id": f"x-{i}", "lang": lang} for i, lang in enumerate(["en", "en", "zh", "zh", "en"])]
    groups = [{"article_ids": ["x-0", "x-1"], "relation": "same_story"},
              {"article_ids": ["x-2", "x-3"], "relation": "same_story"},
              {"article_ids": ["x-0", "x-4"], "relation": "ambiguous"}]
    labels = fitting.Labels.of(articles, groups)
    amb = labels.ambiguous(groups)

    def obs(decision: str, a: str, b: str):
        return fit_model.Observation(decision, a, b, {})

    assert fit_model.label(obs("story", "x-0", "x-1"), labels, amb) == 1
    assert fit_model.label(obs("zh_story", "x-2", "x-3"), labels, amb) == 1
    assert fit_model.label(obs("story", "x-0", "x-4"), labels, amb) is None
    assert fit_model.label(obs("story", "x-1", "x-4"), labels, amb) == 0
    assert fit_model.label(obs("translation", "x-0", "x-1"), labels, amb) is None


def test_balanced_classes_move_the_cut_not_the_separation() -> None:
    rows = synthetic()
    model = fit_model.fit_one(rows, ("anchors", "terms"), balanced=True)
    assert model is not None
    assert [model.probability(x) >= model.cut for x, _y in rows] == [bool(y) for _x, y in rows]


def test_the_translation_cut_is_chosen_by_the_originals_it_leads_to() -> None:
    """One translation (z1) and three English candidates: its original e1 (earliest), a later
    report of the story e2 with a higher anchor cosine (negative), and an unrelated e3. Only a cut
    that keeps e1 among the accepted lets the earliest-within-margin choice find it."""
    lang = {"z1": "zh", "e1": "en", "e2": "en", "e3": "en"}
    when = {"e1": 0.0, "e2": 3600.0, "e3": 0.0, "z1": 7200.0}
    obs = [fit_model.Observation("translation", "z1", "e1", {"anchors": 0.5}),
           fit_model.Observation("translation", "z1", "e2", {"anchors": 0.6}),
           fit_model.Observation("translation", "z1", "e3", {"anchors": 0.1})]
    y = np.array([1.0, 0.0, 0.0])
    p = np.array([0.4, 0.7, 0.1])
    cut = fit_model.picked_cut(obs, y, p, when, lang, margin=0.6)
    assert 0.1 < cut <= 0.4


def test_collect_sees_the_pairs_each_decision_weighs_through_the_real_detector() -> None:
    """Two English reports of one incident and an unrelated one, a day apart: the story decision
    weighs the pair of reports with its features; the unrelated article shares nothing to be found by."""
    story = ("Fortinet patched CVE-2024-21762, an out-of-bounds write in FortiOS SSL VPN that attackers "
             "exploit to run code without authentication. Fortinet urges customers on FortiOS 7.4 to upgrade. ")
    other = ("Researchers describe a new phishing kit that targets payroll portals with fake login pages "
             "hosted on cheap domains. The kit steals session cookies. ")
    articles = [
        {"id": "e-1", "lang": "en", "title": "Fortinet fixes exploited FortiOS SSL VPN flaw CVE-2024-21762",
         "text": story * 3, "site": "one.example", "published": "2024-02-09T10:00:00Z"},
        {"id": "e-2", "lang": "en", "title": "FortiOS SSL VPN bug CVE-2024-21762 exploited in attacks",
         "text": story.replace("urges", "tells") * 2 + "CISA added the flaw to its catalog. ",
         "site": "two.example", "published": "2024-02-10T08:00:00Z"},
        {"id": "e-3", "lang": "en", "title": "Phishing kit targets payroll portals", "text": other * 3,
         "site": "three.example", "published": "2024-02-10T09:00:00Z"},
    ]
    groups = [{"article_ids": ["e-1", "e-2"], "relation": "same_story"}]
    observations = fit_model.collect(fitting.prepare(articles, strip=True))
    weighed = {o.pair: o for o in observations if o.decision == "story"}
    pair = frozenset(("e-1", "e-2"))
    assert pair in weighed
    x = weighed[pair].x
    assert x["same_subject"] == 1.0 and x["shared_ids"] > 0 and x["anchors"] > 0
    labels = fitting.Labels.of(articles, groups)
    assert fit_model.label(weighed[pair], labels, set()) == 1
