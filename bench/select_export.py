"""Benchmark: `select --rule polymath` on the real LIMR pool (8,523 rows) and `export --to verl` of 128
copies, each against a pandas baseline doing the same work, measured in the same run.

Run: /work/venv/bin/python bench/select_export.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
POOL = DATA / "limr" / "math8k_pool_with_lim_scores.jsonl"
DSR = DATA / "one_shot_rlvr" / "dsr_sub.jsonl"


def timed(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def ours_select():  # type: ignore[no-untyped-def]
    from sample_forge.selection import select

    return sorted(r["id"] for r in select("polymath", pool=POOL).rows)


def pandas_select():  # type: ignore[no-untyped-def]
    import pandas as pd

    df = pd.read_json(POOL, lines=True)
    el = df[df.lim_score >= 0.6 - 1e-9].sort_values(["lim_score", "id"])
    return sorted(el.groupby("math_subject").head(1).id)


def ours_export(out: Path):  # type: ignore[no-untyped-def]
    from sample_forge.export import ExportConfig, export

    return export(DSR, out, ExportConfig(to=("verl",), repeat=128, data_source="deepscaler"), ids=["124"])


def pandas_export(out: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    df = pd.read_json(DSR, lines=True)
    r = df[df["index"] == 124].iloc[0]
    row = {
        "data_source": "deepscaler",
        "prompt": [{"content": r.prompt, "role": "user"}],
        "ability": "math",
        "reward_model": {"ground_truth": r.ground_truth, "style": "rule"},
        "extra_info": {"index": 124, "split": "train"},
    }
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([row] * 128).to_parquet(out / "train.parquet")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    if not POOL.exists():
        sys.exit(f"real data not found at {DATA}")
    ours_export(Path(tempfile.mkdtemp()))  # warm imports (math-verify, pyarrow) outside the timing
    pandas_select()
    t_ours, ids_ours = timed(ours_select, a.repeats)
    t_pd, ids_pd = timed(pandas_select, a.repeats)
    assert ids_ours == ids_pd, "ours and the baseline disagree"
    tmp = Path(tempfile.mkdtemp())
    te_ours, _ = timed(lambda: ours_export(tmp / "ours"), a.repeats)
    te_pd, _ = timed(lambda: pandas_export(tmp / "pd"), a.repeats)
    print(f"{'task':44s} {'ours s':>9s} {'pandas s':>9s} {'ours/pandas':>12s}")
    print(f"{'select polymath, LIMR pool (8,523 rows)':44s} {t_ours:9.3f} {t_pd:9.3f} {t_ours / t_pd:12.2f}")
    print(
        f"{'export verl x128 (+ .json, manifest, checks)':44s} {te_ours:9.3f} {te_pd:9.3f} {te_ours / te_pd:12.2f}"
    )
    print(f"(median of {a.repeats}; same 7 ids chosen by both)")


if __name__ == "__main__":
    main()
