"""Recorders for users' own trainers: verl reward module (thread-safe), TRL wrapper, OpenRLHF reward_func."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from sample_forge.answers import AnswerChecker, extract_boxed
from sample_forge.pilot.recorders.native import group_rows
from sample_forge.pilot.reward import correctness_rewards
from tests.conftest import shared_file


def _math_pairs(shared_data, n_right=16, n_wrong=16):
    """(solution text, gold, expected score): MATH's own solutions (right), and solutions of other
    problems whose integer answers differ (wrong)."""
    rows = [
        json.loads(line) for line in open(shared_file(shared_data, "math/math500.jsonl"), encoding="utf-8")
    ]
    ints = [r for r in rows if r["answer"].strip().lstrip("-").isdigit() and extract_boxed(r["solution"])]
    right = [(r["solution"], r["answer"], 1.0) for r in ints[:n_right]]
    # a few non-integer answers too (fractions, radicals, intervals) on the right side
    others = [r for r in rows if not r["answer"].strip().lstrip("-").isdigit() and "\\boxed" in r["solution"]]
    right += [(r["solution"], r["answer"], 1.0) for r in others[:8]]
    wrong = []
    for a, b in zip(ints[n_right:], ints[n_right + 1 :]):
        if int(a["answer"]) != int(b["answer"]):
            wrong.append((b["solution"], a["answer"], 0.0))
        if len(wrong) == n_wrong:
            break
    return right + wrong


def test_verl_compute_score_from_worker_threads(shared_data):
    from sample_forge.pilot.recorders.verl_reward import compute_score

    pairs = _math_pairs(shared_data)
    # the reference: the same checks done in this (main) thread by the project's checker
    with AnswerChecker(timeout=5) as c:
        ref = c.check_many([(g, extract_boxed(s)) for s, g, _ in pairs])
    threads_used = set()

    def call(i):
        threads_used.add(threading.current_thread().name)
        sol, gold, _ = pairs[i]
        return compute_score("math", sol, gold, extra_info={"index": 1000 + i, "split": "train"})

    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(call, range(len(pairs))))
    assert threading.main_thread().name not in threads_used
    for i, (res, (sol, gold, expected), r) in enumerate(zip(results, pairs, ref)):
        assert set(res) == {"score", "acc", "pred", "index"}
        assert res["index"] == 1000 + i
        assert res["score"] == expected, (gold, res["pred"])
        assert res["score"] == (1.0 if r else 0.0)
        assert res["acc"] is (expected == 1.0)
        assert res["pred"] == extract_boxed(sol)


def test_verl_compute_score_edge_cases():
    from sample_forge.pilot.recorders.verl_reward import compute_score

    assert compute_score("math", "so x = \\boxed{\\frac{1}{2}}", "0.5")["score"] == 1.0
    no_box = compute_score("math", "the answer is 12", "12")
    assert no_box["score"] == 0.0 and no_box["pred"] == "" and no_box["index"] == -1
    assert compute_score("math", "\\boxed{12}", ["12"], extra_info={"index": "a7"})["index"] == "a7"


def test_correctness_rewards_real_math_verify():
    comps = [
        "\\boxed{3}",
        [{"role": "assistant", "content": "thus $\\boxed{\\sqrt{4}+1}$"}],
        "\\boxed{4}",
        "no box at all",
        "\\boxed{[-2,7]}",
    ]
    golds = ["3", "3", "3", "3", "[-2,7]"]
    assert correctness_rewards(comps, golds) == [1.0, 1.0, 0.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        correctness_rewards(["a"], [])


def test_group_rows_native_format():
    rows = group_rows(
        ["a", "a", "b", "b", "a"],
        [1.0, 0.0, 0.0, float("nan"), 1.0],
        step=7,
        epochs=[2, 2, 2, 2, 2],
        keep=[True, True, True, True, False],
    )
    assert rows == [
        {"sample_id": "a", "step": 7, "epoch": 2, "rollouts": 2, "correct": 1, "rewards": [1.0, 0.0]},
        {"sample_id": "b", "step": 7, "epoch": 2, "rollouts": 2, "correct": 0, "rewards": [0.0, None]},
    ]


def test_trl_recording_reward_logs_ids_and_trajectory(tmp_path):
    from sample_forge.pilot.recorders.trl_reward import RecordingReward, correctness_reward

    traj = tmp_path / "t.jsonl"
    rec = RecordingReward(correctness_reward, trajectory=traj, skip_column="filler")
    assert rec.__name__ == "correctness_reward"  # TRL names the completions column after it
    logged: dict[str, list] = {}

    def log_extra(col, values):
        logged.setdefault(col, []).extend(values)

    comps = [
        [{"role": "assistant", "content": c}] for c in ["\\boxed{12}", "12", "\\boxed{54}", "\\boxed{5}"]
    ]
    out = rec(
        prompts=[[{"role": "user", "content": "q"}]] * 4,
        completions=comps,
        answer=["12", "12", "54", "54"],
        sample_id=["p1", "p1", "p2", "p2"],
        epoch=[1, 1, 1, 1],
        filler=[False, False, False, False],
        trainer_state=SimpleNamespace(global_step=4),
        log_extra=log_extra,
        log_metric=lambda *a: None,
    )
    assert out == [1.0, 0.0, 1.0, 0.0]
    assert logged == {"sample_id": ["p1", "p1", "p2", "p2"], "epoch": [1, 1, 1, 1]}
    rows = [json.loads(line) for line in traj.read_text().splitlines()]
    assert [(r["sample_id"], r["step"], r["correct"], r["rollouts"]) for r in rows] == [
        ("p1", 5, 1, 2),
        ("p2", 5, 1, 2),
    ]
    assert rec.mean_accuracy == 0.5
    with pytest.raises(KeyError, match="sample_id"):
        rec(prompts=["q"], completions=["\\boxed{1}"], answer=["1"])


def test_openrlhf_reward_func_appends_jsonl(tmp_path, monkeypatch):
    from sample_forge.pilot.recorders import openrlhf_reward as orl

    log = tmp_path / "rewards.jsonl"
    monkeypatch.setenv("SAMPLE_FORGE_REWARD_LOG", str(log))
    monkeypatch.setenv("SAMPLE_FORGE_REWARD_STEP", "3")
    prompts = ["<|user|>What is 7+5?<|assistant|>"] * 2 + ["<|user|>What is 9*6?<|assistant|>"] * 2
    responses = ["It is \\boxed{12}.", "\\boxed{13}", "\\boxed{54}", "\\boxed{54.0}"]
    out = orl.reward_func([p + r for p, r in zip(prompts, responses)], prompts, ["12", "12", "54", "54"])
    assert out["rewards"].tolist() == [1.0, 0.0, 1.0, 1.0]
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["correct"], r["rollouts"], r["step"]) for r in rows] == [(1, 2, 3), (2, 2, 3)]
    assert rows[0]["sample_id"] == orl.prompt_id(prompts[0]) != rows[1]["sample_id"]
    assert rows[1]["prompt"] == prompts[2]
