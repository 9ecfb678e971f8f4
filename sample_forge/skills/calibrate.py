"""Calibrate the offline tagger's per-category thresholds against reference labels: the categories
an LLM tagging found skills in (the paper's method), or, lacking that, each problem's MATH subject.

For each category c the threshold t_c maximizes the F1 score of "category score >= t_c" against
"c is a reference category of the problem" over a grid (step 0.005)."""

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
    return {t.problem_id: {c for c in CATEGORIES if t.canonical.get(c)}
            for t in tags if not t.failures}


def labels_from_subjects(problems: Iterable[Problem]) -> dict[str, set[str]]:
    return {p.id: {category_of(p.subject)} for p in problems if category_of(p.subject)}  # type: ignore[misc]


def calibrate(problems: Sequence[Problem], labels: dict[str, set[str]], *,
              tagger: EmbedTagger | None = None, source: str = "",
              cross_domain: float = DEFAULT_CROSS_DOMAIN) -> Thresholds:
    """Per-category thresholds from the labelled problems (those in ``labels``)."""
    probs = [p for p in problems if p.id in labels]
    if not probs:
        raise ValueError("no problem has a reference label")
    tagger = tagger or EmbedTagger()
    zero = Thresholds({**{c: 0.0 for c in CATEGORIES}, CROSS_DOMAIN: cross_domain},
                      tagger.thresholds.category_top)
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
        metrics[c] = {"positives": int(y.sum()), "f1": round(float(f1[best]), 4),
                      "precision": round(float(p_), 4), "recall": round(float(tp[best] / y.sum()), 4)}
    values[CROSS_DOMAIN] = cross_domain
    single = [i for i, p in enumerate(probs) if len(labels[p.id]) == 1]
    top = np.array(CATEGORIES)[np.argmax(scores - np.array([values[c] for c in CATEGORIES]), 1)]
    agree = float(np.mean([top[i] in labels[probs[i].id] for i in single])) if single else None
    summary = {"problems": len(probs), "top_category_agreement": agree, "per_category": metrics}
    return Thresholds(values, tagger.thresholds.category_top, source, summary)
