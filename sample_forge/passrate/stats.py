"""Per-problem statistics of k sampled answers with c correct: the pass rate, its Beta-posterior
interval, the unbiased pass@k' and learnability p(1-p)."""

from __future__ import annotations

from math import comb

__all__ = ["beta_interval", "pass_at_k", "learnability"]


def beta_interval(c: int, k: int, level: float = 0.9) -> tuple[float, float]:
    """Equal-tailed interval of Beta(c+1, k-c+1), the posterior of the pass rate under a uniform prior:
    with k = 4 a problem solved 2 times is somewhere in [0.19, 0.81], which a band rule must see."""
    from scipy.stats import beta

    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    tail = (1 - level) / 2
    lo, hi = beta.ppf([tail, 1 - tail], c + 1, k - c + 1)
    return float(lo), float(hi)


def pass_at_k(c: int, k: int, at: int) -> float:
    """Unbiased pass@at from k samples with c correct (Chen et al. 2021): 1 - C(k-c, at)/C(k, at)."""
    if not 1 <= at <= k:
        raise ValueError(f"pass@{at} needs 1 <= {at} <= k = {k}")
    if k - c < at:
        return 1.0
    return 1.0 - comb(k - c, at) / comb(k, at)


def learnability(p: float) -> float:
    return p * (1.0 - p)
