"""Problem pools from local tables and hub-style sources; the ``pool`` command."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.pool import PoolStats, iter_pool, load_pool, parse_levels, parse_source, parse_subjects
from sample_forge.subjects import SUBJECTS
from tests.conftest import shared_file

# Subject counts of MATH train as published with the data (shared/data/math/PROVENANCE.md).
TRAIN_SUBJECTS = {
    "Algebra": 1744,
    "Counting & Probability": 771,
    "Geometry": 870,
    "Intermediate Algebra": 1295,
    "Number Theory": 869,
    "Prealgebra": 1205,
    "Precalculus": 746,
}


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_cli_pool_math_train_to_parquet(shared_data, tmp_path):
    src = shared_file(shared_data, "math/math_train.jsonl")
    out = tmp_path / "pool.parquet"
    r = CliRunner().invoke(cli, ["pool", "--source", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.num_rows == 7500
    assert {"id", "problem", "answer", "solution", "subject", "level", "source", "meta", "category"} <= set(
        table.column_names
    )
    rows = table.select(["id", "subject", "level", "answer", "category"]).to_pylist()
    assert Counter(r["subject"] for r in rows) == TRAIN_SUBJECTS
    levels = Counter(r["level"] for r in rows)
    assert set(levels) == {1, 2, 3, 4, 5, None}
    assert levels[None] == 2  # the two "Level ?" geometry problems
    assert sum(1 for r in rows if r["answer"] is None) == 2  # the two empty \boxed{}
    assert {r["category"] for r in rows} == {
        "Algebra",
        "Geometry",
        "Number Theory",
        "Probability",
        "Precalculus",
    }
    assert len({r["id"] for r in rows}) == 7500
    # the summary names every subject and reports the problems kept without an answer
    for s in SUBJECTS:
        assert s in r.output
    assert "kept without an answer: 2" in r.output.replace("\n", " ")


def test_cli_quiet_and_readback_with_datasets(shared_data, tmp_path):
    import datasets

    src = shared_file(shared_data, "math/math500.jsonl")
    out = tmp_path / "p.parquet"
    r = CliRunner().invoke(
        cli,
        [
            "pool",
            "-s",
            str(src),
            "-o",
            str(out),
            "--quiet",
            "--subjects",
            "Probability,Geometry",
            "--levels",
            "4-5",
        ],
    )
    assert r.exit_code == 0, r.output
    assert r.output == ""
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert len(ds) > 0
    assert set(ds["subject"]) == {"Counting & Probability", "Geometry"}
    assert set(ds["level"]) <= {4, 5}
    # same count as filtering the raw file by hand
    raw = [json.loads(x) for x in src.read_text().splitlines()]
    want = sum(
        1 for x in raw if x["subject"] in ("Counting & Probability", "Geometry") and x["level"] in (4, 5)
    )
    assert len(ds) == want


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"problem": "1+1?", "answer": "2"}\n{"problem": "2+2?", "answer": \n'
        '{"problem": "3+3?", "answer": "6"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(cli, ["pool", "-s", str(p), "-o", str(out)])
    assert r.exit_code == 1
    assert f"{p}:2" in r.output
    assert "Traceback" not in r.output
    assert not out.exists()  # nothing half-written


def test_missing_problem_text_names_line_and_field(tmp_path):
    p = _write_jsonl(tmp_path / "t.jsonl", [{"problem": "a", "answer": "1"}, {"problem": "", "answer": "2"}])
    with pytest.raises(InputError) as e:
        load_pool(p)
    assert e.value.line == 2 and e.value.field == "problem"


def test_map_columns_csv(tmp_path):
    p = tmp_path / "t.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "prompt", "ground_truth", "kind", "difficulty"])
        w.writerow(["7", "What is 2+3?", "5", "prealgebra", "Level 1"])
        w.writerow(["8", "Solve x^2=4 for x>0.", "", "algebra", "3"])
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(
        cli,
        [
            "pool",
            "-s",
            str(p),
            "-o",
            str(out),
            "--map",
            "problem=prompt,answer=ground_truth,id=index,subject=kind",
        ],
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in rows] == ["7", "8"]
    assert rows[0]["problem"] == "What is 2+3?" and rows[0]["answer"] == "5"
    assert rows[0]["subject"] == "Prealgebra" and rows[0]["level"] == 1
    assert rows[1]["answer"] is None and rows[1]["level"] == 3  # kept, counted
    assert "kept without an answer: 1" in r.output


def test_map_errors_are_one_line(tmp_path):
    p = _write_jsonl(tmp_path / "t.jsonl", [{"q": "1+1?", "a": "2"}])
    out = str(tmp_path / "o.jsonl")
    r = CliRunner().invoke(cli, ["pool", "-s", str(p), "-o", out, "--map", "problem=nope"])
    assert r.exit_code == 1 and "no column 'nope'" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["pool", "-s", str(p), "-o", out, "--map", "question=q"])
    assert r.exit_code == 1 and "unknown field" in r.output
    r = CliRunner().invoke(cli, ["pool", "-s", str(p), "-o", out])
    assert r.exit_code == 1 and "--map problem=" in r.output
    r = CliRunner().invoke(cli, ["pool", "-s", str(p), "-o", str(tmp_path / "o.txt")])
    assert r.exit_code == 1 and "unknown table format" in r.output


def test_verl_style_parquet_chat_prompt_and_nested_answer(tmp_path):
    p = tmp_path / "verl.parquet"
    rows = [
        {
            "data_source": "x",
            "prompt": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "Compute 6*7."},
            ],
            "reward_model": {"style": "rule", "ground_truth": "42"},
            "extra_info": {"index": 3},
        }
    ]
    pq.write_table(pa.Table.from_pylist(rows), p)
    probs = load_pool(p, mapping={"answer": "reward_model.ground_truth", "id": "extra_info.index"})
    assert len(probs) == 1
    assert probs[0].problem == "Compute 6*7." and probs[0].answer == "42" and probs[0].id == "3"


def test_answer_from_solution_and_subject_from_unique_id(tmp_path):
    p = _write_jsonl(
        tmp_path / "t.jsonl",
        [
            {
                "unique_id": "train/counting_and_probability/1.json",
                "problem": "p1",
                "solution": r"so \boxed{\frac{1}{2}} and finally $\boxed{\frac{3}{4}}$.",
                "level": "Level 2",
            },
            {"unique_id": "test/geometry/5.json", "problem": "p2", "solution": "no box", "level": "Level ?"},
        ],
    )
    stats = PoolStats()
    probs = load_pool(p, stats=stats)
    assert probs[0].answer == r"\frac{3}{4}"
    assert probs[0].subject == "Counting & Probability" and probs[0].category == "Probability"
    assert probs[1].answer is None and probs[1].subject == "Geometry" and probs[1].level is None
    assert stats.no_answer == 1 and stats.answer_from_solution == 1 and stats.unknown_level == 1


def test_filters_count_drops_and_seed_is_reproducible(shared_data):
    src = shared_file(shared_data, "math/math500.jsonl")
    stats = PoolStats()
    kept = load_pool(src, subjects=["number theory"], levels="1,2", stats=stats)
    assert kept and all(p.subject == "Number Theory" and p.level in (1, 2) for p in kept)
    assert stats.read == 500 and stats.kept == len(kept)
    assert stats.read - stats.kept == sum(stats.dropped.values())
    a = [p.id for p in load_pool(src, limit=20, seed=3)]
    b = [p.id for p in load_pool(src, limit=20, seed=3)]
    c = [p.id for p in load_pool(src, limit=20, seed=4)]
    first = [p.id for p in load_pool(src, limit=20)]
    assert a == b and a != c and len(a) == 20
    assert first == [json.loads(x)["unique_id"] for x in src.read_text().splitlines()[:20]]


def test_limit_streams_without_reading_everything(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"problem": "a", "answer": "1"}\n{"problem": "b", "answer": "2"}\n{oops\n')
    stats = PoolStats()
    assert [x.problem for x in iter_pool(p, limit=2, stats=stats)] == ["a", "b"]
    assert stats.read == 2  # the malformed third line was never parsed


def test_duplicate_ids_made_unique(tmp_path):
    p = _write_jsonl(tmp_path / "t.jsonl", [{"id": "x", "problem": "a"}, {"id": "x", "problem": "b"}])
    stats = PoolStats()
    assert [q.id for q in load_pool(p, stats=stats)] == ["x", "x~2"]
    assert stats.duplicate_ids == 1


def test_written_pool_reads_back_as_itself(tmp_path):
    p = _write_jsonl(
        tmp_path / "t.jsonl",
        [{"id": "a", "problem": "1+1?", "answer": "2", "subject": "algebra", "level": 1, "note": "hi"}],
    )
    out = tmp_path / "pool.parquet"
    assert CliRunner().invoke(cli, ["pool", "-s", str(p), "-o", str(out), "-q"]).exit_code == 0
    again = load_pool(out)
    assert len(again) == 1
    q = again[0]
    assert (q.id, q.answer, q.subject, q.level, q.source) == ("a", "2", "Algebra", 1, str(p))
    assert q.meta == {"note": "hi"}


def test_parse_helpers():
    assert parse_subjects("Probability,geometry") == {"Counting & Probability", "Geometry"}
    assert parse_subjects("Algebra") == {"Algebra"}
    with pytest.raises(SampleForgeError):
        parse_subjects("physics")
    assert parse_levels("3-5,?") == {3, 4, 5, None}
    with pytest.raises(SampleForgeError):
        parse_levels("7")
    s = parse_source("hf:EleutherAI/hendrycks_math:algebra@test")
    assert (s.dataset, s.config, s.split) == ("EleutherAI/hendrycks_math", "algebra", "test")


def test_hf_local_dataset_folder(tmp_path):
    # the hub code path with a real `datasets` load, from a local folder (no network)
    d = tmp_path / "ds"
    d.mkdir()
    _write_jsonl(
        d / "train.jsonl", [{"question": "1+1?", "answer": "2", "type": "Prealgebra", "level": "Level 1"}]
    )
    probs = load_pool(f"hf:{d}")
    assert [(p.problem, p.answer, p.subject, p.level) for p in probs] == [("1+1?", "2", "Prealgebra", 1)]
    assert probs[0].source == f"hf:{d}@train"


@pytest.mark.parametrize(
    "source",
    [
        "hf:EleutherAI/hendrycks_math",
        "hf:HuggingFaceH4/MATH-500",
        "hf:DigitalLearningGmbH/MATH-lighteval@test",
    ],
)
def test_offline_hub_is_one_clear_line(source, tmp_path, monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    # `datasets` reads these at import; patched so a machine that has the data, or reaches the hub
    # (CI may), still takes the offline path instead of downloading
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    r = CliRunner().invoke(cli, ["pool", "-s", source, "-o", str(tmp_path / "o.parquet")])
    assert r.exit_code == 1
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1, r.output
    assert "cannot load hf:" in lines[0] and "not in the local cache" in lines[0]
    assert "Traceback" not in r.output


def test_pool_help_has_example():
    r = CliRunner().invoke(cli, ["pool", "--help"])
    assert r.exit_code == 0 and "Examples" in r.output and "hf:EleutherAI/hendrycks_math" in r.output


def test_missing_local_file_hints_at_hf_prefix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["pool", "-s", "HuggingFaceH4/MATH-500", "-o", "o.parquet"])
    assert r.exit_code == 1 and "use --source hf:HuggingFaceH4/MATH-500" in r.output
