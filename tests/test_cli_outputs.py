"""Default output paths, ``-o -``, all-failed stages, skill aliases, forge's stage lines and dry-run
input checks (issue #16, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.paths import resource_path
from sample_forge.skills import resolve_skills

REPO = Path(__file__).resolve().parent.parent


def test_pool_writes_its_default_table_and_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["pool", "--source", "demo"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pool.jsonl").is_file()
    assert "-> pool.jsonl" in res.output


def test_pool_dash_out_is_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["pool", "--source", "demo", "-o", "-", "-q"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    demo = resource_path("data/demo/pool.jsonl").read_text().splitlines()
    assert len(rows) == len(demo) and all("problem" in r for r in rows)
    assert not (tmp_path / "pool.jsonl").exists()


def test_dash_is_refused_where_the_output_is_not_json_lines(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["export", str(tmp_path / "sel.jsonl"), "-o", "-"])
    assert res.exit_code == 2
    assert "'-' (stdout) takes JSON lines only" in res.output
    res = CliRunner().invoke(cli, ["tag", "calibrate", "--from-subjects", "--pool", "demo", "-o", "-"])
    assert res.exit_code == 2 and "not JSON lines" in res.output


def test_select_default_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["score", "-q"])  # the embedded demo run -> scores.jsonl
    assert r.exit_code == 0, r.output
    assert (tmp_path / "scores.jsonl").is_file() and r.stdout == ""
    r = CliRunner().invoke(
        cli, ["select", "--pool", "demo", "--scores", "scores.jsonl", "--rule", "polymath"]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "selection.jsonl").is_file() and "wrote selection.jsonl" in r.output


def test_skill_alias_is_said() -> None:
    said: list[str] = []
    assert resolve_skills(["logic", "algebra"], on_alias=said.append) == ["logical reasoning", "Algebra"]
    assert said == ["skill 'logic' -> 'logical reasoning' (catalog alias)"]


def test_all_failed_is_an_error_with_reason_counts() -> None:
    from sample_forge.cli.common import all_failed

    all_failed("tag", 25, 24, {"parse": 14, "llm": 10})  # one success: no error
    with pytest.raises(
        click.ClickException, match=r"tag: all 25 category calls failed \(parse: 14, llm: 11\)"
    ):
        all_failed("tag", 25, 25, {"parse": 14, "llm": 11}, "category calls")


def test_tag_llm_all_failed_exits_nonzero_and_says_llm_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model endpoint that refuses every call (nothing listens on the port): every category call
    fails, the command exits 1 with the counts, and the LLM summary line appears once."""
    cfg = tmp_path / "models.toml"
    cfg.write_text(
        '[models.dead]\nmodel = "x"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "NOPE"\n'
        "max_retries = 0\ntimeout = 2\n"
    )
    monkeypatch.setenv("SAMPLE_FORGE_CONFIG", str(cfg))
    monkeypatch.setenv("NOPE", "x")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["tag", "--pool", "demo", "--limit", "1", "--method", "llm", "-m", "dead"])
    assert r.exit_code == 1, r.output
    assert "tag: all" in r.output and "category calls failed (llm:" in r.output
    assert r.output.count("LLM dead:") == 1


def test_forge_prints_stage_start_and_end(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'run_dir = "{tmp_path / "run"}"\n[pool]\nsource = "demo"\n[tag]\nenabled = false\n'
        '[score]\ntrajectory = "demo"\n[synthesize]\nenabled = false\n[export]\nto = ["trl"]\n'
    )
    r = CliRunner().invoke(cli, ["forge", str(recipe), "--no-report"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for st in ("pool", "score", "select", "export"):
        start = lines.index(f"{st}: started")
        assert lines[start + 1].startswith(f"{st}: done in ") and lines[start + 1].endswith(" s")
    r = CliRunner().invoke(cli, ["forge", str(recipe), "--no-report"])
    assert "started" not in r.output and "pool: skipped (marker current)" in r.output


def test_forge_dry_run_names_missing_inputs(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'run_dir = "{tmp_path / "run"}"\n[pool]\nsource = "{tmp_path / "nope.jsonl"}"\n[tag]\nenabled = false\n'
        f'[score]\ntrajectory = "{tmp_path / "no_run"}"\n[synthesize]\nagainst = ["{tmp_path / "b.jsonl"}"]\n'
    )
    r = CliRunner().invoke(cli, ["forge", str(recipe), "--dry-run"])
    assert r.exit_code == 1
    assert "3 missing input(s)" in r.output
    assert f"pool: {tmp_path / 'nope.jsonl'}" in r.output
    assert f"score: {tmp_path / 'no_run'}" in r.output
    assert "synthesize: against" in r.output and "missing input" in r.output
    ok = CliRunner().invoke(cli, ["forge", str(REPO / "data" / "demo" / "recipe.toml"), "--dry-run"])
    assert ok.exit_code == 0, ok.output
