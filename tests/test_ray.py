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

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parent.parent
KEY_ENV, KEY = "SF_RAY_TEST_KEY", "sk-ray-test-not-a-secret"


@pytest.fixture(scope="module")
def ray_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray_home")


@pytest.fixture(scope="module")
def cluster(ray_home: Path):
    import ray

    from sample_forge.scale.ray_data import connect

    os.environ[KEY_ENV] = KEY
    connect(num_cpus=2, env_vars={"SAMPLE_FORGE_HOME": str(ray_home), KEY_ENV: KEY})
    yield ray
    ray.shutdown()
    os.environ.pop(KEY_ENV, None)


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
        return c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_llm_tagging_on_ray_equals_single_process_and_uses_the_cache(cluster, fault_server, tmp_path) -> None:
    from sample_forge.llm import get_model
    from sample_forge.pool import load_pool
    from sample_forge.scale.llm import RayModel
    from sample_forge.skills import LLMTagger

    problems = load_pool(_pool(tmp_path, 6))
    _config(fault_server.script("tag", []))
    with get_model("fault", cache=tmp_path / "single.sqlite") as m:
        single = [t.__dict__ for t in LLMTagger(m).tag(problems)]
    assert fault_server.counts["tag"] == 30
    fault_server.auth_headers.clear()
    with get_model("fault", cache=tmp_path / "ray.sqlite") as m:
        on_ray = [t.__dict__ for t in LLMTagger(RayModel(m, batch_size=4)).tag(problems)]
    assert on_ray == single
    assert fault_server.counts["tag"] == 60
    assert set(fault_server.auth_headers) == {f"Bearer {KEY}"}  # the key came from the job's env
    assert _responses(tmp_path / "ray.sqlite") == 30
    with get_model("fault", cache=tmp_path / "ray.sqlite") as m:
        again = [t.__dict__ for t in LLMTagger(RayModel(m)).tag(problems)]
    assert again == single and fault_server.counts["tag"] == 60  # all 30 answered by the driver's cache


def test_killed_ray_job_resumes_paying_only_the_missing_calls(cluster, fault_server, tmp_path) -> None:
    pool, db, out = _pool(tmp_path, 12), tmp_path / "cache.sqlite", tmp_path / "tags.jsonl"
    total = 12 * 5
    _config(fault_server.script("kill", ["slow:0.4"] * total))
    address = cluster.get_runtime_context().gcs_address
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    cmd = [sys.executable, "-m", "sample_forge", "tag", str(pool), "--method", "llm", "--model", "fault"]
    cmd += ["--cache-db", str(db), "--out", str(out), "--ray", address, "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists() and _responses(db) >= 12:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cached = _responses(db)
    assert 12 <= cached < total
    fault_server.script("kill", [])  # counts from 0
    from click.testing import CliRunner

    from sample_forge.cli.main import cli

    res = CliRunner().invoke(cli, cmd[3:])
    assert res.exit_code == 0, res.output
    assert fault_server.counts["kill"] == total - cached  # 0 requests re-sent for cached items
    assert _responses(db) == total


def test_worker_killed_mid_batch_is_retried_without_duplicate_rows(cluster, fault_server, tmp_path) -> None:
    from sample_forge.llm import Request, get_model
    from sample_forge.scale.llm import RayModel

    _config(fault_server.script("sigkill", ["slow:0.5"] * 40))
    reqs = [Request([{"role": "user", "content": f"q{i}"}], max_tokens=8, temperature=0.0) for i in range(16)]
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            if fault_server.counts["sigkill"] >= 2:  # a batch is in flight
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
    with get_model("fault", cache=tmp_path / "c.sqlite") as m:
        results = RayModel(m, batch_size=4, workers=2).complete_many(reqs)
    t.join()
    assert killed, "no LLM worker was found to kill"
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert _responses(tmp_path / "c.sqlite") == 16  # one row per request, whatever Ray retried
    assert fault_server.counts["sigkill"] > 16  # the killed batch was sent again
