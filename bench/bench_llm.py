"""Client overhead of the LLM layer against a zero-latency local OpenAI-compatible server.

The server (aiohttp, separate process, 127.0.0.1) answers every chat request at once with a fixed
completion. Measured in the same run:
  * baselines: raw aiohttp / raw httpx2 POSTs, and the bare AsyncOpenAI client the layer wraps
    (aiohttp transport), at concurrency 1, 16, 64;
  * the layer: ``Model.complete_many`` (real AsyncOpenAI client, SQLite cache+log writes, every
    request a cache miss) at concurrency 1, 16, 64;
  * cache hits: the same batch again (``complete_many``) and one by one (``complete``).
Targets: >= 300 requests/s at concurrency 64 and >= 5,000 cache hits/s.

    python bench/bench_llm.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def completion(contents: list[str]) -> bytes:
    """A chat completion body with one choice per content (6 completion tokens each)."""
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "bench",
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}
                for i, c in enumerate(contents)
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 6 * len(contents),
                "total_tokens": 12 + 6 * len(contents),
            },
        }
    ).encode()


BODY = completion(["The answer is 42."])


def serve(port: int, body_for_n: Callable[[int], bytes] | None = None) -> None:
    """The zero-latency server: ``BODY`` for every request, or, given ``body_for_n``, the body for the
    request's ``n`` (as vLLM honours it; the request is then parsed)."""
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        raw = await request.read()
        body = BODY if body_for_n is None else body_for_n(int(json.loads(raw).get("n") or 1))
        return web.Response(body=body, content_type="application/json")

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "bench"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def wait_up(url: str) -> None:
    """Until the server at ``url`` answers ``/models`` (about 10 s at most)."""
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/models", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Problem {i}: what is {i} + {i}?"}]


async def raw_aiohttp(url: str, n: int, conc: int) -> float:
    import aiohttp

    sem = asyncio.Semaphore(conc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as s:

        async def one(i: int) -> None:
            async with sem:
                payload = {"model": "bench", "messages": messages(i), "max_tokens": 16}
                async with s.post(url + "/chat/completions", json=payload) as r:
                    json.loads(await r.read())

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


async def raw_httpx(url: str, n: int, conc: int) -> float:
    import httpx2

    sem = asyncio.Semaphore(conc)
    async with httpx2.AsyncClient(limits=httpx2.Limits(max_connections=conc)) as c:

        async def one(i: int) -> None:
            async with sem:
                payload = {"model": "bench", "messages": messages(i), "max_tokens": 16}
                r = await c.post(url + "/chat/completions", json=payload)
                json.loads(r.content)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


async def raw_openai(
    url: str, count: int, conc: int, ask: Callable[[int], list[dict[str, str]]] = messages, **create: Any
) -> float:
    """The client the layer wraps (AsyncOpenAI over aiohttp, raw body), without the layer: ``count``
    requests of ``ask(i)``; ``create``: more arguments of the request (``max_tokens`` 16 by default)."""
    create = {"max_tokens": 16, **create}
    from openai import AsyncOpenAI

    from sample_forge.llm.openai_backend import _http_client

    sem = asyncio.Semaphore(conc)
    async with AsyncOpenAI(api_key="x", base_url=url, http_client=_http_client(60)) as c:

        async def one(i: int) -> None:
            async with sem:
                r = await c.chat.completions.with_raw_response.create(
                    model="bench", messages=ask(i), **create
                )  # type: ignore[arg-type]
                json.loads(r.http_response.content)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - t0)


def layer(url: str, n: int, conc: int, db: Path, offset: int) -> tuple[float, object]:
    from sample_forge.llm import Cache, ModelConfig, Request
    from sample_forge.llm.openai_backend import OpenAIModel

    cfg = ModelConfig(name="bench", model="bench", base_url=url, max_concurrency=conc)
    m = OpenAIModel(cfg, cache=Cache(db))
    reqs = [Request(messages(offset + i), max_tokens=16) for i in range(n)]
    m.complete_many(reqs[:conc])  # warm up the client and the loop thread (not counted)
    reqs = [Request(messages(offset + n + i), max_tokens=16) for i in range(n)]
    t0 = time.perf_counter()
    res = m.complete_many(reqs)
    rate = n / (time.perf_counter() - t0)
    assert all(r.ok for r in res), [r.error for r in res if not r.ok][:3]
    return rate, (m, reqs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000, help="requests per measurement")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_up(url)
        n = args.requests
        tmp = Path(tempfile.mkdtemp(prefix="bench_llm_"))
        db = tmp / "llm.sqlite"
        rows = []
        last = None
        for k, conc in enumerate((1, 16, 64)):
            n_c = n // 4 if conc == 1 else n
            base_a = asyncio.run(raw_aiohttp(url, n_c, conc))
            base_h = asyncio.run(raw_httpx(url, n_c, conc))
            base_o = asyncio.run(raw_openai(url, n_c, conc))
            if last is not None:
                last[0].close()  # type: ignore[index]
            rate, last = layer(url, n_c, conc, db, offset=k * 10 * n)
            rows.append((f"miss, concurrency {conc}", rate, base_a, base_h, base_o))
        m, reqs = last  # type: ignore[misc]
        t0 = time.perf_counter()
        res = m.complete_many(reqs)
        hit_batch = len(reqs) / (time.perf_counter() - t0)
        assert all(r.completions[0].cached for r in res)
        t0 = time.perf_counter()
        for r in reqs:
            m.complete(r.messages, max_tokens=16)
        hit_one = len(reqs) / (time.perf_counter() - t0)
        m.close()

        print(
            f"\nLLM layer overhead, zero-latency aiohttp server, {os.cpu_count()} cores, "
            f"{n} requests per row (1/4 at concurrency 1)\n"
        )
        print(
            f"{'measurement':<28}{'layer req/s':>12}{'raw aiohttp':>13}{'raw httpx2':>12}"
            f"{'raw openai':>12}{'layer/aiohttp':>15}{'layer/openai':>14}"
        )
        for name, rate, a, h, o in rows:
            print(f"{name:<28}{rate:>12.0f}{a:>13.0f}{h:>12.0f}{o:>12.0f}{rate / a:>15.2f}{rate / o:>14.2f}")
        print(f"{'cache hits, complete_many':<28}{hit_batch:>12.0f}")
        print(f"{'cache hits, complete()':<28}{hit_one:>12.0f}")
        c64 = rows[-1][1]
        print(
            f"\ntargets: concurrency 64 >= 300 req/s: {'PASS' if c64 >= 300 else 'FAIL'} ({c64:.0f}); "
            f"cache hits >= 5000/s: {'PASS' if min(hit_batch, hit_one) >= 5000 else 'FAIL'} "
            f"({min(hit_batch, hit_one):.0f})"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
