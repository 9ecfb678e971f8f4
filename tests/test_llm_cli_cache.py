"""The LLM cache options of the commands that call models (--cache-db, --no-cache), with the built-in
local model in-process."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli

pytestmark = pytest.mark.llm


def _calls(db) -> int:
    from sample_forge.llm import Cache

    c = Cache(db)
    try:
        return c.stats()["calls"]
    finally:
        c.close()


def test_synthesize_cache_db_and_no_cache(tmp_path):
    pytest.importorskip("llama_cpp", reason="the built-in local model needs the 'local' extra")
    db = tmp_path / "llm.sqlite"
    args = [
        "synthesize",
        "--skills",
        "algebra",
        "--n",
        "1",
        "--generators",
        "local",
        "--solvers",
        "local",
        "--k",
        "1",
        "--max-tokens",
        "24",
        "--no-skills-check",
        "--out",
        str(tmp_path / "c.jsonl"),
        "--rejects",
        str(tmp_path / "r.jsonl"),
        "-q",
    ]
    r = CliRunner().invoke(cli, args + ["--cache-db", str(db)])
    # 24 tokens may cut the one generation short: then the stage failed throughout (exit 1, reasons named)
    assert r.exit_code == 0 or (r.exit_code == 1 and "all 1 candidates failed" in r.output), r.output
    first = _calls(db)
    assert first >= 1  # every real call is logged in the named file ...
    from sample_forge.llm import default_cache_path

    assert not default_cache_path().exists()  # ... and nowhere else
    r = CliRunner().invoke(cli, args + ["--no-cache"])
    assert r.exit_code == 0 or (r.exit_code == 1 and "all 1 candidates failed" in r.output), r.output
    assert _calls(db) == first and not default_cache_path().exists()


def test_tag_llm_uses_the_named_cache(tmp_path):
    pytest.importorskip("llama_cpp", reason="the built-in local model needs the 'local' extra")
    pool = tmp_path / "p.jsonl"
    pool.write_text('{"id": "a", "problem": "What is $2+3$?", "answer": "5", "subject": "Prealgebra"}\n')
    db = tmp_path / "tag.sqlite"
    args = [
        "tag",
        "--pool",
        str(pool),
        "--out",
        str(tmp_path / "t.jsonl"),
        "--method",
        "llm",
        "--model",
        "local",
        "--max-tokens",
        "16",
        "--cache-db",
        str(db),
        "-q",
    ]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert _calls(db) >= 5  # one call per paper category (a 'length' failure is retried once)
    from sample_forge.llm import default_cache_path

    assert not default_cache_path().exists()
    n = _calls(db)
    r = CliRunner().invoke(cli, [a for a in args if a not in ("--cache-db", str(db))] + ["--no-cache"])
    assert r.exit_code == 0, r.output
    assert _calls(db) == n and not default_cache_path().exists()
