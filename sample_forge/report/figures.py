"""Report figures (matplotlib, Agg). Each returns PNG bytes, or None when its data is absent."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["skill_spectrum_png", "curves_png", "distribution_png"]


def _fig(ncols: int = 1, size: tuple[float, float] = (7.5, 3.6)) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(1, ncols, figsize=size, dpi=110)


def _png(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _touch(spectra: Sequence[dict[str, Any]], categories: Sequence[str]) -> tuple[list[float], list[float]]:
    """Per category: mean distinct skills per problem, and the share of problems touching it."""
    mean = [float(np.mean([s.get(c, 0) or 0 for s in spectra])) for c in categories]
    share = [float(np.mean([1.0 if (s.get(c, 0) or 0) > 0 else 0.0 for s in spectra])) for c in categories]
    return mean, share


def skill_spectrum_png(
    tags: Sequence[dict[str, Any]],
    categories: Sequence[str],
    chosen: Sequence[dict[str, Any]] = (),
) -> bytes | None:
    """The chosen samples' skill spectrum against the pool's: share of problems touching each category
    and mean distinct skills per problem (``chosen``: the chosen samples' spectra)."""
    if not tags:
        return None
    pool_mean, pool_share = _touch([t.get("spectrum") or {} for t in tags], categories)
    plt, (fig, (a1, a2)) = _fig(2, (10, 3.8))
    x = np.arange(len(categories))
    w = 0.4 if chosen else 0.8
    a1.bar(x - (w / 2 if chosen else 0), pool_share, w, color="tab:grey", label=f"pool ({len(tags)})")
    a2.bar(x - (w / 2 if chosen else 0), pool_mean, w, color="tab:grey", label=f"pool ({len(tags)})")
    if chosen:
        ch_mean, ch_share = _touch(chosen, categories)
        a1.bar(x + w / 2, ch_share, w, color="tab:blue", label=f"chosen ({len(chosen)})")
        a2.bar(x + w / 2, ch_mean, w, color="tab:blue", label=f"chosen ({len(chosen)})")
    short = [c.replace(" and ", " & ") for c in categories]
    for ax in (a1, a2):
        ax.set_xticks(x, short, rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8)
    a1.set_ylim(0, 1.05)
    a1.set_ylabel("share of problems")
    a1.set_title("Problems touching each category", fontsize=10)
    a2.set_ylabel("distinct skills / problem")
    a2.set_title("Skills per problem in each category", fontsize=10)
    return _png(plt, fig)


def curves_png(
    mean_curve: Sequence[float],
    chosen: dict[str, Sequence[float]],
    typical: dict[str, Sequence[float]],
    *,
    rollouts: dict[str, Sequence[float | None]] | None = None,
    labels: dict[str, str] | None = None,
    level: float = 0.9,
) -> bytes | None:
    """Per-epoch accuracy of the chosen and of typical samples against the pool's mean curve; with
    ``rollouts`` (per sample and epoch) each chosen curve gets its cells' Beta-posterior ``level``
    band. ``labels``: legend text per sample (its LIM and interval)."""
    if not len(mean_curve):
        return None
    from sample_forge.impact.plot import _band  # the cells' intervals as `score --plot` draws them

    labels = labels or {}
    plt, (fig, ax) = _fig(1, (10, 5.2))
    ep = np.arange(1, len(mean_curve) + 1)
    ax.plot(ep, mean_curve, color="black", lw=2.5, label="mean of all samples")
    for sid, acc in typical.items():
        ax.plot(np.arange(1, len(acc) + 1), acc, color="grey", alpha=0.5, lw=1, label=f"typical {sid}")
    banded = False
    for sid, acc in chosen.items():
        x = np.arange(1, len(acc) + 1)
        a = np.asarray([np.nan if v is None else v for v in acc], dtype=float)
        (line,) = ax.plot(x, a, lw=2, marker="o", ms=3, label=labels.get(sid, f"chosen {sid}"))
        n = (rollouts or {}).get(sid)
        if n is not None and len(n) == len(a):
            k = np.asarray([np.nan if v is None else v for v in n], dtype=float)
            lo, hi = _band(a * k, k, level)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.12, lw=0)
            banded = True
    ax.set_xlabel("epoch")
    ax.set_xticks(ep)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    title = "Learning curves in the pilot run"
    ax.set_title(title + (f"\n(bands: {level:.0%} interval of each epoch's accuracy)" if banded else ""))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return _png(plt, fig)


def distribution_png(values: Sequence[float], *, name: str, threshold: float | None = None) -> bytes | None:
    vals = np.asarray([v for v in values if v is not None and v == v], dtype=float)
    if vals.size == 0:
        return None
    plt, (fig, ax) = _fig()
    ax.hist(vals, bins=30, color="tab:blue", alpha=0.8)
    if threshold is not None:
        ax.axvline(threshold, color="red", ls="--", label=f"threshold {threshold:g}")
        ax.legend(fontsize=8)
    ax.set_xlabel(name)
    ax.set_ylabel("samples")
    ax.set_title(f"Distribution of {name} ({vals.size} samples)")
    return _png(plt, fig)
