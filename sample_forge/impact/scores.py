"""Learning-impact scores, vectorized over the sample x epoch accuracy matrix.

* LIM (LIMR, arXiv 2502.11886): ``s_i = 1 - sum_k (r_i^k - rbar^k)^2 / sum_k (1 - rbar^k)^2`` with
  ``rbar^k`` the mean accuracy of all samples in epoch k. 1 means the sample learned like the
  average; it is never above 1.
* historical variance (1-shot RLVR, arXiv 2504.20571): ``np.var`` (population) of the sample's
  accuracy curve.
* learnability: mean over epochs of ``p (1 - p)`` (largest for samples solved about half the time).
* mean / first / last accuracy and the number of epochs with a value.
NaN cells (a sample seen fewer times, in pass mode) are left out of every per-sample score.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["compute_scores", "lim_scores", "SCORE_COLUMNS"]

SCORE_COLUMNS = ("lim", "hist_var", "learnability", "mean_acc", "first_acc", "last_acc", "n_epochs")


def lim_scores(acc: np.ndarray) -> np.ndarray:
    """LIM of each row of a complete (no NaN) matrix."""
    rbar = acc.mean(axis=0)
    # Bit for bit as LIMR's lim_selection.py: its squares are scalar ``x ** 2`` (C pow(), which
    # rounds differently from NumPy's x*x about once in a thousand) summed epoch by epoch, left to
    # right (Python's sum), where NumPy would sum pairwise.
    num = np.zeros(len(acc))
    den = 0.0
    for k in range(acc.shape[1]):
        num += np.array([d**2 for d in (acc[:, k] - rbar[k]).tolist()], dtype=np.float64)
        den += float(1.0 - rbar[k]) ** 2
    if den == 0.0:  # every sample always solved: all equal the mean curve
        return np.ones(len(acc))
    return 1.0 - num / den


def compute_scores(acc: np.ndarray, lim_epochs: int | None = None) -> dict[str, np.ndarray]:
    """All scores per row of ``acc``; LIM over the first ``lim_epochs`` columns (default: all)."""
    valid = ~np.isnan(acc)
    n_epochs = valid.sum(axis=1)
    has = n_epochs > 0
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any value -> NaN
        mean = np.nanmean(acc, axis=1)
        var = np.nanvar(acc, axis=1)  # population variance, as NumPy's default
        learn = np.nanmean(acc * (1 - acc), axis=1)
    rows = np.arange(len(acc))
    first = acc[rows, np.argmax(valid, axis=1)]
    last = acc[rows, acc.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)]
    k = acc.shape[1] if lim_epochs is None else lim_epochs
    lim = lim_scores(acc[:, :k]) if len(acc) else np.zeros(0)
    nan = np.full(len(acc), np.nan)
    return {
        "lim": lim,
        "hist_var": np.where(has, var, nan),
        "learnability": np.where(has, learn, nan),
        "mean_acc": np.where(has, mean, nan),
        "first_acc": np.where(has, first, nan),
        "last_acc": np.where(has, last, nan),
        "n_epochs": n_epochs,
    }
