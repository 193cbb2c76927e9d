"""Precision, recall and F1 of the production detector on the labelled corpus, links stripped and kept.

    python bench/dedup_quality.py --corpus ../shared/corpus [--folds 5]
    python bench/dedup_quality.py --corpus ../shared/corpus --folds 1 [--no-links] [--pairs-out pairs.jsonl]

``--folds K`` (the default, K = 5) cross-validates: the corpus is split by story into K folds
(labelled groups whole), every fitted threshold is chosen on K-1 folds only
(``bench/fit_detector.py``: the same grid and the same choice that froze ``defaults.py``) and
the held-out fold is scored; it prints per fold P/R/F1, the mean and the worst fold, per
relation, content only and with links (the thresholds chosen on content only serve both, as
one set serves production). Held-out pairs are those with at least one article in the fold:
the detector runs over the whole corpus, as an index holds unseen articles among the others.
It also scores the frozen defaults per fold (``frozen``): not honest, since they were fitted on
every fold, but the gap to the cross-validated figures shows how much the fit flatters.

``--model logistic`` fits, over the thresholds, a calibrated model per content decision on the
same K-1 folds (``bench/fit_model.py``: ``--decisions``, ``--features``, ``--l2``, ``--balanced``,
``--translation-cut``) and scores the held-out fold the same way: the before/after of
``crawler/dedup/calibrated.py`` (``defaults.py`` gives the figures).

``--seeds 0,1,2`` repeats the cross-validation over other fold splits (seed 0 is the split of
the figures before seeds; the detector runs are shared, so each more seed costs seconds) and ends
with a table of mean / worst fold per seed; ``--choice smoothed`` fits as before 2026-12;
``--errors-out F`` writes every held-out false flag and miss (seed, fold, thresholds, the flags
each article got instead) for error analysis; ``--runs-cache F`` keeps the detector runs between
invocations while ``crawler/dedup`` is unchanged. A fold holding no pair of a relation (seed 1
has no zh same_story pair in one) has no F1 for it and is left out of the mean and worst.

``--folds 1`` is one run with the frozen thresholds over the whole corpus (or ``--half``):

Without ``--no-links`` it scores both ways: content only (links stripped) and with the source
links; ``--no-links`` scores content only. ``--pairs-out`` writes every pair the detector flagged
(``{"a", "b", "kind", "basis", "score"}``) of the with-links run, or of the content-only run with
``--no-links``; when both run, the content-only pairs go next to it as ``<name>.no-links.jsonl``.

The articles go through ``crawler.dedup`` exactly as the crawl pipeline sends them (minus
trafilatura: corpus texts are already text), one by one in publication order, into a fresh
catalog with the frozen thresholds of ``crawler/dedup/defaults.py``. Document frequencies are
seeded from the whole corpus first, as a production catalog has them. Scoring follows the
corpus README: every pair of the corpus, per relation by language combination (zh-en ->
translation_of, zh-zh -> same_source_translation, en-en -> same_story; zh same_story groups
reported apart); pairs positive only for another relation are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fit_detector as fitting  # noqa: E402
import fit_model  # noqa: E402

from crawler.dedup import rules  # noqa: E402
from crawler.dedup.defaults import DEFAULTS  # noqa: E402
from crawler.dedup.detector import Detector  # noqa: E402
from crawler.dedup.features import Article, compute_signals, parse_when  # noqa: E402
from crawler.dedup.normalize import strip_links  # noqa: E402
from crawler.dedup.store import ArticleStore, feature_names  # noqa: E402

RELATION_OF_COMBO = {
    ("en", "zh"): "translation_of",
    ("zh", "zh"): "same_source_translation",
    ("en", "en"): "same_story",
}


def load_corpus(folder: Path) -> tuple[list[dict], list[dict]]:
    with open(folder / "articles.jsonl", encoding="utf-8") as f:
        articles = [json.loads(line) for line in f if line.strip()]
    with open(folder / "groups.jsonl", encoding="utf-8") as f:
        groups = [json.loads(line) for line in f if line.strip()]
    return articles, groups


def half(articles: list[dict], groups: list[dict], which: str) -> tuple[list[dict], list[dict]]:
    """One half of the corpus, split by story: labelled groups that share an article stay
    together (a hidden half drawn from the same sources keeps its translations with their
    originals); the half is the parity of the smallest id's hex suffix in each cluster."""
    want = 0 if which == "even" else 1
    story = fitting.stories(articles, groups)
    keep = [a for a in articles if int(story[a["id"]].rsplit("-", 1)[-1], 16) % 2 == want]
    ids = {a["id"] for a in keep}
    out = [g for g in groups if all(i in ids for i in g["article_ids"])]
    return keep, out


def article_url(a: dict) -> str:
    return a.get("url") or f"https://corpus.invalid/{a['lang']}/{a['id']}"


def run_detector(articles: list[dict], *, strip: bool, catalog: Path, scores: dict | None = None,
                 why: dict | None = None, explain: set[frozenset[str]] | None = None
                 ) -> tuple[set[frozenset[str]], dict, float]:
    """Feed the corpus through the detector; returns the flagged id pairs, kinds, seconds.
    ``why`` receives, for every flagged pair and every pair of ``explain``, the pair's scores
    and the evidence (shared and conflicting anchors) as the detector saw them at the end."""
    items = []
    for a in articles:
        text = strip_links(a["text"]) if strip else a["text"]
        items.append(
            (
                a["id"],
                Article(
                    url=article_url(a),
                    lang=a["lang"],
                    text=text,
                    title=a.get("title") or "",
                    source=a.get("account") or a.get("site") or "",
                    published=a.get("published"),
                ),
            )
        )
    items.sort(key=lambda it: (parse_when(it[1].published) or 0.0, it[0]))
    t0 = time.perf_counter()
    signals = {aid: compute_signals(art) for aid, art in items}
    store = ArticleStore(catalog)
    # Document frequencies over the whole collection (fair: a production catalog has them).
    for aid, _art in items:
        store.features.count_document(feature_names(signals[aid]))
    det = Detector(store, DEFAULTS, update_frequencies=False)
    for aid, art in items:  # per-outlet templates over the whole collection, like the IDF
        det.templates.count(art.source, feature_names(signals[aid]))
    id_of_row: dict[int, str] = {}
    for aid, art in items:
        row, _matches = det.add(art, signals[aid])
        id_of_row[row] = aid
    det.settle()  # what the crawl does at its end (a no-op past Thresholds.young_catalog articles)
    store.commit()
    flagged: set[frozenset[str]] = set()
    kinds: dict[frozenset[str], str] = {}
    for a, b, kind, score_, basis in store.all_flags():
        pair = frozenset((id_of_row[a], id_of_row[b]))
        flagged.add(pair)
        kinds[pair] = f"{kind}/{basis}"
        if scores is not None:
            scores[pair] = score_
    if why is not None:
        row_of = {aid: row for row, aid in id_of_row.items()}
        for pair in flagged | (explain or set()):
            x, y = sorted(pair)
            why[pair] = _why(det, store.get(row_of[x]), store.get(row_of[y]))
    store.close()
    return flagged, kinds, time.perf_counter() - t0


def _why(det: Detector, a, b) -> str:
    """A pair's scores and evidence, one line: what decided (or failed to decide) it."""
    s = det.score(a, b)
    ev = rules.evidence(a, b)
    days = f"{s.days:+.1f}d" if s.days is not None else "?d"
    parts = [f"anch {s.anchors:.2f} terms {s.terms:.2f} head {s.headline:.2f} sib {s.sibling:.2f} "
             f"mixed {s.mixed:.2f} story {s.story:.2f} ham {s.hamming} {days}"]
    if ev.get("shared"):
        parts.append("shared " + ",".join(ev["shared"][:8]))
    if ev.get("conflicting"):
        parts.append("CONFLICT " + ",".join(ev["conflicting"][:8]))
    return "; ".join(parts)


def char_containment(a: str, b: str, n: int = 5) -> float:
    def grams(t: str) -> set[str]:
        t = "".join(ch for ch in t if ch.isalnum())
        return {t[i:i + n] for i in range(max(len(t) - n + 1, 1))}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / max(1, min(len(ga), len(gb)))


def score(articles: list[dict], groups: list[dict], flagged: set[frozenset[str]]) -> dict:
    lang = {a["id"]: a["lang"] for a in articles}
    positive: dict[frozenset[str], set[str]] = defaultdict(set)
    for g in groups:
        for x, y in itertools.combinations(g["article_ids"], 2):
            positive[frozenset((x, y))].add(g["relation"])
    counts = {r: {"tp": 0, "fp": 0, "fn": 0, "neg": 0, "pos": 0} for r in RELATION_OF_COMBO.values()}
    zh_story = {"tp": 0, "fn": 0}
    ids = [a["id"] for a in articles]
    for x, y in itertools.combinations(ids, 2):
        pair = frozenset((x, y))
        combo = tuple(sorted((lang[x], lang[y])))
        rel = RELATION_OF_COMBO.get(combo)
        if rel is None:
            continue
        labels = positive.get(pair, set())
        hit = pair in flagged
        if combo == ("zh", "zh") and "same_story" in labels:
            zh_story["tp" if hit else "fn"] += 1
        if rel in labels:
            c = counts[rel]
            c["pos"] += 1
            c["tp" if hit else "fn"] += 1
        elif labels:
            continue  # positive only for another relation: not scored here
        else:
            counts[rel]["neg"] += 1
            if hit:
                counts[rel]["fp"] += 1
    out = {}
    for rel, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[rel] = {**c, "precision": p, "recall": r, "f1": f}
    out["zh_same_story"] = {**zh_story, "recall": zh_story["tp"] / max(1, zh_story["tp"] + zh_story["fn"])}
    return out


def verbatim_reposts(articles: list[dict], groups: list[dict]) -> list[frozenset[str]]:
    """Pairs of the same Chinese translation reposted (5-gram containment >= 0.8, links stripped)."""
    text = {a["id"]: strip_links(a["text"]) for a in articles}
    lang = {a["id"]: a["lang"] for a in articles}
    pairs = []
    for g in groups:
        if g["relation"] != "same_source_translation" or "repost" not in (g.get("note") or ""):
            continue
        for x, y in itertools.combinations(g["article_ids"], 2):
            if lang[x] == lang[y] and char_containment(text[x], text[y]) >= 0.8:
                pairs.append(frozenset((x, y)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    ap.add_argument("--no-links", action="store_true",
                    help="content only: strip source links and URLs before the detector sees a text")
    ap.add_argument("--mode", choices=("both", "stripped", "links"), default=None,
                    help="both (default), stripped (= --no-links) or links")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--errors", action="store_true", help="list false positives and misses")
    ap.add_argument("--half", choices=("even", "odd"),
                    help="only one half of the corpus, split by story (labelled groups kept whole): a proxy for an unseen half")
    ap.add_argument("--pairs-out", type=Path, help="write every flagged pair as JSON lines")
    ap.add_argument("--folds", type=int, default=5,
                    help="cross-validate over K folds split by story (default 5); 1: one run, frozen thresholds")
    ap.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=[0],
                    help="fold splits to cross-validate, comma-separated (default 0: the split of the "
                         "figures before seeds); the detector runs are shared between them")
    ap.add_argument("--choice", choices=sorted(fitting.CHOICES), default="best",
                    help="how the fit chooses among a grid's settings (default best: fit_detector.choose)")
    ap.add_argument("--model", choices=("cascade", "logistic"), default="cascade",
                    help="with --folds K: what is fitted on K-1 folds: the cascade's thresholds (bench/fit_detector.py) "
                         "or, over them, the calibrated models of each decision (bench/fit_model.py)")
    ap.add_argument("--decisions", type=lambda v: tuple(v.split(",")), default=tuple(fit_model.SPEC),
                    help="with --model logistic: the decisions given a model, comma-separated (default all: "
                         + ",".join(fit_model.SPEC) + "); the others keep the cascade's threshold")
    ap.add_argument("--features", action="append", default=[], metavar="DECISION:F1+F2",
                    help="with --model logistic: the features of one decision's model (repeatable), "
                         "e.g. story:anchors+terms+headline+same_subject (default: bench/fit_model.SPEC)")
    ap.add_argument("--l2", type=float, default=fit_model.L2, help="with --model logistic: the L2 penalty")
    ap.add_argument("--balanced", action="store_true", help="with --model logistic: weigh both classes alike")
    ap.add_argument("--translation-cut", choices=("picked", "pairs"), default="picked",
                    help="with --model logistic: choose the translation cut by the originals it leads to "
                         "(default) or by pair F1")
    ap.add_argument("--runs-cache", type=Path,
                    help="with --folds K: keep the detector runs in this file, reused while the code is unchanged")
    ap.add_argument("--errors-out", type=Path,
                    help="with --folds K: write every held-out false flag and miss as JSON lines")
    args = ap.parse_args(argv)
    if not (args.corpus / "articles.jsonl").is_file():
        print(f"error: no articles.jsonl in {args.corpus}", file=sys.stderr)
        return 2
    articles, groups = load_corpus(args.corpus)
    if args.folds > 1 and not args.half:
        return cross_validate(articles, groups, args.folds, args)
    if args.half:
        articles, groups = half(articles, groups, args.half)
    print(f"corpus: {len(articles)} articles, {len(groups)} groups, {len(articles) * (len(articles) - 1) // 2} pairs")
    print("thresholds:", json.dumps(asdict(DEFAULTS)))
    reposts = verbatim_reposts(articles, groups)
    mode_arg = args.mode or ("stripped" if args.no_links else "both")
    modes = ["stripped", "links"] if mode_arg == "both" else [mode_arg]
    report = {"thresholds": asdict(DEFAULTS), "modes": {}}
    for mode in modes:
        with tempfile.TemporaryDirectory() as tmp:
            pair_scores: dict = {}
            why: dict | None = {} if args.errors else None
            positives = {frozenset(p) for g in groups for p in itertools.combinations(g["article_ids"], 2)}
            flagged, kinds, secs = run_detector(articles, strip=mode == "stripped", catalog=Path(tmp) / "catalog.sqlite3",
                                                scores=pair_scores, why=why, explain=positives)
        if args.pairs_out:
            out = args.pairs_out
            if len(modes) > 1 and mode == "stripped":
                out = args.pairs_out.with_name(f"{args.pairs_out.stem}.no-links{args.pairs_out.suffix}")
            with open(out, "w", encoding="utf-8") as f:
                for pair in sorted(flagged, key=sorted):
                    a, b = sorted(pair)
                    f.write(json.dumps({"a": a, "b": b, "kind": kinds[pair].split("/")[0],
                                        "basis": kinds[pair].split("/")[1], "score": round(pair_scores[pair], 4)}) + "\n")
        res = score(articles, groups, flagged)
        rep_hit = sum(p in flagged for p in reposts)
        rep_kind = sum(kinds.get(p, "").split("/")[0] in ("exact", "repost") for p in reposts)
        res["verbatim_reposts"] = {"pairs": len(reposts), "recall": rep_hit / max(1, len(reposts)),
                                   "recall_as_repost": rep_kind / max(1, len(reposts))}
        res["seconds"] = secs
        report["modes"][mode] = res
        title = "content only (links stripped)" if mode == "stripped" else "with links"
        print(f"\n== {title}: {len(flagged)} flagged pairs, {secs:.1f} s ({len(articles) / secs:.0f} articles/s)")
        print(f"{'relation':<26}{'P':>7}{'R':>7}{'F1':>7}{'TP':>6}{'FP':>6}{'FN':>6}{'neg pairs':>11}")
        for rel in RELATION_OF_COMBO.values():
            c = res[rel]
            print(f"{rel:<26}{c['precision']:>7.3f}{c['recall']:>7.3f}{c['f1']:>7.3f}{c['tp']:>6}{c['fp']:>6}{c['fn']:>6}{c['neg']:>11}")
        z = res["zh_same_story"]
        print(f"{'zh same_story (apart)':<26}{'':>7}{z['recall']:>7.3f}{'':>7}{z['tp']:>6}{'':>6}{z['fn']:>6}")
        v = res["verbatim_reposts"]
        print(f"verbatim reposts: {v['pairs']} pairs, recall {v['recall']:.3f} (as exact/repost {v['recall_as_repost']:.3f})")
        if args.errors:
            _print_errors(articles, groups, flagged, kinds, why or {})
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def cross_validate(articles: list[dict], groups: list[dict], k: int, args: argparse.Namespace) -> int:
    """Thresholds chosen on K-1 folds, scored on the held-out one; per fold, mean and worst;
    once per fold split (``--seeds``), the detector runs shared between splits."""
    n = len(articles)
    labels = fitting.Labels.of(articles, groups)
    amb = labels.ambiguous(groups)
    mode_arg = args.mode or ("stripped" if args.no_links else "both")
    modes = ["stripped", "links"] if mode_arg == "both" else [mode_arg]
    prep = {m: fitting.prepare(articles, strip=m == "stripped") for m in modes}
    fit_prep = prep.get("stripped") or fitting.prepare(articles, strip=True)
    runs: dict[str, dict] = _load_runs(args.runs_cache)
    report: dict = {"folds": k, "seeds": {}}
    errors = open(args.errors_out, "w", encoding="utf-8") if args.errors_out else None
    for spec in args.features:
        decision, names = spec.split(":", 1)
        field_name, _f, rels = fit_model.SPEC[decision]
        fit_model.SPEC[decision] = (field_name, tuple(names.split("+")), rels)
    observations = fit_model.collect(fit_prep) if args.model == "logistic" else []
    picked = args.translation_cut == "picked"
    options = fit_model.Options(
        l2=args.l2, balanced=args.balanced,
        when={aid: parse_when(art.published) or 0.0 for aid, art in fit_prep.items} if picked else None,
        lang=labels.lang if picked else None)
    for seed in args.seeds:
        owner = fitting.folds(articles, groups, k, seed)
        sizes = [sum(1 for f in owner.values() if f == i) for i in range(k)]
        print(f"\n##### seed {seed}: corpus {n} articles, {len(groups)} groups, {n * (n - 1) // 2} pairs; "
              f"{k} folds by story ({', '.join(map(str, sizes))} articles)")
        t0 = time.perf_counter()
        per_held, overall, _table = fitting.fit(articles, groups, k, prep=fit_prep, log=lambda *_: None,
                                                seed=seed, runs=runs["stripped"], choice=args.choice)
        print(f"fitted {sum(len(v) for v in fitting.GRID.values())} settings per fold in {time.perf_counter() - t0:.0f} s")
        if args.model == "logistic":
            per_held = [_with_models(th, observations, labels, amb, args.decisions, options,
                                     lambda o, held=held, owner=owner: owner[o.a] != held and owner[o.b] != held)
                        for held, th in enumerate(per_held)]
            overall = _with_models(overall, observations, labels, amb, args.decisions, options, lambda o: True)
            for held, th in enumerate(per_held):
                print(f"  fold {held} models: " + "; ".join(
                    f"{name} cut {getattr(th, name).cut}" for name in fit_model.MODEL_FIELDS if getattr(th, name)))
        fitted = {name: getattr(overall, name) for setting in fitting.GRID.values() for name in setting[0]}
        print(f"  whole corpus (what bench/fit_detector.py freezes): {json.dumps(fitted)}")
        for held, th in enumerate(per_held):
            chosen = {name: getattr(th, name) for setting in fitting.GRID.values() for name in setting[0]}
            print(f"  fold {held}: {json.dumps(chosen)}")
        seed_report: dict = {"chosen": [asdict(t) for t in per_held], "modes": {}}
        report["seeds"][seed] = seed_report
        for mode in modes:
            cv = [dict() for _ in range(k)]
            for held, th in enumerate(per_held):
                run = fitting.cached_detect(prep[mode], th, runs[mode])
                cv[held] = fitting.count(labels, run.flagged, amb, owner, k, run.kinds)[held]
                if errors is not None:
                    _write_errors(errors, labels, amb, run, owner, held, seed, mode, th)
            frozen_run = fitting.cached_detect(prep[mode], DEFAULTS, runs[mode])
            frozen = fitting.count(labels, frozen_run.flagged, amb, owner, k, frozen_run.kinds)
            title = "content only (links stripped)" if mode == "stripped" else "with links"
            seed_report["modes"][mode] = {"cross_validated": _summary(cv), "frozen": _summary(frozen)}
            print(f"\n== seed {seed}, {title}: held-out folds, thresholds chosen on the other {k - 1}")
            _print_folds(cv)
            print("-- frozen defaults.py per fold (fitted on every fold; for comparison):")
            _print_folds(frozen, brief=True)
            reposts = verbatim_reposts(articles, groups)
            link_flags = [p for p, kb in frozen_run.kinds.items() if kb.endswith("/link")]
            wrong_links = [p for p in link_flags if p not in labels.positive and p not in amb]
            print(f"verbatim reposts recall {sum(p in frozen_run.flagged for p in reposts) / max(1, len(reposts)):.3f} "
                  f"({len(reposts)} pairs); link-only flags {len(link_flags)}, wrong {len(wrong_links)}")
            seed_report["modes"][mode]["wrong_link_flags"] = len(wrong_links)
    if args.runs_cache:
        with open(args.runs_cache, "wb") as f:
            pickle.dump((_code_key(), runs), f)
    if len(args.seeds) > 1:
        _print_seeds(report, modes)
    if errors is not None:
        errors.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _with_models(th, observations: list, labels: fitting.Labels, amb: set, decisions: tuple[str, ...],
                 options, keep):
    """``th`` with the calibrated models of ``decisions`` fitted on the observations ``keep`` admits."""
    options = replace(options, margin=th.translation_margin)
    return replace(th, **fit_model.fit_models(observations, labels, amb, keep=keep, decisions=decisions,
                                              options=options))


def _code_key() -> str:
    """A digest of the detector's code: cached runs of other code are void (the fit's choice
    may change: it reads the runs, it does not make them)."""
    h = hashlib.blake2b(digest_size=16)
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "crawler" / "dedup").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def _load_runs(path: Path | None) -> dict[str, dict]:
    """Detector runs cached by ``--runs-cache`` for this very code, else none."""
    if path is not None and path.is_file():
        with open(path, "rb") as f:
            key, runs = pickle.load(f)  # noqa: S301 (a file this benchmark wrote)
        if key == _code_key():
            return runs
    return {m: {} for m in ("stripped", "links")}


def _print_seeds(report: dict, modes: list[str]) -> None:
    """Held-out mean and worst-fold F1 per relation, one column per seed."""
    print("\n== every seed: held-out mean / worst fold F1")
    for mode in modes:
        print(f"  {'content only' if mode == 'stripped' else 'with links'}")
        for rel in (*fitting.RELATIONS, fitting.ZH_STORY):
            cells = []
            for seed, rep in report["seeds"].items():
                r = rep["modes"][mode]["cross_validated"][rel]
                cells.append(f"s{seed} {r['mean']['f1']:.3f}/{r['worst_f1']:.3f}")
            print(f"    {rel:<24} " + "  ".join(cells))


def _write_errors(out, labels: fitting.Labels, amb: set, run: fitting.Run, owner: dict[str, int], held: int,
                  seed: int, mode: str, th) -> None:
    """The held-out fold's false flags and misses as JSON lines, with the run's flag on each
    article of the pair (for a miss: what the detector said instead)."""
    flags_of: dict[str, list] = defaultdict(list)
    for pair, kb in run.kinds.items():
        for x in pair:
            flags_of[x].append((sorted(pair - {x})[0], kb, round(run.scores[pair], 4)))
    chosen = {name: getattr(th, name) for setting in fitting.GRID.values() for name in setting[0]}

    def row(pair, kind, rels):
        x, y = sorted(pair)
        return {"seed": seed, "mode": mode, "fold": held, "error": kind, "a": x, "b": y,
                "relation": labels.relation(pair), "labels": sorted(rels),
                "flag": run.kinds.get(pair), "score": run.scores.get(pair),
                "detail": run.details.get(pair), "flags_a": flags_of.get(x, []), "flags_b": flags_of.get(y, []),
                "thresholds": chosen}

    for pair, rels in labels.positive.items():
        rel = labels.relation(pair)
        if rel is None or held not in {owner[x] for x in pair} or pair in run.flagged:
            continue
        if rel in rels or (rel == "same_source_translation" and "same_story" in rels):
            out.write(json.dumps(row(pair, "fn", rels)) + "\n")
    for pair in run.flagged:
        rel = labels.relation(pair)
        if rel is None or pair in labels.positive or pair in amb or held not in {owner[x] for x in pair}:
            continue
        out.write(json.dumps(row(pair, "fp", set())) + "\n")


def _defined(c: dict[str, int]) -> bool:
    """A fold with no positive pair and no false flag of a relation has no F1 for it (seed 1
    puts no zh same_story pair in one fold): left out of the mean and the worst fold."""
    return bool(c["tp"] + c["fn"] + c["fp"])


def _summary(per_fold: list[dict]) -> dict:
    out = {}
    for rel in (*fitting.RELATIONS, fitting.ZH_STORY):
        rows = [fitting.prf(f[rel]) for f in per_fold if _defined(f[rel])]
        out[rel] = {"folds": [{"precision": p, "recall": r, "f1": f1} for p, r, f1 in rows],
                    "mean": {m: sum(x[i] for x in rows) / len(rows) for i, m in enumerate(("precision", "recall", "f1"))},
                    "worst_f1": min(x[2] for x in rows),
                    "worst_recall": min(x[1] for x in rows)}
    return out


def _print_folds(per_fold: list[dict], brief: bool = False) -> None:
    for rel in (*fitting.RELATIONS, fitting.ZH_STORY):
        rows = [fitting.prf(f[rel]) if _defined(f[rel]) else None for f in per_fold]
        ok = [i for i, x in enumerate(rows) if x is not None]
        mean = [sum(rows[i][j] for i in ok) / len(ok) for j in range(3)]  # type: ignore[index]
        worst = min(ok, key=lambda i: rows[i][2])  # type: ignore[index]
        w = rows[worst]
        assert w is not None
        label = "zh same_story (apart)" if rel == fitting.ZH_STORY else rel
        cells = "  ".join(f"{x[0]:.2f}/{x[1]:.2f}/{x[2]:.3f}" if x else "   no pairs   " for x in rows)
        if brief:
            print(f"  {label:<24} mean F1 {mean[2]:.3f}  worst {w[2]:.3f}")
            continue
        print(f"  {label:<24} P/R/F1 per fold: {cells}")
        print(f"  {'':<24} mean P {mean[0]:.3f} R {mean[1]:.3f} F1 {mean[2]:.3f};  worst fold {worst}: "
              f"P {w[0]:.3f} R {w[1]:.3f} F1 {w[2]:.3f}")


def _print_errors(articles, groups, flagged, kinds, why) -> None:
    """False positives and misses: both titles, the fold, and the deciding evidence."""
    by = {a["id"]: a for a in articles}
    fold = fitting.folds(articles, groups, 5)
    positive = defaultdict(set)
    for g in groups:
        for x, y in itertools.combinations(g["article_ids"], 2):
            positive[frozenset((x, y))].add(g["relation"])
    for pair in sorted(flagged, key=sorted):
        if not positive.get(pair):
            x, y = sorted(pair)
            print(f"  FP {kinds[pair]:<28} f{fold[x]} {by[x]['lang']}:{by[x]['title'][:50]!r} | "
                  f"{by[y]['lang']}:{by[y]['title'][:50]!r}\n       {why.get(pair, '')}")
    for pair, rels in sorted(positive.items(), key=lambda kv: sorted(kv[0])):
        if pair not in flagged:
            x, y = sorted(pair)
            print(f"  FN {','.join(sorted(rels)):<28} f{fold[x]} {by[x]['lang']}:{by[x]['title'][:50]!r} | "
                  f"{by[y]['lang']}:{by[y]['title'][:50]!r}\n       {why.get(pair, '')}")


if __name__ == "__main__":
    raise SystemExit(main())
