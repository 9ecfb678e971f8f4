"""Structured output (issue #16): a Request's JSON schema reaches the model as its backend accepts it,
is part of the cache key, and the replies parse; a model without it gets the paper's tag format; a
sample cut at max_tokens is not sent again with the same settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sample_forge.llm import Request, get_model
from sample_forge.llm.cache import Cache
from sample_forge.skills import LLMTagger
from sample_forge.skills.parse import parse_answer
from sample_forge.skills.prompt import JSON_LINE, TAG_SCHEMA
from sample_forge.synth.checks import final_answer
from sample_forge.synth.generate import GENERATION_SCHEMA
from sample_forge.synth.parse import parse_generation
from tests.fixtures.llm_servers import FaultServer, LlamaServer

MSG = [{"role": "user", "content": "Name two skills used to add 7 and 5."}]


def _fault_model(url: str, tmp_path: Path, mode: str, name: str = "f", timeout: int = 10):
    cfg = tmp_path / "models.toml"
    cfg.write_text(
        f'[models.{name}]\nbase_url = "{url}"\nmodel = "fault-model"\nmax_retries = 0\ntimeout = {timeout}\n'
        f'structured_output = "{mode}"\n',
        encoding="utf-8",
    )
    m = get_model(name, config_path=cfg, cache=tmp_path / "llm.sqlite")
    m.backoff_base_s = 0.01
    return m


def _valid(obj: object, schema: dict) -> bool:
    """The subset of JSON schema our three schemas use: object, string, array, lengths, required."""
    t = schema.get("type")
    if t == "object":
        props = schema.get("properties", {})
        return (
            isinstance(obj, dict)
            and all(k in obj for k in schema.get("required", []))
            and all(k in props and _valid(v, props[k]) for k, v in obj.items())
        )
    if t == "array":
        return (
            isinstance(obj, list)
            and len(obj) <= schema.get("maxItems", len(obj))
            and all(_valid(v, schema["items"]) for v in obj)
        )
    if t == "string":
        return isinstance(obj, str) and schema.get("minLength", 0) <= len(obj) <= schema.get("maxLength", 1e9)
    return False


def test_schema_is_part_of_the_cache_key(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("key", [])
    with _fault_model(url, tmp_path, "json_schema") as m:
        m.complete(MSG, max_tokens=16)  # an old entry without a schema
        m.complete(MSG, max_tokens=16, schema=TAG_SCHEMA)
        m.complete(MSG, max_tokens=16, schema=TAG_SCHEMA)  # cached
        m.complete(MSG, max_tokens=16, schema=GENERATION_SCHEMA)  # another schema: another key
    assert fault_server.counts["key"] == 3
    sent = fault_server.requests["key"]
    assert "response_format" not in sent[0]
    rf = sent[1]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    # OpenAI's strict mode rejects string lengths: they are stripped for json_schema
    assert "maxLength" not in json.dumps(rf) and rf["json_schema"]["schema"]["required"] == ["skills"]


def test_model_without_structured_output_gets_the_tag_format(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    from sample_forge.records import Problem

    url = fault_server.script("plain", [])
    with _fault_model(url, tmp_path, "none") as m:
        assert not m.supports_schema
        tagger = LLMTagger(m)
        reqs = tagger.requests([Problem("p", "What is 7+5?")])
        assert all(r.schema is None and JSON_LINE not in r.messages[-1]["content"] for r in reqs)
        # a schema given anyway is not sent and does not change the key
        m.complete(MSG, max_tokens=16, schema=TAG_SCHEMA)
        [c] = m.complete(MSG, max_tokens=16)
        assert c.cached
    assert "response_format" not in fault_server.requests["plain"][0]
    assert fault_server.counts["plain"] == 1


def test_auto_steps_down_when_the_endpoint_rejects_json_schema(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    # llama-cpp-python's server answers 500 to {"type": "json_schema"}; auto probes once, then json_object
    llama_server.reset()
    with _fault_model(llama_server.base_url, tmp_path, "auto", name="llama", timeout=300) as m:
        [c] = m.complete(MSG, max_tokens=96, temperature=0, seed=0, schema=TAG_SCHEMA)
        assert m.structured_mode == "json_object"
    assert llama_server.chat_requests == 2  # the probe (no client retries) and the answer
    assert (
        _valid(json.loads(c.text, strict=False), TAG_SCHEMA)
        and parse_answer(c.text).failure != "empty response"
    )


@pytest.mark.llm
@pytest.mark.parametrize("where", ["local", "server"])
def test_schema_replies_are_valid_json_that_parses(
    where: str, llama_server: LlamaServer, tmp_path: Path
) -> None:
    prompt = "Write a short math problem about apples and its integer answer."
    if where == "local":
        m = get_model("local", cache=tmp_path / "llm.sqlite")
    else:
        m = _fault_model(llama_server.base_url, tmp_path, "json_object", name="llama", timeout=300)
    with m:
        assert m.supports_schema
        res = m.complete_many(
            [
                Request([{"role": "user", "content": prompt}], temperature=0, seed=0, max_tokens=mt, schema=s)
                for s, mt in ((GENERATION_SCHEMA, 1024), (TAG_SCHEMA, 600))
            ]
        )
    assert all(r.ok for r in res), [r.error for r in res]
    gen, tag = (json.loads(r.completions[0].text, strict=False) for r in res)
    assert _valid(gen, GENERATION_SCHEMA) and _valid(tag, TAG_SCHEMA)
    p = parse_generation(res[0].completions[0].text)
    assert p.ok and p.problem == gen["problem"].strip(), p.error
    assert not (parse_answer(res[1].completions[0].text).failure or "").startswith("no <answer>")


def test_parsers_accept_json_and_the_tag_format() -> None:
    assert parse_answer('{"skills": ["addition", "carrying"]}').skills == ["addition", "carrying"]
    assert parse_answer('{"skills": []}').ok and parse_answer('{"none": true}').skills == []
    assert parse_answer("<answer>addition; carrying</answer>").skills == ["addition", "carrying"]
    assert parse_answer('{"tags": 1}').failure == "JSON reply without a 'skills' list of strings"
    g = parse_generation('```json\n{"problem": "Find ____ if 2x = 84.", "answer": "$42$"}\n```')
    assert (g.problem, g.answer) == ("Find ____ if 2x = 84.", "42")
    assert parse_generation('{"problem": "Find x.", "answer": 7}').answer == "7"
    assert parse_generation("<problem>Find x.</problem><answer>7</answer>").answer == "7"
    assert final_answer('{"reasoning": "7+5", "answer": "\\\\boxed{12}"}') == "12"
    assert final_answer("so \\boxed{12}.") == "12"


def test_length_failure_not_resent_unless_settings_change(fault_server: FaultServer, tmp_path: Path) -> None:
    url = fault_server.script("len", ["length"] * 2)
    req = Request(MSG, max_tokens=8, temperature=0, seed=0)
    with _fault_model(url, tmp_path, "json_object") as m:
        [r] = m.complete_many([req])
        assert r.error_kind == "length" and fault_server.counts["len"] == 1  # greedy: asked once
        # same settings: answered from the failures table, said so
        [r] = m.complete_many([req])
        assert r.error_kind == "length" and fault_server.counts["len"] == 1
        assert m.last_summary["not_resent"] == 1 and m.last_summary["called"] == 0
        assert (
            "1 request not re-sent: they ended at max_tokens with the same settings"
            in (m.last_summary["message"])
        )
        # another schema is another request
        [r] = m.complete_many([Request(MSG, max_tokens=8, temperature=0, seed=0, schema=TAG_SCHEMA)])
        assert fault_server.counts["len"] == 2
        # more tokens: another request (the script is used up: it answers)
        [r] = m.complete_many([Request(MSG, max_tokens=64, temperature=0, seed=0)])
        assert r.ok and fault_server.counts["len"] == 3
        # --retry-failed: asked again, and the record goes once it is answered
        [r] = m.complete_many([req], retry_failed=True)
        assert r.ok and fault_server.counts["len"] == 4
    assert Cache(tmp_path / "llm.sqlite").stats()["failures"] == 1  # the schema request's


def test_retry_failed_flag_of_tag(fault_server: FaultServer, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from sample_forge.cli.main import cli as main

    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"id": "p1", "problem": "What is 7+5?", "answer": "12"}) + "\n")
    url = fault_server.script("tagcli", ["length"] * 5)
    cfg = tmp_path / "models.toml"
    cfg.write_text(f'[models.f]\nbase_url = "{url}"\nmodel = "fault-model"\nmax_retries = 0\n')
    monkeypatch.setenv("SAMPLE_FORGE_CONFIG", str(cfg))
    args = ["tag", str(pool), "--out", str(tmp_path / "t.jsonl"), "--method", "llm", "-m", "f"]
    args += ["--cache-db", str(tmp_path / "c.sqlite")]
    first = CliRunner().invoke(main, args)
    # every category call ended at max_tokens: the stage failed throughout, exit 1 with the counts
    assert first.exit_code == 1 and "all 5 category calls failed (llm: 5)" in first.output, first.output
    n = fault_server.counts["tagcli"]
    assert n == 5  # greedy: each of the 5 categories asked once (the first 5 steps are 'length')
    again = CliRunner().invoke(main, args)
    assert fault_server.counts["tagcli"] == n and "5 requests not re-sent" in again.output, again.output
    retried = CliRunner().invoke(main, [*args, "--retry-failed"])
    assert fault_server.counts["tagcli"] == n + 5 and "not re-sent" not in retried.output


GRAMMAR_CHILD = """
import sys
from sample_forge.llm.llama_compat import plain_cpu_buffers
plain_cpu_buffers()
from llama_cpp import Llama
from sample_forge.llm.local_backend import local_gguf_path
from sample_forge.skills.prompt import TAG_SCHEMA
from sample_forge.synth.checks import SOLVE_SCHEMA
from sample_forge.synth.generate import GENERATION_SCHEMA
llm = Llama(model_path=str(local_gguf_path()), n_ctx=512, verbose=False)
for name, schema in (("tag", TAG_SCHEMA), ("generate", GENERATION_SCHEMA), ("solve", SOLVE_SCHEMA)):
    fmt = {"type": "json_object", "schema": schema}
    llm.create_chat_completion(messages=[{"role": "user", "content": "hi"}], max_tokens=2, response_format=fmt)
    print(name, "ok", flush=True)
"""


def test_every_schema_compiles_to_a_llama_cpp_grammar(tmp_path: Path) -> None:
    # llama.cpp refuses a grammar over its repetition limit (a long maxLength) and the process dies,
    # taking a llama.cpp server with it: run in a child so that is a failure here, not a crash
    import subprocess
    import sys

    pytest.importorskip("llama_cpp", reason="the 'local' extra (llama-cpp-python) is not installed")
    out = subprocess.run([sys.executable, "-c", GRAMMAR_CHILD], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["tag", "ok", "generate", "ok", "solve", "ok"], out.stderr[-1500:]
