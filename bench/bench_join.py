"""Benchmark ``score --pool`` on a prompt-keyed verl dump written as verl writes it (not run by pytest).

A 40,000-row pool (MATH train from --math, default /work/shared/data/math/math_train.jsonl, plus
variants with shifted numbers until 40,000 distinct problems; synthetic problems when MATH is
absent) and a verl ``{step}.jsonl`` dump of it whose ``input`` is what
``tokenizer.batch_decode(prompts, skip_special_tokens=True)`` gives for Qwen's chat template (the
``_dump_generations`` shape), written by the verl simulator writer (``impact/formats/verl.py``).
Timed in one process: reading the dump, reading the pool table, the join (``match_pool``: template
learned from the log, exact hash, containment for what is left), adding the pool's fields to rows
shaped as ``score`` writes them (``join_pool``), and the former quadratic containment join on a
subset of the prompts, extrapolated to all of them, as the baseline.

    python bench/bench_join.py                  # 40,000 rows, a toy dump and a pilot's
    python bench/bench_join.py --pool-rows 8000 --dumps 2x2x400 # quick

The join's cost follows the pool (one pass per pool row), the reading's follows the dump (lines x
response length), so the ratio is given per dump shape: ``2x2x400`` is the smallest dump a GRPO run
writes (2 rollouts, short answers), ``2x8x1500`` a pilot's (8 rollouts per prompt as LIMR, DeepScaleR
and simpleRL run; responses as long as the shorter of ``bench_score.py``'s two).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
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


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def parse_dump(text: str) -> tuple[int, int, int]:
    """``EPOCHSxROLLOUTSxCHARS`` (``2x8x1500``): a dump shape."""
    e, r, c = (int(x) for x in text.lower().split("x"))
    return e, r, c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/sf_bench_join"))
    ap.add_argument("--math", type=Path, default=Path("/work/shared/data/math/math_train.jsonl"))
    ap.add_argument("--pool-rows", type=int, default=40_000)
    ap.add_argument(
        "--dumps",
        default="2x2x400,2x8x1500",
        help="dump shapes EPOCHSxROLLOUTSxRESPONSE_CHARS, comma-separated (default: a toy dump and "
        "a pilot's: 8 rollouts as LIMR ran, 1,500-character responses as bench_score.py)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs of each timing (medians shown)")
    ap.add_argument("--baseline-prompts", type=int, default=200, help="subset for the quadratic join")
    args = ap.parse_args()

    from sample_forge.adapter import IMPACT_SCORE_KEYS, read_table
    from sample_forge.impact.run import ScoreConfig, join_pool, match_pool, read_trajectory
    from sample_forge.join import contained_matches_quadratic
    from sample_forge.tables import write_rows

    rows = pool_rows(args.pool_rows, args.math)
    pool = args.dir / f"pool_{len(rows)}.jsonl"
    if not pool.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        write_rows(pool, rows)
    t = time.perf_counter()
    prow = read_table(pool, need=("id",), default_id=False)
    t_pool = time.perf_counter() - t
    table = []
    for shape in args.dumps.split(","):
        epochs, rollouts, chars = parse_dump(shape)
        run = args.dir / f"verl_{len(rows)}_{epochs}x{rollouts}x{chars}"
        if not (run / "1.jsonl").exists():
            import shutil

            shutil.rmtree(run, ignore_errors=True)
            info = write_decoded_verl(rows, run, epochs=epochs, rollouts=rollouts, response_chars=chars)
            print(f"wrote {info['lines']:,} verl lines ({info['bytes'] / 1e6:.0f} MB) to {run}")
        reads, templates, joins, fills = [], [], [], []
        for _ in range(args.repeat):
            # one reader process, so that CPU seconds compare too (the machine may be shared)
            t, c = time.perf_counter(), time.process_time()
            traj = read_trajectory(run, ScoreConfig(format="verl", workers=1))
            reads.append((time.perf_counter() - t, time.process_time() - c))
            # rows shaped as `score` writes them, before the pool's fields are added
            scored = [{"id": sid, **dict.fromkeys(IMPACT_SCORE_KEYS, 0.5)} for sid in traj.registry.ids]
            # score learns the template and cuts every prompt with or without --pool (its table and
            # rows show problems): timed apart, before the join, as score runs it
            t = time.perf_counter()
            traj.registry.problems  # noqa: B018  (a property: learns and cuts)
            templates.append(time.perf_counter() - t)
            # a pool read afresh (untimed), as score reads it: its texts' hashes are not yet cached
            prow = read_table(pool, need=("id",), default_id=False)
            t, c = time.perf_counter(), time.process_time()
            matched = match_pool(prow, registry=traj.registry)
            joins.append((time.perf_counter() - t, time.process_time() - c))
            t = time.perf_counter()
            rep = join_pool(scored, prow, registry=traj.registry, matched=matched)
            fills.append(time.perf_counter() - t)
        (t_read, c_read), (t_join, c_join) = _median(reads), _median(joins)
        t_rows, t_tpl = statistics.median(fills), statistics.median(templates)
        table.append((epochs, rollouts, chars, traj, t_read, c_read, t_tpl, t_join, c_join, t_rows, rep))
    traj = table[0][3]
    prompts = [{"problem": p} for p in traj.registry.texts]
    sub = prompts[: args.baseline_prompts]
    t = time.perf_counter()
    contained_matches_quadratic(sub, prow)
    t_old = (time.perf_counter() - t) * len(prompts) / max(1, len(sub))
    rep = table[0][-1]
    print(f"template learned: {traj.registry.template.describe()}")
    print(
        f"join: {rep['joined']:,} of {len(traj.registry):,} log samples joined, "
        f"{rep['left_unmatched']} not in the pool, {rep['right_unmatched']} pool rows never seen, "
        f"{len(rep['dup_groups'])} groups of pool rows sharing a text"
    )
    print(f"reading the pool table ({len(prow):,} rows): {t_pool:.2f} s; former containment join, ", end="")
    print(f"extrapolated from {len(sub)} prompts: {t_old:.0f} s")
    print(
        "| verl dump (epochs x rollouts, response chars) | MB | lines | read s | read CPU s "
        "| template s | join s | join CPU s | join / read | join CPU / read CPU "
        "| + pool fields into score rows s | template + join + fields / read | former join / join |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for epochs, rollouts, chars, traj, t_read, c_read, t_tpl, t_join, c_join, t_rows, _ in table:
        print(
            f"| {epochs} x {rollouts}, {chars:,} | {traj.stats.bytes / 1e6:,.0f} | {traj.stats.rows:,} "
            f"| {t_read:.2f} | {c_read:.2f} | {t_tpl:.3f} | {t_join:.3f} | {c_join:.3f} "
            f"| {100 * t_join / t_read:.1f}% | {100 * c_join / c_read:.1f}% | {t_rows:.3f} "
            f"| {100 * (t_tpl + t_join + t_rows) / t_read:.1f}% | {t_old / t_join:,.0f}x |"
        )
    print(
        "template: learned and cut from every prompt (score does it with or without --pool); join: "
        "exact hash, containment (match_pool); pool fields into score rows: the rows score writes "
        f"(join_pool after the match); medians of {args.repeat} runs, 1-min load "
        f"{os.getloadavg()[0]:.1f}. Target: join < 10% of reading the dump"
    )


if __name__ == "__main__":
    main()
