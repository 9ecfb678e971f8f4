"""``forge`` end to end on the embedded default: offline, trainer-ready export, report, and a re-run
that does no work twice (stage markers + the LLM cache's call log)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.forge.recipe import load_recipe
from sample_forge.forge.run import forge
from sample_forge.forge.rundir import RunDir
from sample_forge.paths import resource_path
from sample_forge.selection.prime import rank_prime
from sample_forge.tables import read_rows

pytestmark = pytest.mark.slow


def _needs_demo_and_local() -> None:
    try:
        resource_path("data/demo/pilot")
    except FileNotFoundError:
        pytest.fail("the embedded demo pilot run data/demo/pilot is missing")
    pytest.importorskip("llama_cpp", reason="the built-in local model needs the 'local' extra")


def test_default_forge_runs_then_resumes_without_work(tmp_path, monkeypatch):
    _needs_demo_and_local()
    monkeypatch.chdir(tmp_path)
    run = RunDir(tmp_path / "runs" / "forge")
    demo = load_recipe()  # the packaged demo recipe: what `sample-forge forge` runs with no file
    first = forge(demo)
    assert first.run_dir.resolve() == run.root.resolve()
    assert first.ran == ["pool", "tag", "score", "synthesize", "select", "export"]
    counts = {o.name: o.counts for o in first.outcomes}
    assert counts["synthesize"]["generated"] == demo.synthesize.n == 2
    assert first.llm_calls > 0  # the local model really was asked

    # the synthesis: every candidate is either accepted or rejected, each reject with its real reason
    accepted, rejects = read_rows(run.candidates), read_rows(run.rejects)
    ids = sorted(str(c["id"]) for c in accepted + rejects)
    assert len(ids) == 2 and re.fullmatch(r"syn-[0-9a-f]{6}-00000", ids[0]) and ids[1] == ids[0][:-1] + "1"
    assert counts["synthesize"]["accepted"] == len(accepted)
    assert sum(counts["synthesize"]["rejected"].values()) == len(rejects)
    for rej in rejects:
        failing = [c for c in rej["checks"] if not c["keep"]]
        assert not rej["accepted"] and failing and rej["rejected_by"] == [failing[0]["check"]]
        assert rej["reason"] == failing[0]["reason"] and rej["reason"] != "accepted"

    # the selection: polymath's one sample per subject of the demo pool, then the prime if any
    chosen = read_rows(run.selection)
    assert [c["id"] for c in chosen if c["rule"] == "polymath"] == [
        "demo/algebra/013",
        "demo/counting_and_probability/014",
        "demo/geometry/013",
        "demo/intermediate_algebra/014",
        "demo/number_theory/016",
        "demo/prealgebra/013",
        "demo/precalculus/016",
    ]
    assert all(
        c["reason"].startswith("lowest LIM >= 0.6 in subject ") for c in chosen if c["rule"] == "polymath"
    )
    assert [c["id"] for c in chosen if c["rule"] == "prime"] == [str(c["id"]) for c in rank_prime(accepted)][
        :1
    ]

    # a trainer-ready export: one run per chosen sample, each verl Parquet with the exact schema and
    # 128 copies of that ONE sample
    import pyarrow.parquet as pq

    from sample_forge.export.manifest import sha256_file
    from sample_forge.export.runs import run_names

    index = read_rows(run.runs_index)
    assert [e["id"] for e in index] == [c["id"] for c in chosen]
    assert [e["dir"] for e in index] == run_names(c["id"] for c in chosen)
    assert sorted(p.name for p in run.export_dir.iterdir()) == sorted(
        [*(e["dir"] for e in index), "runs.jsonl"]
    )
    for e, c in zip(index, chosen):
        d = run.export_dir / e["dir"]
        table = pq.read_table(d / "verl" / "train.parquet")
        assert set(table.column_names) >= {"data_source", "prompt", "ability", "reward_model", "extra_info"}
        assert table.num_rows == 128
        assert {r["reward_model"]["ground_truth"] for r in table.to_pylist()} == {str(c["answer"])}
        assert {r["sample_id"] for r in read_rows(d / "trl" / "train.jsonl")} == {c["id"]}

        # its manifest lists exactly the files written, with their rows and checksums, and its sample
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest["command"] == "sample-forge forge"
        assert manifest["settings"]["trainers"] == ["verl", "trl", "openrlhf"]
        assert manifest["settings"]["repeat"] == 128
        assert [s["id"] for s in manifest["samples"]] == [c["id"]]
        assert manifest["trainer_updates"] == {"verl": 140, "trl": 140, "openrlhf": 140}
        assert "--num_episodes 140" in manifest["trainer_commands"]["openrlhf"]
        files = {f["path"]: f for f in manifest["files"]}
        assert sorted(files) == sorted(
            [
                "verl/train.parquet",
                "verl/train.json",
                "trl/train.jsonl",
                "openrlhf/train.jsonl",
                "openrlhf/reward_func.py",
            ]
        )
        assert sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()) == sorted(
            [*files, "manifest.json"]
        )
        for path, f in files.items():
            assert f["trainer"] == path.split("/")[0]
            assert f["rows"] == (None if path.endswith(".py") else 128)
            assert f["sha256"] == sha256_file(d / path)
    # THE chosen sample: the prime when one passed, else polymath's first pick (lowest LIM)
    primes = [c for c in chosen if c["rule"] == "prime"]
    top = primes[0] if primes else min(chosen, key=lambda c: (c["scores"]["lim"], c["id"]))
    picked = json.loads(run.chosen.read_text())
    assert picked["id"] == top["id"] and picked["dir"] == f"export/{run_names([top['id']])[0]}"
    verl = [run.root / picked["dir"] / "verl" / "train.parquet"]
    assert json.loads(run.recipe.read_text())["export"]["repeat"] == 128
    html = run.report.read_text()
    assert "data:image/png;base64," in html and str(chosen[0]["id"]) in html

    # what the result means: the score report the stage wrote (as `score -o` does), its verdict in
    # select's reasons, and the summary's signal, confidence, warnings and next steps
    from sample_forge.forge.outcome import outcome_lines
    from sample_forge.impact.uncertainty import pilot_verdict

    ok, verdict = pilot_verdict(json.loads(run.score_report.read_text()))
    out = first.outcome
    assert out["signal"] == ("ok" if ok else "weak") and out["chosen"]["id"] == picked["id"]
    natural = [c for c in chosen if c["rule"] == "polymath"]
    assert all(("warning: weak pilot signal" in c["reason"]) == (not ok) for c in natural)
    assert (verdict in out["warnings"]) == (not ok)
    assert out["confidence"].startswith("low: " if not ok else ("synthetic prime" if primes else "LIM "))
    if not counts["synthesize"]["accepted"]:
        assert any("Point synthesis at a strong endpoint" in s for s in out["next"])
    lines = outcome_lines(out)
    assert lines[0].startswith(f"pilot signal: {out['signal']}: mean accuracy") and "next:" in lines
    assert 'id="summary"' in html and html.index('id="summary"') < html.index('id="stages"')

    # the same run again: every stage skipped, zero LLM requests
    again = forge(demo)
    assert again.ran == [] and again.llm_calls == 0
    assert len(again.skipped) == 6

    # a changed export setting re-runs export only
    changed = dataclasses.replace(demo, export=dataclasses.replace(demo.export, repeat=4))
    third = forge(changed)
    assert third.ran == ["export"] and third.llm_calls == 0
    assert pq.read_table(verl[0]).num_rows == 4

    # forcing every stage: the LLM cache answers every call of the synthesis again
    forced = forge(changed, force=True)
    assert forced.ran == first.ran and forced.llm_calls == 0
    # the cache answered the same: the same candidates are rejected for the same reasons
    assert [(r["id"], r["reason"]) for r in read_rows(run.rejects)] == [
        (r["id"], r["reason"]) for r in rejects
    ]


def test_forge_dry_run_and_bad_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["forge", "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert [s["stage"] for s in plan] == ["pool", "tag", "score", "synthesize", "select", "export"]
    assert all(s["action"] == "run" for s in plan)
    bad = tmp_path / "bad.toml"
    bad.write_text("[pool]\nsorce = 'demo'\n")
    r = CliRunner().invoke(cli, ["forge", str(bad), "--dry-run"])
    assert r.exit_code == 1
    assert "bad.toml" in r.output and "sorce" in r.output and "Traceback" not in r.output
    with pytest.raises(Exception, match="unknown section"):
        (tmp_path / "b2.toml").write_text("[pol]\n")
        load_recipe(tmp_path / "b2.toml")


def test_recipe_setting_of_the_wrong_type_is_one_line(tmp_path):
    cases = {
        "[pool]\nsource = 3\n": "pool.source",
        "[select]\ntop = true\n": "select.top",
        "[export]\nto = ['verl', 3]\n": "export.to",
        "[score]\nsteps_per_epoch = '8'\n": "score.steps_per_epoch",
        "run_dir = 5\n": "run_dir",
    }
    for text, field in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        r = CliRunner().invoke(cli, ["forge", str(bad), "--dry-run"])
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        assert r.output.strip().startswith(f"Error: {bad}, field '{field}': expected"), r.output
    ok = tmp_path / "ok.toml"
    ok.write_text("[select]\ntheta = 1\n[pool]\nlevels = [1, 2]\nmap = {problem = 'q'}\n")
    assert load_recipe(ok).select.theta == 1 and load_recipe(ok).pool.map == {"problem": "q"}
