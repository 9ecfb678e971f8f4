"""Skill spectrum of one problem (distinct canonical skills per category, total, breadth) and
saliency statistics over a pool (skill frequencies per category and per subject), with plots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sample_forge.records import SkillTag
from sample_forge.skills.catalog import GROUPS
from sample_forge.subjects import CATEGORIES

__all__ = ["fill_spectrum", "pool_stats", "plot_spectrum"]


def fill_spectrum(tag: SkillTag) -> SkillTag:
    """Set ``spectrum`` (distinct canonical skills per group), ``total`` (distinct over all groups)
    and ``breadth`` (how many of the five paper categories have at least one skill)."""
    tag.canonical = {g: list(dict.fromkeys(tag.canonical[g])) for g in GROUPS if tag.canonical.get(g)}
    tag.spectrum = {g: len(v) for g, v in tag.canonical.items()}
    tag.total = len({s for v in tag.canonical.values() for s in v})
    tag.breadth = sum(1 for c in CATEGORIES if tag.spectrum.get(c, 0) > 0)
    return tag


def pool_stats(tags: Iterable[SkillTag], subjects: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Saliency over a pool: how many problems carry each canonical skill, per group and per subject;
    the mean spectrum per group; the distribution of breadth; failure counts by reason."""
    subjects = subjects or {}
    n = 0
    freq: dict[str, Counter[str]] = {g: Counter() for g in GROUPS}
    by_subject: dict[str, Counter[str]] = {}
    spectrum_sum: Counter[str] = Counter()
    breadth: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    totals = 0
    for t in tags:
        n += 1
        totals += t.total
        breadth[t.breadth] += 1
        subj = subjects.get(t.id) or "(none)"
        sc = by_subject.setdefault(subj, Counter())
        for g, names in t.canonical.items():
            freq.setdefault(g, Counter()).update(names)
            sc.update(names)
            spectrum_sum[g] += len(names)
        for why in t.failures.values():
            failures[why.split(":")[0]] += 1
    return {
        "problems": n,
        "mean_total": totals / n if n else 0.0,
        "mean_spectrum": {g: spectrum_sum[g] / n if n else 0.0 for g in GROUPS},
        "breadth": dict(sorted(breadth.items())),
        "skills": {g: dict(c.most_common()) for g, c in freq.items() if c},
        "by_subject": {s: dict(c.most_common()) for s, c in sorted(by_subject.items())},
        "failures": dict(failures.most_common()),
    }


def plot_spectrum(
    stats: dict[str, Any], path: str | Path, *, kind: str = "bar", top: int = 8, title: str = ""
) -> Path:
    """``bar``: one panel per group with its ``top`` most frequent skills (share of problems);
    ``radar``: mean distinct skills per category, the paper's spectrum figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    n = max(stats.get("problems", 0), 1)
    if kind == "radar":
        cats: Sequence[str] = CATEGORIES
        vals = [stats["mean_spectrum"].get(c, 0.0) for c in cats]
        ang = np.linspace(0, 2 * np.pi, len(cats), endpoint=False).tolist()
        fig = plt.figure(figsize=(5, 5))
        ax = fig.add_subplot(polar=True)
        ax.plot(ang + ang[:1], vals + vals[:1], marker="o")
        ax.fill(ang + ang[:1], vals + vals[:1], alpha=0.25)
        ax.set_xticks(ang)
        ax.set_xticklabels(cats)
        ax.set_title(title or "mean distinct skills per category")
    elif kind == "bar":
        groups = [g for g in GROUPS if stats["skills"].get(g)]
        fig, axes = plt.subplots(len(groups) or 1, 1, figsize=(8, 2.2 * max(len(groups), 1)), squeeze=False)
        for ax, g in zip(axes[:, 0], groups):
            items = list(stats["skills"][g].items())[:top][::-1]
            ax.barh([k for k, _ in items], [v / n for _, v in items])
            ax.set_title(g, fontsize=10, loc="left")
            ax.set_xlim(0, 1)
            ax.tick_params(labelsize=8)
        axes[-1, 0].set_xlabel("share of problems")
        fig.suptitle(title or f"salient skills ({stats.get('problems', 0)} problems)")
    else:
        raise ValueError(f"unknown plot kind '{kind}' (bar or radar)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
