"""Benchmark of the decontamination index (sample_forge.synth.decontam).

Index: every benchmark file under <root>/eval_benchmarks (the password-protected GPQA zip is skipped) plus
MATH (train, test, MATH-500). Candidates: MATH train problems, perturbed (numbers changed, words dropped,
a phrase added), repeated to --candidates. Baselines, measured in the same run:
  * n-grams: a naive check, the set intersection of the candidate's n-grams with every benchmark item's;
  * embeddings: the same check with the float MiniLM only (no int8 screen), and through
    sentence-transformers (torch), which every earlier version used; both must give the same flags.
A second embedding check runs the everyday case the perturbed candidates are not: MATH train (7,500
problems, mostly clean) against the evaluation benchmarks.
Targets: index build < 60 s (benchmark embeddings cached), n-gram check >= 2,000 candidates/s,
embedding check >= 200 candidates/s.

    python bench/bench_decontam.py --root ../shared/data [--candidates 10000] [--embed-candidates 2000]

The first run embeds every benchmark text (slow on a shared 2-core machine; chunks are cached as they
finish, so an interrupted run resumes); later runs read the cache.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from dataclasses import replace
from pathlib import Path

import orjson

from sample_forge.synth.decontam import (
    BUILTIN_BENCHMARKS,
    Benchmark,
    BenchmarkSpec,
    DecontamConfig,
    DecontamIndex,
    first_words,
    load_benchmark,
    normalize_words,
    resolve_benchmarks,
)


def perturb(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    op = rng.random()
    if op < 0.4:  # change the numbers: a "new" problem from the same template
        return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)
    if op < 0.7 and len(words) > 6:  # drop two words
        for _ in range(2):
            words.pop(rng.randrange(len(words)))
        return " ".join(words)
    return "Consider the following question carefully. " + text


def load_all(root: Path) -> list[Benchmark]:
    names = [n for n in BUILTIN_BENCHMARKS if n != "math500"]
    specs = resolve_benchmarks(names, root=root)
    specs += [
        BenchmarkSpec("math_train", path=str(root / "math" / "math_train.jsonl")),
        BenchmarkSpec("math_test", path=str(root / "math" / "math_test.jsonl")),
        BenchmarkSpec("math500", path=str(root / "math" / "math500.jsonl")),
    ]
    return [load_benchmark(s) for s in specs]


def naive_ngram_rate(benches: list[Benchmark], cands: list[str], n: int, budget_s: float = 10.0) -> float:
    """Candidates/s of a set intersection against every benchmark item (item sets precomputed)."""
    item_sets = []
    for b in benches:
        for t in b.texts:
            w = normalize_words(t)
            item_sets.append({" ".join(w[i : i + n]) for i in range(len(w) - n + 1)})
    t0 = time.perf_counter()
    done = 0
    for c in cands:
        w = normalize_words(c)
        g = {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}
        best = 0.0
        for s in item_sets:
            if s and g:
                best = max(best, len(g & s) / min(len(g), len(s)))
        done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    return done / (time.perf_counter() - t0)


def flags(matches: list) -> tuple[bool, ...]:
    return tuple(m.flagged for m in matches)


def embedding_rows(
    rows: list[tuple[str, str, str]], idx: DecontamIndex, cands: list[str], what: str, target: str = ""
) -> tuple[float, list]:
    """The screened check, then the float-only check on the same candidates; flags must agree."""
    fidx = DecontamIndex(replace(idx.config, screen=False), idx.benches, idx.vocab)
    for i in (idx, fidx):  # onnxruntime sizes its buffers on the first batches: warm both paths up
        i.check(cands[-64:])
    idx.screened = idx.rescreened = 0
    t0 = time.perf_counter()
    res = idx.check(cands)
    rate = len(cands) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    fres = fidx.check(cands)
    rate_f = len(cands) / (time.perf_counter() - t0)
    same = sum(flags(a) == flags(b) for a, b in zip(res, fres))
    rows.append((f"embedding check, {len(cands):,} cand: {what}", f"{rate:,.1f} cand/s", target))
    rows.append(
        (
            "  int8 screen: re-embedded with the float model",
            f"{idx.rescreened:,} of {idx.screened:,}",
            f"margin {idx.config.screen_margin}",
        )
    )
    rows.append(
        ("  baseline: float MiniLM only (onnxruntime)", f"{rate_f:,.1f} cand/s", f"x{rate / rate_f:,.2f}")
    )
    rows.append(("  same flags as the float-only check", f"{same:,} of {len(cands):,}", "must be all"))
    return rate, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument(
        "--embed-candidates",
        type=int,
        default=None,
        help="candidates for the embedding check (default: all); the rate is per candidate",
    )
    ap.add_argument("--no-pool", action="store_true", help="skip the MATH-train-vs-eval-benchmarks check")
    ap.add_argument("--no-embed", action="store_true")
    ap.add_argument(
        "--embed-benchmarks",
        default=None,
        help="comma-separated benchmark names for the embedding part (default: all)",
    )
    args = ap.parse_args()
    root = Path(args.root)
    rng = random.Random(0)

    t0 = time.perf_counter()
    benches = load_all(root)
    t_load = time.perf_counter() - t0
    n_items = sum(len(b.texts) for b in benches)
    train = [
        orjson.loads(x)["problem"] for x in (root / "math" / "math_train.jsonl").read_bytes().splitlines()
    ]
    cands = [perturb(train[i % len(train)], rng) for i in range(args.candidates)]
    rows: list[tuple[str, str, str]] = []
    print(
        f"index: {len(benches)} benchmarks, {n_items:,} items (read in {t_load:.1f} s); "
        f"{len(cands):,} candidates"
    )

    cfg = DecontamConfig(use_embeddings=False)
    t0 = time.perf_counter()
    idx = DecontamIndex.build(benches, cfg)
    t_build = time.perf_counter() - t0
    rows.append(("index build, n-grams", f"{t_build:.1f} s", "< 60 s"))

    t0 = time.perf_counter()
    res = idx.check(cands)
    t_ng = time.perf_counter() - t0
    rate_ng = len(cands) / t_ng
    flagged = sum(any(m.flagged for m in r) for r in res)
    base_ng = naive_ngram_rate(benches, cands[:200], cfg.ngram)
    rows.append(("n-gram check", f"{rate_ng:,.0f} cand/s", ">= 2,000 cand/s"))
    rows.append(
        (
            "  baseline: naive set intersection per item",
            f"{base_ng:,.1f} cand/s",
            f"x{rate_ng / base_ng:,.0f} faster",
        )
    )
    rows.append(("  flagged by n-grams", f"{flagged:,} of {len(cands):,}", ""))

    if not args.no_embed:
        from sample_forge.embed import Embedder, get_embedder, get_screen_embedder

        get_embedder(), get_screen_embedder()  # load and export once: setup, not throughput
        ecfg = DecontamConfig()
        ebenches = benches
        if args.embed_benchmarks:
            keep = set(args.embed_benchmarks.split(","))
            ebenches = [b for b in benches if b.name in keep]
        n_eitems = sum(len(b.texts) for b in ebenches)
        t0 = time.perf_counter()
        eidx = DecontamIndex.build(ebenches, ecfg)
        t_ebuild = time.perf_counter() - t0
        cold = eidx.embed_cache_hits < len(ebenches)
        rows.append(
            (
                f"index build, n-grams + embeddings, {n_eitems:,} items "
                f"({'cold: embedding' if cold else 'cached'})",
                f"{t_ebuild:.1f} s",
                "< 60 s when cached",
            )
        )
        if cold:
            rows.append(("  benchmark embedding rate (cold)", f"{n_eitems / t_ebuild:,.1f} texts/s", ""))
        m = args.embed_candidates or len(cands)
        sub = cands[:m]
        rate_e, eres = embedding_rows(
            rows, eidx, sub, "perturbed MATH train, most of them contaminated", target=">= 200 cand/s"
        )
        rows.append(
            (
                "  flagged (either signal)",
                f"{sum(any(x.flagged for x in r) for r in eres):,} of {len(sub):,}",
                "",
            )
        )
        # the torch path every earlier version used: same float vectors, on a prefix
        tsub = sub[:500]
        fidx = DecontamIndex(replace(ecfg, screen=False), eidx.benches, eidx.vocab)
        t0 = time.perf_counter()
        temb = Embedder().encode(first_words(tsub, ecfg.max_words))
        tres = fidx.check(tsub, embeddings=temb)
        rate_t = len(tsub) / (time.perf_counter() - t0)
        same_t = sum(flags(a) == flags(b) for a, b in zip(eres, tres))
        rows.append(
            (
                f"  baseline: sentence-transformers (torch, float), {len(tsub):,} cand",
                f"{rate_t:,.1f} cand/s",
                f"x{rate_e / rate_t:,.2f}",
            )
        )
        rows.append(("  same flags as the torch path", f"{same_t:,} of {len(tsub):,}", "must be all"))
        if not args.no_pool:
            # the other everyday use: a clean-ish training pool against the evaluation benchmarks
            evals = [b for b in eidx.benches if b.bench.name not in ("math_train", "math_test", "math500")]
            pidx = DecontamIndex(ecfg, evals, eidx.vocab)
            embedding_rows(rows, pidx, train, "MATH train vs the eval benchmarks, mostly clean")

    w = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(w)}  {'result':>22}  target / ratio")
    for a, b, c in rows:
        print(f"{a.ljust(w)}  {b:>22}  {c}")


if __name__ == "__main__":
    main()
