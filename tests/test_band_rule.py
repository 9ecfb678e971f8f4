"""The band rule: problems the model solves sometimes, from a `passrate` table, per group or overall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.errors import SampleForgeError
from sample_forge.passrate.run import _rate_row
from sample_forge.selection import SelectConfig, select
from sample_forge.tables import read_rows, write_rows

# (id, subject, correct of k=8)
CASES = [
    ("a1", "Algebra", 0),
    ("a2", "Algebra", 2),
    ("a3", "Algebra", 4),
    ("a4", "Algebra", 8),
    ("g1", "Geometry", 1),
    ("g2", "Geometry", 6),
    ("g3", "Geometry", 7),
]


@pytest.fixture()
def tables(tmp_path: Path) -> tuple[Path, Path]:
    pool = tmp_path / "pool.jsonl"
    rates = tmp_path / "rates.parquet"
    write_rows(pool, [{"id": i, "problem": f"problem {i}", "answer": "1", "subject": s} for i, s, _ in CASES])
    write_rows(rates, [_rate_row(i, c, 8, 8, 0.9, [10] * 8, 0, 0) for i, _, c in CASES])
    return pool, rates


def test_band_keeps_the_problems_solved_sometimes(tables: tuple[Path, Path]) -> None:
    pool, rates = tables
    sel = select(SelectConfig(rule="band", low=0.2, high=0.8), pool=pool, scores=rates)
    # 2/8 = 0.25, 4/8 = 0.5, 6/8 = 0.75 are in [0.2, 0.8]; 0, 1/8, 7/8 and 8/8 are not
    assert [r["id"] for r in sel.rows] == ["a3", "a2", "g2"]  # per subject, highest learnability first
    assert sorted(sel.eligible) == ["Algebra", "Geometry"] and len(sel.eligible["Algebra"]) == 2
    reason = sel.rows[0]["reason"]
    lo, hi = read_rows(rates)[2]["pass_rate_lo"], read_rows(rates)[2]["pass_rate_hi"]
    assert f"[{lo:.2f}, {hi:.2f}]" in reason and "4 of 8 correct" in reason
    assert "in band [0.2, 0.8] in subject Algebra (2 of 4 rated in band)" in reason
    assert sel.rows[0]["rule"] == "band" and sel.rows[0]["scores"]["pass_rate"] == 0.5


def test_band_overall_and_narrow(tables: tuple[Path, Path]) -> None:
    pool, rates = tables
    sel = select(SelectConfig(rule="band", low=0.4, high=0.6, group_by="none"), pool=pool, scores=rates)
    assert [r["id"] for r in sel.rows] == ["a3"]
    assert "overall (1 of 7 rated in band)" in sel.rows[0]["reason"]


def test_band_needs_pass_rates(tmp_path: Path, tables: tuple[Path, Path]) -> None:
    pool, _ = tables
    with pytest.raises(SampleForgeError, match="pass_rate"):
        select(SelectConfig(rule="band"), pool=pool)
    with pytest.raises(SampleForgeError, match="low <= high"):
        select(SelectConfig(rule="band", low=0.9, high=0.1), pool=pool, scores=tables[1])


def test_select_cli_band_and_top_learnability(tmp_path: Path, tables: tuple[Path, Path]) -> None:
    pool, rates = tables
    out = tmp_path / "chosen.jsonl"
    r = CliRunner().invoke(
        cli,
        [
            "select",
            str(pool),
            "--scores",
            str(rates),
            "--rule",
            "band",
            "--low",
            "0.2",
            "--high",
            "0.8",
            "--group-by",
            "none",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in rows] == ["a3", "a2", "g2"]
    # the same table feeds the top rule
    r = CliRunner().invoke(
        cli,
        [
            "select",
            str(pool),
            "--scores",
            str(rates),
            "--rule",
            "top",
            "--by",
            "learnability",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text().splitlines()[0])["id"] == "a3"
