"""Replicas of one model (``base_url`` a list): two real llama.cpp servers through the real openai
client, and the scripted fault server for a replica that fails mid-run. Counts are taken at the servers."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sample_forge.cli.main import cli
from sample_forge.llm import Request, get_model
from sample_forge.llm.config import load_configs
from sample_forge.paths import config_path
from tests.fixtures.llm_servers import FaultServer, LlamaServer, free_port, running_llama_server


def _write_config(body: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def _urls(*urls: str) -> str:
    return "[" + ", ".join(f'"{u}"' for u in urls) + "]"


def _keys(db: Path) -> set[str]:
    with sqlite3.connect(db) as c:
        return {k for (k,) in c.execute("SELECT key FROM responses")}


def _requests(n: int, prefix: str = "What is") -> list[Request]:
    # SmolLM2 stops after "2 + 3 = 5" on these (most prompts make it ramble to max_tokens)
    return [
        Request(
            [{"role": "user", "content": f"{prefix} {i}+3? Answer with the number only."}],
            n=1,
            temperature=0,
            max_tokens=32,
            id=str(i),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def second_llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with running_llama_server(tmp_path_factory.mktemp("llama2")) as srv:
        yield srv


def test_config_lists_replicas_and_rejects_bad_lists(tmp_path: Path) -> None:
    p = tmp_path / "m.toml"
    p.write_text(f'[models.r]\nbase_url = {_urls("http://a/v1", "http://b/v1")}\nmodel = "x"\n')
    cfg = load_configs(p)[0]["r"]
    assert cfg.base_url == "http://a/v1" and cfg.base_urls == ("http://a/v1", "http://b/v1")
    from sample_forge.errors import InputError

    p.write_text(f'[models.r]\nbase_url = {_urls("http://a/v1", "http://a/v1")}\nmodel = "x"\n')
    with pytest.raises(InputError, match=r"models\.r\.base_url"):
        load_configs(p)
    p.write_text('[models.r]\nbase_url = []\nmodel = "x"\n')
    with pytest.raises(InputError, match=r"models\.r\.base_url"):
        load_configs(p)


def test_two_llama_servers_share_the_load_with_single_endpoint_keys(
    llama_server: LlamaServer, second_llama: LlamaServer, tmp_path: Path
) -> None:
    a, b = llama_server, second_llama
    _write_config(
        f'[models.pair]\nbase_url = {_urls(a.base_url, b.base_url)}\nmodel = "smollm2"\n'
        'max_concurrency = 1\ntimeout = 120\nmax_retries = 1\nstructured_output = "none"\n'
        f'[models.one]\nbase_url = "{a.base_url}"\nmodel = "smollm2"\n'
        'max_concurrency = 2\ntimeout = 120\nmax_retries = 1\nstructured_output = "none"\n'
    )
    reqs = _requests(8)
    a.reset(), b.reset()
    with get_model("pair", cache=tmp_path / "pair.sqlite") as m:
        assert m.concurrency == 2  # max_concurrency per replica
        got = m.complete_many(reqs)
    assert all(r.ok for r in got), [(r.error, [c.text for c in r.completions]) for r in got]
    assert a.chat_requests > 0 and b.chat_requests > 0, (a.chat_requests, b.chat_requests)
    assert a.chat_requests + b.chat_requests == len(reqs)  # n=1 each: one call per request
    with get_model("one", cache=tmp_path / "one.sqlite") as m:
        single = m.complete_many(reqs)
    assert all(r.ok for r in single)
    # which replica answered is not part of a key: the replicas' cache is the single endpoint's
    assert _keys(tmp_path / "pair.sqlite") == _keys(tmp_path / "one.sqlite")
    assert len(_keys(tmp_path / "pair.sqlite")) == len(reqs)
    with sqlite3.connect(tmp_path / "pair.sqlite") as c:
        logged = {u for (u,) in c.execute("SELECT base_url FROM calls WHERE status = 'ok'")}
    assert logged == {a.base_url, b.base_url}  # the call log names the replica that answered
    a.reset(), b.reset()
    with get_model("pair", cache=tmp_path / "pair.sqlite") as m:
        again = m.complete_many(reqs)
    assert a.chat_requests + b.chat_requests == 0
    assert [r.completions[0].text for r in again] == [r.completions[0].text for r in got]


def _paid(srv: FaultServer, name: str, ok_steps: int) -> int:
    """Answers a replica gave: its first ``ok_steps`` requests were scripted ok, the rest 500."""
    return min(ok_steps, srv.counts[name])


def test_replica_dying_mid_run_is_taken_out_and_nothing_is_paid_twice(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    good = fault_server.script("good", [])
    # the second replica answers 3 calls, then only 500s: with max_retries = 1 a call costs it 2 steps
    dying = fault_server.script("dying", ["ok"] * 3 + ["500"] * 400)
    _write_config(
        f'[models.pair]\nbase_url = {_urls(good, dying)}\nmodel = "fault-model"\nmax_concurrency = 4\n'
        'max_retries = 1\ntimeout = 10\nstructured_output = "none"\ncooldown = 60\n'
    )
    reqs = _requests(40, "Problem")
    db = tmp_path / "c.sqlite"
    fails = tmp_path / "failures.jsonl"
    with get_model("pair", cache=db) as m:
        got = m.complete_many(reqs, failures_path=fails)
        rep = {r.url.rsplit("/", 2)[-2]: r for r in m.replicas}
    assert all(r.ok for r in got), [r.error for r in got if not r.ok]
    assert not fails.exists()
    assert not rep["dying"].up and rep["dying"].faults >= 1
    # the dying replica saw 3 answered calls and then one failed call (2 attempts) per call in flight
    # at most: once taken out it gets nothing more during its cool-down
    assert fault_server.counts["dying"] <= 3 + 2 * 4
    paid = fault_server.counts["good"] + _paid(fault_server, "dying", 3)
    assert paid == len(reqs)  # every answer paid once: nothing re-sent after it was answered
    assert len(_keys(db)) == len(reqs)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0] == len(reqs)


def test_resting_replica_is_probed_and_comes_back(fault_server: FaultServer, tmp_path: Path) -> None:
    good = fault_server.script("good2", [])
    flaky = fault_server.script("flaky", ["500", "500"])  # one failed call (2 attempts), then healthy
    _write_config(
        f'[models.pair]\nbase_url = {_urls(flaky, good)}\nmodel = "fault-model"\nmax_concurrency = 1\n'
        'max_retries = 1\ntimeout = 10\nstructured_output = "none"\ncooldown = 0.3\n'
    )
    with get_model("pair", cache=tmp_path / "c.sqlite") as m:
        first = m.complete_many(_requests(4, "First"))
        flaky_rep = m.replicas[0]
        assert not flaky_rep.up and fault_server.counts["flaky"] == 2
        time.sleep(0.4)
        second = m.complete_many(_requests(6, "Second"))
        assert flaky_rep.up and flaky_rep.answered >= 1
    assert all(r.ok for r in first + second)
    assert fault_server.counts["flaky"] > 2  # the probe and what followed reached it again


def test_every_replica_down_is_a_recorded_failure_per_request(tmp_path: Path) -> None:
    dead = [f"http://127.0.0.1:{free_port()}/v1", f"http://127.0.0.1:{free_port()}/v1"]
    _write_config(
        f'[models.pair]\nbase_url = {_urls(*dead)}\nmodel = "m"\nmax_concurrency = 2\n'
        'max_retries = 0\ntimeout = 5\nstructured_output = "none"\n'
    )
    fails = tmp_path / "failures.jsonl"
    with get_model("pair", cache=tmp_path / "c.sqlite") as m:
        got = m.complete_many(_requests(5), failures_path=fails)
    assert [r.error_kind for r in got] == ["http"] * 5
    assert len(fails.read_text().splitlines()) == 5
    assert "replica" in (got[-1].error or "")


def test_ping_reports_each_replica(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    good = fault_server.script("p", [])
    dead = f"http://127.0.0.1:{free_port()}/v1?api-key=s3cret"
    monkeypatch.setenv("REPLICA_KEY", "sk-very-secret")
    _write_config(
        f'[models.pair]\nbase_url = {_urls(good, dead)}\nmodel = "fault-model"\nmax_retries = 0\n'
        'timeout = 5\napi_key_env = "REPLICA_KEY"\n'
    )
    r = CliRunner().invoke(cli, ["models", "ping", "pair"])
    lines = r.output.splitlines()
    assert r.exit_code == 1
    assert lines[0].startswith("ok ") and "replica 1/2" in lines[0] and "answered in" in lines[0]
    assert lines[1].startswith("error ") and "replica 2/2" in lines[1] and "cannot connect" in lines[1]
    assert "1 of 2 replicas failed" in r.output
    assert "s3cret" not in r.output and "sk-very-secret" not in r.output
    assert "REPLICA_KEY (set)" in lines[0]
    listed = CliRunner().invoke(cli, ["models", "list"]).output
    assert "(+1 replicas)" in listed and "8 x 2" in listed
