"""Report figures (matplotlib, Agg). Each returns PNG bytes, or None when its data is absent."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["skill_spectrum_png", "curves_png", "distribution_png"]


def _fig() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(figsize=(7.5, 3.6), dpi=110)


def _png(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def skill_spectrum_png(tags: Sequence[dict[str, Any]], categories: Sequence[str]) -> bytes | None:
    """Mean number of distinct canonical skills per category over the pool, and the share of problems
    touching each category."""
    if not tags:
        return None
    spectra = [t.get("spectrum") or {} for t in tags]
    mean = [float(np.mean([s.get(c, 0) for s in spectra])) for c in categories]
    share = [float(np.mean([1.0 if s.get(c, 0) > 0 else 0.0 for s in spectra])) for c in categories]
    plt, (fig, ax) = _fig()
    x = np.arange(len(categories))
    ax.bar(x - 0.2, mean, 0.4, label="mean distinct skills")
    ax2 = ax.twinx()
    ax2.bar(x + 0.2, share, 0.4, color="tab:orange", label="share of problems")
    ax2.set_ylim(0, 1.05)
    ax.set_xticks(x, categories)
    ax.set_ylabel("skills / problem")
    ax2.set_ylabel("share")
    ax.set_title(f"Skill spectrum of the pool ({len(tags)} problems)")
    fig.legend(loc="upper right", fontsize=8)
    return _png(plt, fig)


def curves_png(
    mean_curve: Sequence[float], chosen: dict[str, Sequence[float]], typical: dict[str, Sequence[float]]
) -> bytes | None:
    """Per-epoch accuracy of the chosen and of typical samples against the pool's mean curve."""
    if not len(mean_curve):
        return None
    plt, (fig, ax) = _fig()
    ep = np.arange(1, len(mean_curve) + 1)
    ax.plot(ep, mean_curve, color="black", lw=2.5, label="mean of all samples")
    for sid, acc in typical.items():
        ax.plot(np.arange(1, len(acc) + 1), acc, color="grey", alpha=0.5, lw=1, label=f"typical {sid}")
    for sid, acc in chosen.items():
        ax.plot(np.arange(1, len(acc) + 1), acc, lw=2, marker="o", ms=3, label=f"chosen {sid}")
    ax.set_xlabel("epoch")
    ax.set_xticks(ep)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Learning curves in the pilot run")
    ax.legend(fontsize=7, loc="best")
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
