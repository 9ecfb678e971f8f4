"""A realistic simulated pilot run, written in each trainer's exact log layout.

Every sample has a logistic learning curve ``p(t) = lo + (hi - lo) / (1 + exp(-a (t - t0)))`` over
training time t (in epochs); some samples are never solved, some always. Each epoch every sample
is seen once, in a random step of that epoch, with ``rollouts`` binary-reward responses whose
lengths are log-normal around ``response_chars``. The same seed gives the same run in every format,
so scores read from the verl, TRL and OpenRLHF layouts must agree exactly. Each layout is written by
its format's ``write`` (``impact/formats/``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.impact import formats
from sample_forge.impact.formats.base import SimRun
from sample_forge.tables import write_rows

__all__ = ["SimConfig", "simulate_accuracy", "simulate_probabilities", "simulate_run"]

_SUBJECTS = [
    "Algebra",
    "Geometry",
    "Number Theory",
    "Counting & Probability",
    "Precalculus",
    "Prealgebra",
    "Intermediate Algebra",
]
_TEMPLATES = [
    "Let $f(x) = \\frac{{{a}x + {b}}}{{{c}}}$. What is the value of $f({d})$?",
    'A bag holds {a} red and {b} "blue" marbles. Two are drawn without replacement; what is the\n'
    "probability both are red? Express it as a common fraction.",
    "Find the remainder when ${a}^{{{b}}}$ is divided by {c}.",
    "In triangle $ABC$, $AB = {a}$, $BC = {b}$ and $\\angle B = {c}^\\circ$. Compute $AC^2$ — "
    "give an exact answer.",
    'Solve for $x$: $\\sqrt{{{a}x + {b}}} = {c}$.\tIf there is no solution, write "none".',
    "How many positive divisors does ${a} \\cdot {b}$ have? (Ünïcödé: π ≈ 3.14)",
]
_WORDS = (
    "we have so the equation becomes therefore substituting gives $x$ $y$ \\frac{1}{2} "
    "= + - \\cdot \\sqrt{3} note that which means since by the theorem simplify "
    "let us check: case 1 case 2 thus hence \\left( \\right) 2^{n} \\pi"
).split()


@dataclass(frozen=True)
class SimConfig:
    """Shape of a simulated pilot run (LIMR: 8,523 samples, 21 epochs, 8 steps/epoch, 8 rollouts)."""

    samples: int = 64
    epochs: int = 6
    steps_per_epoch: int = 4
    rollouts: int = 8
    response_chars: int = 400
    seed: int = 0
    missing_rate: float = 0.0  # chance a sample is left out of an epoch (filtered batch, crash)
    with_ids: bool = False  # write the sample id (verl `index`, TRL `sample_id`)


def _problems(cfg: SimConfig, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for i in range(cfg.samples):
        a, b, c, d = (int(x) for x in rng.integers(2, 99, size=4))
        q = f"[#{i}] " + _TEMPLATES[i % len(_TEMPLATES)].format(a=a, b=b, c=c, d=d)
        out.append(
            {
                "id": str(i),
                "problem": q,
                "answer": str(a + b),
                "solution": None,
                "subject": _SUBJECTS[i % len(_SUBJECTS)],
                "level": int(1 + i % 5),
                "source": "simulated",
            }
        )
    return out


def simulate_probabilities(cfg: SimConfig) -> np.ndarray:
    """The true chance of a correct rollout [sample, epoch] behind :func:`simulate_accuracy`; column 0
    is the model before training, what a pass rate measures."""
    return _curves(cfg)[0]


def _curves(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(cfg.seed)
    n, E, S = cfg.samples, cfg.epochs, cfg.steps_per_epoch
    kind = rng.random(n)
    lo = np.where(kind < 0.15, 0.0, rng.uniform(0.0, 0.4, n))
    hi = np.where(kind < 0.15, 0.0, rng.uniform(0.5, 1.0, n))
    lo = np.where(kind > 0.9, 1.0, lo)
    hi = np.where(kind > 0.9, 1.0, hi)
    a = rng.uniform(0.5, 3.0, n)
    t0 = rng.uniform(0, E, n)
    step_in_epoch = np.empty((n, E), dtype=np.int64)
    for e in range(E):  # each epoch: a fresh shuffle cut into S steps
        perm = rng.permutation(n)
        step_in_epoch[perm, e] = np.arange(n) * S // n
    t = np.arange(E)[None, :] + (step_in_epoch + 0.5) / S
    p = lo[:, None] + (hi - lo)[:, None] / (1 + np.exp(-a[:, None] * (t - t0[:, None])))
    return p, step_in_epoch, rng


def simulate_accuracy(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(correct counts [sample, epoch], step of each (sample, epoch), seen mask) for the config."""
    n, E, S = cfg.samples, cfg.epochs, cfg.steps_per_epoch
    p, step_in_epoch, rng = _curves(cfg)
    correct = rng.binomial(cfg.rollouts, np.clip(p, 0, 1))
    seen = rng.random((n, E)) >= cfg.missing_rate
    step = 1 + np.arange(E)[None, :] * S + step_in_epoch  # verl/TRL count steps from 1
    return correct, step, seen


class _Responses:
    """A bank of response texts (JSON-encoded once) with log-normal lengths around ``chars``."""

    def __init__(self, chars: int, rng: np.random.Generator, bank: int = 97) -> None:
        self.texts: list[str] = []
        for _ in range(bank):
            target = max(20, int(rng.lognormal(math.log(chars), 0.35)))
            words = rng.choice(_WORDS, size=target // 4 + 8)
            text = " ".join(words)[:target]
            self.texts.append(text + " \\boxed{7}")
        self.json = [json.dumps(t, ensure_ascii=False).encode() for t in self.texts]
        self.k = 0

    def next(self) -> int:
        self.k = (self.k + 7) % len(self.texts)
        return self.k


def simulate_run(fmt: str, out: Path, cfg: SimConfig) -> dict[str, Any]:
    """Write a run in ``fmt`` under ``out`` (+ ``pool.jsonl``); returns a small summary."""
    if fmt not in formats.names():
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(formats.names())}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed + 1)
    problems = _problems(cfg, rng)
    correct, step, seen = simulate_accuracy(cfg)
    write_rows(out / "pool.jsonl", problems)
    n, E = cfg.samples, cfg.epochs
    by_step: dict[int, list[tuple[int, int]]] = {s: [] for s in range(1, E * cfg.steps_per_epoch + 1)}
    for i in range(n):
        for e in range(E):
            if seen[i, e]:
                by_step[int(step[i, e])].append((i, e))
    run = SimRun(
        problems=problems,
        correct=correct,
        by_step=by_step,
        rollouts=cfg.rollouts,
        with_ids=cfg.with_ids,
        responses=_Responses(cfg.response_chars, rng),
        rng=rng,
    )
    lines, nbytes = formats.get(fmt).write(out, run)
    return {
        "format": fmt,
        "dir": str(out),
        "samples": n,
        "epochs": E,
        "steps": run.total_steps,
        "records": lines,
        "bytes": nbytes,
        "missing": int((~seen).sum()),
    }
