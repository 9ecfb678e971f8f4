"""``--plot curves.png``: the mean accuracy curve with the top and bottom samples' curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sample_forge.impact.epochs import EpochMatrix

__all__ = ["plot_curves"]


def plot_curves(m: EpochMatrix, ranked_ids: list[str], out: Path, *, k: int = 5, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = {sid: i for i, sid in enumerate(m.ids)}
    x = np.arange(1, m.acc.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for sid in ranked_ids[:k]:
        ax.plot(x, m.acc[row[sid]], color="tab:green", alpha=0.6, lw=1, label=f"top: {sid}")
    for sid in ranked_ids[-k:] if len(ranked_ids) > k else []:
        ax.plot(x, m.acc[row[sid]], color="tab:red", alpha=0.5, lw=1, ls="--", label=f"bottom: {sid}")
    with np.errstate(invalid="ignore"):
        ax.plot(x, np.nanmean(m.acc, axis=0), color="black", lw=2.5, label="mean of all samples")
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
