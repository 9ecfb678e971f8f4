"""Offline skill tagging throughput: the embedding tagger (batched MiniLM, 128 tokens, catalog
embedded once) vs a per-problem unbatched encode, on real MATH problems; and canonicalization of
free-text skills (batched, de-duplicated) vs encoding each skill on its own.

    python bench/bench_tag.py [--n 2000] [--baseline-n 100] [--skills 10000] [--pool PATH]

Not run by pytest. The baseline runs on a subset (it is slow); rates are per second either way.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_POOL = REPO.parent / "shared" / "data" / "math" / "math_train.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", default=str(DEFAULT_POOL))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--baseline-n", type=int, default=100)
    ap.add_argument("--skills", type=int, default=10000)
    ap.add_argument("--baseline-skills", type=int, default=300)
    args = ap.parse_args()

    from sample_forge.embed import Embedder
    from sample_forge.pool import load_pool
    from sample_forge.skills import Canonicalizer, EmbedTagger, load_catalog
    from sample_forge.skills.embed_tagger import problem_text

    problems = load_pool(args.pool, limit=args.n, seed=0)
    catalog = load_catalog()
    t0 = time.perf_counter()
    tagger = EmbedTagger(catalog)  # embeds (or reads the cached) catalog
    tagger.embed_problems(problems[:1])  # loads MiniLM: setup, not throughput
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    tags = tagger.tag(problems)
    fast_s = time.perf_counter() - t0
    fast_rate = len(problems) / fast_s

    # baseline: one sentence-transformers (torch) encode call per problem, full 256-token input, catalog
    # re-used: what a straightforward implementation does
    model = Embedder()
    sub = problems[: args.baseline_n]
    cat_vecs = catalog.embeddings()
    t0 = time.perf_counter()
    for p in sub:
        v = model.encode([problem_text(p)], batch_size=1)
        _ = v @ cat_vecs.T
    base_s = time.perf_counter() - t0
    base_rate = len(sub) / base_s

    # canonicalization: free-text skills as an LLM writes them (paraphrases of catalog names,
    # many repeats, some off-catalog text)
    rng = random.Random(0)
    forms = [
        "{}",
        "applying {}",
        "understanding {}",
        "{} (basic)",
        "knowledge of {}",
        "{} computation",
        "using {} to simplify",
        "the concept of {}",
    ]
    junk = [
        "reading comprehension",
        "careful checking",
        "pattern spotting",
        "estimation",
        "drawing a diagram",
        "guess and check",
    ]
    math_cats = ["Algebra", "Geometry", "Number Theory", "Probability", "Precalculus"]
    texts, cats = [], []
    for _ in range(args.skills):
        # as from the LLM method: a skill asked for in its own category (cross-domain: any category)
        skill = rng.choice(catalog.skills)
        base = skill.name if rng.random() < 0.85 else rng.choice(junk)
        texts.append(rng.choice(forms).format(base.lower() if rng.random() < 0.5 else base))
        cats.append(skill.group if skill.group in math_cats else rng.choice(math_cats))
    canon = Canonicalizer(catalog)
    t0 = time.perf_counter()
    by_cat: dict[str, list[str]] = {}
    for c, t in zip(cats, texts):
        by_cat.setdefault(c, []).append(t)
    mapped = sum(sum(m is not None for m in canon.map(ts, c)) for c, ts in by_cat.items())
    canon_s = time.perf_counter() - t0
    canon_rate = len(texts) / canon_s
    t0 = time.perf_counter()
    for t in texts[: args.baseline_skills]:
        v = model.encode([t], batch_size=1)
        _ = int(np.argmax(v @ cat_vecs.T))
    cbase_rate = args.baseline_skills / (time.perf_counter() - t0)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"pool: {args.pool} ({len(problems)} problems), CPU cores {os.cpu_count()}, "
        f"load average {load:.1f}, setup {setup_s:.1f} s"
    )
    print(f"{'task':44s} {'items':>7s} {'seconds':>9s} {'items/s':>9s}")
    print(f"{'embed tagger (batched, 128 tok)':44s} {len(problems):7d} {fast_s:9.1f} {fast_rate:9.1f}")
    print(
        f"{'baseline: per-problem torch encode (256 tok)':44s} {len(sub):7d} {base_s:9.1f} {base_rate:9.1f}"
    )
    print(f"{'canonicalize free-text skills (batched)':44s} {len(texts):7d} {canon_s:9.1f} {canon_rate:9.1f}")
    print(
        f"{'baseline: per-skill torch encode':44s} {args.baseline_skills:7d} "
        f"{args.baseline_skills / cbase_rate:9.1f} {cbase_rate:9.1f}"
    )
    print(f"speed-up tagger {fast_rate / base_rate:.1f}x; canonicalization {canon_rate / cbase_rate:.1f}x")
    print(
        f"projected 12,500 problems: {12500 / fast_rate / 60:.1f} min (baseline "
        f"{12500 / base_rate / 60:.1f} min); target >= 100 problems/s: "
        f"{'met' if fast_rate >= 100 else 'NOT met'} at this load"
    )
    print(
        f"mapped {mapped}/{len(texts)} free-text skills; mean skills per problem "
        f"{np.mean([t.total for t in tags]):.2f}"
    )


if __name__ == "__main__":
    main()
