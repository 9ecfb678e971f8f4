"""``--plot curves.png``: the mean accuracy curve with the top and bottom samples' curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sample_forge.impact.epochs import EpochMatrix

__all__ = ["plot_curves"]


def _band(correct: np.ndarray, rollouts: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's central ``level`` interval of its Beta(correct+1, wrong+1) posterior."""
    from scipy.special import betaincinv

    a, b = correct + 1, rollouts - correct + 1
    q = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        return betaincinv(a, b, q), betaincinv(a, b, 1 - q)


def plot_curves(
    m: EpochMatrix,
    ranked_ids: list[str],
    out: Path,
    *,
    k: int = 5,
    title: str = "",
    level: float = 0.9,
    bands: bool = True,
) -> Path:
    """``bands``: each top/bottom curve's per-epoch posterior interval, and the mean curve's
    (normal approximation over the samples' posteriors) at ``level``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = {sid: i for i, sid in enumerate(m.ids)}
    x = np.arange(1, m.acc.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    bands = bands and m.rollouts is not None and m.correct is not None
    for sid in ranked_ids[:k]:
        ax.plot(x, m.acc[row[sid]], color="tab:green", alpha=0.6, lw=1, label=f"top: {sid}")
        if bands:
            lo, hi = _band(m.correct[row[sid]], m.rollouts[row[sid]], level)  # type: ignore[index]
            ax.fill_between(x, lo, hi, color="tab:green", alpha=0.08, lw=0)
    for sid in ranked_ids[-k:] if len(ranked_ids) > k else []:
        ax.plot(x, m.acc[row[sid]], color="tab:red", alpha=0.5, lw=1, ls="--", label=f"bottom: {sid}")
        if bands:
            lo, hi = _band(m.correct[row[sid]], m.rollouts[row[sid]], level)  # type: ignore[index]
            ax.fill_between(x, lo, hi, color="tab:red", alpha=0.06, lw=0)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(m.acc, axis=0)
        ax.plot(x, mean, color="black", lw=2.5, label="mean of all samples")
        if bands:
            from statistics import NormalDist

            a = m.correct + 1  # type: ignore[operator]
            b = m.rollouts - m.correct + 1  # type: ignore[operator]
            var = a * b / ((a + b) ** 2 * (a + b + 1))
            se = np.sqrt(np.nansum(var, axis=0)) / np.maximum((~np.isnan(var)).sum(axis=0), 1)
            z = NormalDist().inv_cdf(0.5 + level / 2)
            ax.fill_between(
                x, mean - z * se, mean + z * se, color="black", alpha=0.15, lw=0, label=f"{level:.0%} bands"
            )
    ax.set_xlabel("pass" if m.mode == "pass" else "epoch")
    ax.set_ylabel("accuracy (correct rollouts / rollouts)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title or f"Learning curves ({len(m.ids)} samples)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
