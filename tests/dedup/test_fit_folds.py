"""The cross-validation of bench/fit_detector.py: folds keep stories whole; a held-out fold's
pairs and its training pairs never overlap; counts add up."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# Loaded by path: putting bench/ on sys.path would let its scripts shadow installed packages.
_spec = importlib.util.spec_from_file_location(
    "fit_detector", Path(__file__).resolve().parents[2] / "bench" / "fit_detector.py")
assert _spec and _spec.loader
fitting = importlib.util.module_from_spec(_spec)
sys.modules["fit_detector"] = fitting  # dataclasses look their module up
_spec.loader.exec_module(fitting)


def corpus() -> tuple[list[dict], list[dict]]:
    articles = [{"id": f"x-{i:02x}", "lang": "zh" if i % 3 == 0 else "en"} for i in range(40)]
    groups = [{"article_ids": ["x-00", "x-01"], "relation": "translation_of"},
              {"article_ids": ["x-01", "x-02", "x-04"], "relation": "same_story"},
              {"article_ids": ["x-03", "x-06"], "relation": "same_source_translation"},
              {"article_ids": ["x-09", "x-0c"], "relation": "ambiguous"}]
    return articles, groups


def test_folds_keep_every_labelled_story_whole_and_use_every_fold() -> None:
    articles, groups = corpus()
    owner = fitting.folds(articles, groups, 5)
    for g in groups:
        assert len({owner[i] for i in g["article_ids"]}) == 1
    assert set(owner.values()) == set(range(5))
    assert owner == fitting.folds(list(reversed(articles)), groups, 5)  # order does not matter


def test_held_out_and_training_counts_partition_the_pairs() -> None:
    articles, groups = corpus()
    labels = fitting.Labels.of(articles, groups)
    amb = labels.ambiguous(groups)
    owner = fitting.folds(articles, groups, 3)
    # One true translation, one false en-en flag across folds, the ambiguous pair (never counted).
    cross = next((a["id"], b["id"]) for a in articles for b in articles
                 if a["lang"] == b["lang"] == "en" and owner[a["id"]] != owner[b["id"]])
    flagged = {frozenset(("x-00", "x-01")), frozenset(cross), frozenset(("x-09", "x-0c"))}
    per_fold = fitting.count(labels, flagged, amb, owner, 3)
    whole = fitting.count(labels, flagged, amb, {a: 0 for a in owner}, 1)[0]
    assert whole["translation_of"] == {"tp": 1, "fp": 0, "fn": 0}
    assert whole["same_story"]["fp"] == 1 and whole["same_story"]["fn"] == 3
    assert whole["same_source_translation"] == {"tp": 0, "fp": 0, "fn": 1}
    # The cross-fold false flag is held out in both its folds and trains neither.
    held = [f["same_story"]["fp"] for f in per_fold]
    assert sorted(held) == sorted([1 if i in (owner[cross[0]], owner[cross[1]]) else 0 for i in range(3)])
    for k in range(3):
        train = fitting.training(per_fold, whole, k, "same_story")
        assert train["fp"] == (0 if per_fold[k]["same_story"]["fp"] else 1)


def test_neighbours_are_one_step_along_one_parameter() -> None:
    grid = [{"m": m, "w": w} for w in (7.0, 14.0) for m in (0.1, 0.2, 0.3)]
    near = fitting.neighbours(grid)
    assert sorted(near[0]) == [1, 3]  # (0.1, 7): (0.2, 7) and (0.1, 14)
    assert sorted(near[4]) == [1, 3, 5]  # (0.2, 14): (0.2, 7), (0.1, 14), (0.3, 14)


def test_the_smoothed_choice_prefers_a_plateau_to_a_lone_peak() -> None:
    # The choice before 2026-12 (``choose_smoothed``, ``--choice smoothed``); ``choose`` below.
    def counts(tp: int, fp: int, fn: int) -> dict[str, dict[str, int]]:
        return {"r": {"tp": tp, "fp": fp, "fn": fn}}
    grid = [({"m": m}, counts(*c)) for m, c in zip((0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                                                    ((2, 8, 8), (10, 0, 0), (2, 8, 8), (9, 1, 1), (9, 1, 1), (9, 1, 1)))]
    # 0.2 has the best F1 alone (1.0) between two bad neighbours; 0.5 sits inside a plateau of 0.9.
    assert fitting.choose_smoothed(grid, "r") == {"m": 0.5}
    flat = [({"m": m}, counts(5, 1, 1)) for m in (0.1, 0.2, 0.3)]
    assert fitting.choose_smoothed(flat, "r") == {"m": 0.2}  # ties: the middle of the grid


def test_a_grid_key_names_the_relation_that_chooses_it() -> None:
    assert fitting.relation_of("translation_of") == "translation_of"
    assert fitting.relation_of("translation_of:headline") == "translation_of"
    assert all(fitting.relation_of(key) in (*fitting.RELATIONS, fitting.ZH_STORY) for key in fitting.GRID)


def test_another_seed_is_another_split_that_keeps_stories_whole() -> None:
    articles, groups = corpus()
    assert fitting.folds(articles, groups, 5, 0) == fitting.folds(articles, groups, 5)
    other = fitting.folds(articles, groups, 5, 1)
    assert other != fitting.folds(articles, groups, 5)
    assert other == fitting.folds(list(reversed(articles)), groups, 5, 1)
    for g in groups:
        assert len({other[i] for i in g["article_ids"]}) == 1


def test_the_fit_takes_the_best_training_f1_and_breaks_ties_at_the_grid_middle() -> None:
    def counts(tp: int, fp: int, fn: int) -> dict[str, dict[str, int]]:
        return {"r": {"tp": tp, "fp": fp, "fn": fn}}
    # A narrow optimum next to a cliff (one step lower adds false flags, one higher loses pairs):
    # the smoothed choice leaves it for the flat side, the best F1 keeps it.
    grid = [({"m": m}, counts(*c)) for m, c in zip((0.14, 0.16, 0.18, 0.20, 0.22),
                                                    ((20, 9, 0), (20, 8, 0), (20, 2, 0), (19, 1, 1), (19, 1, 1)))]
    assert fitting.choose(grid, "r") == {"m": 0.18}
    assert fitting.choose_smoothed(grid, "r") == {"m": 0.2}
    flat = [({"m": m}, counts(5, 1, 1)) for m in (0.1, 0.2, 0.3)]
    assert fitting.choose(flat, "r") == {"m": 0.2}
    assert set(fitting.CHOICES) == {"best", "smoothed"}
