"""The one join: both directions, ambiguous keys, containment, and `select`'s counts + rejects file."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sample_forge.adapter import read_table
from sample_forge.cli.main import cli
from sample_forge.impact.longtable import normalize_prompt, prompt_id
from sample_forge.join import join, normalize_text, rejects, rejects_path
from sample_forge.tables import read_rows, write_rows
from tests.conftest import shared_file


def _rows(*rows: dict) -> list[dict]:
    return [{**r, "_line": i} for i, r in enumerate(rows, start=1)]


def test_normalize_text_is_the_normalizer_behind_prompt_ids() -> None:
    assert normalize_text("  Find\n x\t if  2x=4. ") == "Find x if 2x=4."
    assert normalize_text(None) == ""
    # the prompt-keyed registry's ids are unchanged: template stripped, then the same whitespace rule
    rendered = "<|im_start|>user\nWhat is  $1+1$?\n<|im_end|>"
    assert normalize_prompt(rendered) == normalize_text("What is $1+1$?")
    assert (
        prompt_id(normalize_prompt(rendered))
        == "p" + __import__("hashlib").blake2b(b"What is $1+1$?", digest_size=8).hexdigest()
    )


def test_join_reports_both_directions() -> None:
    left = _rows({"id": "a", "problem": "x"}, {"id": "b", "problem": "Find  y."}, {"id": "c", "problem": "z"})
    right = _rows({"id": "a"}, {"id": "r2", "problem": "Find y."}, {"id": "r3", "problem": "never"})
    rep = join(left, right)
    assert [m and m["id"] for m in rep.match] == ["a", "r2", None]
    assert rep.by_text == 1
    assert rep.left_unmatched == [2] and rep.right_unmatched == [2]
    assert rep.counts() == {"joined": 2, "left_unmatched": 1, "right_unmatched": 1, "ambiguous": 0}
    rej = rejects(rep, left, right, left_table="pool", right_table="scores")
    assert [(r["table"], r["id"], r["line"]) for r in rej] == [("pool", "c", 3), ("scores", "r3", 3)]


def test_duplicate_ids_use_the_first_and_are_reported() -> None:
    left = _rows({"id": "a"})
    right = _rows({"id": "a", "lim": 0.7}, {"id": "a", "lim": 0.9})
    rep = join(left, right)
    assert rep.match[0]["lim"] == 0.7 and rep.counts()["ambiguous"] == 1 and rep.right_unmatched == []
    [r] = rejects(rep, left, right, left_table="pool", right_table="scores")
    assert (r["table"], r["line"]) == ("scores", 2) and "line 1 is used" in r["reason"]


def test_containment_is_a_separate_fallback() -> None:
    left = _rows({"id": "p1", "problem": "Solve it step by step. What is 2+3? Put the answer in a box."})
    right = _rows({"id": "q", "problem": "What is  2+3?"}, {"id": "r", "problem": "What is 9?"})
    assert join(left, right).match == [None]
    rep = join(left, right, containment=True)
    assert rep.match[0]["id"] == "q" and rep.by_containment == 1 and rep.right_unmatched == [1]


def test_math_train_holds_one_problem_twice_and_the_join_says_so(shared_data: Path) -> None:
    pool = read_table(shared_file(shared_data, "math/math_train.jsonl"))
    twins = [r for r in pool if r["id"] in ("train/algebra/2463.json", "train/algebra/24377.json")]
    assert len(twins) == 2 and twins[0]["problem"] != twins[1]["problem"]  # differ only in whitespace
    log = [{"id": "p-log", "problem": twins[0]["problem"]}]
    rep = join(log, pool)
    assert rep.match == [None] and rep.left_unmatched == []  # never merged silently
    [amb] = rep.ambiguous
    assert amb["by"] == "text" and sorted(pool[j]["id"] for j in amb["right"]) == sorted(
        t["id"] for t in twins
    )
    rej = rejects(rep, log, pool, left_table="scores", right_table="pool")
    [r] = [x for x in rej if x["table"] == "scores"]
    assert len(rej) == 1 + len(pool) - 2  # the other pool rows: reached by nothing
    assert r["id"] == "p-log" and "ambiguous" in r["reason"]


def test_cli_select_prints_counts_and_writes_rejects_not_one_line_per_row(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    n = 300
    write_rows(pool, [{"id": f"s{i}", "problem": f"What is {i}+1?", "subject": "Algebra"} for i in range(n)])
    scores = tmp_path / "scores.jsonl"
    write_rows(
        scores, [{"id": f"s{i}", "lim": 0.6 + i / 1000} for i in range(10)] + [{"id": "gone", "lim": 1}]
    )
    out = tmp_path / "sel.jsonl"
    res = CliRunner().invoke(cli, ["select", str(pool), "--scores", str(scores), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert len(res.output.splitlines()) < 10  # counts, not one line per unjoined row
    assert "10 joined, 290 pool rows unmatched, 1 scores rows unmatched, 0 ambiguous" in res.output
    rej = read_rows(rejects_path(out))
    assert rejects_path(out) == tmp_path / "sel.rejects.jsonl"
    assert len(rej) == 291 and set(rej[0]) == {"table", "id", "line", "reason"}
    assert {(r["table"], r["id"]) for r in rej if r["table"] == "scores"} == {("scores", "gone")}
