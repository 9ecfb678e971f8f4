"""One chosen sample, one run: `export` writes each sample to its own run directory (its 128 copies,
its manifest, command lines for the paper's 140 updates) plus runs.jsonl; `--one-dataset` writes one
dataset whose command lines are computed for its size; `forge` names THE chosen sample."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.export import ExportConfig, PaperSettings, export_rows
from sample_forge.export.manifest import sha256_file
from sample_forge.export.runs import run_names
from sample_forge.export.trainers import TRAINERS
from sample_forge.paths import resource_path
from sample_forge.selection.prime import select_prime
from sample_forge.tables import read_rows, write_rows

DEMO_POOL = resource_path("data/demo/pool.jsonl")
PAPER = PaperSettings()


def _three(tmp_path: Path) -> Path:
    rows = read_rows(DEMO_POOL)[:3]
    for r in rows:
        r.update(rule="polymath", reason=f"test pick {r['id']}")
    p = tmp_path / "sel.jsonl"
    write_rows(p, rows)
    return p


def _opts(cmd: str) -> dict[str, str]:
    """`--key value` and `key=value` options of a printed command line."""
    argv = shlex.split(cmd.replace("\\\n", " "))
    out: dict[str, str] = {}
    for i, a in enumerate(argv):
        if a.startswith("--"):
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            out[a[2:]] = "" if nxt.startswith("--") else nxt
        elif "=" in a:
            k, v = a.split("=", 1)
            out[k] = v
    return out


def _updates_from_line(trainer: str, cmd: str, rows: int) -> int:
    """How many optimizer updates the line makes on `rows` rows, read off its own options with each
    trainer's training loop (the last incomplete batch dropped by verl and OpenRLHF)."""
    o = _opts(cmd)
    if trainer == "verl":
        per_epoch = rows // int(o["data.train_batch_size"])
        assert o["actor_rollout_ref.actor.ppo_mini_batch_size"] == o["data.train_batch_size"]
        return min(int(o["trainer.total_training_steps"]), int(o["trainer.total_epochs"]) * per_epoch)
    if trainer == "openrlhf":
        per_episode = rows // int(o["rollout_batch_size"])
        per_rollout = (
            int(o["rollout_batch_size"]) * int(o["n_samples_per_prompt"]) // int(o["train_batch_size"])
        )
        return int(o["num_episodes"]) * per_episode * per_rollout * int(o["max_epochs"])
    if trainer == "trl":
        return int(o["max_steps"])
    if trainer == "slime":
        per_rollout = (
            int(o["rollout-batch-size"]) * int(o["n-samples-per-prompt"]) // int(o["global-batch-size"])
        )
        return int(o["num-rollout"]) * per_rollout
    if trainer == "roll":
        return int(o["max_steps"])
    raise AssertionError(f"no update formula for trainer {trainer}: add one with its loop")


def _ids_in(trainer: str, path: Path) -> set[str]:
    rows = pq.read_table(path).to_pylist() if path.suffix == ".parquet" else read_rows(path)
    if trainer == "verl":  # verl rows carry no id: the prompt is the sample
        return {r["prompt"][0]["content"] for r in rows}
    return {str(r.get("sample_id", r.get("id"))) for r in rows}


def test_three_samples_give_three_runs_of_128_copies_each(tmp_path: Path) -> None:
    sel = _three(tmp_path)
    out = tmp_path / "exp"
    r = CliRunner().invoke(cli, ["export", str(sel), "--to", ",".join(TRAINERS), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    picks = read_rows(sel)
    index = read_rows(out / "runs.jsonl")
    # the index lists every run, in the selection's order, with the selection's rule and reason
    assert [e["id"] for e in index] == [p["id"] for p in picks]
    assert [e["dir"] for e in index] == run_names(p["id"] for p in picks)
    assert all(e["rule"] == "polymath" and e["reason"] == f"test pick {e['id']}" for e in index)
    assert sorted(p.name for p in out.iterdir()) == sorted([*(e["dir"] for e in index), "runs.jsonl"])
    for e, pick in zip(index, picks):
        d = out / e["dir"]
        assert "/" not in e["dir"] and d.is_dir()
        m = json.loads((out / e["manifest"]).read_text())
        assert [s["id"] for s in m["samples"]] == [pick["id"]]
        assert m["settings"]["run"] == e["dir"] and m["settings"]["one_dataset"] is False
        assert {f["path"]: f["sha256"] for f in m["files"]} == {
            f["path"]: sha256_file(d / f["path"]) for f in m["files"]
        }
        for t, trainer in TRAINERS.items():
            data = [out / p for p in e["files"][t] if Path(p).name in trainer.files]
            for f in data:  # exactly 128 rows, all of ONE sample
                assert len(read_rows(f) if f.suffix != ".parquet" else pq.read_table(f)) == 128
                ids = _ids_in(t, f)
                assert len(ids) == 1, (t, ids)
                assert ids <= {pick["id"], f"{pick['problem']} {_suffix()}"}, (t, ids)
            assert e["rows"][t] == 128
            # the paper's step count, read off the line itself
            assert e["commands"][t] == m["trainer_commands"][t]
            assert _updates_from_line(t, e["commands"][t], 128) == e["updates"][t] == PAPER.steps
            assert str(trainer.data_path(d / t)) in e["commands"][t]
    # no two runs write to the same output directory
    trl_out = [_opts(e["commands"]["trl"])["output_dir"] for e in index]
    assert len(set(trl_out)) == 3


def _suffix() -> str:
    return "Let's think step by step and output the final answer within \\boxed{}."


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_one_dataset_command_lines_make_the_papers_updates(n: int, tmp_path: Path) -> None:
    rows = read_rows(DEMO_POOL)[:n]
    res = export_rows(rows, tmp_path, ExportConfig(to=tuple(TRAINERS), one_dataset=True))
    run = res.run
    assert run.out_dir == tmp_path and run.rows == {t: 128 * n for t in TRAINERS}
    (entry,) = read_rows(res.index)
    assert entry["dir"] == "." and entry["ids"] == [r["id"] for r in rows]
    assert entry["id"] == (rows[0]["id"] if n == 1 else None)
    for t in TRAINERS:
        made = _updates_from_line(t, run.commands[t], 128 * n)
        assert made == run.updates[t] == TRAINERS[t].updates(128 * n, PAPER)
        if t == "openrlhf" and PAPER.steps % n:
            # no step cap: whole episodes of n rollouts, so the next multiple of n, and a note says so
            assert made == n * math.ceil(PAPER.steps / n)
            assert any(note.startswith(f"dataset: openrlhf makes {made} updates") for note in res.notes)
        else:
            assert made == PAPER.steps, (t, run.commands[t])
    verl = _opts(run.commands["verl"])
    assert verl["trainer.total_epochs"] == str(math.ceil(PAPER.steps / n))


def test_cli_one_dataset_is_one_dataset(tmp_path: Path) -> None:
    sel = _three(tmp_path)
    r = CliRunner().invoke(
        cli, ["export", str(sel), "--one-dataset", "--to", "verl", "-o", str(tmp_path / "o")]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert len(m["samples"]) == 3 and "--one-dataset" in m["command"]
    assert pq.read_table(tmp_path / "o" / "verl" / "train.parquet").num_rows == 384
    assert (
        m["trainer_updates"] == {"verl": 140} and "trainer.total_epochs=47" in m["trainer_commands"]["verl"]
    )


def test_too_few_copies_for_a_batch_is_said(tmp_path: Path) -> None:
    res = export_rows(read_rows(DEMO_POOL)[:1], tmp_path, ExportConfig(to=("verl", "trl"), repeat=64))
    assert res.run.updates == {"verl": 0, "trl": 140}
    assert any("verl makes 0 updates, not 140: 64 rows are 0 full batch(es) of 128" in n for n in res.notes)


def test_run_names_are_filesystem_safe_and_unique() -> None:
    assert run_names(["demo/algebra/001", "124", "a b", "A/B", "a/b", "..", "", "x" * 200]) == [
        "demo_algebra_001",
        "124",
        "a_b",
        "A_B-2",  # one directory with a_b where case does not count (macOS, Windows)
        "a_b-3",
        "sample",
        "sample-2",
        "x" * 80,
    ]


# --- forge names THE chosen sample --------------------------------------------------------------

NO_SYNTH = """
run_dir = "runs/forge"
[select]
rule = "polymath"
theta = 0.6
[synthesize]
enabled = false
[export]
to = ["verl", "trl"]
"""


@pytest.mark.slow
def test_forge_names_the_polymath_first_pick_then_the_prime(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(NO_SYNTH)
    r = CliRunner().invoke(cli, ["forge", str(recipe), "--no-report"])
    assert r.exit_code == 0, r.output
    run = tmp_path / "runs" / "forge"
    sel = read_rows(run / "selection.jsonl")
    assert sel and all(s["rule"] == "polymath" for s in sel)
    by_lim = sorted(sel, key=lambda s: (s["scores"]["lim"], -(s["skills"] or {}).get("breadth", 0), s["id"]))
    first, second = by_lim[0], by_lim[1]
    line = next(ln for ln in r.output.splitlines() if ln.startswith("chosen sample: "))
    assert line == f"chosen sample: {first['id']} (rule polymath: {first['reason']})"
    assert f"  runner-up: {second['id']} (rule polymath: {second['reason']})" in r.output
    chosen = json.loads((run / "chosen.json").read_text())
    assert chosen["id"] == first["id"] and chosen["runner_up"]["id"] == second["id"]
    assert "no synthetic prime passed" in chosen["why"]
    # the command printed is the chosen run's verl line, on its 128 rows
    d = run / chosen["dir"]
    assert (
        chosen["commands"]["verl"] in r.output
        and f"data.train_files=runs/forge/{chosen['dir']}/verl/train.parquet" in r.output
    )
    assert pq.read_table(d / "verl" / "train.parquet").num_rows == 128
    assert len(read_rows(run / "export" / "runs.jsonl")) == len(sel)

    # a prime that passed validation goes first; the natural first pick is then the runner-up
    cand = {
        "id": "syn-test-00000",
        "problem": "A train travels 60 km in 1.5 hours. What is its average speed in km/h?",
        "golden_answer": "40",
        "accepted": True,
        "agreement": 1.0,
        "pass_rate": 0.5,
        "skills": [{"category": "Algebra", "skill": "rates"}],
    }
    (prime,), _ = select_prime([cand])
    write_rows(run / "selection.jsonl", [*sel, prime])
    r = CliRunner().invoke(cli, ["forge", str(recipe), "--no-report"])
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("chosen sample: "))
    assert line == f"chosen sample: syn-test-00000 (rule prime: {prime['reason']})"
    assert f"  runner-up: {first['id']} (rule polymath: {first['reason']})" in r.output
    assert json.loads((run / "chosen.json").read_text())["why"].startswith("the synthetic prime passed")
