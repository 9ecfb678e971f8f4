"""Selection rules on real data (LIMR pool, 1-shot RLVR log) and on small hand-made tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.errors import InputError
from sample_forge.selection import SelectConfig, select, select_prime
from sample_forge.subjects import SUBJECTS
from sample_forge.tables import read_rows, write_rows
from tests.conftest import shared_file

LIMR_POOL = "limr/math8k_pool_with_lim_scores.jsonl"
NATURAL = "polymath/natural_polymath_samples_identified.jsonl"


@pytest.fixture(scope="module")
def limr_pool(shared_data: Path) -> Path:
    return shared_file(shared_data, LIMR_POOL)


def test_polymath_on_limr_pool_matches_the_paper(limr_pool: Path, shared_data: Path) -> None:
    sel = select(SelectConfig(theta=0.6), pool=limr_pool)
    # one sample per MATH subject, each at exactly the threshold (the lowest eligible score)
    assert sorted(r["subject"] for r in sel.rows) == sorted(SUBJECTS)
    assert all(r["scores"]["lim"] == pytest.approx(0.6, abs=1e-12) for r in sel.rows)
    assert all(r["rule"] == "polymath" and "lowest LIM >= 0.6" in r["reason"] for r in sel.rows)
    eligible = [e for g in sel.eligible.values() for e in g]
    assert len(eligible) == 1389  # LIMR's own selection: score >= 0.6
    at_threshold = {e["id"] for e in eligible if abs(e["scores"]["lim"] - 0.6) < 1e-9}
    assert len(at_threshold) == 65
    assert {r["id"] for r in sel.rows} <= at_threshold
    natural = [json.loads(line) for line in shared_file(shared_data, NATURAL).read_text().splitlines()]
    assert len(natural) == 7
    assert {n["limr_id"] for n in natural} <= at_threshold
    assert sel.unjoined == []


def test_polymath_group_by_category_and_none(limr_pool: Path) -> None:
    by_cat = select(SelectConfig(group_by="category"), pool=limr_pool)
    assert len(by_cat.rows) == 5
    assert all("in category" in r["reason"] for r in by_cat.rows)
    overall = select(SelectConfig(theta=0.85, group_by="none"), pool=limr_pool)
    assert len(overall.rows) == 1
    assert overall.rows[0]["scores"]["lim"] >= 0.85
    # it is the lowest among all >= 0.85
    lows = [e["scores"]["lim"] for e in overall.eligible["all"]]
    assert overall.rows[0]["scores"]["lim"] == min(lows)


def _pool(tmp_path: Path) -> Path:
    rows = [
        {"id": "a", "problem": "What is 1+1?", "answer": "2", "subject": "Algebra", "lim": 0.6},
        {"id": "b", "problem": "What is  2+2?", "answer": "4", "subject": "algebra", "lim": 0.6},
        {"id": "c", "problem": "What is 3+3?", "answer": "6", "subject": "Algebra", "lim": 0.7},
        {"id": "d", "problem": "Area of a unit square?", "answer": "1", "subject": "geometry", "lim": 0.59},
    ]
    p = tmp_path / "pool.jsonl"
    write_rows(p, rows)
    return p


def test_polymath_ties_broken_by_skill_breadth_then_id(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    no_skills = select("polymath", pool=pool)
    assert [r["id"] for r in no_skills.rows] == ["a"]  # tie at 0.6 -> id; geometry has none eligible
    assert "2 tied at 0.6, broken by id" in no_skills.rows[0]["reason"]
    skills = tmp_path / "skills.jsonl"
    write_rows(
        skills,
        [
            {"problem_id": "a", "method": "embed", "spectrum": {"Algebra": 2}, "total": 2, "breadth": 1},
            {
                "problem_id": "b",
                "method": "embed",
                "spectrum": {"Algebra": 1, "Geometry": 1, "Probability": 1},
                "total": 3,
                "breadth": 3,
            },
        ],
    )
    sel = select("polymath", pool=pool, skills=skills)
    assert [r["id"] for r in sel.rows] == ["b"]
    assert "skill breadth (3)" in sel.rows[0]["reason"]
    assert sel.rows[0]["skills"]["breadth"] == 3
    # c and d have no skills row: reported, not dropped
    assert {(u["table"], u["id"]) for u in sel.unjoined} == {("pool", "c"), ("pool", "d")}


def test_join_on_normalized_text_and_report_failures(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    write_rows(
        pool,
        [
            {"id": "p1", "problem": "Find  x if\n2x = 4.", "answer": "2", "subject": "Algebra"},
            {"id": "p2", "problem": "Find y if y+1=3.", "answer": "2", "subject": "Algebra"},
        ],
    )
    scores = tmp_path / "scores.jsonl"
    write_rows(
        scores,
        [
            {"problem": "Find x if 2x = 4.", "lim": 0.8},  # no id: joins on text
            {"id": "zz", "problem": "Unrelated", "lim": 0.9},
        ],
    )
    sel = select("polymath", pool=pool, scores=scores)
    assert [r["id"] for r in sel.rows] == ["p1"]
    reasons = {(u["table"], u["id"]): u["reason"] for u in sel.unjoined}
    assert ("scores", "zz") in reasons and ("pool", "p2") in reasons
    assert "no scores row" in reasons[("pool", "p2")]


def test_bad_score_is_one_input_error_and_duplicate_scores_are_reported(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    write_rows(pool, [{"id": "p1", "problem": "2x = 4?", "answer": "2", "subject": "Algebra", "lim": "high"}])
    with pytest.raises(InputError) as e:
        select("polymath", pool=pool)
    assert (e.value.path, e.value.line, e.value.field) == (str(pool), 1, "lim")
    write_rows(pool, [{"id": "p1", "problem": "2x = 4?", "answer": "2", "subject": "Algebra"}])
    scores = tmp_path / "scores.jsonl"
    write_rows(scores, [{"id": "p1", "lim": 0.7}, {"id": "p1", "lim": 0.95}])
    sel = select("polymath", pool=pool, scores=scores)
    assert [r["scores"]["lim"] for r in sel.rows] == [0.7]
    assert [(u["table"], u["line"]) for u in sel.unjoined] == [("scores", 2)]
    assert "duplicate" in sel.unjoined[0]["reason"]
    res = CliRunner().invoke(
        cli, ["select", "--pool", str(pool), "--scores", str(scores), "-o", str(tmp_path / "s.jsonl")]
    )
    assert res.exit_code == 0 and "0 scores rows unmatched, 1 ambiguous" in res.output
    [dup] = read_rows(tmp_path / "s.rejects.jsonl")
    assert (dup["table"], dup["line"]) == ("scores", 2) and "duplicate scores row" in dup["reason"]
    write_rows(scores, [{"id": "p1", "lim": [0.7]}])
    res = CliRunner().invoke(
        cli, ["select", "--pool", str(pool), "--scores", str(scores), "-o", str(tmp_path / "s.jsonl")]
    )
    assert (
        res.exit_code == 1 and res.output.strip() == f"Error: {scores}:1, field 'lim': not a number: '[0.7]'"
    )


def test_columns_mapping_for_unknown_names(tmp_path: Path) -> None:
    pool = tmp_path / "pool.csv"
    write_rows(
        pool,
        [
            {"qid": "1", "question": "2+3?", "gold": "5", "area": "Number Theory", "impact": "0.61"},
            {"qid": "2", "question": "2+4?", "gold": "6", "area": "Number Theory", "impact": "0.9"},
        ],
    )
    with pytest.raises(InputError, match="LIM"):
        select("polymath", pool=pool)
    sel = select("polymath", pool=pool, columns={"id": "qid", "subject": "area", "lim": "impact"})
    assert [(r["id"], r["problem"], r["answer"], r["subject"]) for r in sel.rows] == [
        ("1", "2+3?", "5", "Number Theory")
    ]


def test_top_variance_reproduces_pi_k(shared_data: Path, tmp_path: Path) -> None:
    log = json.loads(shared_file(shared_data, "rl_reward_logs/one_shot_rlvr_acc_step_500.json").read_text())
    scores = tmp_path / "scores.jsonl"
    write_rows(scores, [{"id": k, "hist_var": float(np.var(v))} for k, v in log.items()])
    pool = shared_file(shared_data, "one_shot_rlvr/dsr_sub.jsonl")
    top2 = select(SelectConfig("top", by="hist_var", top=2), pool=pool, scores=scores)
    assert [r["id"] for r in top2.rows] == ["124", "267"]
    assert top2.rows[0]["reason"].startswith("rank 1 of 1209 by historical variance")
    assert "pi_1" in top2.rows[0]["reason"]
    pi13 = select(SelectConfig("top", by="hist_var", rank=13), pool=pool, scores=scores)
    assert [r["id"] for r in pi13.rows] == ["682"]
    assert pi13.rows[0]["answer"] and pi13.unjoined == []


def _cand(
    cid: str, spectrum: dict[str, int], agreement: float, pass_rate: float, accepted: bool = True
) -> dict:
    return {
        "id": cid,
        "problem": f"Problem {cid}?",
        "generator_answer": "7",
        "generator": "g",
        "style": "s",
        "golden_answer": "7",
        "agreement": agreement,
        "pass_rate": pass_rate,
        "spectrum": spectrum,
        "checks": [],
        "accepted": accepted,
    }


def test_prime_broadest_then_agreement_then_pass_rate() -> None:
    wide = {"Algebra": 1, "Geometry": 1, "Probability": 1}
    cands = [
        _cand("narrow", {"Algebra": 5}, 1.0, 0.5),
        _cand("rejected", {"Algebra": 1, "Geometry": 1, "Probability": 1, "Precalculus": 1}, 1.0, 0.5, False),
        _cand("w-low-agree", wide, 0.6, 0.5),
        _cand("w-far", wide, 1.0, 0.9),
        _cand("w-near", wide, 1.0, 0.4),
    ]
    rows, rejected = select_prime(cands, k=3)
    assert [r["id"] for r in rows] == ["w-near", "w-far", "w-low-agree"]
    assert rows[0]["answer"] == "7" and rows[0]["rule"] == "prime"
    assert "3 categories" in rows[0]["reason"]
    assert rejected == [{"id": "rejected", "reason": "not accepted by validation"}]
    with pytest.raises(InputError, match="no accepted candidate"):
        select_prime([_cand("x", wide, 1.0, 0.5, False)])


def test_cli_select_writes_table_and_reasons(limr_pool: Path, tmp_path: Path) -> None:
    out = tmp_path / "sel.parquet"
    unj = tmp_path / "unjoined.jsonl"
    res = CliRunner().invoke(
        cli,
        ["select", "--pool", str(limr_pool), "--theta", "0.6", "-o", str(out), "--unjoined", str(unj), "-q"],
    )
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 7 and all("lowest LIM >= 0.6" in ln for ln in lines)
    rows = read_rows(out)
    assert len(rows) == 7 and {"rule", "reason", "scores", "problem", "answer", "category"} <= set(rows[0])
    # bad --columns and a missing pool give one clear line, no traceback
    bad = CliRunner().invoke(cli, ["select", "--pool", str(tmp_path / "nope.jsonl")])
    assert bad.exit_code != 0 and "Traceback" not in bad.output and "nope.jsonl" in bad.output
