"""One vocabulary (docs/vocabulary.md): every command spells the shared options the same way, and each old
spelling still works with exactly one deprecation line."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import COMMANDS, cli
from sample_forge.hub import HubSource, parse_hub
from sample_forge.pool import parse_source, resolve_pool
from sample_forge.synth.decontam import resolve_benchmarks
from sample_forge.tables import read_rows

REPO = Path(__file__).resolve().parent.parent
DEMO_POOL = REPO / "data" / "demo" / "pool.jsonl"

# option name -> the exact set of flags it must have wherever a command has it
SHARED = {
    "--pool": {"--pool"},
    "--map": {"--map"},
    "--out": {"-o", "--out"},
    "--by": {"--by"},
    "--theta": {"--theta"},
    "--top": {"--top"},
    "--model": {"-m", "--model"},
}
OLD = {"--columns", "--rank-by", "--threshold", "--k"}


def _commands() -> list[tuple[str, click.Command]]:
    """Every command and subcommand (``tag run``, ``tag calibrate``, ...) of COMMANDS."""
    out = []
    for name, target in COMMANDS.items():
        mod, attr = target.split(":")
        stack = [(name, getattr(importlib.import_module(mod), attr))]
        while stack:
            path, cmd = stack.pop()
            out.append((path, cmd))
            if isinstance(cmd, click.Group):
                stack += [(f"{path} {n}", c) for n, c in cmd.commands.items()]
    return out


def _deprecations(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if "is deprecated; use" in ln]


def test_shared_options_are_spelled_the_same_everywhere() -> None:
    seen: dict[str, list[str]] = {k: [] for k in SHARED}
    for path, cmd in _commands():
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            flags = set(p.opts) | set(p.secondary_opts)
            for long, want in SHARED.items():
                if long in flags:
                    assert flags == want, f"{path}: {sorted(flags)} should be {sorted(want)}"
                    seen[long].append(path)
            # an old spelling exists only as a hidden alias (not in --help)
            if flags & OLD and not (path == "synthesize" and "-k" in flags):
                assert p.hidden, f"{path}: {sorted(flags)} should be a hidden deprecated alias"
        # the hidden aliases do not reach the help text either
        ctx = click.Context(cmd, info_name=path)
        help_text = cmd.get_help(ctx)
        for old in ("--columns", "--rank-by", "--threshold "):
            assert old not in help_text, f"{path} --help still shows {old}"
    assert {"pool", "tag run", "score", "select", "export", "synthesize", "decontam", "pilot"} <= set(
        seen["--out"]
    )
    assert {"score", "select", "tag run", "tag calibrate", "pilot"} <= set(seen["--pool"])
    assert {"pool", "select", "export"} <= set(seen["--map"])
    assert {"score", "select"} <= set(seen["--by"]) & set(seen["--top"])
    assert {"score", "select"} <= set(seen["--theta"])
    assert {"tag run", "export", "pilot"} <= set(seen["--model"])


def test_tag_model_help_names_the_real_default() -> None:
    from sample_forge.cli.tag import tag

    help_text = tag.commands["run"].get_help(click.Context(tag.commands["run"]))
    flat = " ".join(help_text.split())
    # resolve_config(None): the OPENAI_* env, else the models config's default, else 'local'
    assert "OPENAI_*" in flat and "models config's `default`" in flat and "'local'" in flat


def _select(tmp_path: Path, *args: str) -> tuple[int, str, list[dict]]:
    scores = tmp_path / "scores.jsonl"
    scores.write_text(
        '{"id": "a", "lim": 0.9, "hist_var": 0.1}\n{"id": "b", "lim": 0.7, "hist_var": 0.3}\n',
        encoding="utf-8",
    )
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        '{"id": "a", "question": "What is 1+1?", "answer": "2"}\n'
        '{"id": "b", "question": "What is 2+2?", "answer": "4"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "sel.jsonl"
    argv = [a.replace("POOL", str(pool)) for a in args]
    res = CliRunner().invoke(
        cli, ["select", *argv, "--scores", str(scores), "--rule", "top", "-o", str(out), "-q"]
    )
    return res.exit_code, res.output, (read_rows(out) if out.exists() else [])


def test_select_new_spellings_print_no_warning(tmp_path: Path) -> None:
    code, output, rows = _select(tmp_path, "--pool", "POOL", "--map", "problem=question", "--by", "hist_var")
    assert code == 0, output
    assert _deprecations(output) == []
    assert [r["id"] for r in rows] == ["b"] and rows[0]["rule"] == "top-hist_var"
    # scores live in `scores`; no null copies of them in meta
    assert rows[0]["scores"]["hist_var"] == 0.3
    assert not any(k in rows[0]["meta"] for k in ("lim", "hist_var", "learnability", "rank"))


@pytest.mark.parametrize(
    ("args", "old"),
    [
        (["POOL", "--map", "problem=question"], "select POOL (positional)"),
        (["--pool", "POOL", "--columns", "problem=question"], "--columns"),
        (["--pool", "POOL", "--map", "problem=question", "--by", "variance"], "--by variance"),
        (["--pool", "POOL", "--map", "problem=question", "--k", "2"], "--k"),
    ],
)
def test_select_old_spellings_work_with_one_line(tmp_path: Path, args: list[str], old: str) -> None:
    code, output, rows = _select(tmp_path, *args)
    assert code == 0, output
    lines = _deprecations(output)
    assert len(lines) == 1 and lines[0].startswith(f"warning: {old} is deprecated; use "), output
    assert rows, output
    if "--k" in args:
        assert len(rows) == 2
    if "variance" in args:
        assert rows[0]["id"] == "b" and rows[0]["rule"] == "top-hist_var"


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("sim") / "run"
    res = CliRunner().invoke(
        cli,
        [
            "simulate-pilot",
            "--samples",
            "24",
            "--epochs",
            "4",
            "--steps-per-epoch",
            "2",
            "-o",
            str(run),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    return run


def _score(run: Path, tmp_path: Path, *args: str) -> tuple[str, list[dict]]:
    out = tmp_path / "scores.jsonl"
    res = CliRunner().invoke(
        cli,
        ["score", "-t", str(run), "--steps-per-epoch", "2", *args, "-o", str(out), "-q"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    return res.output, read_rows(out)


def test_score_theta_and_its_old_spelling(sim_run: Path, tmp_path: Path) -> None:
    out, rows = _score(sim_run, tmp_path, "--by", "lim", "--theta", "0.5")
    assert _deprecations(out) == [] and rows and all(r["lim"] >= 0.5 for r in rows)
    old_out, old_rows = _score(sim_run, tmp_path, "--threshold", "lim>=0.5")
    assert len(_deprecations(old_out)) == 1 and "--threshold" in _deprecations(old_out)[0]
    assert [r["id"] for r in old_rows] == [r["id"] for r in rows]
    everything = _score(sim_run, tmp_path)[1]
    assert len(everything) > len(rows)  # the cutoff dropped something, so it was applied


def test_score_rank_by_is_an_alias_of_by(sim_run: Path, tmp_path: Path) -> None:
    new_out, new = _score(sim_run, tmp_path, "--by", "hist_var", "--top", "5")
    old_out, old = _score(sim_run, tmp_path, "--rank-by", "hist_var", "--top", "5")
    assert _deprecations(new_out) == [] and len(_deprecations(old_out)) == 1
    assert [r["id"] for r in old] == [r["id"] for r in new] and len(new) == 5
    assert new[0]["hist_var"] == max(r["hist_var"] for r in _score(sim_run, tmp_path, "--by", "hist_var")[1])


def test_export_columns_is_an_alias_of_map(tmp_path: Path) -> None:
    sel = tmp_path / "sel.jsonl"
    sel.write_text('{"id": "a", "question": "What is $1+1$?", "label": "2"}\n', encoding="utf-8")
    outs = {}
    for opt in ("--map", "--columns"):
        out = tmp_path / opt.strip("-")
        res = CliRunner().invoke(
            cli,
            ["export", str(sel), opt, "problem=question,answer=label", "--repeat", "2", "-o", str(out), "-q"],
        )
        assert res.exit_code == 0, res.output
        assert len(_deprecations(res.output)) == (1 if opt == "--columns" else 0), res.output
        outs[opt] = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert outs["--map"] == outs["--columns"] and outs["--map"]


def test_pool_source_demo(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    res = CliRunner().invoke(cli, ["pool", "--source", "demo", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert [r["id"] for r in read_rows(out)] == [r["id"] for r in read_rows(DEMO_POOL)]
    # the resolver the recipe uses is the one every --pool uses
    assert Path(resolve_pool("demo")).read_bytes() == DEMO_POOL.read_bytes()
    assert parse_source("demo") == Path(resolve_pool("demo"))
    # score --pool demo joins the embedded demo run with the demo pool
    scores = tmp_path / "s.jsonl"
    res = CliRunner().invoke(cli, ["score", "--pool", "demo", "-o", str(scores), "-q"])
    assert res.exit_code == 0, res.output
    rows = read_rows(scores)
    assert rows and all(r.get("problem") for r in rows)


def test_tag_writes_id_and_takes_pool(tmp_path: Path) -> None:
    out = tmp_path / "tags.jsonl"
    res = CliRunner().invoke(
        cli, ["tag", "--pool", "demo", "--limit", "3", "--method", "embed", "-o", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [r["id"] for r in read_rows(DEMO_POOL)[:3]]
    assert all("problem_id" not in r for r in rows)
    # the old positional spelling: same table, one deprecation line
    old = tmp_path / "old.jsonl"
    res = CliRunner().invoke(
        cli, ["tag", str(DEMO_POOL), "--limit", "3", "--method", "embed", "-o", str(old), "-q"]
    )
    assert res.exit_code == 0 and len(_deprecations(res.output)) == 1, res.output
    assert [r["id"] for r in read_rows(old)] == [r["id"] for r in rows]


def test_selection_joins_skills_by_id_or_problem_id(tmp_path: Path) -> None:
    from sample_forge.adapter import read_table
    from sample_forge.selection.join import join_tables
    from sample_forge.tables import write_rows

    pool = [{"id": "a", "problem": "x"}, {"id": "b", "problem": "y"}]
    # an older skills table keyed by problem_id is read through the one adapter, as select reads it
    write_rows(tmp_path / "skills.jsonl", [{"id": "a", "breadth": 2}, {"problem_id": "b", "breadth": 3}])
    res = join_tables(pool, None, read_table(tmp_path / "skills.jsonl"))
    assert [r["skills"]["breadth"] for r in res.rows] == [2, 3] and not res.unjoined


def test_hf_grammar() -> None:
    assert parse_hub("hf:EleutherAI/hendrycks_math") == HubSource("EleutherAI/hendrycks_math")
    assert parse_hub("hf:HuggingFaceH4/MATH-500@test") == HubSource("HuggingFaceH4/MATH-500", None, "test")
    assert parse_hub("hf:org/name:cfg@validation") == HubSource("org/name", "cfg", "validation")
    # ':' is a config, in pool sources as everywhere
    assert parse_source("hf:org/name:test") == HubSource("org/name", "test", None)
    assert HubSource("org/name", "cfg", "test").label() == "hf:org/name:cfg@test"
    for bad in ("hf:", "hf:org/name@", "hf:org/name:"):
        with pytest.raises(Exception, match="expected hf:ORG/NAME"):
            parse_hub(bad)


def test_decontam_benchmarks_use_the_grammar(capsys: pytest.CaptureFixture[str]) -> None:
    [split] = resolve_benchmarks(["hf:HuggingFaceH4/MATH-500@test"])
    assert (split.hf, split.config, split.split, split.name) == (
        "HuggingFaceH4/MATH-500",
        None,
        "test",
        "MATH-500",
    )
    [cfg] = resolve_benchmarks(["hf:org/bench:geometry"])
    assert (cfg.hf, cfg.config, cfg.split) == ("org/bench", "geometry", "test")
    assert _deprecations(capsys.readouterr().err) == []
    # the older spelling: a split name after ':' and no '@'
    [old] = resolve_benchmarks(["hf:HuggingFaceH4/MATH-500:test"])
    assert (old.hf, old.config, old.split) == ("HuggingFaceH4/MATH-500", None, "test")
    lines = _deprecations(capsys.readouterr().err)
    assert lines == [
        "warning: 'hf:HuggingFaceH4/MATH-500:test' (a split after ':') is deprecated; "
        "use 'hf:HuggingFaceH4/MATH-500@test'"
    ]
