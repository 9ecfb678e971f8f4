"""The LLM stages on a real local Ray cluster (2 CPUs) against two real llama.cpp servers (SmolLM2) listed
as replicas of one model: ``tag --method llm``, ``passrate`` and synthesize's solving and learnability
checks give the single-process path's rows (order included) and cache keys; a killed job resumes paying
only the missing calls and a SIGKILLed worker's batch is retried without a duplicate row, both counted at
the servers (the counting proxy in front of each). Skipped without Ray or the llama.cpp server.

Why equality can be asserted row for row: llama.cpp is deterministic here for a given prompt, temperature
and seed, on either replica and whatever it answered before (``test_replicas_answer_alike`` checks it
first), and every sample carries its own seed (``seed + index``), so which replica or worker drew it does
not change it. Where it could not be (another build, a GPU), the cache-key comparison still holds.
At the small max_tokens used here most tagging and solving calls end at max_tokens: for those, what is
compared is which items failed and why; passrate's bare prompts give answer texts to compare."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'sample-forge[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'sample-forge[ray]')")

from tests.fixtures.llm_servers import LlamaServer, running_llama_server  # noqa: E402
from tests.fixtures.ray_cluster import KEY_ENV  # noqa: E402

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parent.parent
MAX_TOKENS = 16  # few tokens: the comparison needs answers, not good ones


@pytest.fixture(scope="module")
def replicas(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with running_llama_server(tmp_path_factory.mktemp("llama2")) as second:
        yield llama_server, second


@pytest.fixture()
def pair(replicas: tuple[LlamaServer, LlamaServer]) -> tuple[LlamaServer, LlamaServer]:
    """Model ``pair``: both servers as replicas of one model; the counts start at 0."""
    from sample_forge.paths import config_path

    a, b = replicas
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[models.pair]\nbase_url = ["{a.base_url}", "{b.base_url}"]\nmodel = "smollm2"\n'
        f'api_key_env = "{KEY_ENV}"\nmax_concurrency = 1\ntimeout = 120\nmax_retries = 1\n'
        'structured_output = "none"\n',
        encoding="utf-8",
    )
    a.reset(), b.reset()
    return a, b


def _sent(pair: tuple[LlamaServer, LlamaServer]) -> int:
    """Chat requests that reached the two servers since the last reset (and reset)."""
    n = sum(s.chat_requests for s in pair)
    for s in pair:
        s.reset()
    return n


def _rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as c:
        try:
            return c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # a starting subprocess made the file but not its tables yet
            return 0


def _keys(db: Path) -> list[str]:
    """The cached answers' keys and the failures table's (key, kind): the two paths must agree on both."""
    q = "SELECT 'answer ' || key FROM responses UNION ALL SELECT 'failed ' || key || ' ' || kind FROM failures"
    with sqlite3.connect(db) as c:
        return sorted(k for (k,) in c.execute(q))


def _pool(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "pool.jsonl"
    rows = [{"id": f"q{i}", "problem": f"What is {i} + 2 - {i}?", "answer": "2"} for i in range(n)]
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return p


def test_replicas_answer_alike(pair) -> None:
    """What the equality tests rest on: the same request gives the same text on either replica, after
    other prompts or not, greedy or seeded."""
    import json
    import urllib.request

    def ask(srv: LlamaServer, content: str, **kw: object) -> str:
        body = {"messages": [{"role": "user", "content": content}], "max_tokens": MAX_TOKENS, **kw}
        req = urllib.request.Request(
            f"{srv.direct_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["choices"][0]["message"]["content"]

    a, b = pair
    prompts = [f"What is {i} + 2 - {i}? Put the answer in \\boxed{{}}." for i in range(2)]
    for kw in ({"temperature": 0}, {"temperature": 1.0, "seed": 7}):
        on_a = [ask(a, p, **kw) for p in prompts]
        on_b = [ask(b, p, **kw) for p in reversed(prompts)][::-1]  # another history before each
        assert on_a == on_b, kw


def test_llm_tagging_on_ray_equals_single_process(cluster, pair, tmp_path) -> None:
    from sample_forge.llm import get_model
    from sample_forge.pool import load_pool
    from sample_forge.scale.llm import RayModel
    from sample_forge.skills import LLMTagConfig, LLMTagger

    problems = load_pool(_pool(tmp_path, 2))
    cfg = LLMTagConfig(max_tokens=MAX_TOKENS, categories=("Algebra", "Geometry"))
    with get_model("pair", cache=tmp_path / "single.sqlite") as m:
        single = [t.__dict__ for t in LLMTagger(m, config=cfg).tag(problems)]
    assert _sent(pair) == 2 * 2  # one call per problem and category
    with get_model("pair", cache=tmp_path / "ray.sqlite") as m:
        on_ray = [t.__dict__ for t in LLMTagger(RayModel(m, batch_size=4), config=cfg).tag(problems)]
        assert _sent(pair) == 2 * 2
        again = [t.__dict__ for t in LLMTagger(RayModel(m), config=cfg).tag(problems)]
        assert _sent(pair) == 0  # every call answered by the driver's cache (or its failures table)
    assert [t["id"] for t in single] == ["q0", "q1"]
    # SmolLM2 explains at length: at MAX_TOKENS most category calls end at max_tokens, so what is
    # compared here is which (problem, category) gave skills and which failed, and why; the answers'
    # texts are compared by the passrate test below
    assert on_ray == single
    assert [(t["id"], t["raw"]) for t in again] == [(t["id"], t["raw"]) for t in single]
    assert _keys(tmp_path / "ray.sqlite") == _keys(tmp_path / "single.sqlite") != []
    # the workers' calls reach the driver's calls table as one process writes them
    assert _calls(tmp_path / "ray.sqlite") == _calls(tmp_path / "single.sqlite") != []


def _calls(db: Path) -> list[tuple]:
    """The calls table as (payload hash, status, prompt tokens), in a stable order."""
    with sqlite3.connect(db) as con:
        return sorted(
            con.execute("SELECT payload_hash, status, prompt_tokens, messages FROM calls").fetchall()
        )


def test_passrate_on_ray_equals_single_process(cluster, pair, tmp_path) -> None:
    from sample_forge.llm import get_model
    from sample_forge.passrate import PassRateConfig, pass_rates
    from sample_forge.pool import load_pool
    from sample_forge.scale.answers import RayAnswerChecker
    from sample_forge.scale.llm import RayModel

    problems = load_pool(_pool(tmp_path, 3))
    # the bare problem at a low temperature (seeded): SmolLM2 answers "0 + 2 - 0 = 2" and stops, so
    # there are texts to compare (a boxed template, or temperature 1, makes it explain past max_tokens)
    cfg = PassRateConfig(k=3, max_tokens=MAX_TOKENS, template="none", temperature=0.2, batch=8)
    with get_model("pair", cache=tmp_path / "single.sqlite") as m:
        single = pass_rates(problems, m, cfg)
    with get_model("pair", cache=tmp_path / "ray.sqlite") as m:
        on_ray = pass_rates(problems, RayModel(m, batch_size=2), cfg, checker=RayAnswerChecker(workers=2))
    assert [r["id"] for r in single.rows] == [p.id for p in problems]
    assert on_ray.rows == single.rows  # every column, order included
    assert _keys(tmp_path / "ray.sqlite") == _keys(tmp_path / "single.sqlite")
    assert any(k.startswith("answer ") for k in _keys(tmp_path / "single.sqlite"))


def test_synth_checks_on_ray_equal_single_process(cluster, pair, tmp_path) -> None:
    from sample_forge.answers import AnswerChecker
    from sample_forge.llm import get_model
    from sample_forge.records import Candidate
    from sample_forge.scale.answers import RayAnswerChecker
    from sample_forge.scale.llm import RayModel
    from sample_forge.synth.checks import JointSolveCheck, LearnabilityCheck

    def run(model, checker, temperature: float | None = None) -> list:
        cs = [Candidate(f"c{i}", f"What is {i} + 2 - {i}?", "2", "gen", "prime") for i in range(2)]
        kw: dict = {"max_tokens": MAX_TOKENS} | ({} if temperature is None else {"temperature": temperature})
        solve = JointSolveCheck([model], checker, k=2, min_agreement=0.5, **kw).check_many(cs)
        for c in cs:  # the learnability check needs a golden answer even where joint solving gave none
            c.golden_answer = c.golden_answer or "2"
        learn = LearnabilityCheck(model, checker, k=3, band=(0.2, 0.8), **kw).check_many(cs)
        return [(r.keep, r.reason) for r in solve + learn] + [(c.agreement, c.pass_rate) for c in cs]

    # The checks sample without a seed (temperature 0.7 and 1.0): no two fresh runs draw alike, on Ray
    # or not. So: on two copies of one cache the Ray path and the single-process path give the same
    # verdicts and send nothing; and greedy (temperature 0, the same draw wherever it is made) from
    # empty caches gives the same verdicts and the same keys. (A rerun's reason for a sample cut at
    # max_tokens says it was not re-sent: a fresh run's and a cached run's reasons differ, on any path.)
    with get_model("pair", cache=tmp_path / "first.sqlite") as m, AnswerChecker() as chk:
        first = run(m, chk)
    assert _sent(pair) > 0
    for copy in ("single", "ray"):
        with (
            sqlite3.connect(tmp_path / "first.sqlite") as src,
            sqlite3.connect(tmp_path / f"{copy}.sqlite") as dst,
        ):
            src.backup(dst)  # with what is still in the write-ahead log (a file copy can miss it)
    checker = RayAnswerChecker(workers=2)
    with get_model("pair", cache=tmp_path / "single.sqlite") as m, AnswerChecker() as chk:
        single = run(m, chk)
    with get_model("pair", cache=tmp_path / "ray.sqlite") as m:
        assert run(RayModel(m, batch_size=2), checker) == single
    assert _sent(pair) == 0
    assert [keep for keep, _ in single[:4]] == [keep for keep, _ in first[:4]]
    with get_model("pair", cache=tmp_path / "greedy.sqlite") as m, AnswerChecker() as chk:
        greedy = run(m, chk, 0.0)
    with get_model("pair", cache=tmp_path / "greedy_ray.sqlite") as m:
        on_ray = run(RayModel(m, batch_size=2), checker, 0.0)
    assert len(greedy) == 2 * 3
    assert on_ray == greedy
    assert _keys(tmp_path / "greedy_ray.sqlite") == _keys(tmp_path / "greedy.sqlite")


def test_killed_tag_job_on_ray_resumes_paying_only_the_missing_calls(cluster, pair, tmp_path) -> None:
    pool, db, out = _pool(tmp_path, 6), tmp_path / "cache.sqlite", tmp_path / "tags.jsonl"
    total = 6 * 5
    address = cluster.get_runtime_context().gcs_address
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    cmd = [sys.executable, "-m", "sample_forge", "tag", str(pool), "--method", "llm", "--model", "pair"]
    cmd += ["--max-tokens", "8", "--cache-db", str(db), "--out", str(out)]
    cmd += ["--ray", address, "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def done() -> int:  # answers cached, and samples recorded as not fitting max_tokens
        return _rows(db, "responses") + _rows(db, "failures") if db.exists() else 0

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and done() < 6:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = done()
    assert 6 <= finished < total
    time.sleep(1.0)  # the killed job's calls in flight end at the servers before counting starts
    _sent(pair)
    from click.testing import CliRunner

    from sample_forge.cli.main import cli

    res = CliRunner().invoke(cli, cmd[3:])
    assert res.exit_code in (0, 1), res.output  # 1: every category failed to parse (tiny max_tokens)
    assert _sent(pair) == total - finished  # nothing re-sent for a call the killed job finished
    assert done() == total


def test_worker_killed_mid_batch_is_retried_without_duplicate_rows(cluster, pair, tmp_path) -> None:
    from sample_forge.llm import Request, get_model
    from sample_forge.scale.llm import RayModel

    reqs = [
        Request([{"role": "user", "content": f"What is {i} + 3?"}], max_tokens=MAX_TOKENS, temperature=0.0)
        for i in range(8)
    ]
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            if sum(s.chat_requests for s in pair) >= 2:  # a batch is in flight
                ps = subprocess.run(
                    ["pgrep", "-f", "MapBatches\\(LLMWorker\\)"], capture_output=True, text=True
                )
                pids = [int(p) for p in ps.stdout.split()]
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
            time.sleep(0.1)

    t = threading.Thread(target=kill_one_worker)
    t.start()
    db = tmp_path / "c.sqlite"
    with get_model("pair", cache=db) as m:
        results = RayModel(m, batch_size=3, workers=2).complete_many(reqs)
    t.join()
    assert killed, "no LLM worker was found to kill"
    assert all(r.ok or r.error_kind == "length" for r in results), [r.error for r in results]
    # one row per request, whatever Ray retried (an answer cut at max_tokens is a failures row)
    assert _rows(db, "responses") + _rows(db, "failures") == 8
    # and one calls row per request (greedy: one call each): the killed batch's calls never reached
    # the driver, so its retry is the only one logged and billed
    assert _rows(db, "calls") == 8
    # more than 8 when the killed worker had a batch in flight (sent again); 8 when it was the idle one
    assert _sent(pair) >= 8
