"""Speed of ``sample-forge passrate`` against a zero-latency OpenAI-compatible server.

The server (aiohttp, separate process, 127.0.0.1) honours ``n`` (as vLLM does) and answers every chat
request at once with ``n`` boxed answers. Measured in the same run, at k = 16 and concurrency 16, 64, 256:
  * bare: the AsyncOpenAI client the layer wraps, one ``n=16`` request per problem (requests/s =
    problems/s), no cache, no checks;
  * layer: ``Model.complete_many`` alone (cache writes, every request a miss);
  * passrate: ``pass_rates`` end to end (layer + math-verify checks in the process pool, overlapped);
  * checks/s of the AnswerChecker on the same answers, beside the 16 x requests/s they must keep up with;
  * replicas: the layer over 1, 2 and 4 such servers (one process each) as replicas of one model, at the
    same total concurrency (``max_concurrency`` = concurrency / replicas).
Targets: layer >= 0.8x bare; checks never the bottleneck (checks/s >= 16 x passrate problems/s);
4 replicas within 10% of one endpoint.

    python bench/bench_passrate.py [--problems 512]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_llm import completion, free_port, raw_openai, serve, wait_up  # noqa: E402  (the same zero-latency server)

K = 16


@functools.cache
def boxed(n: int) -> bytes:
    """``n`` boxed answers, a quarter of them each 40, 41, 42, 43."""
    return completion([f"So it is \\boxed{{{40 + i % 4}}}." for i in range(n)])


def problem(i: int) -> str:
    return f"Problem {i}: what is {i} + 42 - {i}?"


async def bare(url: str, n: int, conc: int) -> float:
    """bench_llm's bare client loop, one ``n=K`` request per problem."""
    ask = lambda i: [{"role": "user", "content": problem(i)}]  # noqa: E731
    return await raw_openai(url, n, conc, ask=ask, max_tokens=64, n=K)


def model(url: str | list[str], conc: int, db: Path):  # type: ignore[no-untyped-def]
    """One endpoint, or replicas (a list of URLs) with ``conc`` calls in flight per replica."""
    from sample_forge.llm import Cache, ModelConfig
    from sample_forge.llm.openai_backend import OpenAIModel

    urls = [url] if isinstance(url, str) else url
    cfg = ModelConfig(
        name="bench",
        model="bench",
        base_url=urls[0],
        max_concurrency=conc,
        replicas=tuple(urls) if len(urls) > 1 else (),
    )
    return OpenAIModel(cfg, cache=Cache(db))


def layer(url: str | list[str], n: int, conc: int, db: Path, offset: int, cpu: list | None = None) -> float:
    from sample_forge.llm import Request

    def reqs(start: int) -> list[Request]:
        msgs = [[{"role": "user", "content": problem(start + i)}] for i in range(n)]
        return [Request(m, n=K, max_tokens=64, temperature=1.0, seed=0) for m in msgs]

    with model(url, conc, db) as m:
        m.complete_many(reqs(offset)[:conc])  # warm up the client and the loop thread
        batch = reqs(offset + n)
        t0, c0 = time.perf_counter(), time.process_time()
        res = m.complete_many(batch)
        rate = n / (time.perf_counter() - t0)
        if cpu is not None:  # this process's CPU per request: what the shared cores' load does not skew
            cpu.append((time.process_time() - c0) / n * 1e3)
    assert all(r.ok and len(r.completions) == K for r in res)
    return rate


def passrate(url: str, n: int, conc: int, db: Path, offset: int, checker) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
    from sample_forge.passrate import PassRateConfig, pass_rates
    from sample_forge.records import Problem

    probs = [Problem(id=str(offset + i), problem=problem(offset + i), answer="42") for i in range(n)]
    cfg = PassRateConfig(k=K, template="none", max_tokens=64, temperature=1.0)
    with model(url, conc, db) as m:
        t0 = time.perf_counter()
        res = pass_rates(probs, m, cfg, checker=checker)
        rate = n / (time.perf_counter() - t0)
    assert len(res.rows) == n and all(r["n_correct"] == K // 4 for r in res.rows), res.rows[:2]
    return rate, res.report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=512, help="problems per measurement")
    ap.add_argument(
        "--rounds", type=int, default=3, help="bare and layer alternate this often per row (medians shown)"
    )
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, boxed)
        return
    from sample_forge.answers import AnswerChecker

    ports = [free_port() for _ in range(4)]
    servers = [subprocess.Popen([sys.executable, __file__, "--serve", str(p)]) for p in ports]
    urls = [f"http://127.0.0.1:{p}/v1" for p in ports]
    url = urls[0]
    try:
        for u in urls:
            wait_up(u)
        n = args.problems
        db = Path(tempfile.mkdtemp(prefix="bench_passrate_")) / "llm.sqlite"
        rows = []
        ratios: list[float] = []  # per row: the median of the paired layer/bare ratios
        cpus: list[tuple[float, float]] = []  # per row: CPU ms per request, bare and layer
        with AnswerChecker(timeout=5.0) as checker:
            pairs = [("42", f"{40 + i % 4}") for i in range(n * K)]
            checker.verdicts(pairs[:64])  # start the workers
            t0 = time.perf_counter()
            checker.verdicts(pairs)
            checks = len(pairs) / (time.perf_counter() - t0)
            for j, conc in enumerate((16, 64, 256)):
                # alternated, so a load spike on the shared cores hits both clients alike
                pairs_bl, cpu_b, cpu_l = [], [], []
                for i in range(max(1, args.rounds)):
                    c0 = time.process_time()
                    b = asyncio.run(bare(url, n, conc))
                    cpu_b.append((time.process_time() - c0) / n * 1e3)
                    lay = layer(url, n, conc, db, offset=(100 * (j + 1) + 2 * i) * n, cpu=cpu_l)
                    pairs_bl.append((b, lay))
                cpus.append((statistics.median(cpu_b), statistics.median(cpu_l)))
                b, lay = (statistics.median(x) for x in zip(*pairs_bl))
                ratios.append(statistics.median(lb / bb for bb, lb in pairs_bl))
                pr, _ = passrate(url, n, conc, db, offset=(3 * j + 2) * 10 * n, checker=checker)
                reps = {
                    r: layer(urls[:r], n, conc // r, db, offset=(3 * j + 1) * 10 * n + r * 2 * n)
                    for r in (2, 4)
                }
                rows.append((conc, b, lay, pr, reps[2], reps[4]))
        print(
            f"\npassrate at k={K}, zero-latency aiohttp server honouring n, {os.cpu_count()} cores, "
            f"{n} problems per row, bare/layer medians of {max(1, args.rounds)} alternated rounds "
            f"(layer/bare: median of the paired ratios); answer checks: {checks:.0f}/s ({checker.n_workers} workers)\n"
        )
        print(
            f"{'concurrency':>11}{'bare req/s':>12}{'layer req/s':>13}{'layer/bare':>12}"
            f"{'passrate problems/s':>21}{'checks needed/s':>17}{'checks/s':>10}"
            f"{'2 replicas':>12}{'4 replicas':>12}{'4 rep/1':>9}{'CPU ms/req bare':>17}{'layer':>7}"
        )
        for (conc, b, lay, pr, r2, r4), ratio, (cb, cl) in zip(rows, ratios, cpus):
            print(
                f"{conc:>11}{b:>12.0f}{lay:>13.0f}{ratio:>12.2f}{pr:>21.0f}{pr * K:>17.0f}{checks:>10.0f}"
                f"{r2:>12.0f}{r4:>12.0f}{r4 / lay:>9.2f}{cb:>17.2f}{cl:>7.2f}"
            )
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        for srv in servers:
            srv.terminate()
            srv.wait()


if __name__ == "__main__":
    main()
