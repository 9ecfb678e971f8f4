"""Benchmark the error bars of ``score`` (impact/uncertainty.py) on the LIMR shape (not run by pytest).

A simulated LIMR-shape accuracy matrix (8,523 samples x 21 epochs, 8 rollouts per cell) is
resampled ``--resamples`` times (intervals for lim, hist_var, learnability, top-10 stability). The
baseline is the plain way: one Python loop iteration per resample, ``Generator.beta`` per cell and
``compute_scores`` on the draws, timed on ``--naive-resamples`` resamples and scaled per resample.

    python bench/bench_uncertainty.py
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sample_forge.impact.scores import compute_scores
from sample_forge.impact.simulate import SimConfig, simulate_accuracy
from sample_forge.impact.uncertainty import UncertaintyConfig, resample_scores


def naive(correct: np.ndarray, rollouts: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        draw = rng.beta(correct + 1, rollouts - correct + 1)
        sc = compute_scores(draw)
        out.append([sc["lim"], sc["hist_var"], sc["learnability"]])
    return np.quantile(np.asarray(out), [0.05, 0.95], axis=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=8523)
    ap.add_argument("--epochs", type=int, default=21)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--naive-resamples", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    c, _, _ = simulate_accuracy(
        SimConfig(samples=a.samples, epochs=a.epochs, steps_per_epoch=8, rollouts=a.rollouts)
    )
    correct = c.astype(np.float64)
    rollouts = np.full(c.shape, float(a.rollouts))
    sc = compute_scores(correct / rollouts)
    order = np.argsort(-sc["lim"], kind="stable")
    load = os.getloadavg()[0]
    t = time.perf_counter()
    u = resample_scores(
        correct, rollouts, sc, order, cfg=UncertaintyConfig(resamples=a.resamples, workers=a.workers)
    )
    ours = time.perf_counter() - t
    t = time.perf_counter()
    naive(correct, rollouts, a.naive_resamples)
    per = (time.perf_counter() - t) / a.naive_resamples
    print(
        f"{a.samples} samples x {a.epochs} epochs x {a.rollouts} rollouts, {a.resamples} resamples, "
        f"{a.workers} threads, load average {load:.1f} on {os.cpu_count()} cores"
    )
    print("| implementation | resamples | seconds | per resample (ms) |")
    print("|---|---|---|---|")
    print(
        f"| sample-forge (table draws, chunked) | {a.resamples} | {ours:.2f} | {1000 * ours / a.resamples:.2f} |"
    )
    print(
        f"| naive loop (Generator.beta + compute_scores) | {a.naive_resamples} | "
        f"{per * a.naive_resamples:.2f} (≈ {per * a.resamples:.1f} for {a.resamples}) | {1000 * per:.1f} |"
    )
    print(f"speedup: {per * a.resamples / ours:.1f}x; p(rank 1 stays rank 1) = {u.report['p_rank1']:.3f}")


if __name__ == "__main__":
    main()
