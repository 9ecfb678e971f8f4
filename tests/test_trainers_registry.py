"""The trainer registry is the one list of trainers: every registered trainer writes files its own
reader reads back and a command line naming them; `export --to`, the forge recipe and the docs table
list exactly the registry's trainers."""

from __future__ import annotations

import itertools
import json
import pkgutil
import re
import shlex
from pathlib import Path

import click
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import sample_forge.export.trainers as trainers_pkg
from sample_forge.cli.export import _trainers
from sample_forge.cli.main import cli
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.export import ExportConfig, export, export_rows
from sample_forge.export.trainers import TRAINERS, RowOptions, get_trainer
from sample_forge.forge.recipe import Recipe
from sample_forge.forge.run import plan
from sample_forge.paths import resource_path
from sample_forge.tables import read_rows

REPO = Path(__file__).resolve().parent.parent
DEMO_POOL = resource_path("data/demo/pool.jsonl")
REPEAT = 3


def _read_back(path: Path) -> list[dict]:
    """Each file with the reader its trainer uses: Parquet through pyarrow, JSON Lines through json."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", list(TRAINERS))
def test_trainer_writes_rows_its_reader_reads_back(name: str, tmp_path: Path) -> None:
    trainer = TRAINERS[name]
    # the whole pool as one deliberate dataset (one run per sample is tests/test_export_runs.py)
    cfg = ExportConfig(to=(name,), repeat=REPEAT, template="none", one_dataset=True)
    res = export(DEMO_POOL, tmp_path, cfg)
    d = tmp_path / name
    assert [p.name for p in res.files[name]] == [*trainer.files, *trainer.extras]
    assert all(p.parent == d and p.is_file() for p in res.files[name])

    expected = trainer.rows(res.samples, RowOptions(repeat=REPEAT))
    assert len(expected) == res.rows[name] == REPEAT * len(read_rows(DEMO_POOL))
    for f in trainer.files:
        assert _read_back(d / f) == expected, f

    # `datasets` (what TRL and verl load with) reads the same rows
    from datasets import load_dataset

    for f in trainer.files:
        kind = "parquet" if f.endswith(".parquet") else "json"
        ds = load_dataset(kind, data_files=str(d / f), split="train")
        assert ds.num_rows == len(expected) and ds.column_names == list(expected[0])

    # the command line names the data the trainer reads, and that data is there
    cmd = res.commands[name]
    data = trainer.data_path(d)
    argv = shlex.split(cmd.replace("\\\n", " "))
    assert any(a == str(data) or a.endswith(f"={data}") for a in argv), cmd
    assert data.exists() and (data.is_file() or {p.name for p in data.iterdir()} >= set(trainer.files))

    manifest = json.loads(res.manifest.read_text())
    assert manifest["settings"]["trainers"] == [name]
    assert {f["path"]: f["rows"] for f in manifest["files"]} == {
        **{f"{name}/{f}": len(expected) for f in trainer.files},
        **{f"{name}/{f}": None for f in trainer.extras},
    }


def test_every_trainer_module_is_registered() -> None:
    # a new file in trainers/ that is not listed in the registry would never be exported
    modules = {m.name for m in pkgutil.iter_modules(trainers_pkg.__path__)} - {"base"}
    assert modules == set(TRAINERS)
    assert all(t.name == n and t.description and "|" not in t.description for n, t in TRAINERS.items())


def test_cli_choices_are_the_registry() -> None:
    assert _trainers((",".join(TRAINERS),)) == tuple(TRAINERS)
    with pytest.raises(click.BadParameter, match=re.escape(f"is not one of {', '.join(TRAINERS)}")):
        _trainers(("verl,nope",))
    help_text = CliRunner().invoke(cli, ["export", "--help"], terminal_width=200).output
    assert f"Trainer(s): {', '.join(TRAINERS)}" in " ".join(help_text.split())


def test_unknown_trainer_is_one_clear_error(tmp_path: Path) -> None:
    rows = read_rows(DEMO_POOL)
    with pytest.raises(SampleForgeError, match=f"among {', '.join(TRAINERS)}; got nope"):
        export_rows(rows, tmp_path, ExportConfig(to=("nope",)))
    with pytest.raises(SampleForgeError, match="unknown trainer 'nope'"):
        get_trainer("nope")
    assert not any(tmp_path.iterdir())


def test_forge_recipe_trainers_are_checked_against_the_registry(tmp_path: Path) -> None:
    assert set(ExportConfig().to) <= set(TRAINERS)
    assert plan(Recipe(export=ExportConfig(to=tuple(TRAINERS))), tmp_path)[-1].name == "export"
    # a misspelt trainer fails when the run is planned, before any stage pays for a model
    with pytest.raises(
        InputError, match=f"field 'export.to': trll: not a trainer; one of {', '.join(TRAINERS)}"
    ):
        plan(Recipe(export=ExportConfig(to=("verl", "trll"))), tmp_path)


def _docs_table() -> list[list[str]]:
    text = (REPO / "docs" / "select-and-export.md").read_text(encoding="utf-8")
    section = text.split("### Files written", 1)[1].splitlines()
    start = next(i for i, ln in enumerate(section) if ln.startswith("|"))
    lines = list(itertools.takewhile(lambda ln: ln.startswith("|"), section[start:]))
    assert lines[0].startswith("| `--to` |"), lines[0]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[2:]]


def test_docs_table_is_the_registry(tmp_path: Path) -> None:
    table = _docs_table()
    assert [r[0] for r in table] == [f"`{n}`" for n in TRAINERS]
    res = export(DEMO_POOL, tmp_path, ExportConfig(to=tuple(TRAINERS), repeat=1))
    for (to, description, files, row), t in zip(table, TRAINERS.values(), strict=True):
        assert description == t.description, to
        assert files == ", ".join(f"`{t.name}/{f}`" for f in (*t.files, *t.extras)), to
        # the row column shows every field a real row has
        written = t.rows(res.samples, RowOptions(repeat=1))[0]
        assert all(re.search(rf"\b{k}\b", row) for k in written), (to, list(written))
