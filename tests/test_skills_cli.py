"""The ``tag`` and ``skills`` commands end to end (offline embed method; the LLM method is covered
in test_skills_llm.py)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.tables import read_rows

POOL = [
    {
        "id": "g1",
        "problem": "A circle has radius 3. What is its area?",
        "answer": "9\\pi",
        "subject": "Geometry",
        "level": 1,
    },
    {
        "id": "n1",
        "problem": "What is the greatest common divisor of 84 and 120?",
        "answer": "12",
        "subject": "Number Theory",
        "level": 2,
    },
    {
        "id": "p1",
        "problem": "Two fair dice are rolled. What is the probability the sum is 7?",
        "answer": "\\frac16",
        "subject": "Counting & Probability",
        "level": 2,
    },
]


def _pool(tmp_path: Path) -> Path:
    p = tmp_path / "pool.jsonl"
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in POOL))
    return p


def test_tag_embed_writes_rows_stats_and_plot(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    out, plot, stats = tmp_path / "tags.parquet", tmp_path / "s.png", tmp_path / "stats.json"
    r = CliRunner().invoke(
        cli,
        [
            "tag",
            "--pool",
            str(pool),
            "--out",
            str(out),
            "--method",
            "embed",
            "--plot",
            str(plot),
            "--stats",
            str(stats),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = read_rows(out)  # Parquet read back by pyarrow
    assert [row["id"] for row in rows] == ["g1", "n1", "p1"]
    assert "circles" in rows[0]["canonical"]["Geometry"]
    assert "greatest common divisor" in rows[1]["canonical"]["Number Theory"]
    s = json.loads(stats.read_text())
    assert s["problems"] == 3 and s["by_subject"]["Geometry"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "tagged 3 problems (embed)" in r.output


def test_tag_explain_and_errors(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    r = CliRunner().invoke(cli, ["tag", "--pool", str(pool), "--method", "embed", "--explain", "n1"])
    assert r.exit_code == 0, r.output
    assert "problem n1 (Number Theory)" in r.output and "greatest common divisor" in r.output
    r = CliRunner().invoke(cli, ["tag", "--pool", str(pool), "--method", "embed", "--explain", "nope"])
    assert r.exit_code != 0 and "no problem with id 'nope'" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "problem": "x"}\n{not json\n')
    r = CliRunner().invoke(
        cli, ["tag", "--pool", str(bad), "--out", str(tmp_path / "t.jsonl"), "--method", "embed"]
    )
    assert r.exit_code != 0 and "bad.jsonl:2" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "t.jsonl").exists()


def test_tag_calibrate_from_llm_tags(tmp_path: Path) -> None:
    pool = _pool(tmp_path)
    tags = tmp_path / "llm.jsonl"
    tags.write_bytes(
        b"".join(
            orjson.dumps(t) + b"\n"
            for t in [
                {"problem_id": "g1", "method": "llm", "canonical": {"Geometry": ["circles"]}, "failures": {}},
                {
                    "problem_id": "n1",
                    "method": "llm",
                    "canonical": {"Number Theory": ["greatest common divisor"]},
                    "failures": {},
                },
                {
                    "problem_id": "p1",
                    "method": "llm",
                    "canonical": {"Probability": ["basic probability"]},
                    "failures": {"Algebra": None},
                },  # the tag command writes every category, null = no failure
                {
                    "problem_id": "x9",
                    "method": "llm",
                    "canonical": {},
                    "failures": {"Algebra": "llm: length"},
                },
            ]
        )
    )
    out = tmp_path / "th.json"
    r = CliRunner().invoke(cli, ["tag", "calibrate", str(tags), "--pool", str(pool), "--out", str(out)])
    assert r.exit_code == 0, r.output
    th = json.loads(out.read_text())
    assert th["metrics"]["top_category_agreement"] == 1.0
    r = CliRunner().invoke(
        cli,
        [
            "tag",
            "--pool",
            str(pool),
            "--out",
            str(tmp_path / "t.jsonl"),
            "--method",
            "embed",
            "--thresholds",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output


def test_skills_list_and_discover(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["skills", "--category", "Geometry", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert 20 <= len(rows) <= 40 and all(row["category"] == "Geometry" for row in rows)
    tags = tmp_path / "tags.jsonl"
    raws = [
        {"Algebra": ["Cayley-Hamilton theorem", "quadratic formula"]},
        {"Algebra": ["the Cayley Hamilton theorem"]},
        {"Algebra": ["Cayley-Hamilton theorem."]},
    ]
    tags.write_bytes(
        b"".join(orjson.dumps({"problem_id": str(i), "raw": raw}) + b"\n" for i, raw in enumerate(raws))
    )
    out = tmp_path / "props.jsonl"
    r = CliRunner().invoke(cli, ["skills", "discover", str(tags), "--out", str(out)])
    assert r.exit_code == 0, r.output
    props = read_rows(out)
    assert props[0]["count"] == 3 and "cayley" in props[0]["name"].lower()
    assert "1 proposals from 4 free-text skills" in r.output


def test_tag_quiet_in_a_pipe_prints_nothing(tmp_path: Path) -> None:
    """--quiet in a pipe: no summary and no third-party progress bar (transformers' "Loading weights")."""
    import subprocess
    import sys

    out = tmp_path / "tags.jsonl"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "sample_forge.cli.main",
            "tag",
            "--pool",
            str(_pool(tmp_path)),
            "--out",
            str(out),
            "--method",
            "embed",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert (res.stdout, res.stderr) == ("", "")
    assert len(read_rows(out)) == len(POOL)
