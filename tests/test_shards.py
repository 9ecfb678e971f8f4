"""What the fast readers share: the distinct-value finder, a step's tally, and merging shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sample_forge.impact import shards
from sample_forge.impact.run import ScoreConfig, score_run
from sample_forge.impact.shards import Shard, few_distinct, merge_shards


def test_few_distinct_in_order_of_first_appearance() -> None:
    v = np.array([1.0, -0.5, 1.0, -1.0, -0.5, -0.5])
    found, inverse = few_distinct(v)
    assert found == [1.0, -0.5, -1.0]
    assert inverse.tolist() == [0, 1, 0, 2, 1, 1]
    assert np.array_equal(np.asarray(found)[inverse], v)


def test_few_distinct_gives_up_past_the_limit() -> None:
    assert few_distinct(np.arange(9.0)) is None
    found, _ = few_distinct(np.arange(8.0))  # exactly the limit
    assert found == list(np.arange(8.0))
    assert few_distinct(np.array([0.0, np.nan])) is None  # NaN equals nothing: no tally
    found, inverse = few_distinct(np.zeros(0))
    assert found == [] and len(inverse) == 0


def test_add_step_tallies_per_sample_and_reward() -> None:
    sh = Shard(skip_bad=False)
    sh.ids += ["a", "b", "c"]
    sh.add_step([0, 0, 1, 0, 2, 1, 0], 5, [1.0, -0.5, 1.0, 1.0, -1.0, 1.0, -0.5])
    got = sorted(zip(sh.sample, sh.step, sh.reward, sh.count))
    assert got == [(0, 5, -0.5, 2), (0, 5, 1.0, 2), (1, 5, 1.0, 2), (2, 5, -1.0, 1)]
    many = np.linspace(0, 1, 12)  # more distinct rewards than FEW_VALUES: one entry per rollout
    sh.add_step([0] * 12, 6, many)
    assert list(sh.count)[-12:] == [1] * 12 and list(sh.reward)[-12:] == many.tolist()


def test_merge_gives_untallied_shards_ones() -> None:
    a, b = Shard(False), Shard(False)
    a.ids.append("x"), a.texts.append("x?")
    a.add_step([0, 0, 0], 1, [1.0, 1.0, 0.0])
    b.ids.append("y"), b.texts.append("y?")
    b.sample.extend([0, 0])
    b.step.extend([2, 2])
    b.reward.extend([1.0, 0.0])
    t = merge_shards("openrlhf", [a.result(), b.result()], keyed_by="prompt")
    assert t.records == 5 and t.count.tolist()[-2:] == [1, 1]
    e = t.expanded()
    assert e.count is None and len(e.sample) == 5
    assert sorted(zip(e.sample.tolist(), e.step.tolist(), e.reward.tolist())) == [
        (0, 1, 0.0),
        (0, 1, 1.0),
        (0, 1, 1.0),
        (1, 2, 0.0),
        (1, 2, 1.0),
    ]
    plain = merge_shards("verl", [b.result()], keyed_by="prompt")  # no shard tallied
    assert plain.count is None and plain.records == 2


def _limr_run(d: Path, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    prompts = [f"Problem {i}: what is {i} + {i * 7}?" for i in range(40)]
    skill = rng.random(40)
    for step in range(1, 13):  # 6 epochs x 2 steps, 20 prompts per step, 8 rollouts
        part = prompts[(step - 1) % 2 :: 2]
        recs = []
        for p, s in zip(part, skill[(step - 1) % 2 :: 2]):
            for _ in range(8):
                ok = rng.random() < min(1.0, s * step / 6)
                recs.append(
                    {"prompt": p, "response": "...", "reward": 1.0 if ok else -0.5, "response_length": 3}
                )
        (d / f"step_{step}.json").write_text(json.dumps(recs, indent=4))


def test_scores_of_a_tally_equal_scores_per_rollout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _limr_run(tmp_path)
    cfg = ScoreConfig(format="openrlhf", steps_per_epoch=2, resamples=50, seed=1, workers=1)
    tallied = score_run(tmp_path, cfg)
    monkeypatch.setattr(shards, "few_distinct", lambda values, limit=8: None)  # one entry per rollout
    plain = score_run(tmp_path, cfg)
    assert tallied.report["records"] == plain.report["records"] == 12 * 20 * 8
    assert tallied.rows == plain.rows
    assert np.array_equal(tallied.matrix.acc, plain.matrix.acc, equal_nan=True)
