"""The one table adapter: aliases, nested fields, chat prompts, --map precedence, scores, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sample_forge.adapter import adapt_row, iter_table, read_table
from sample_forge.errors import InputError
from sample_forge.tables import write_rows


def test_aliases_of_every_stage_fill_our_names_and_keep_the_originals() -> None:
    limr = adapt_row(
        {"id": "u", "prompt": "2+2?", "math_subject": "number theory", "math_level": 4, "lim_score": "0.6"}
    )
    assert (limr["problem"], limr["subject"], limr["level"], limr["lim"]) == ("2+2?", "Number Theory", 4, 0.6)
    assert limr["prompt"] == "2+2?" and limr["lim_score"] == "0.6"  # nothing lost
    sci = adapt_row({"problemid": 7, "problem_text": "A ball falls.", "subject": "physics"})
    assert (sci["id"], sci["problem"], sci["subject"]) == ("7", "A ball falls.", "physics")
    skills = adapt_row({"problem_id": "a", "total": 2})
    assert skills["id"] == "a"
    prm = adapt_row(
        {"unique_id": "train/counting_and_probability/1.json", "problem": "p", "level": "Level ?"}
    )
    assert prm["subject"] == "Counting & Probability" and prm["level"] is None
    # an empty value under our own name falls through to the next alias
    assert adapt_row({"answer": "", "ground_truth": "5"})["answer"] == "5"
    # a field no column names is not padded in
    assert "answer" not in adapt_row({"problem": "x"})


def test_nested_fields_and_chat_prompts() -> None:
    chat = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "Compute 6*7."},
        {"role": "assistant", "content": "42"},
    ]
    verl = {"prompt": chat, "reward_model": {"ground_truth": "42"}, "extra_info": {"index": 3}}
    a = adapt_row(verl)
    assert (a["problem"], a["answer"], a["id"]) == ("Compute 6*7.", "42", "3")
    assert adapt_row({"prompt": json.dumps(chat)})["problem"] == "Compute 6*7."
    assert adapt_row({"prompt": "[not json"})["problem"] == "[not json"
    two_users = [{"role": "user", "content": "first"}, {"role": "user", "content": "last"}]
    assert adapt_row({"messages": 0, "prompt": two_users})["problem"] == "last"


def test_map_wins_over_aliases_and_may_name_dotted_fields() -> None:
    row = {"id": "x", "qid": "q7", "answer": "1", "meta": {"gold": "2"}, "question": "a?", "alt": "b?"}
    a = adapt_row(row, {"id": "qid", "answer": "meta.gold", "problem": "alt"})
    assert (a["id"], a["answer"], a["problem"]) == ("q7", "2", "b?")
    # a mapped column this table lacks: the aliases still apply (one --map serves pool and scores)
    assert adapt_row({"id": "x"}, {"id": "qid"})["id"] == "x"


def test_read_table_lines_default_ids_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    write_rows(p, [{"question": "a?", "lim": "0.7"}, {"question": "b?", "lim": ""}])
    rows = read_table(p)
    assert [(r["id"], r["_line"], r["lim"]) for r in rows] == [("0", 1, 0.7), ("1", 2, None)]
    write_rows(p, [{"question": "a?", "lim": "high"}])
    with pytest.raises(InputError) as e:
        read_table(p)
    assert (e.value.path, e.value.line, e.value.field) == (str(p), 1, "lim")
    write_rows(p, [{"question": "a?", "answer": "1"}, {"question": "b?", "answer": ""}])
    with pytest.raises(InputError) as e:
        list(iter_table(p, need=("answer",)))
    assert (e.value.line, e.value.field) == (2, "answer") and "--map answer=COLUMN" in str(e.value)


def test_adapt_row_equals_column_of_per_field_on_varied_rows() -> None:
    """The per-table plan picks what column_of picks field by field: rows with different keys, empty
    values (None, NaN, blank text), nested columns, literal dotted keys and --map columns."""
    import random

    from sample_forge.adapter import _MISSING, ALIASES, column_of, lookup

    rng = random.Random(11)
    names = sorted({c for cs in ALIASES.values() for c in cs} | {"extra_info", "reward_model", "other"})
    values = [None, "", "  ", float("nan"), "x", 3, "train/algebra/1.json", "Level 3"]
    maps = [{}, {"problem": "other"}, {"answer": "reward_model.ground_truth"}, {"id": "missing_col"}]
    for _ in range(3000):
        row = {c: rng.choice(values) for c in rng.sample(names, rng.randint(1, 8))}
        if "extra_info" in row and rng.random() < 0.7:
            row["extra_info"] = {"index": rng.choice(values)} if rng.random() < 0.8 else {}
        if "reward_model" in row and rng.random() < 0.7:
            row["reward_model"] = {"ground_truth": rng.choice(values)}
        if rng.random() < 0.1:
            row["reward_model.ground_truth"] = rng.choice(values)  # a literal dotted key
        mapping = rng.choice(maps)
        want = dict(row)
        for ours in dict.fromkeys([*mapping, *ALIASES]):
            col = column_of(row, ours, mapping)
            if col is not None:
                want[ours] = lookup(row, col)
        got = adapt_row(row, mapping, scores=False)
        for ours in dict.fromkeys([*mapping, *ALIASES]):
            if ours in ("problem", "id", "subject", "level"):  # post-processed after the pick
                continue
            w, g = want.get(ours, _MISSING), got.get(ours, _MISSING)
            assert w is g or w == g or (w != w and g != g), (row, mapping, ours, w, g)
        assert ("problem" in got) == ("problem" in want) and ("id" in got) == ("id" in want)
