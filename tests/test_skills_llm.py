"""The paper's tagger end to end: real SmolLM2 behind the real llama.cpp server (the skills are poor,
the pipeline must be right), and the scripted fault server for failures a real server will not
produce on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_forge.llm import get_model
from sample_forge.paths import read_prompt
from sample_forge.records import Problem
from sample_forge.skills import LLMTagConfig, LLMTagger, load_catalog
from sample_forge.subjects import CATEGORIES
from tests.fixtures.llm_servers import FaultServer, LlamaServer

PROBLEMS = [
    Problem("p-add", "What is $7+5$?", answer="12", subject="Prealgebra"),
    Problem(
        "p-tri", "A right triangle has legs 3 and 4. What is its hypotenuse?", answer="5", subject="Geometry"
    ),
]


def _check_record(tag, catalog) -> None:
    for cat in CATEGORIES:
        # every category is either answered (possibly "None" = []) or a recorded failure, never both
        assert (cat in tag.raw) != (cat in tag.failures), (cat, tag)
    for why in tag.failures.values():
        assert why.startswith(("llm: ", "parse: "))
    names = {s.name for s in catalog.skills}
    for group, skills in tag.canonical.items():
        assert set(skills) <= names and len(skills) == len(set(skills))
        assert tag.spectrum[group] == len(skills)
    assert tag.total == len({s for v in tag.canonical.values() for s in v})
    assert tag.breadth == sum(1 for c in CATEGORIES if tag.canonical.get(c))


@pytest.mark.llm
def test_llm_tagging_with_real_server_and_cache(
    llama_server: LlamaServer, llama_config: Path, tmp_path: Path
) -> None:
    catalog = load_catalog()
    config = LLMTagConfig(max_tokens=96)
    # SmolLM2-135M rambles past any small max_tokens on the bare paper prompt (and never writes the
    # tags); one more line makes it stop sometimes, so some calls come back (and are cached) as parse
    # failures while others fail with finish_reason "length"
    template = read_prompt("tag_skills").strip() + "\nReply in under ten words."
    llama_server.reset()
    with get_model("llama") as m:
        tags = LLMTagger(m, config=config, template=template).tag(
            PROBLEMS, failures_path=tmp_path / "failures.jsonl"
        )
    assert llama_server.chat_requests >= len(PROBLEMS) * len(CATEGORIES)
    assert [t.id for t in tags] == ["p-add", "p-tri"]
    for t in tags:
        assert t.method == "llm"
        _check_record(t, catalog)
    n_llm_fail = sum(w.startswith("llm: ") for t in tags for w in t.failures.values())
    assert n_llm_fail < len(PROBLEMS) * len(CATEGORIES), "no call came back: nothing to cache"
    if n_llm_fail:  # the LLM layer wrote the same failures to the file
        assert len((tmp_path / "failures.jsonl").read_text().splitlines()) == n_llm_fail
    # a re-run is served from the SQLite cache: only the failed calls are asked again
    first = llama_server.chat_requests
    llama_server.reset()
    with get_model("llama") as m:
        again = LLMTagger(m, config=config, template=template).tag(PROBLEMS)
    assert llama_server.chat_requests < first
    if n_llm_fail == 0:
        assert llama_server.chat_requests == 0
    assert [t.to_dict() for t in again] == [t.to_dict() for t in tags]


def test_failures_are_recorded_not_guessed(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("tagfault", [])
    # the fault server answers "The answer is 42." (no <answer> tags) unless scripted otherwise
    problem = Problem("p1", "What is $6 \\times 7$?")
    from sample_forge.skills.prompt import render_prompt

    fault_server.script_for(render_prompt("Geometry", problem.problem), ["length"] * 5)
    cfg = tmp_path / "models.toml"
    cfg.write_text(
        f'[models.f]\nbase_url = "{url}"\nmodel = "fault-model"\nmax_retries = 0\ntimeout = 10\n'
        # the paper's tag format (a model without structured output): the scripted prompt is the plain one
        'structured_output = "none"\n',
        encoding="utf-8",
    )
    with get_model("f", config_path=cfg) as m:
        m.backoff_base_s = 0.01
        [tag] = LLMTagger(m).tag([problem])
    assert tag.raw == {} and tag.canonical == {} and tag.total == 0 and tag.breadth == 0
    assert tag.failures["Geometry"].startswith("llm: length")
    for cat in set(CATEGORIES) - {"Geometry"}:
        assert tag.failures[cat] == "parse: no <answer></answer> tags"


@pytest.mark.llm
def test_tag_command_llm_method(llama_server: LlamaServer, llama_config: Path, tmp_path: Path) -> None:
    import orjson
    from click.testing import CliRunner

    from sample_forge.cli.main import cli
    from sample_forge.tables import read_rows

    pool = tmp_path / "pool.jsonl"
    pool.write_bytes(orjson.dumps(PROBLEMS[0].to_dict()) + b"\n")
    out = tmp_path / "tags.jsonl"
    args = [
        "tag",
        "--pool",
        str(pool),
        "--out",
        str(out),
        "--model",
        "llama",
        "--max-tokens",
        "16",
        "--quiet",
    ]
    r = CliRunner().invoke(cli, args)  # --model implies the llm method
    assert r.exit_code == 0, r.output
    [row] = read_rows(out)
    assert row["method"] == "llm" and set(row["failures"]) == set(CATEGORIES)
    failed = [c for c, why in row["failures"].items() if why]
    assert all(row["raw"][c] == [] for c in failed)
    n_llm = sum(1 for c in failed if row["failures"][c].startswith("llm: "))
    failures_file = tmp_path / "tags.failures.jsonl"
    assert (len(failures_file.read_text().splitlines()) if failures_file.exists() else 0) == n_llm
    r = CliRunner().invoke(
        cli, ["tag", "--pool", str(pool), "--model", "llama", "--max-tokens", "16", "--explain", "p-add"]
    )
    assert r.exit_code == 0, r.output
    assert "problem p-add" in r.output and r.output.count("call failed") + r.output.count("answer") >= 5
