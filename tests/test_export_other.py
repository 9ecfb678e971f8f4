"""OpenRLHF / slime / ROLL export, templates, and the one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.export import ExportConfig, export, export_rows, load_template
from sample_forge.export.manifest import sha256_file
from sample_forge.tables import read_rows, write_rows
from tests.conftest import shared_file

NATURAL = "polymath/natural_polymath_samples_identified.jsonl"


def test_openrlhf_slime_roll_rows(shared_data: Path, tmp_path: Path) -> None:
    res = export(
        shared_file(shared_data, NATURAL),
        tmp_path,
        ExportConfig(
            to=("openrlhf", "slime", "roll", "verl", "trl"), repeat=4, template="none", one_dataset=True
        ),
    )
    assert res.rows == {t: 28 for t in ("openrlhf", "slime", "roll", "verl", "trl")}
    natural = read_rows(shared_file(shared_data, NATURAL))
    for t in ("openrlhf", "slime"):
        rows = read_rows(res.files[t][0])
        assert [r["input"] for r in rows[::4]] == [n["problem"] for n in natural]  # template none
        assert [r["label"] for r in rows[::4]] == [n["answer"] for n in natural]
    roll = read_rows(res.files["roll"][0])
    msgs = json.loads(roll[0]["messages"])
    assert msgs == [{"role": "user", "content": natural[0]["problem"]}]
    assert roll[0]["ground_truth"] == "240" and roll[0]["tag"] == "math_rule"
    m = json.loads(res.manifest.read_text())
    assert len(m["files"]) == 7  # + openrlhf/reward_func.py
    assert all(f["sha256"] == sha256_file(tmp_path / f["path"]) for f in m["files"])
    assert f"--remote_rm_url {tmp_path / 'openrlhf' / 'reward_func.py'}" in res.commands["openrlhf"]
    for t, opts in {
        "openrlhf": (
            "--input_key input",
            "--label_key label",
            "--n_samples_per_prompt 16",
            "--rollout_batch_size 128",
            "--actor_learning_rate 1e-06",
            "--generate_max_len 2048",
            "--init_kl_coef 0",
        ),
        "slime": (
            "--input-key input",
            "--label-key label",
            "--n-samples-per-prompt 16",
            "--rollout-batch-size 128",
            "--rollout-temperature 1",
            "--lr 1e-06",
            "--rollout-max-response-len 2048",
        ),
    }.items():
        for o in opts:
            assert o in res.commands[t], (t, o)


def test_templates(tmp_path: Path) -> None:
    qb = load_template("qwen-boxed")
    assert (
        qb.apply("What is 2+2?")
        == "What is 2+2? Let's think step by step and output the final answer within \\boxed{}."
    )
    assert qb.apply(qb.apply("What is 2+2?")) == qb.apply("What is 2+2?")  # never doubled
    assert load_template("none").apply("x = ?") == "x = ?"
    orz = load_template("orz")
    assert orz.text.count("{problem}") == 1 and "\\boxed{} tag" in orz.text
    f = tmp_path / "t.txt"
    f.write_text("Solve: {problem}\nAnswer in \\boxed{}.\n")
    own = load_template(str(f))
    assert own.apply("1+1") == "Solve: 1+1\nAnswer in \\boxed{}."
    bad = tmp_path / "bad.txt"
    bad.write_text("Solve this: {question}")
    with pytest.raises(InputError, match=r"bad\.txt.*exactly one \{problem\} slot, found 0"):
        load_template(str(bad))
    with pytest.raises(InputError, match="unknown template 'nope'"):
        load_template("nope")


def _table(tmp_path: Path, rows: list[dict]) -> Path:
    p = tmp_path / "sel.jsonl"
    write_rows(p, rows)
    return p


def test_bad_input_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputError, match="nothing to export: the selection is empty"):
        export(_table(tmp_path, []), out)
    p = _table(tmp_path, [{"id": "a", "problem": "1+1?", "answer": "2"}, {"id": "b", "problem": "2+2?"}])
    with pytest.raises(InputError, match=r"sel\.jsonl:2, field 'answer': sample b has no answer"):
        export(p, out)
    # MATH-style rows without an answer column: the last \boxed{} of the solution
    p = _table(tmp_path, [{"id": "a", "problem": "1+1?", "solution": "So $1+1=\\boxed{2}$."}])
    res = export(p, tmp_path / "boxed", ExportConfig(to=("openrlhf",), repeat=1))
    assert read_rows(res.files["openrlhf"][0])[0]["label"] == "2"
    assert any("solution's last" in n for n in res.notes)
    p = _table(tmp_path, [{"id": "a", "problem": "1+1?", "answer": "\\text{}"}])
    with pytest.raises(InputError, match=r"sel\.jsonl:1, field 'answer'.*math-verify cannot parse.*--force"):
        export(p, out)
    assert not out.exists()  # nothing half-written
    res = export(p, out, ExportConfig(to=("verl",), repeat=1, force=True))
    assert res.rows == {"verl": 1} and any("--force" in n for n in res.notes)
    with pytest.raises(SampleForgeError, match="--to"):
        export_rows([{"id": "a", "problem": "1+1?", "answer": "2"}], out, ExportConfig(to=("nemo",)))


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    p = _table(tmp_path, [{"id": "a", "problem": "1+1?", "answer": "\\text{}"}])
    runner = CliRunner()
    res = runner.invoke(cli, ["export", str(p), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    err = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("Error:") and "field 'answer'" in err[0]
    tpl = tmp_path / "t.txt"
    tpl.write_text("no slot here")
    res = runner.invoke(cli, ["export", str(p), "--template", str(tpl), "--force", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and "{problem} slot" in res.output
    res = runner.invoke(cli, ["export", str(p), "--to", "verl,bogus", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "bogus" in res.output


def test_cli_select_then_export_pipeline(shared_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    sel = tmp_path / "sel.jsonl"
    res = runner.invoke(
        cli,
        [
            "select",
            "--pool",
            str(shared_file(shared_data, "limr/math8k_pool_with_lim_scores.jsonl")),
            "--group-by",
            "none",
            "--theta",
            "0.9",
            "-o",
            str(sel),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli,
        [
            "export",
            str(sel),
            "--to",
            "trl",
            "--to",
            "openrlhf",
            "--repeat",
            "8",
            "--template",
            "orz",
            "-o",
            str(tmp_path / "exp"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    chosen = read_rows(sel)[0]
    (run,) = read_rows(tmp_path / "exp" / "runs.jsonl")  # one sample: one run, named by its id
    assert run["id"] == chosen["id"] and (tmp_path / "exp" / run["dir"]).is_dir()
    assert f"# {run['dir']}: trl (140 updates)" in res.output and f"# {run['dir']}: openrlhf" in res.output
    m = orjson.loads((tmp_path / "exp" / run["manifest"]).read_bytes())
    assert m["samples"][0]["id"] == chosen["id"]
    assert m["samples"][0]["scores"]["lim"] == chosen["scores"]["lim"] >= 0.9
    assert m["samples"][0]["rule"] == "polymath" and m["samples"][0]["reason"] == chosen["reason"]
    assert len(read_rows(tmp_path / "exp" / run["files"]["trl"][0])) == 8


def test_openrlhf_reward_func_scores_completions(tmp_path: Path) -> None:
    import importlib.util

    pytest.importorskip("torch")
    res = export_rows(
        [{"id": "a", "problem": "Half of sqrt 3?", "answer": "\\frac{\\sqrt{3}}{2}"}],
        tmp_path,
        ExportConfig(to=("openrlhf",), repeat=2),
    )
    path = tmp_path / "a" / "openrlhf" / "reward_func.py"  # the run of sample a
    assert path in res.files["openrlhf"]
    spec = importlib.util.spec_from_file_location("exported_reward", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    row = read_rows(res.files["openrlhf"][0])[0]
    prompt, label = row["input"], row["label"]
    out = mod.reward_func(
        [prompt + " so \\boxed{\\sqrt{3}/2}", prompt + " so \\boxed{2}", prompt + " no idea"],
        [prompt] * 3,
        [label] * 3,
    )
    assert out["rewards"].tolist() == [1.0, 0.0, 0.0]
    # off the main thread math-verify's alarm cannot work: the batch goes to a child process
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        out = ex.submit(
            mod.reward_func,
            [prompt + " so \\boxed{2}", prompt + " so \\boxed{\\sqrt{3}/2}"],
            [prompt] * 2,
            [label] * 2,
        ).result()
    assert out["rewards"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    "row, field",
    [
        ({"id": "a", "problem": ["x"], "answer": "2"}, "problem"),
        ({"id": "a", "problem": "1+1?", "answer": ["2"]}, "answer"),
    ],
)
def test_non_text_problem_or_answer_is_refused_not_stringified(tmp_path: Path, row: dict, field: str) -> None:
    src = tmp_path / "sel.jsonl"
    write_rows(src, [row])
    res = CliRunner().invoke(cli, ["export", str(src), "--to", "verl", "-o", str(tmp_path / "exp"), "-q"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip() == f"Error: {src}:1, field '{field}': sample a: {field} must be " + (
        "text, got list" if field == "problem" else "text or a number, got list"
    )
    assert not list(tmp_path.rglob("*.parquet"))  # nothing written
