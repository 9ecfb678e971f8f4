"""Calibrate the offline tagger's per-category thresholds against reference labels: the categories
an LLM tagging found skills in (the paper's method), or, lacking that, each problem's MATH subject.

For each category c the threshold t_c first maximizes the F1 score of "category score >= t_c" against
"c is a reference category of the problem" over a grid (step 0.005). Because the tagger ranks
categories by score minus threshold, the thresholds are then refined together, each within
``refine`` of its F1 optimum, to maximize how often the top-ranked category is the reference one
(problems with a single reference category; coordinate ascent, ties kept nearest the F1 optimum)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from sample_forge.records import Problem, SkillTag
from sample_forge.skills.catalog import CROSS_DOMAIN
from sample_forge.skills.embed_tagger import EmbedTagger, Thresholds
from sample_forge.subjects import CATEGORIES, category_of

__all__ = ["calibrate", "labels_from_tags", "labels_from_subjects", "DEFAULT_CROSS_DOMAIN"]

#: MATH has no science contexts to calibrate on; at 0.45 a cross-domain entry needs a clear match.
DEFAULT_CROSS_DOMAIN = 0.45
_GRID = np.round(np.arange(0.0, 0.8001, 0.005), 3)


def labels_from_tags(tags: Iterable[SkillTag]) -> dict[str, set[str]]:
    """Reference categories from LLM tags: categories with at least one canonical skill. Problems
    with a failed category are left out (their label is unknown)."""
    return {t.id: {c for c in CATEGORIES if t.canonical.get(c)} for t in tags if not t.failures}


def labels_from_subjects(problems: Iterable[Problem]) -> dict[str, set[str]]:
    return {p.id: {category_of(p.subject)} for p in problems if category_of(p.subject)}  # type: ignore[misc]


def calibrate(
    problems: Sequence[Problem],
    labels: dict[str, set[str]],
    *,
    tagger: EmbedTagger | None = None,
    source: str = "",
    cross_domain: float = DEFAULT_CROSS_DOMAIN,
    refine: float = 0.05,
) -> Thresholds:
    """Per-category thresholds from the labelled problems (those in ``labels``)."""
    probs = [p for p in problems if p.id in labels]
    if not probs:
        raise ValueError("no problem has a reference label")
    tagger = tagger or EmbedTagger()
    zero = Thresholds(
        {**{c: 0.0 for c in CATEGORIES}, CROSS_DOMAIN: cross_domain}, tagger.thresholds.category_top
    )
    scorer = EmbedTagger(tagger.catalog, zero, tagger.config)
    scores = scorer.category_margins(scorer.similarities(probs))  # raw category scores
    values: dict[str, float] = {}
    metrics: dict[str, dict[str, float]] = {}
    for j, c in enumerate(CATEGORIES):
        y = np.array([c in labels[p.id] for p in probs])
        if not y.any():
            values[c] = tagger.thresholds.values[c]
            metrics[c] = {"positives": 0, "note": "no positives; kept the previous threshold"}  # type: ignore[dict-item]
            continue
        pred = scores[:, j][:, None] >= _GRID[None, :]
        tp = (pred & y[:, None]).sum(0)
        f1 = 2 * tp / (pred.sum(0) + y.sum())
        best = int(np.argmax(f1))
        p_ = tp[best] / max(pred[:, best].sum(), 1)
        values[c] = float(_GRID[best])
        metrics[c] = {
            "positives": int(y.sum()),
            "f1": round(float(f1[best]), 4),
            "precision": round(float(p_), 4),
            "recall": round(float(tp[best] / y.sum()), 4),
        }
    single = [i for i, p in enumerate(probs) if len(labels[p.id]) == 1]
    gold = np.array([CATEGORIES.index(next(iter(labels[probs[i].id]))) for i in single])
    s1 = scores[single]

    def agreement(t: np.ndarray) -> float:
        return float(np.mean(np.argmax(s1 - t, axis=1) == gold)) if single else 0.0

    f1_t = np.array([values[c] for c in CATEGORIES])
    t = f1_t.copy()
    before = agreement(t)
    if single and refine > 0:
        for _ in range(3):
            for j in range(len(CATEGORIES)):
                cands = np.round(np.arange(f1_t[j] - refine, f1_t[j] + refine + 1e-9, 0.005), 3)
                accs = []
                for v in cands:
                    t2 = t.copy()
                    t2[j] = v
                    accs.append((agreement(t2), -abs(v - f1_t[j]), v))
                t[j] = max(accs)[2]
        values.update({c: float(t[j]) for j, c in enumerate(CATEGORIES)})
    values[CROSS_DOMAIN] = cross_domain
    summary = {
        "problems": len(probs),
        "single_label_problems": len(single),
        "top_category_agreement_f1_thresholds": round(before, 4) if single else None,
        "top_category_agreement": round(agreement(t), 4) if single else None,
        "per_category": metrics,
    }
    return Thresholds(values, tagger.thresholds.category_top, source, summary)
