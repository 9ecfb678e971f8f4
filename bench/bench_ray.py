"""Answer checking and MiniLM embedding: items/s in one process against a local Ray cluster with 1 and
2 workers, the overhead per item, and the projection to N workers.

    PYTHONPATH=.:/tmp/raylib python bench/bench_ray.py [--data ../shared/data] [--n 600]

Ray's fixed costs (cluster start, actor start and model load per job) are reported apart from the rate
once running: projection(N) = N x (per-worker rate), capped by the driver's own per-item cost.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import orjson


def _texts_and_pairs(data: Path, n: int) -> tuple[list[str], list[tuple[str, str]]]:
    from sample_forge.answers import extract_boxed

    rows = [orjson.loads(x) for x in (data / "math/math_train.jsonl").read_bytes().splitlines()[:n]]
    gold = [extract_boxed(r["solution"]) or "0" for r in rows]
    rng = random.Random(0)
    pairs = [(g, g if i % 2 else rng.choice(gold)) for i, g in enumerate(gold)]
    return [r["problem"] for r in rows], pairs


def _rate(n: int, fn) -> float:
    t = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--project", type=int, nargs="*", default=[8, 64, 512])
    a = ap.parse_args()
    texts, pairs = _texts_and_pairs(Path(a.data), a.n)

    from sample_forge.answers import AnswerChecker
    from sample_forge.embed import embed

    embed(texts[:8])  # load (and if needed export) the model before timing
    single = {"embed": _rate(len(texts), lambda: embed(texts))}
    with AnswerChecker(timeout=5, workers=1) as c:
        c.check_many(pairs[:4])
        single["check"] = _rate(len(pairs), lambda: c.check_many(pairs))

    from sample_forge.scale.answers import RayAnswerChecker
    from sample_forge.scale.embeddings import embed_on_ray
    from sample_forge.scale.ray_data import connect

    t = time.perf_counter()
    connect(num_cpus=2)
    start_s = time.perf_counter() - t
    ray_rates: dict[tuple[str, int], float] = {}
    for w in (1, 2):
        # twice: the first run pays actor start and model load; the second is closer to steady state
        # but every Ray Data job starts its actors anew, so it still includes that per-job cost
        for _ in range(2):
            ray_rates[("embed", w)] = _rate(len(texts), lambda w=w: embed_on_ray(texts, workers=w, chunk=64))
            ray_rates[("check", w)] = _rate(
                len(pairs),
                lambda w=w: RayAnswerChecker(timeout=5, workers=w, batch_size=64).check_many(pairs),
            )
    print(f"items: {len(texts)} texts, {len(pairs)} answer pairs; Ray local cluster start {start_s:.1f} s")
    print(f"{'stage':8} {'single items/s':>15} {'ray 1w':>9} {'ray 2w':>9} {'overhead ms/item (1w)':>22}")
    for stage in ("embed", "check"):
        s, r1, r2 = single[stage], ray_rates[(stage, 1)], ray_rates[(stage, 2)]
        over = max(0.0, 1000 / r1 - 1000 / s)
        print(f"{stage:8} {s:15.1f} {r1:9.1f} {r2:9.1f} {over:22.2f}")
        per = max(r1, r2 / 2)
        print("  projection: " + ", ".join(f"{n} workers ~{n * per:,.0f}/s" for n in a.project))


if __name__ == "__main__":
    main()
