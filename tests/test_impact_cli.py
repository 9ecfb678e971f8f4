"""`sample-forge score` / `simulate-pilot` end to end, and the real One-Shot-RLVR log."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sample_forge.adapter import IMPACT_SCORE_KEYS
from sample_forge.cli.main import cli
from sample_forge.impact.run import ScoreConfig, score_run
from sample_forge.tables import read_rows
from tests.conftest import shared_file

REAL = "rl_reward_logs/one_shot_rlvr_acc_step_500.json"
SUMMARY = "rl_reward_logs/one_shot_rlvr_per_prompt_summary.jsonl"


# the leading columns of a scores table, in order (the pool's fields follow with --pool)
SCORE_COLUMNS = ("id", *IMPACT_SCORE_KEYS)


def test_real_log_historical_variance_ranking(shared_data: Path) -> None:
    res = score_run(shared_file(shared_data, REAL), ScoreConfig(by="hist_var"))
    ids = [s.id for s in res.scores]
    assert ids[0] == "124" and ids[1] == "267" and ids[12] == "682"  # as in the 1-shot RLVR paper
    assert len(ids) == 1209 and res.report["mode"] == "pass" and res.report["lim_epochs"] == 44
    # LIM over the 44 passes every prompt has, against the repo's own lim scores (rounded to 1e-6)
    summary = {}
    for line in shared_file(shared_data, SUMMARY).read_text().splitlines():
        row = json.loads(line)
        summary[str(row["index"])] = row
    for s in res.scores:
        ref = summary[s.id]
        assert s.lim == pytest.approx(ref["lim_score_first44"], abs=2e-6)
        assert s.mean_acc == pytest.approx(ref["mean_acc"], abs=2e-6)
        assert s.n_epochs == ref["n_samplings"]
        assert s.first_acc == ref["first_acc"] and s.last_acc == ref["last_acc"]


def test_real_log_through_the_cli(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    r = CliRunner().invoke(
        cli,
        [
            "score",
            "-t",
            str(shared_file(shared_data, REAL)),
            "--by",
            "hist_var",
            "--top",
            "13",
            "-o",
            str(out),
            "--plot",
            str(tmp_path / "c.png"),
        ],
    )
    assert r.exit_code == 0, r.output
    t = pq.read_table(out).to_pylist()
    assert [row["id"] for row in t][:2] == ["124", "267"] and t[12]["id"] == "682" and len(t) == 13
    assert list(t[0])[:10] == list(SCORE_COLUMNS)
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "top samples by hist_var" in r.output and "1209 scored" in r.output.replace(",", "")


def test_simulate_then_score_with_pool(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = CliRunner().invoke(
        cli,
        [
            "simulate-pilot",
            "--format",
            "openrlhf",
            "--samples",
            "20",
            "--epochs",
            "4",
            "--steps-per-epoch",
            "2",
            "--rollouts",
            "4",
            "--missing-rate",
            "0.1",
            "--seed",
            "5",
            "-o",
            str(run),
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(
        cli,
        [
            "score",
            "-t",
            str(run),
            "--steps-per-epoch",
            "2",
            "--pool",
            str(run / "pool.jsonl"),
            "--by",
            "lim",
            "--theta",
            "0.5",
            "-o",
            str(out),
            "--rejects",
            str(tmp_path / "rej.jsonl"),
            "--json",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["format"] == "openrlhf" and rep["correct"] == "correct iff reward==1"
    assert rep["join"] == {
        "joined": rep["rows_written"],
        "left_unmatched": 0,
        "right_unmatched": 0,  # every pool row was trained on (even samples later dropped)
        "ambiguous": 0,
        "unjoined": 0,
    }
    assert read_rows(tmp_path / "s.rejects.jsonl") == []
    assert rep["samples_scored"] == 20 - rep["dropped_samples"]
    rejects = read_rows(tmp_path / "rej.jsonl")
    assert sorted(x["id"] for x in rejects) == sorted(rep["dropped_ids"]) and len(rejects) == 3
    assert all(x["reason"] == "incomplete epochs" for x in rejects)
    rows = read_rows(out)
    assert list(rows[0])[:12] == [*SCORE_COLUMNS, "problem", "answer"]
    assert len(rows) == rep["rows_written"] > 0 and all(float(x["lim"]) >= 0.5 for x in rows)
    # stdout JSONL with -o - (issue #16: without -o the table goes to scores.jsonl)
    r = CliRunner().invoke(
        cli, ["score", "-t", str(run), "--steps-per-epoch", "2", "--top", "2", "-q", "-o", "-"]
    )
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert [x["rank"] for x in lines] == [1, 2]


def test_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["score", "-t", str(tmp_path / "empty")])
    assert r.exit_code == 1
    assert r.output.strip().count("\n") == 0 and "no trajectory files found" in r.output
    r = CliRunner().invoke(cli, ["score", "-t", str(tmp_path / "empty"), "--correct", "open('x')"])
    assert r.exit_code == 1 and "--correct: cannot parse" in r.output
