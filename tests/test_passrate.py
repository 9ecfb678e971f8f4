"""`sample-forge passrate`: statistics, bad input, calibration on a simulated pilot with known truth, the
real llama.cpp server through the real openai client (n ignored, cache, kill and resume), and faults."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.errors import InputError
from sample_forge.passrate import beta_interval, pass_at_k, read_pool
from sample_forge.passrate.calibrate import calibrate
from sample_forge.passrate.run import _rate_row
from sample_forge.tables import read_rows, write_rows
from tests.fixtures.llm_servers import FaultServer, LlamaServer

REPO = Path(__file__).resolve().parent.parent


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    # brute force: the chance that a random subset of `at` of the k samples holds a correct one
    for k, c, at in [(4, 1, 2), (16, 3, 4), (8, 0, 8), (8, 8, 1), (5, 2, 5)]:
        samples = [1] * c + [0] * (k - c)
        subsets = list(combinations(samples, at))
        assert pass_at_k(c, k, at) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_beta_interval_is_the_posterior() -> None:
    lo, hi = beta_interval(2, 4, 0.9)
    assert lo == pytest.approx(0.1893, abs=1e-3) and hi == pytest.approx(0.8107, abs=1e-3)
    lo, hi = beta_interval(0, 16, 0.9)
    assert lo < 0.01 and 0.1 < hi < 0.2
    row = _rate_row("x", 3, 4, 4, 0.9, [5, 7], 1, 2)
    assert row["pass_rate"] == 0.75 and row["learnability"] == 0.1875 and row["mean_tokens"] == 6.0
    assert row["pass_rate_lo"] < 0.75 < row["pass_rate_hi"] and row["pass_at_k"] == 1.0


def test_pool_without_answer_is_rejected_and_unparseable_answer_refused(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    write_rows(pool, [{"id": "a", "problem": "1+1?", "answer": "2"}, {"id": "b", "problem": "no gold"}])
    got = read_pool(pool)
    assert [p.id for p in got.problems] == ["a"]
    assert got.rejects == [{"table": "pool", "id": "b", "line": 2, "reason": "no answer: not sampled"}]
    write_rows(
        pool, [{"id": "a", "problem": "1+1?", "answer": "2"}, {"id": "c", "problem": "x", "answer": "?"}]
    )
    with pytest.raises(InputError) as e:
        read_pool(pool)
    assert str(e.value).startswith(f"{pool}:2, field 'answer': math-verify cannot parse")


def test_calibration_on_a_simulated_pilot_with_known_truth(tmp_path: Path) -> None:
    from sample_forge.impact.run import ScoreConfig, score_run
    from sample_forge.impact.simulate import SimConfig, simulate_probabilities, simulate_run

    cfg = SimConfig(samples=120, epochs=6, steps_per_epoch=4, rollouts=8, seed=3, with_ids=True)
    simulate_run("verl", tmp_path / "run", cfg)
    scores = score_run(tmp_path / "run", ScoreConfig(steps_per_epoch=4)).rows
    # the pass-rate table drawn from the same per-problem chances the pilot started from
    p0 = simulate_probabilities(cfg)[:, 0]
    c = np.random.default_rng(7).binomial(16, np.clip(p0, 0, 1))
    rates = [_rate_row(str(i), int(ci), 16, 16, 0.9, [1], 0, 0) for i, ci in enumerate(c)]
    cal = calibrate(rates, scores, top=20, n_boot=200, seed=0)
    assert cal["n"] == 120 and cal["rates_only"] == 0
    by = {(d["rate"], d["pilot"]): d for d in cal["pairs"]}
    first = by[("pass_rate", "first_acc")]
    assert first["spearman"] > 0.7 and first["spearman_lo"] > 0.5 and first["kendall"] > 0.5
    assert first["spearman_lo"] <= first["spearman"] <= first["spearman_hi"]
    assert first["top_overlap"] >= 10
    assert by[("learnability", "hist_var")]["spearman"] > 0.2
    # seeded: the same numbers twice
    assert calibrate(rates, scores, top=20, n_boot=200, seed=0) == cal


def _pool(path: Path, n: int) -> Path:
    # SmolLM2 stops after a few tokens on these (finish_reason "stop"), so nothing is truncated
    write_rows(
        path, [{"id": f"q{i}", "problem": f"Repeat after me: hello {i}", "answer": str(i)} for i in range(n)]
    )
    return path


ARGS = ["--template", "none", "--temperature", "0", "--max-tokens", "64", "-m", "llama", "-k", "2"]


@pytest.mark.llm
def test_passrate_on_the_llama_server(llama_server: LlamaServer, llama_config: Path, tmp_path: Path) -> None:
    pool, out = _pool(tmp_path / "pool.jsonl", 3), tmp_path / "rates.parquet"
    llama_server.reset()
    r = CliRunner().invoke(cli, ["passrate", "--pool", str(pool), "-o", str(out), *ARGS])
    assert r.exit_code == 0, r.output
    rows = read_rows(out)
    assert [x["id"] for x in rows] == ["q0", "q1", "q2"]
    assert all(x["k"] == 2 and x["mean_tokens"] > 0 for x in rows)
    assert all(x["n_correct"] + x["unparsed"] + x["truncated"] <= 2 for x in rows)
    cut = sum(x["truncated"] for x in rows)
    # llama.cpp returns one choice whatever n: the layer asked for the second sample of each; a sample
    # cut at max_tokens is asked once more and never cached
    assert 6 + cut <= llama_server.chat_requests <= 12
    llama_server.reset()
    r = CliRunner().invoke(cli, ["passrate", "--pool", str(pool), "-o", str(out), *ARGS])
    assert r.exit_code == 0 and llama_server.chat_requests <= 2 * cut
    assert read_rows(out) == rows


CHILD = ["-m", "sample_forge", "passrate"]


def _cached() -> int:
    from sample_forge.llm.cache import default_cache_path

    db = default_cache_path()
    if not db.exists():
        return 0
    try:  # read-only: the child creates the cache, not the test
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.llm
def test_killed_passrate_resumes_paying_only_the_rest(
    llama_server: LlamaServer, llama_config: Path, tmp_path: Path
) -> None:
    pool, out = _pool(tmp_path / "pool.jsonl", 6), tmp_path / "rates.jsonl"
    cmd = [sys.executable, *CHILD, "--pool", str(pool), "-o", str(out), *ARGS, "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    llama_server.reset()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _cached() < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    assert proc.returncode == -signal.SIGKILL, (
        f"finished before the kill: {_cached()} cached, {proc.stderr.read()[-800:]!r}"
    )
    done = _cached()
    assert 1 <= done < 12 and not out.exists()
    llama_server.reset()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = read_rows(out)
    assert len(rows) == 6
    cut = sum(x["truncated"] for x in rows)
    # only the missing samples were asked (a cut one is asked once more and never cached)
    assert 12 - done <= llama_server.chat_requests <= 2 * (12 - done)
    assert _cached() == 12 - cut


def test_faults_truncation_and_http_failure(fault_server: FaultServer, tmp_path: Path) -> None:
    from sample_forge.paths import config_path

    base = fault_server.script("pr", [])
    cfg = config_path()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f'[models.f]\nbase_url = "{base}"\nmodel = "m"\nmax_retries = 0\n', encoding="utf-8")
    pool = tmp_path / "pool.jsonl"
    write_rows(
        pool,
        [
            {"id": "ok", "problem": "fine", "answer": "42"},
            {"id": "cut", "problem": "long", "answer": "42"},
            {"id": "down", "problem": "down", "answer": "42"},
            {"id": "nogold", "problem": "x"},
        ],
    )
    fault_server.script_for("long", ["length"] * 2)  # all 3 samples cut twice: truncated, not cached
    fault_server.script_for("down", ["500"] * 10)
    out = tmp_path / "rates.jsonl"
    args = ["passrate", "--pool", str(pool), "-o", str(out), "-m", "f", "-k", "3", "--template", "none"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    rows = {x["id"]: x for x in read_rows(out)}
    assert sorted(rows) == ["cut", "ok"]
    # "The answer is 42." has no \boxed{}: unparsed, counted as wrong
    assert rows["ok"]["unparsed"] == 3 and rows["ok"]["pass_rate"] == 0.0
    assert rows["cut"]["truncated"] == 3 and rows["cut"]["pass_rate"] == 0.0
    rejects = {x["id"]: x["reason"] for x in read_rows(tmp_path / "rates.rejects.jsonl")}
    assert rejects["nogold"] == "no answer: not sampled"
    assert rejects["down"].startswith("llm http")
    fails = [json.loads(x) for x in (tmp_path / "rates.failures.jsonl").read_text().splitlines()]
    assert {f["id"] for f in fails} == {"cut", "down"}
