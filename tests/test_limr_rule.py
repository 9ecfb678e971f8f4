"""`--missing limr` reproduces LIMR's lim_selection.py (GAIR-NLP/LIMR, lim/lim_selection.py) to the bit.

The reference below is a transcription, written for this test from reading LIMR's code: epochs are
groups of `steps_per_epoch` step files; a prompt's accuracy in an epoch is (rewards == 1) / rollouts,
-1 when absent; one forward pass fills position i from i+1 when i is -1 and i+1 is not; sequences
still holding -1 are dropped; the baseline is np.mean over the kept sequences; LIM is
1 - sum (acc - base)^2 / sum (1 - base)^2 with Python's sum over NumPy scalars.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from sample_forge.impact.longtable import normalize_prompt
from sample_forge.impact.run import ScoreConfig, read_trajectory, score_run

E, SPE = 21, 2  # LIMR: 21 epochs (of 8 steps)
NO = -1  # LIMR's mark for "not seen in this epoch"


# --- the transcription -------------------------------------------------------------------------
def ref_epochs(run: Path) -> tuple[list[list[dict]], set[str]]:
    epochs, prompts, cur = [], set(), []
    for step in range(1, SPE * E + 1):
        cur += json.loads((run / f"step_{step}.json").read_text())
        if step % SPE == 0:
            prompts |= {row["prompt"] for row in cur}
            epochs.append(cur)
            cur = []
    return epochs, prompts


def ref_accuracy(rows: list[dict], prompts: set[str]) -> dict[str, float]:
    counts = {p: [0, 0] for p in prompts}
    for row in rows:
        c = counts[row["prompt"].strip()]
        c[1] += 1
        c[0] += row["reward"] == 1
    return {p: (ok / n if n else NO) for p, (ok, n) in counts.items()}


def ref_fill_and_keep(seqs: dict[str, list[float]]) -> tuple[list[str], list[list[float]], np.ndarray]:
    for seq in seqs.values():
        for i in range(len(seq) - 1):  # one pass, left to right: i+1 is never a value filled here
            if seq[i] == NO and seq[i + 1] != NO:
                seq[i] = seq[i + 1]
    kept = [(p, s[:E]) for p, s in seqs.items() if NO not in s[:E]]
    names, curves = [p for p, _ in kept], [s for _, s in kept]
    return names, curves, np.mean(curves, axis=0)


def ref_lim(seq: list[float], base: np.ndarray) -> float:
    num = sum((a - b) ** 2 for a, b in zip(seq, base))
    den = sum((1 - b) ** 2 for b in base)
    return 1 - num / den


# --- a LIMR-shape log with every kind of gap ---------------------------------------------------
GAPS = {  # missing epochs of each prompt
    "start1": {0},
    "start2": {0, 1},
    "start3": {0, 1, 2},
    "mid1": {2},
    "mid2": {2, 3},
    "mid3": {1, 2, 3},
    "end1": {E - 1},
    "end2": {E - 2, E - 1},
    "end3": {E - 3, E - 2, E - 1},
    "two_single": {1, 3},
    "single_then_end": {1, E - 1},
}


def _write_run(run: Path, rollouts: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    prompts = {f"Problem {name}: find x." for name in GAPS}
    prompts |= {f"Problem full{i}: find x." for i in range(60)}
    tie = ["Problem tie a: find x.", "Problem tie b: find x."]  # the same curve: equal LIM
    dup = "Problem dup: find x."  # twice in the data set: both copies count
    steps: dict[int, list[dict]] = {s: [] for s in range(1, SPE * E + 1)}

    def seen(p: str, epoch: int, k: int, step: int | None = None) -> None:
        s = step or 1 + epoch * SPE + rng.randrange(SPE)
        for j in range(rollouts):
            ok = j < k
            steps[s].append(
                {"prompt": p, "response": "...", "reward": 1.0 if ok else rng.choice([-0.5, -1.0])}
            )

    for p in sorted(prompts):
        name = p.split()[1].rstrip(":")
        for e in range(E):
            if e not in GAPS.get(name, ()):
                seen(p, e, rng.randrange(rollouts + 1))
    for e in range(E):
        k = rng.randrange(rollouts + 1)
        for p in tie:
            seen(p, e, k)
        seen(dup, e, rng.randrange(rollouts + 1), step=1 + e * SPE)  # two copies, two steps of one epoch
        seen(dup, e, rng.randrange(rollouts + 1), step=2 + e * SPE)
        if e == 2:  # and twice in one step (four copies: k/32 keeps the sums exact)
            seen(dup, e, rng.randrange(rollouts + 1), step=1 + e * SPE)
            seen(dup, e, rng.randrange(rollouts + 1), step=2 + e * SPE)
    for s, rows in steps.items():
        rng.shuffle(rows)
        (run / f"step_{s}.json").write_text(json.dumps(rows))
    return sorted(prompts | set(tie) | {dup})


def _ours(run: Path, missing: str = "limr"):
    cfg = ScoreConfig(steps_per_epoch=SPE, missing=missing)
    res = score_run(run, cfg)
    reg = read_trajectory(run, cfg).registry
    text = dict(zip(reg.ids, reg.texts))
    return res, text


@pytest.mark.parametrize(
    ("rollouts", "seed", "order"), [(8, 0, "shuffled"), (8, 1, "shuffled"), (6, 2, "ours")]
)
def test_scores_and_kept_set_equal_lim_selection(
    tmp_path: Path, rollouts: int, seed: int, order: str
) -> None:
    prompts = _write_run(tmp_path, rollouts, seed)
    assert all(normalize_prompt(p) == p for p in prompts)  # so our prompt keys are LIMR's
    res, text = _ours(tmp_path)
    epochs, ref_prompts = ref_epochs(tmp_path)
    assert ref_prompts == set(prompts)
    per_epoch = [ref_accuracy(rows, ref_prompts) for rows in epochs]
    if order == "shuffled":
        # LIMR's order is a set's (string hashing); with rollouts a power of two every sum is exact
        names = sorted(ref_prompts)
        random.Random(seed).shuffle(names)
    else:  # k/6 sums are inexact: LIMR run with the prompts in the order we hold them (by id)
        by_text = {t: i for i, t in text.items()}
        names = sorted(ref_prompts, key=lambda p: by_text[p])
    seqs = {p: [acc[p] for acc in per_epoch] for p in names}
    kept, curves, base = ref_fill_and_keep(seqs)
    want = {p: ref_lim(c, base) for p, c in zip(kept, curves)}

    got = {text[s.id]: s.lim for s in res.scores}
    assert set(got) == set(want)  # the kept set
    assert got == want  # every LIM, exactly (== on floats)
    assert np.array_equal(np.mean(res.matrix.acc, axis=0), base)
    for p, c in zip(kept, curves):
        assert res.matrix.acc[res.matrix.ids.index(next(i for i, t in text.items() if t == p))].tolist() == c
    dropped = {text[i] for i in res.matrix.dropped}
    assert dropped == set(prompts) - set(kept)
    assert {p.split()[1].rstrip(":") for p in dropped} == {
        "start2",
        "start3",
        "mid2",
        "mid3",
        "end1",
        "end2",
        "end3",
        "single_then_end",
    }
    assert res.report["missing_rule"] == "limr" and res.report["dropped_samples"] == len(dropped)
    tie_a, tie_b = (s for s in res.scores if text[s.id].startswith("Problem tie"))
    assert tie_a.lim == tie_b.lim and abs(tie_a.rank - tie_b.rank) == 1


def test_limr_is_the_default_and_chain_keeps_runs_of_gaps(tmp_path: Path) -> None:
    _write_run(tmp_path, 8, 3)
    assert ScoreConfig().missing == "limr"
    limr, text = _ours(tmp_path)
    chain, _ = _ours(tmp_path, "chain")
    # chain fills whole runs of missing epochs from the next logged one, so only end gaps drop
    assert {text[i].split()[1].rstrip(":") for i in chain.matrix.dropped} == {
        "end1",
        "end2",
        "end3",
        "single_then_end",
    }
    assert len(chain.scores) - len(limr.scores) == 4  # start2, start3, mid2, mid3
    assert chain.report["missing_rule"] == "chain"
