"""``sample-forge pool``: load a problem pool into a table."""

from __future__ import annotations

import click

from sample_forge.cli.common import (
    console,
    domain_errors,
    map_option,
    out_name,
    out_option,
    parse_kv_list,
    progress,
    quiet_option,
    to_stdout,
    write_table,
)

__all__ = ["pool"]


@click.command("pool")
@click.option(
    "--source",
    "-s",
    required=True,
    help="hf:ORG/NAME[:CONFIG][@SPLIT] (e.g. hf:EleutherAI/hendrycks_math, "
    "hf:HuggingFaceH4/MATH-500@test), 'demo' (the embedded demo pool) or a local "
    ".jsonl/.json/.parquet/.csv file.",
)
@out_option(default="pool.jsonl", help="Output table (.parquet, .jsonl or .csv).")
@map_option(
    help="Map our column names onto the table's, e.g. problem=prompt,answer=ground_truth,id=index "
    "(dotted paths reach nested columns: answer=reward_model.ground_truth)."
)
@click.option(
    "--subjects",
    default=None,
    metavar="NAMES",
    help="Comma-separated MATH subjects or paper categories (e.g. 'Geometry,Probability').",
)
@click.option(
    "--levels",
    default=None,
    metavar="LEVELS",
    help="Comma-separated levels or ranges, '?' for unknown (e.g. '3-5' or '1,2,?').",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="Keep at most this many problems (the first ones, or a random sample with --seed).",
)
@click.option("--seed", type=int, default=None, help="Shuffle with this seed before --limit.")
@quiet_option
@domain_errors
def pool(
    source: str,
    out: str,
    mapping: str | None,
    subjects: str | None,
    levels: str | None,
    limit: int | None,
    seed: int | None,
    quiet: bool,
) -> None:
    """Load a problem pool (Hugging Face dataset or local table) and write it to OUT.

    The gold answer is the answer column if there is one, else the content of the last
    \\boxed{} of the solution. Problems without an answer are kept and counted. A summary
    (rows per subject and level) goes to stderr.

    \b
    Examples:
      sample-forge pool --source hf:EleutherAI/hendrycks_math --out pool.parquet
      sample-forge pool --source demo -o demo.jsonl
      sample-forge pool --source math_train.jsonl --out pool.parquet --subjects Geometry --levels 3-5
      sample-forge pool --source verl.parquet --map problem=prompt,answer=reward_model.ground_truth --out p.jsonl
    """
    from sample_forge.pool import PoolStats, iter_pool, load_pool
    from sample_forge.tables import table_format

    if not to_stdout(out):  # a bad --out ending fails before any loading
        table_format(out)
    kv = parse_kv_list(mapping, option="--map")
    stats = PoolStats()
    if seed is None:
        problems = list(
            progress(
                iter_pool(source, mapping=kv, subjects=subjects, levels=levels, limit=limit, stats=stats),
                total=limit,
                description="loading",
                quiet=quiet,
            )
        )
    else:
        problems = load_pool(
            source, mapping=kv, subjects=subjects, levels=levels, limit=limit, seed=seed, stats=stats
        )
    n = write_table(out, (p.to_dict() for p in problems))
    if not quiet:
        _summary(stats, out_name(out), n)


def _summary(stats, out: str, n: int) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from sample_forge.subjects import SUBJECTS, category_of

    con = console()
    levels = sorted({lv for (_, lv) in stats.by_subject_level}, key=lambda v: (v is None, v or 0))
    subjects = [s for s in SUBJECTS if stats.by_subject.get(s)]
    if stats.by_subject.get(None):
        subjects.append(None)
    table = Table(title=f"{n} problems -> {out}")
    table.add_column("subject", no_wrap=True)
    table.add_column("category", no_wrap=True)
    for lv in levels:
        table.add_column(f"L{lv}" if lv is not None else "L?", justify="right")
    table.add_column("total", justify="right", style="bold")
    for s in subjects:
        row = [s or "(unknown)", category_of(s) or "-"]
        row += [str(stats.by_subject_level.get((s, lv), 0)) for lv in levels]
        row.append(str(stats.by_subject.get(s, 0)))
        table.add_row(*row)
    table.add_row("total", "", *[str(stats.by_level.get(lv, 0)) for lv in levels], str(n), style="bold")
    con.print(table)
    for line in stats.lines():
        con.print(line, markup=False, highlight=False)
    if n == 0:
        con.print("[yellow]warning:[/] no problems left; check --subjects/--levels/--limit")
