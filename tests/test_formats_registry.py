"""The registry of log formats (impact/formats/): every format round-trips a simulated run through its
own writer, detection and reader; detection refuses mixed directories; the CLI and the docs list
exactly the registered formats."""

from __future__ import annotations

import re
from pathlib import Path

import click
import numpy as np
import pytest

from sample_forge.cli.score import score, simulate_pilot
from sample_forge.errors import InputError
from sample_forge.impact import formats
from sample_forge.impact.detect import detect, files_of
from sample_forge.impact.formats.base import LogFormat, ReadOptions
from sample_forge.impact.run import ScoreConfig, read_trajectory, score_run
from sample_forge.impact.simulate import SimConfig, simulate_accuracy, simulate_run

ROOT = Path(__file__).resolve().parents[1]
CFG = SimConfig(samples=12, epochs=3, steps_per_epoch=2, rollouts=4, response_chars=60, seed=5, with_ids=True)


def test_registry_is_the_modules_of_the_package() -> None:
    pkg = ROOT / "sample_forge" / "impact" / "formats"
    modules = sorted(p.stem for p in pkg.glob("*.py") if p.stem not in {"__init__", "base"})
    assert formats.names() == tuple(modules) and len(modules) >= 5
    for name, fmt in formats.registry().items():
        assert isinstance(fmt, LogFormat) and fmt.name == name
        # a reward log needs a rule; a log of correctness has none
        assert (fmt.default_correct is None) == (fmt.logged != "rewards")
    with pytest.raises(Exception, match="unknown log format 'nope'"):
        formats.get("nope")


@pytest.mark.parametrize("name", formats.names())
def test_round_trip_through_writer_detect_and_reader(name: str, tmp_path: Path) -> None:
    fmt = formats.get(name)
    info = simulate_run(name, tmp_path, CFG)
    assert detect(tmp_path) == name
    files = fmt.files(tmp_path)
    assert files and files_of(tmp_path, name) == files
    for f in files:  # file patterns are disjoint, so a single file is detected too
        assert [n for n, other in formats.registry().items() if other.matches(f)] == [name]
        assert detect(f) == name
    traj = fmt.read(files, ReadOptions())
    assert traj.format == name and traj.records == info["records"]
    # every (sample, epoch) accuracy the simulator drew comes back from the log
    correct, _, _ = simulate_accuracy(CFG)
    res = score_run(tmp_path, ScoreConfig(steps_per_epoch=CFG.steps_per_epoch))
    texts = dict(zip(traj.registry.ids, traj.registry.texts))
    assert len(res.matrix.ids) == CFG.samples
    for row, sid in enumerate(res.matrix.ids):
        i = int(sid) if sid.isdigit() else int(re.match(r"\[#(\d+)\]", texts[sid]).group(1))
        assert np.array_equal(res.matrix.acc[row], correct[i] / CFG.rollouts), (name, sid)


def test_default_correct_rule_is_the_formats(tmp_path: Path) -> None:
    for name, fmt in formats.registry().items():
        simulate_run(name, tmp_path / name, CFG)
        note = score_run(tmp_path / name, ScoreConfig(steps_per_epoch=2)).report["correct"]
        assert note == (
            f"correct iff {fmt.default_correct}" if fmt.default_correct else f"{fmt.logged} as logged"
        )


def test_mixed_directory_is_an_error_but_pilot_runs_read_as_native(tmp_path: Path) -> None:
    simulate_run("verl", tmp_path / "mixed", CFG)
    simulate_run("openrlhf", tmp_path / "mixed", CFG)
    with pytest.raises(InputError, match=r"mixed trajectory formats in one directory: .*openrlhf.*verl"):
        detect(tmp_path / "mixed")
    with pytest.raises(InputError, match="mixed trajectory formats"):
        read_trajectory(tmp_path / "mixed", ScoreConfig())
    assert read_trajectory(tmp_path / "mixed", ScoreConfig(format="verl")).format == "verl"
    simulate_run("trl", tmp_path / "pilot", CFG)
    simulate_run("native", tmp_path / "pilot", CFG)
    assert detect(tmp_path / "pilot") == "native"
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="looked for .*" + re.escape(formats.get("verl").pattern)):
        detect(tmp_path / "empty")


def _choices(cmd: click.Command) -> tuple[str, ...]:
    opt = next(p for p in cmd.params if p.name == "fmt")
    assert isinstance(opt.type, click.Choice)
    return tuple(opt.type.choices)


def test_cli_choices_are_the_registry() -> None:
    assert _choices(score) == _choices(simulate_pilot) == formats.names()


def test_docs_table_lists_exactly_the_registry() -> None:
    text = (ROOT / "docs" / "formats.md").read_text()
    start = text.index("| `--format` |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    assert [r[0].strip("`") for r in rows] == list(formats.names())
    for name, _, files, rule in rows:
        fmt = formats.get(name.strip("`"))
        assert files == f"`{fmt.pattern}`"
        assert rule == (f"`{fmt.default_correct}`" if fmt.default_correct else f"{fmt.logged} as logged")
