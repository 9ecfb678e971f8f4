"""A realistic simulated pilot run, written in each trainer's exact log layout.

Every sample has a logistic learning curve ``p(t) = lo + (hi - lo) / (1 + exp(-a (t - t0)))`` over
training time t (in epochs); some samples are never solved, some always. Each epoch every sample
is seen once, in a random step of that epoch, with ``rollouts`` binary-reward responses whose
lengths are log-normal around ``response_chars``. The same seed gives the same run in every format,
so scores read from the verl, TRL and OpenRLHF layouts must agree exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.tables import write_rows

__all__ = ["SimConfig", "simulate_accuracy", "simulate_run", "FORMATS"]

FORMATS = ("verl", "trl", "openrlhf", "oneshot", "native")

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
_CHATML = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{{}}.<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"
)


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


def simulate_accuracy(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(correct counts [sample, epoch], step of each (sample, epoch), seen mask) for the config."""
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
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed + 1)
    problems = _problems(cfg, rng)
    correct, step, seen = simulate_accuracy(cfg)
    write_rows(out / "pool.jsonl", problems)
    n, E, R = cfg.samples, cfg.epochs, cfg.rollouts
    total_steps = E * cfg.steps_per_epoch
    # by_step[s] = [(sample, epoch), ...] in a fixed order
    by_step: dict[int, list[tuple[int, int]]] = {s: [] for s in range(1, total_steps + 1)}
    for i in range(n):
        for e in range(E):
            if seen[i, e]:
                by_step[int(step[i, e])].append((i, e))
    resp = _Responses(cfg.response_chars, rng)
    lines = 0
    nbytes = 0

    def rollouts_of(i: int, e: int) -> list[bool]:
        c = int(correct[i, e])
        return [k < c for k in range(R)]

    if fmt == "verl":
        prompts = [json.dumps(_CHATML.format(q=p["problem"]), ensure_ascii=False).encode() for p in problems]
        gts = [json.dumps(p["answer"], ensure_ascii=False).encode() for p in problems]
        for s, items in by_step.items():
            buf = bytearray()
            for i, e in items:
                for ok in rollouts_of(i, e):
                    buf += b'{"input": ' + prompts[i] + b', "output": ' + resp.json[resp.next()]
                    buf += b', "gts": ' + gts[i] + (b', "score": 1.0' if ok else b', "score": 0.0')
                    buf += b', "step": ' + str(s).encode()
                    if cfg.with_ids:
                        buf += b', "index": ' + str(i).encode()
                    buf += b"}\n"
                    lines += 1
            (out / f"{s}.jsonl").write_bytes(bytes(buf))
            nbytes += len(buf)
    elif fmt == "trl":
        import pyarrow as pa
        import pyarrow.parquet as pq

        (out / "completions").mkdir(exist_ok=True)
        for s, items in by_step.items():
            cols: dict[str, list[Any]] = {
                "step": [],
                "prompt": [],
                "completion": [],
                "accuracy_reward": [],
                "advantage": [],
            }
            if cfg.with_ids:  # as sample-forge's TRL recorder logs them (log_extra)
                cols["sample_id"] = []
                cols["epoch"] = []
            for i, e in items:
                oks = rollouts_of(i, e)
                mean = sum(oks) / R
                for ok in oks:
                    cols["step"].append(s)
                    cols["prompt"].append(_CHATML.format(q=problems[i]["problem"]))
                    cols["completion"].append(resp.texts[resp.next()])
                    cols["accuracy_reward"].append(1.0 if ok else 0.0)
                    cols["advantage"].append(float(ok) - mean)
                    if cfg.with_ids:
                        cols["sample_id"].append(str(i))
                        cols["epoch"].append(e + 1)
                    lines += 1
            p = out / "completions" / f"completions_{s:05d}.parquet"
            pq.write_table(pa.table(cols), p)
            nbytes += p.stat().st_size
    elif fmt == "openrlhf":
        for s, items in by_step.items():
            rows = []
            for i, e in items:
                for ok in rollouts_of(i, e):
                    text = resp.texts[resp.next()]
                    # LIMR's rule reward: +1 correct, -0.5 wrong answer, -1 no parsable answer
                    reward = 1.0 if ok else (-0.5 if rng.random() < 0.7 else -1.0)
                    rows.append(
                        {
                            "prompt": _CHATML.format(q=problems[i]["problem"]),
                            "response": text,
                            "reward": reward,
                            "response_length": len(text) // 4,
                        }
                    )
                    lines += 1
            data = json.dumps(rows, ensure_ascii=False).encode()
            (out / f"step_{s}.json").write_bytes(data)
            nbytes += len(data)
    elif fmt == "oneshot":
        hist: dict[str, list[float]] = {}
        for items in by_step.values():
            for i, e in items:
                hist.setdefault(str(i), []).append(float(correct[i, e]) / R)
                lines += 1
        data = json.dumps(hist, indent=4).encode()
        (out / f"acc_step_{total_steps}.json").write_bytes(data)
        nbytes = len(data)
    else:  # native
        rows = []
        for s, items in by_step.items():
            for i, e in items:
                oks = rollouts_of(i, e)
                rows.append(
                    {
                        "sample_id": str(i),
                        "step": s,
                        "rollouts": R,
                        "correct": sum(oks),
                        "rewards": [1.0 if ok else 0.0 for ok in oks],
                        "epoch": e,
                    }
                )
                lines += 1
        nbytes = 0
        write_rows(out / "trajectory.jsonl", rows)
        nbytes = (out / "trajectory.jsonl").stat().st_size
    return {
        "format": fmt,
        "dir": str(out),
        "samples": n,
        "epochs": E,
        "steps": total_steps,
        "records": lines,
        "bytes": nbytes,
        "missing": int((~seen).sum()),
    }
