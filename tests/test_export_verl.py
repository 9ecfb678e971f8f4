"""verl export: parity with the released 1-shot RLVR file, read back by pyarrow and by `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.export import ExportConfig, export
from sample_forge.export.manifest import sha256_file
from tests.conftest import shared_file

DSR = "one_shot_rlvr/dsr_sub.jsonl"
PI1 = "one_shot_rlvr/original_parquet/pi1_r128.parquet"
COLUMNS = ["data_source", "prompt", "ability", "reward_model", "extra_info"]


@pytest.fixture(scope="module")
def pi1_export(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pi1")
    res = export(
        shared_file(shared_data, DSR),
        out,
        ExportConfig(to=("verl",), repeat=128, template="qwen-boxed", data_source="deepscaler"),
        ids=["124"],
    )
    assert res.rows == {"verl": 128} and res.run.out_dir == out / "124"  # one sample: one run, by id
    # the DSR-sub prompt already ends with the qwen-boxed suffix: it must not be doubled
    assert any("already carries the 'qwen-boxed' template" in n for n in res.notes)
    return out / "124"


def test_parity_with_pi1_r128_pyarrow(pi1_export: Path, shared_data: Path) -> None:
    ours = pq.read_table(pi1_export / "verl" / "train.parquet")
    ref = pq.read_table(shared_file(shared_data, PI1))
    assert ours.column_names == ref.column_names == COLUMNS
    assert ours.schema.remove_metadata().equals(ref.schema.remove_metadata())
    assert ours.num_rows == ref.num_rows == 128
    for col in COLUMNS:
        assert ours.column(col).to_pylist() == ref.column(col).to_pylist(), col
    row = ours.slice(0, 1).to_pylist()[0]
    assert row["extra_info"] == {"index": 124, "split": "train"}
    assert row["prompt"][0]["content"].count("Let's think step by step") == 1


def test_parity_with_pi1_r128_datasets(pi1_export: Path, shared_data: Path) -> None:
    from datasets import load_dataset

    ours = load_dataset("parquet", data_files=str(pi1_export / "verl" / "train.parquet"), split="train")
    ref = load_dataset("parquet", data_files=str(shared_file(shared_data, PI1)), split="train")
    assert ours.features == ref.features
    assert len(ours) == len(ref) == 128
    for col in COLUMNS:
        assert ours[col] == ref[col], col
    # verl also reads .json (JSON Lines content): same rows
    js = load_dataset("json", data_files=str(pi1_export / "verl" / "train.json"), split="train")
    assert [dict(r) for r in js] == [dict(r) for r in ours]


def test_manifest_records_inputs_outputs_and_command(pi1_export: Path) -> None:
    m = json.loads((pi1_export / "manifest.json").read_text())
    assert m["tool"] == "sample-forge" and m["version"]
    assert [s["id"] for s in m["samples"]] == ["124"]
    assert m["samples"][0]["template_added"] is False
    assert m["template"]["name"] == "qwen-boxed" and "{problem}" in m["template"]["text"]
    files = {f["path"]: f for f in m["files"]}
    assert set(files) == {"verl/train.parquet", "verl/train.json"}
    for rel, f in files.items():
        assert f["sha256"] == sha256_file(pi1_export / rel)
        assert f["rows"] == 128
    assert "verl.trainer.main_ppo" in m["trainer_commands"]["verl"]


def test_orz_template_and_default_data_source(tmp_path: Path, shared_data: Path) -> None:
    res = export(
        shared_file(shared_data, "polymath/natural_polymath_samples_identified.jsonl"),
        tmp_path,
        ExportConfig(to=("verl",), repeat=2, template="orz", one_dataset=True),
    )
    rows = pq.read_table(res.files["verl"][0]).to_pylist()
    assert len(rows) == 14
    content = rows[0]["prompt"][0]["content"]
    assert content.startswith("A conversation between User and Assistant.")
    assert "This is the problem:\nA white cylindrical silo" in content
    assert content.endswith("\nAssistant: <think>")
    assert rows[0]["data_source"] == "lighteval/MATH"
    assert rows[0]["reward_model"] == {"ground_truth": "240", "style": "rule"}
    # non-numeric ids: extra_info.index is the position in the selection
    assert sorted({r["extra_info"]["index"] for r in rows}) == list(range(7))


def test_cli_export_parity_and_commands(shared_data: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "export",
            str(shared_file(shared_data, DSR)),
            "--id",
            "124",
            "--to",
            "verl",
            "--data-source",
            "deepscaler",
            "-o",
            str(tmp_path),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    for setting in (
        "data.train_batch_size=128",
        "actor_rollout_ref.rollout.n=16",
        "actor_rollout_ref.rollout.temperature=1",
        "actor_rollout_ref.actor.optim.lr=1e-06",
        "data.max_response_length=2048",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "algorithm.use_kl_in_reward=False",
    ):
        assert setting in res.output
    assert "trainer.total_training_steps=140" in res.output and "trainer.total_epochs=140" in res.output
    ours = pq.read_table(tmp_path / "124" / "verl" / "train.parquet")
    assert ours.to_pylist() == pq.read_table(shared_file(shared_data, PI1)).to_pylist()
    m = json.loads((tmp_path / "124" / "manifest.json").read_text())
    assert "--id 124" in m["command"] and m["command"].startswith("sample-forge export")


def test_select_then_export_keeps_the_pool_data_source(shared_data: Path, tmp_path: Path) -> None:
    """select -> export of pi1 reproduces the authors' file too (data_source travels in the selection)."""
    from sample_forge.selection import SelectConfig, select
    from sample_forge.tables import write_rows

    dsr = shared_file(shared_data, "one_shot_rlvr/dsr_sub.jsonl")
    scores = tmp_path / "scores.jsonl"
    write_rows(scores, [{"id": "124", "hist_var": 0.2}, {"id": "267", "hist_var": 0.1}])
    sel = select(SelectConfig("top", by="hist_var", top=1), pool=dsr, scores=scores)
    assert [r["id"] for r in sel.rows] == ["124"]
    write_rows(tmp_path / "sel.jsonl", sel.rows)
    res = export(tmp_path / "sel.jsonl", tmp_path / "out", ExportConfig(to=("verl",), repeat=128))
    ours = pq.read_table([p for p in res.files["verl"] if p.suffix == ".parquet"][0]).to_pylist()
    theirs = pq.read_table(
        shared_file(shared_data, "one_shot_rlvr/original_parquet/pi1_r128.parquet")
    ).to_pylist()
    assert ours == theirs
