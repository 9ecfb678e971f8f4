"""How far a pass-rate table agrees with a pilot's scores: Spearman and Kendall correlations with seeded
percentile-bootstrap intervals, and the overlap of the top K under each pair of scores. Rows are matched
on ``id`` through the one join."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sample_forge.errors import SampleForgeError

__all__ = ["calibrate", "RATE_SCORES", "PILOT_SCORES"]

RATE_SCORES = ("learnability", "pass_rate")
PILOT_SCORES = ("lim", "hist_var", "first_acc")

Rows = Sequence[Mapping[str, Any]] | str | os.PathLike[str]


def _rows(x: Rows) -> list[dict[str, Any]]:
    if isinstance(x, (str, os.PathLike)):
        from sample_forge.adapter import read_table

        return read_table(x, need=("id",), default_id=False)
    return [dict(r) for r in x]


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
    from scipy.stats import kendalltau, spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None, None  # a constant score ranks nothing
    s = spearmanr(a, b).statistic
    t = kendalltau(a, b).statistic
    return (None if s != s else float(s)), (None if t != t else float(t))


def _top(values: np.ndarray, ids: list[str], k: int) -> set[str]:
    # highest first; ties broken by id so the overlap does not depend on file order
    order = sorted(range(len(ids)), key=lambda i: (-values[i], ids[i]))
    return {ids[i] for i in order[:k]}


def _bootstrap(
    x: np.ndarray, y: np.ndarray, rho: float | None, tau: float | None, n_boot: int, seed: int, level: float
) -> dict[str, float | None]:
    """Percentile intervals; every pair of scores resamples with the same seed, so one entry does not
    depend on which others were asked for."""
    out: dict[str, float | None] = {
        k: None for k in ("spearman_lo", "spearman_hi", "kendall_lo", "kendall_hi")
    }
    if rho is None and tau is None:
        return out
    rng = np.random.default_rng(seed)
    got: dict[str, list[float]] = {"spearman": [], "kendall": []}
    for idx in rng.integers(0, len(x), size=(n_boot, len(x))):
        s, t = _corr(x[idx], y[idx])
        if s is not None:
            got["spearman"].append(s)
        if t is not None:
            got["kendall"].append(t)
    tail = (1 - level) / 2
    for name, vals in got.items():
        if vals:
            out[f"{name}_lo"] = round(float(np.quantile(vals, tail)), 4)
            out[f"{name}_hi"] = round(float(np.quantile(vals, 1 - tail)), 4)
    return out


def calibrate(
    rates: Rows,
    scores: Rows,
    *,
    top: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.9,
    rate_scores: Sequence[str] = RATE_SCORES,
    pilot_scores: Sequence[str] = PILOT_SCORES,
) -> dict[str, Any]:
    """One entry per (rate score, pilot score): ``spearman``, ``kendall`` (None when a score is
    constant), their ``_lo``/``_hi`` bootstrap bounds, ``top_overlap`` (ids in both top-``top`` lists)
    and ``top_overlap_frac``."""
    from sample_forge.join import join

    r_rows, s_rows = _rows(rates), _rows(scores)
    rep = join(r_rows, s_rows, by_text=False)
    pairs = [(r, s) for r, s in zip(r_rows, rep.match) if s is not None]
    if len(pairs) < 3:
        raise SampleForgeError(
            f"calibration needs at least 3 problems in both tables (found {len(pairs)} ids in common)"
        )
    ids = [str(r["id"]) for r, _ in pairs]
    out: list[dict[str, Any]] = []
    for rk in rate_scores:
        a = np.array([_num(r.get(rk)) for r, _ in pairs])
        for pk in pilot_scores:
            b = np.array([_num(s.get(pk)) for _, s in pairs])
            ok = ~(np.isnan(a) | np.isnan(b))
            x, y, kept = a[ok], b[ok], [i for i, good in zip(ids, ok) if good]
            rho, tau = _corr(x, y)
            entry: dict[str, Any] = {
                "rate": rk,
                "pilot": pk,
                "n": int(ok.sum()),
                "spearman": rho,
                "kendall": tau,
            }
            entry.update(_bootstrap(x, y, rho, tau, n_boot, seed, level))
            kk = min(top, len(kept))
            both = _top(x, kept, kk) & _top(y, kept, kk)
            entry["top_overlap"] = len(both)
            entry["top_overlap_frac"] = round(len(both) / kk, 4) if kk else None
            out.append(entry)
    return {
        "n": len(pairs),
        "rates_only": len(rep.left_unmatched),
        "scores_only": len(rep.right_unmatched),
        "n_boot": n_boot,
        "seed": seed,
        "level": level,
        "top": top,
        "pairs": out,
    }
