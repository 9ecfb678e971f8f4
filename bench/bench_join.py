"""Benchmark ``score --pool`` on a prompt-keyed verl dump written as verl writes it (not run by pytest).

A 40,000-row pool (MATH train from --math, default /work/shared/data/math/math_train.jsonl, plus
variants with shifted numbers until 40,000 distinct problems; synthetic problems when MATH is
absent) and a verl ``{step}.jsonl`` dump of it whose ``input`` is what
``tokenizer.batch_decode(prompts, skip_special_tokens=True)`` gives for Qwen's chat template (the
``_dump_generations`` shape), written by the verl simulator writer (``impact/formats/verl.py``).
Timed in one process: reading the dump, reading the pool table, the join (template learned from
the log, exact hash, containment for what is left), and the former quadratic containment join on a
subset of the prompts, extrapolated to all of them, as the baseline.

    python bench/bench_join.py                  # 40,000 rows
    python bench/bench_join.py --pool-rows 8000 # quick
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# What verl logs as `input` for Qwen2.5 with the usual instruction (the markers removed by decoding).
QWEN_DECODED = (
    "system\nYou are a helpful assistant.\nuser\n{q} Let's think step by step and output the final "
    "answer within \\boxed{{}}.\nassistant\n"
)


def write_decoded_verl(
    problems: list[dict[str, Any]],
    out: Path,
    *,
    epochs: int = 3,
    steps_per_epoch: int = 2,
    rollouts: int = 2,
    response_chars: int = 400,
    seed: int = 0,
) -> dict[str, Any]:
    """A prompt-keyed verl dump of ``problems`` (each once per epoch) with ``input`` in the decoded
    Qwen template; returns (lines, bytes) and the run's shape."""
    from sample_forge.impact import formats
    from sample_forge.impact.formats.base import SimRun
    from sample_forge.impact.simulate import SimConfig, _Responses, simulate_accuracy

    @dataclass
    class DecodedRun(SimRun):
        def prompt(self, i: int) -> str:
            return QWEN_DECODED.format(q=self.problems[i]["problem"])

    cfg = SimConfig(
        samples=len(problems), epochs=epochs, steps_per_epoch=steps_per_epoch, rollouts=rollouts, seed=seed
    )
    correct, step, _ = simulate_accuracy(cfg)
    by_step: dict[int, list[tuple[int, int]]] = {s: [] for s in range(1, epochs * steps_per_epoch + 1)}
    for i in range(len(problems)):
        for e in range(epochs):
            by_step[int(step[i, e])].append((i, e))
    rng = np.random.default_rng(seed + 1)
    run = DecodedRun(
        problems=problems,
        correct=correct,
        by_step=by_step,
        rollouts=rollouts,
        with_ids=False,
        responses=_Responses(response_chars, rng),
        rng=rng,
    )
    out.mkdir(parents=True, exist_ok=True)
    lines, nbytes = formats.get("verl").write(out, run)
    return {"lines": lines, "bytes": nbytes, "samples": len(problems), "epochs": epochs}


def pool_rows(n: int, math: Path | None) -> list[dict[str, Any]]:
    """``n`` distinct problems: MATH train, then variants with every number shifted by 1, 2, ..."""
    base: list[dict[str, Any]] = []
    if math is not None and math.exists():
        for line in math.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            base.append({"id": r["unique_id"], "problem": r["problem"], "answer": "0"})
    if not base:
        from sample_forge.impact.simulate import SimConfig, _problems

        base = [
            {"id": p["id"], "problem": p["problem"], "answer": p["answer"]}
            for p in _problems(SimConfig(samples=min(n, 5000)), np.random.default_rng(0))
        ]
    seen = {" ".join(r["problem"].split()) for r in base}
    out = list(base[:n])
    shift = 0
    while len(out) < n:
        shift += 1
        for r in base:
            q = re.sub(r"\d+", lambda m, k=shift: str(int(m.group()) + k), r["problem"])
            key = " ".join(q.split())
            if key in seen:
                continue
            seen.add(key)
            out.append({"id": f"{r['id']}+{shift}", "problem": q, "answer": "0"})
            if len(out) == n:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/sf_bench_join"))
    ap.add_argument("--math", type=Path, default=Path("/work/shared/data/math/math_train.jsonl"))
    ap.add_argument("--pool-rows", type=int, default=40_000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rollouts", type=int, default=2)
    ap.add_argument("--baseline-prompts", type=int, default=200, help="subset for the quadratic join")
    args = ap.parse_args()

    from sample_forge.adapter import read_table
    from sample_forge.impact.run import ScoreConfig, join_pool, read_trajectory
    from sample_forge.join import contained_matches_quadratic
    from sample_forge.tables import write_rows

    rows = pool_rows(args.pool_rows, args.math)
    run = args.dir / f"verl_{len(rows)}"
    pool = args.dir / f"pool_{len(rows)}.jsonl"
    if not (run / "1.jsonl").exists() or not pool.exists():
        import shutil

        shutil.rmtree(run, ignore_errors=True)
        write_rows(pool, rows)
        info = write_decoded_verl(rows, run, epochs=args.epochs, rollouts=args.rollouts)
        print(
            f"wrote {info['lines']:,} verl lines ({info['bytes'] / 1e6:.0f} MB) and a {len(rows):,}-row pool"
        )
    # one reader process, so that CPU seconds compare too (the machine may be shared)
    t, c = time.perf_counter(), time.process_time()
    traj = read_trajectory(run, ScoreConfig(format="verl", workers=1))
    t_read, c_read = time.perf_counter() - t, time.process_time() - c
    t = time.perf_counter()
    prow = read_table(pool, need=("id",), default_id=False)
    t_pool = time.perf_counter() - t
    scored = [{"id": sid} for sid in traj.registry.ids]
    t, c = time.perf_counter(), time.process_time()
    rep = join_pool(scored, prow, registry=traj.registry)
    t_join, c_join = time.perf_counter() - t, time.process_time() - c
    tpl = traj.registry.template
    prompts = [{"problem": p} for p in traj.registry.texts]
    sub = prompts[: args.baseline_prompts]
    t = time.perf_counter()
    contained_matches_quadratic(sub, prow)
    t_old = (time.perf_counter() - t) * len(prompts) / max(1, len(sub))
    print(f"template learned: {tpl.describe()}")
    print(
        f"join: {rep['joined']:,} of {len(traj.registry):,} log samples joined, "
        f"{rep['left_unmatched']} not in the pool, {rep['right_unmatched']} pool rows never seen, "
        f"{len(rep['dup_groups'])} groups of pool rows sharing a text"
    )
    mb = traj.stats.bytes / 1e6
    print("| step | seconds | CPU s | share of reading |")
    print("|---|---:|---:|---:|")
    print(
        f"| read the verl dump ({mb:.0f} MB, {traj.stats.rows:,} lines) | {t_read:.2f} | {c_read:.2f} | 100% |"
    )
    print(f"| read the pool table ({len(prow):,} rows) | {t_pool:.2f} | | {100 * t_pool / t_read:.1f}% |")
    print(
        f"| join (template, hash, containment, rows) | {t_join:.3f} | {c_join:.3f} | "
        f"{100 * t_join / t_read:.1f}% |"
    )
    print(
        f"| former containment join, extrapolated from {len(sub)} prompts | {t_old:.0f} | | "
        f"{100 * t_old / t_read:.0f}% |"
    )
    print(
        f"join / reading = {t_join / t_read:.3f} (CPU {c_join / c_read:.3f}; target < 0.10); "
        f"former / new = {t_old / t_join:.0f}x"
    )


if __name__ == "__main__":
    main()
