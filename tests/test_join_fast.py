"""The linear join of score --pool: same answers as the former containment join, twins flagged, both directions."""

from __future__ import annotations

import json
import random
import re
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.bench_join import write_decoded_verl
from sample_forge.cli.main import cli
from sample_forge.join import (
    Columns,
    contained_matches,
    contained_matches_quadratic,
    join,
    normalize_text,
    normalize_texts,
    rejects_path,
)
from sample_forge.tables import read_rows, write_rows
from tests.conftest import shared_file

TWINS = {"train/algebra/2463.json", "train/algebra/24377.json"}


def _random_case(seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    words = "a b c x y 2 3 + = $ find the value".split()
    pool = [{"id": str(j), "problem": " ".join(rng.choices(words, k=rng.randint(1, 12)))} for j in range(60)]
    left = []
    for _ in range(80):
        core = rng.choice(pool)["problem"] if rng.random() < 0.7 else "nothing here"
        pre = " ".join(rng.choices(words, k=rng.randint(0, 4)))
        left.append({"problem": f"{pre} {core} {rng.choice(['', 'Think.', 'x y'])}"})
    return left, pool


@pytest.mark.parametrize("automaton", [True, False], ids=["pyahocorasick", "pure-python"])
def test_containment_equals_the_former_quadratic_join(automaton: bool, monkeypatch) -> None:
    if not automaton:
        monkeypatch.setitem(sys.modules, "ahocorasick", None)  # import fails: the dict fallback
    for seed in range(15):
        left, pool = _random_case(seed)
        assert contained_matches(left, pool) == contained_matches_quadratic(left, pool)
        # the join: where the former one joined (exactly one pool row contained), the same row
        rep = join(left, pool, by_text=False, containment=True)
        for i, hits in enumerate(contained_matches_quadratic(left, pool)):
            if len(hits) == 1:
                assert rep.match[i] is pool[hits[0]]


def test_widest_hit_wins_only_when_it_holds_the_others() -> None:
    pool = [
        {"id": "s", "problem": "Compute $5!$."},
        {"id": "l", "problem": "Twice: Compute $5!$. Then add 1."},
    ]
    left = [{"problem": "Solve. Twice: Compute $5!$. Then add 1. Box it."}, {"problem": "Compute $5!$. x"}]
    assert contained_matches(left, pool, widest=True) == [[1], [0]]
    assert contained_matches(left, pool) == contained_matches_quadratic(left, pool) == [[0, 1], [0]]


def _score(run: Path, pool: Path, out: Path) -> tuple[dict, list[dict], float]:
    t = time.perf_counter()
    r = CliRunner().invoke(
        cli,
        ["score", "-t", str(run), "--steps-per-epoch", "2", "--pool", str(pool), "-o", str(out), "--json"],
    )
    assert r.exit_code == 0, r.output
    return json.loads(r.output.splitlines()[0]), read_rows(out), time.perf_counter() - t


def test_both_directions_and_the_rejects_file(tmp_path: Path) -> None:
    problems = [
        {"id": f"q{i}", "problem": f"What is {i} + {i * 7}?", "answer": str(8 * i)} for i in range(30)
    ]
    write_decoded_verl(problems, tmp_path / "run", epochs=2, rollouts=2)
    pool = tmp_path / "pool.jsonl"
    never = [{"id": "never1", "problem": "Never trained on?"}, {"id": "never2", "problem": "Nor this one."}]
    write_rows(pool, problems[3:] + never)  # q0..q2 of the log are not in the pool
    rep, rows, _ = _score(tmp_path / "run", pool, tmp_path / "s.jsonl")
    j = rep["join"]
    assert (j["joined"], j["left_unmatched"], j["right_unmatched"]) == (rep["rows_written"] - 3, 3, 2)
    rej = read_rows(rejects_path(tmp_path / "s.jsonl"))
    assert {r["id"] for r in rej if r["table"] == "pool"} == {"never1", "never2"}
    assert len([r for r in rej if r["table"] == "scores"]) == 3
    joined = [r for r in rows if "log_id" in r]
    assert all(r["problem"] == {p["id"]: p["problem"] for p in problems}[r["id"]] for r in joined)


def test_math_train_twins_are_named_and_both_kept(shared_data: Path, tmp_path: Path) -> None:
    math = [json.loads(x) for x in shared_file(shared_data, "math/math_train.jsonl").read_text().splitlines()]
    from sample_forge.adapter import read_table

    pool_rows = [r for r in read_table(shared_file(shared_data, "math/math_train.jsonl")) if r.get("answer")]
    assert len(math) == 7500 and len(pool_rows) == 7498
    pool = tmp_path / "pool.jsonl"
    write_rows(pool, [{"id": r["id"], "problem": r["problem"], "answer": r["answer"]} for r in pool_rows])
    write_decoded_verl(pool_rows, tmp_path / "run", epochs=3, steps_per_epoch=2, rollouts=2)
    rep, rows, seconds = _score(tmp_path / "run", pool, tmp_path / "s.jsonl")
    print(f"\nMATH train, decoded-Qwen verl log: {len(rows)} samples in {seconds:.1f} s")
    assert rep["samples_seen"] == 7497  # the twins' prompts are one prompt
    assert rep["rows_written"] == len(rows) == 7498 and {r["id"] for r in rows} >= TWINS
    twins = {r["id"]: r for r in rows if r["id"] in TWINS}
    assert twins["train/algebra/2463.json"]["dup_group"] == "train/algebra/24377.json"
    assert twins["train/algebra/24377.json"]["dup_group"] == "train/algebra/2463.json"
    assert twins["train/algebra/2463.json"]["log_id"] == twins["train/algebra/24377.json"]["log_id"]
    assert all(r["dup_group"] is None for r in rows if r["id"] not in TWINS)
    assert any("train/algebra/2463.json = train/algebra/24377.json" in n for n in rep["notes"])
    assert (rep["join"]["left_unmatched"], rep["join"]["right_unmatched"]) == (0, 0)
    # speed is measured by bench/bench_join.py, not asserted here (a loaded CI machine is not a benchmark)


def test_normalizer_fast_path_equals_split_and_join() -> None:
    """normalize_text's no-split path relies on every whitespace character but the ASCII space being
    unprintable; checked over all of Unicode, then on random texts of every kind of whitespace."""
    assert not [
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c != " " and c.isprintable()
    ]
    rng = random.Random(0)
    chars = [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000"]
    chars += ["a", "é", "$", "\\", "\x00", "\x07"]
    texts = ["".join(rng.choices(chars, k=rng.randint(0, 30))) for _ in range(3000)]
    texts += [None, "", 0, 7, 1.5, " " * 1000 + "x" + " " * 999, ["x"], {"k": 1}]
    want = [" ".join(str(t or "").split()) for t in texts]
    assert [normalize_text(t) for t in texts] == want
    known = [w for w in want[::3] if w]
    assert normalize_texts(texts, known=known) == want
    assert normalize_texts(want, known=known) == want
    # every normal form known: the cheap forms (newlines, one halving, stripped ends) are tried on all
    assert normalize_texts(texts, known=want) == want
    assert normalize_texts(texts + [" a\n\n b \n"], known=["a b"]) == want + ["a b"]


def test_join_on_columns_equals_join_on_rows() -> None:
    """A table given as Columns joins like the same table given as rows (twins, misses, containment)."""
    for seed in range(10):
        left, pool = _random_case(seed)
        pool.append(dict(pool[0], id="twin"))
        left = [{"id": f"l{i}", "problem": normalize_text(r["problem"])} for i, r in enumerate(left)]
        left += [{"id": "exact", "problem": normalize_text(pool[1]["problem"])}]
        kw = dict(left_key=None, containment=True, left_normalized=True)
        a = join(left, pool, **kw)
        b = join(Columns({k: [r[k] for r in left] for k in ("id", "problem")}), pool, **kw)
        assert a.match == b.match and a.ambiguous == b.ambiguous
        assert (a.left_unmatched, a.right_unmatched, a.by_text) == (
            b.left_unmatched,
            b.right_unmatched,
            b.by_text,
        )
        assert a.by_text >= 1


def _text_join_reference(left: list, right: list) -> tuple[list, list, dict, list]:
    """The text stage as its docstring says it, one row at a time: (match index or None per left row,
    left rows that found no text, {text: (left rows, right rows)} for texts several right rows share,
    right rows reached)."""
    rnorm = [" ".join(str(r.get("problem") or "").split()) for r in right]
    match, pending, shared, reached = [], [], {}, set()
    for i, lrow in enumerate(left):
        t = " ".join(str(lrow.get("problem") or "").split())
        hits = [j for j, n in enumerate(rnorm) if t and n == t]
        if len(hits) > 1:
            shared.setdefault(t, ([], hits))[0].append(i)
        if len(hits) == 1:
            reached.add(hits[0])
        match.append(hits[0] if len(hits) == 1 else None)
        if not hits:
            pending.append(i)
    return match, pending, shared, sorted(reached)


@pytest.mark.parametrize("left_dups", [True, False], ids=["left-repeats", "left-distinct"])
@pytest.mark.parametrize("left_normalized", [True, False])
def test_text_join_equals_a_row_by_row_reference(left_normalized: bool, left_dups: bool) -> None:
    """join's text stage (hash of normal forms, cheap forms of the right texts, shared texts held
    back) equals the row-by-row reference on tables with twins, whitespace variants, empty texts,
    non-string values and left rows that repeat a text."""
    rng = random.Random(3)
    words = ["a", "b", "x", "2", "=", "é", "\\frac{1}{2}"]
    seps = [" ", "  ", "\n", "\n\n", " \n", "\t"]

    def text() -> str:
        ws = rng.choices(words, k=rng.randint(1, 5))
        return rng.choice(["", " ", "\n"]) + "".join(w + rng.choice(seps) for w in ws)[:-1]

    for seed in range(30):
        rng.seed(seed)
        right = [{"id": str(j), "problem": text()} for j in range(40)]
        right += [{"id": "twin", "problem": right[0]["problem"] + "\n"}, {"id": "e", "problem": ""}]
        right += [{"id": "n", "problem": None}, {"id": "7", "problem": 7}]
        # a multimodal chat turn the adapter leaves as a list: never hashed, joined on its text form
        right += [{"id": "l", "problem": [{"type": "text", "text": "a"}]}]
        left = [{"problem": text()} for _ in range(30)] + [{"problem": r["problem"]} for r in right[:12]]
        left += [{"problem": "7"}, {"problem": ""}, {"problem": left[0]["problem"]}]
        left += [{"problem": str([{"type": "text", "text": "a"}])}]
        if not left_dups:  # each text once (the first of each kept)
            firsts = {normalize_text(r["problem"]): r for r in reversed(left)}
            left = [r for r in left if firsts[normalize_text(r["problem"])] is r]
        if left_normalized:
            left = [{"problem": normalize_text(r["problem"])} for r in left]
        rng.shuffle(left)
        # row 0 joins (a falsy row index); with repeats its text is also held by a later row
        first = {"problem": right[5]["problem"]} if left_dups else left.pop(rng.randrange(len(left)))
        left.insert(0, {"problem": normalize_text(first["problem"])} if left_normalized else first)
        rep = join(left, right, left_key=None, left_normalized=left_normalized)
        want_match, want_pending, want_shared, want_reached = _text_join_reference(left, right)
        assert [None if m is None else right.index(m) for m in rep.match] == want_match
        got_shared = {a["key"]: (a["left"], a["right"]) for a in rep.ambiguous if a["by"] == "text"}
        assert got_shared == want_shared
        in_shared = {i for ls, _ in want_shared.values() for i in ls}
        assert rep.left_unmatched == [i for i in want_pending if i not in in_shared]
        assert rep.by_text == sum(m is not None for m in want_match)
        involved = {j for _, rs in want_shared.values() for j in rs}
        assert rep.right_unmatched == [
            j for j in range(len(right)) if j not in want_reached and j not in involved
        ]


@pytest.mark.parametrize("columns", [60, 80, 160])
def test_terminal_table_shows_pool_ids_and_problems_one_line_each(tmp_path: Path, columns: int) -> None:
    """score --pool's table on a decoded-Qwen log: the pool's ids and the problems (no template, no
    role words), one line per sample within the terminal's width in cells (CJK counts twice), the
    numbers whole, ids shown as they are (a trailing backslash not doubled)."""
    from rich.cells import cell_len

    problems = [
        {
            "id": f"train/algebra/{i}\\",
            "problem": f"Let $x = {i}$. 求解: what is the value of {i} + {i * 7}?",
            "answer": str(8 * i),
        }
        for i in range(30)
    ]
    write_decoded_verl(problems, tmp_path / "run", epochs=2, rollouts=2)
    pool = tmp_path / "pool.jsonl"
    write_rows(pool, problems)
    args = ["score", "-t", str(tmp_path / "run"), "--pool", str(pool), "-o", str(tmp_path / "s.jsonl")]
    for by in ("lim", "mean_acc"):
        r = CliRunner().invoke(cli, [*args, "--by", by], env={"COLUMNS": str(columns)})
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        top = lines.index(next(x for x in lines if x.startswith("top samples by")))
        table = lines[top + 1 :]
        assert "problem" in table[1] and by in table[1]  # the ranking score's column always stays
        assert all(cell_len(x) <= columns for x in table)
        body = [x for x in table if x.startswith("│")]
        assert len(body) == 10  # one line per sample
        for line in body:
            cells = [c.strip() for c in line.strip("│").split("│")]
            assert cells[1].startswith("train/") and cells[-1].startswith("Let $x = ")
            assert by != "lim" or re.fullmatch(r"-?\d\.\d{3}", cells[2])  # lim, whole
            assert not cells[1].endswith("\\\\")  # rich markup would double it
        assert "Let's think" not in r.output.split("top samples by")[1] and "assistant" not in r.output
    if columns == 160:
        assert re.search(r"train/algebra/\d+\\ ", r.output)  # the whole id, its backslash once
