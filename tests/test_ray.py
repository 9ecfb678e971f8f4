"""The --ray paths on a real local Ray cluster (2 CPUs): each stage equals its single-process path, the
driver-owned LLM cache survives a killed job and a killed worker. Skipped when Ray is not installed."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'sample-forge[ray]')")
pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'sample-forge[ray]')")

from tests.conftest import shared_file  # noqa: E402
from tests.fixtures.ray_cluster import KEY, KEY_ENV  # noqa: E402

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parent.parent


def test_map_ordered_keeps_input_order(cluster) -> None:
    from sample_forge.scale.ray_data import map_ordered

    class Shift:
        def __init__(self, k: int) -> None:
            self.k = k

        def __call__(self, xs: list[int]) -> list[int]:
            time.sleep(random.random() / 20)  # batches finish out of order
            return [x + self.k for x in xs]

    items = list(range(97))
    assert map_ordered(items, Shift, init_kwargs={"k": 3}, batch_size=5, concurrency=2) == [
        x + 3 for x in items
    ]
    assert map_ordered(
        [{"a": [i]} for i in range(9)], lambda xs: [x["a"][0] for x in xs], batch_size=2
    ) == list(range(9))


def test_decontam_on_ray_equals_single_process(cluster, shared_data: Path, ray_home, monkeypatch) -> None:
    from sample_forge.scale.embeddings import check_on_ray
    from sample_forge.synth.decontam import BenchmarkSpec, DecontamIndex, load_benchmark

    monkeypatch.setenv("SAMPLE_FORGE_HOME", str(ray_home))  # one ONNX export for driver and workers
    test = shared_file(shared_data, "math/math_test.jsonl")
    bench = shared_file(shared_data, "math/math500.jsonl")
    rows = [orjson.loads(x) for x in test.read_bytes().splitlines()[:240]]
    texts = [r["problem"] for r in rows]
    index = DecontamIndex.build([load_benchmark(BenchmarkSpec("math500", path=str(bench)))])
    single = [[m.to_dict() for m in ms] for ms in index.check(texts)]
    on_ray = [[m.to_dict() for m in ms] for ms in check_on_ray(index, texts, workers=2, chunk=64)]
    assert sum(ms[0]["flagged"] for ms in single) > 5  # MATH test overlaps MATH-500: flags to compare
    assert on_ray == single
    # synthesize's decontam check ([synthesize] ray in a forge recipe) takes the same path
    from sample_forge.records import Candidate
    from sample_forge.synth.checks import DecontamCheck

    cands = [Candidate(f"c{i}", t, None, "gen", "prime") for i, t in enumerate(texts[:64])]
    kept = [r.keep for r in DecontamCheck(index).check_many(cands)]
    assert not all(kept) and [r.keep for r in DecontamCheck(index, on_ray=True).check_many(cands)] == kept


def test_answer_checking_on_ray_equals_single_process(cluster, shared_data: Path) -> None:
    from sample_forge.answers import AnswerChecker, extract_boxed
    from sample_forge.scale.answers import RayAnswerChecker

    test = shared_file(shared_data, "math/math_test.jsonl")
    rows = [orjson.loads(x) for x in test.read_bytes().splitlines()[:150]]
    gold = [extract_boxed(r["solution"]) or "" for r in rows]
    rng = random.Random(0)
    pairs = [(g, g) for g in gold] + [(g, rng.choice(gold)) for g in gold] + [("x^2", "\\frac{((((")]
    with AnswerChecker(timeout=5) as c:
        single = c.verdicts(pairs)
    on_ray = RayAnswerChecker(timeout=5, workers=2, batch_size=40).verdicts(pairs)
    assert on_ray == single
    assert sum(v.equivalent is True for v in single) >= 150


# -- LLM stage ------------------------------------------------------------------------------------


def _pool(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "pool.jsonl"
    p.write_bytes(
        b"".join(orjson.dumps({"id": f"p{i}", "problem": f"Compute {i} + {i}."}) + b"\n" for i in range(n))
    )
    return p


def _config(base_url: str) -> None:
    from sample_forge.paths import config_path

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[models.fault]\nbase_url = "{base_url}"\nmodel = "fault-model"\napi_key_env = "{KEY_ENV}"\n'
        "max_concurrency = 4\nmax_retries = 1\ntimeout = 30\n",
        encoding="utf-8",
    )


def _responses(db: Path) -> int:
    with sqlite3.connect(db) as c:
        try:
            return c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:  # a starting subprocess made the file but not its tables yet
            return 0


def test_workers_send_the_key_from_the_job_env(cluster, fault_server, tmp_path) -> None:
    """The fault server records the Authorization header, which a llama.cpp server ignores: the key
    reached the workers through the job's environment (tests/test_ray_llm.py compares the rows)."""
    from sample_forge.llm import get_model
    from sample_forge.pool import load_pool
    from sample_forge.scale.llm import RayModel
    from sample_forge.skills import LLMTagger

    problems = load_pool(_pool(tmp_path, 2))
    _config(fault_server.script("tag", []))
    with get_model("fault", cache=tmp_path / "ray.sqlite") as m:
        LLMTagger(RayModel(m, batch_size=4)).tag(problems)
    assert fault_server.counts["tag"] == 10
    assert set(fault_server.auth_headers) == {f"Bearer {KEY}"}


def test_a_joined_cluster_without_a_later_stages_key_is_refused(cluster, monkeypatch) -> None:
    """A remote job's environment is fixed when it connects: a stage whose key it lacks is stopped with
    one line naming the variable, before any call is sent without it (forge connects once with all)."""
    from sample_forge.errors import SampleForgeError
    from sample_forge.scale import ray_data

    monkeypatch.setattr(ray_data, "_JOB_ENV", {"TAG_KEY": "t"})
    monkeypatch.setattr(ray_data, "_JOB_REMOTE", True)
    ray_data.connect("auto", env_vars={"TAG_KEY": "t"})  # what the job has: fine
    with pytest.raises(SampleForgeError, match="without SOLVER_KEY in its job environment"):
        ray_data.connect("auto", env_vars={"TAG_KEY": "t", "SOLVER_KEY": "s"})
    monkeypatch.setattr(ray_data, "_JOB_REMOTE", False)  # a local cluster inherits this environment
    ray_data.connect(None, env_vars={"SOLVER_KEY": "s"})


def _forge_recipe(tmp_path: Path, tag: str) -> Path:
    p = tmp_path / "recipe.toml"
    p.write_text(
        f'run_dir = "{tmp_path / "run"}"\n[pool]\nsource = "{_pool(tmp_path, 2)}"\n[tag]\n{tag}\n'
        "[synthesize]\nenabled = false\n",
        encoding="utf-8",
    )
    return p


def test_forge_recipe_tag_ray_runs_the_tag_stage_on_ray(cluster, fault_server, tmp_path, monkeypatch) -> None:
    from sample_forge.forge.recipe import load_recipe
    from sample_forge.forge.run import plan
    from sample_forge.forge.stages import fingerprint, run_stage
    from sample_forge.scale.llm import RayModel

    _config(fault_server.script("forge", []))
    on_ray: list[int] = []
    dispatch = RayModel.complete_many

    def spy(self, requests, **kw):  # the real RayModel, its calls counted
        on_ray.append(len(requests))
        return dispatch(self, requests, **kw)

    monkeypatch.setattr(RayModel, "complete_many", spy)
    recipe = load_recipe(_forge_recipe(tmp_path, 'method = "llm"\nmodel = "fault"\nray = "local"'))
    assert recipe.tag.ray == "local"
    stages = plan(recipe)
    for st in stages[:2]:  # pool, tag
        assert not run_stage(st, tmp_path / "markers").skipped
    assert on_ray == [2 * 5] and fault_server.counts["forge"] == 2 * 5  # each (problem, category) once
    (tags,) = stages[1].outputs
    assert [orjson.loads(x)["id"] for x in Path(tags).read_bytes().splitlines()] == ["p0", "p1"]
    # where the calls ran is not a setting of the result: the same recipe without ray is not stale
    plain = plan(load_recipe(_forge_recipe(tmp_path, 'method = "llm"\nmodel = "fault"')))
    assert fingerprint(plain[1]) == fingerprint(stages[1])


def test_forge_recipe_tag_ray_needs_the_llm_method(tmp_path) -> None:
    from sample_forge.errors import InputError
    from sample_forge.forge.recipe import load_recipe

    with pytest.raises(InputError, match=r"tag\.ray.*method = \"llm\""):
        load_recipe(_forge_recipe(tmp_path, 'method = "embed"\nray = "auto"'))


# -- passrate and synthesize's checks on Ray --------------------------------------------------------


class BoxedServer:
    """A real OpenAI-compatible server (127.0.0.1) whose answers vary with the prompt and the seed:
    choice i answers ``\\boxed{crc32(f"{crc32(prompt)}-{seed + i}") % 3 + 1}``, so pass rates differ per
    problem. Honours ``n``; counts chat requests; ``delay`` seconds per request."""

    def __init__(self, delay: float = 0.0) -> None:
        import json
        import zlib
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.count, self.delay = 0, delay
        lock, srv = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with lock:
                    srv.count += 1
                time.sleep(srv.delay)
                h = zlib.crc32(json.dumps(req["messages"]).encode())
                seed, n = int(req.get("seed") or 0), int(req.get("n") or 1)
                body = json.dumps(
                    {
                        "model": "boxed",
                        "choices": [
                            {
                                "index": i,
                                "message": {
                                    "role": "assistant",
                                    "content": f"So \\boxed{{{zlib.crc32(f'{h}-{seed + i}'.encode()) % 3 + 1}}}.",
                                },
                                "finish_reason": "stop",
                            }
                            for i in range(n)
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 4 * n},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def boxed():
    srv = BoxedServer()
    yield srv
    srv.close()


def _boxed_config(base_url: str, structured: str = "none") -> None:
    from sample_forge.paths import config_path

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[models.boxed]\nbase_url = "{base_url}"\nmodel = "boxed"\napi_key_env = "{KEY_ENV}"\n'
        f'max_concurrency = 4\nmax_retries = 1\ntimeout = 30\nstructured_output = "{structured}"\n',
        encoding="utf-8",
    )


def _keys(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return sorted(k for (k,) in c.execute("SELECT key FROM responses"))


def _rate_pool(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "rate_pool.jsonl"
    rows = [{"id": f"q{i}", "problem": f"What is {i} + 2 - {i}?", "answer": "2"} for i in range(n)]
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return p


def test_passrate_on_ray_equals_single_process(cluster, boxed, tmp_path) -> None:
    from sample_forge.llm import get_model
    from sample_forge.passrate import PassRateConfig, pass_rates
    from sample_forge.pool import load_pool
    from sample_forge.scale.answers import RayAnswerChecker
    from sample_forge.scale.llm import RayModel

    _boxed_config(boxed.base_url)
    problems = load_pool(_rate_pool(tmp_path, 20))
    cfg = PassRateConfig(k=6, max_tokens=32, template="qwen-boxed", batch=8)
    with get_model("boxed", cache=tmp_path / "single.sqlite") as m:
        single = pass_rates(problems, m, cfg)
    with get_model("boxed", cache=tmp_path / "ray.sqlite") as m:
        on_ray = pass_rates(problems, RayModel(m, batch_size=4), cfg, checker=RayAnswerChecker(workers=2))
    assert len({r["n_correct"] for r in single.rows}) > 1  # the rates differ: something to compare
    assert on_ray.rows == single.rows  # every column, order included
    assert _keys(tmp_path / "ray.sqlite") == _keys(tmp_path / "single.sqlite")
    assert boxed.count == 2 * len(problems)  # the server honours n: one request per problem and path


def test_synth_checks_on_ray_equal_single_process(cluster, boxed, tmp_path) -> None:
    from sample_forge.answers import AnswerChecker
    from sample_forge.llm import get_model
    from sample_forge.records import Candidate
    from sample_forge.scale.answers import RayAnswerChecker
    from sample_forge.scale.llm import RayModel
    from sample_forge.synth.checks import JointSolveCheck, LearnabilityCheck

    _boxed_config(boxed.base_url)

    def cands() -> list[Candidate]:
        return [Candidate(f"c{i}", f"Find {i} - {i} + 2.", "2", "gen", "prime") for i in range(8)]

    def run(model, checker) -> list:
        cs = cands()
        solve = JointSolveCheck([model], checker, k=4, min_agreement=0.5, max_tokens=32).check_many(cs)
        for c in cs:  # the learnability check needs a golden answer even where joint solving gave none
            c.golden_answer = c.golden_answer or "2"
        learn = LearnabilityCheck(model, checker, k=6, band=(0.2, 0.8), max_tokens=32).check_many(cs)
        return [(r.keep, r.reason) for r in solve + learn] + [(c.agreement, c.pass_rate) for c in cs]

    with get_model("boxed", cache=tmp_path / "single.sqlite") as m, AnswerChecker() as chk:
        single = run(m, chk)
    with get_model("boxed", cache=tmp_path / "ray.sqlite") as m:
        on_ray = run(RayModel(m, batch_size=4), RayAnswerChecker(workers=2))
    assert {keep for keep, _ in single[:16]} == {True, False}
    assert on_ray == single
    assert _keys(tmp_path / "ray.sqlite") == _keys(tmp_path / "single.sqlite")


def test_ray_model_keeps_schema_keys_and_the_failures_table(cluster, fault_server, tmp_path) -> None:
    from sample_forge.llm import Request, get_model
    from sample_forge.scale.llm import RayModel

    url = fault_server.script("len", [])
    for i in range(3):
        fault_server.script_for(f"long {i}", ["length"] * 20)
    from sample_forge.paths import config_path

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(
        f'[models.f]\nbase_url = "{url}"\nmodel = "fault-model"\nmax_retries = 0\n'
        'structured_output = "json_object"\n'
    )
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    reqs = [
        Request([{"role": "user", "content": f"short {i}"}], max_tokens=8, temperature=0, schema=schema)
        for i in range(4)
    ]
    reqs += [
        Request([{"role": "user", "content": f"long {i}"}], max_tokens=8, temperature=0) for i in range(3)
    ]
    with get_model("f", cache=tmp_path / "single.sqlite") as m:
        single = m.complete_many(reqs)
    sent = fault_server.counts["len"]
    with get_model("f", cache=tmp_path / "ray.sqlite") as m:
        on_ray = RayModel(m, batch_size=2).complete_many(reqs)
        assert fault_server.counts["len"] == 2 * sent
        again = RayModel(m, batch_size=2).complete_many(reqs)
        assert fault_server.counts["len"] == 2 * sent  # length failures are not re-sent blindly
        assert m.last_summary["not_resent"] == 3
        RayModel(m, batch_size=2).complete_many(reqs, retry_failed=True)
        assert fault_server.counts["len"] == 2 * sent + 3  # --retry-failed asks again
    assert [r.error_kind for r in on_ray] == [r.error_kind for r in single] == [None] * 4 + ["length"] * 3
    assert [r.error_kind for r in again] == [r.error_kind for r in single]
    assert _keys(tmp_path / "ray.sqlite") == _keys(tmp_path / "single.sqlite")
    with sqlite3.connect(tmp_path / "ray.sqlite") as a, sqlite3.connect(tmp_path / "single.sqlite") as b:
        q = "SELECT key FROM failures ORDER BY key"
        assert a.execute(q).fetchall() == b.execute(q).fetchall() != []


def test_killed_passrate_on_ray_resumes_paying_only_the_missing_calls(cluster, tmp_path) -> None:
    srv = BoxedServer(delay=0.3)
    try:
        _boxed_config(srv.base_url)
        pool, db, out = _rate_pool(tmp_path, 24), tmp_path / "cache.sqlite", tmp_path / "rates.jsonl"
        k, total = 4, 24
        address = cluster.get_runtime_context().gcs_address
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
        cmd = [sys.executable, "-m", "sample_forge", "passrate", "--pool", str(pool), "-m", "boxed"]
        cmd += ["-k", str(k), "--max-tokens", "32", "--cache-db", str(db), "-o", str(out), "--ray", address]
        cmd += ["--quiet"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists() and _responses(db) >= 4 * k:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cached = _responses(db)
        assert 4 * k <= cached < total * k and cached % k == 0  # one reply holds a problem's k samples
        srv.count, srv.delay = 0, 0.0
        from click.testing import CliRunner

        from sample_forge.cli.main import cli

        res = CliRunner().invoke(cli, cmd[3:])
        assert res.exit_code == 0, res.output
        assert srv.count == total - cached // k  # only the problems not cached were asked for
        assert len(out.read_bytes().splitlines()) == total
    finally:
        srv.close()
