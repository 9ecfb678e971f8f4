"""``sample-forge select``: choose the training sample(s) with a rule, and say why."""

from __future__ import annotations

import click

from sample_forge.cli.common import (
    by_option,
    console,
    deprecated,
    domain_errors,
    map_option,
    out_name,
    out_option,
    parse_kv_list,
    pool_option,
    quiet_option,
    side_path,
    theta_option,
    to_stdout,
    top_option,
    write_table,
)

__all__ = ["select"]


@click.command("select")
@click.argument("pool_arg", metavar="", required=False, type=click.Path(dir_okay=False))
@pool_option(help="Problem pool: a table or 'demo' (the embedded demo pool); not needed for --rule prime.")
@click.option(
    "--rule",
    type=click.Choice(["polymath", "top", "band", "prime"]),
    default="polymath",
    help="polymath: lowest LIM >= theta per subject; top: highest score; prime: broadest "
    "validated synthetic candidate; band: pass rate in [--low, --high] (`passrate` table as --scores).",
)
@click.option(
    "--scores",
    type=click.Path(exists=True, dir_okay=False),
    help="Scores table (`sample-forge score` output); not needed when the pool has lim_score.",
)
@click.option(
    "--skills", type=click.Path(exists=True, dir_okay=False), help="Skills table (`sample-forge tag`)."
)
@click.option(
    "--candidates",
    type=click.Path(exists=True, dir_okay=False),
    help="Validated candidates (`sample-forge synthesize`), for --rule prime.",
)
@theta_option(default=0.6, help="polymath: keep samples with LIM >= X (LIMR's theta).")
@click.option("--low", type=click.FloatRange(0, 1), default=0.2, help="band: lowest pass rate.")
@click.option("--high", type=click.FloatRange(0, 1), default=0.8, help="band: highest pass rate.")
@click.option(
    "--group-by",
    type=click.Choice(["subject", "category", "none"]),
    default="subject",
    help="polymath: one sample per MATH subject, paper category, or overall.",
)
@by_option(
    ["lim", "hist_var", "learnability", "pass_rate"],
    aliases={"variance": "hist_var"},
    help="top: the score to rank by (hist_var = 1-shot RLVR historical variance, pi_k).",
)
@top_option(default=1, old="--k", help="top/prime: how many samples.")
@click.option("--rank", type=click.IntRange(min=1), help="top: only the sample at this rank (pi_RANK).")
@map_option(old="--columns")
@out_option(default="selection.jsonl", help="Selection table (.jsonl, .json, .parquet or .csv).")
@click.option(
    "--unjoined",
    type=click.Path(dir_okay=False),
    help="Write the rows that failed to join (table, id, line, reason) to this table.",
)
@quiet_option
@domain_errors
def select(
    pool_arg: str | None,
    pool: str | None,
    rule: str,
    scores: str | None,
    skills: str | None,
    candidates: str | None,
    theta: float,
    low: float,
    high: float,
    group_by: str,
    by: str,
    top: int,
    rank: int | None,
    mapping: str | None,
    out: str,
    unjoined: str | None,
    quiet: bool,
) -> None:
    """Choose sample(s) from --pool POOL (joined with --scores and --skills on ids or problem text).

    Prints one reason per chosen sample and the join counts; writes the selection table (Problem
    fields + rule, reason, scores, skills) for `sample-forge export` and the rows that failed to join
    to OUT's `.rejects.jsonl` (or --unjoined).

    \b
    Examples:
      sample-forge select --pool limr/math8k_pool_with_lim_scores.jsonl --rule polymath --theta 0.6
      sample-forge select --pool pool.jsonl --scores scores.jsonl --skills skills.jsonl -o chosen.parquet
      sample-forge select --pool dsr_sub.jsonl --scores scores.jsonl --rule top --by hist_var --rank 1
      sample-forge select --rule prime --candidates candidates.jsonl
    """
    from sample_forge.pool import resolve_pool
    from sample_forge.selection import SelectConfig
    from sample_forge.selection import select as run
    from sample_forge.tables import write_rows

    if pool_arg is not None:
        deprecated("select POOL (positional)", "select --pool POOL")
        if pool is None:
            pool = pool_arg
    kv = parse_kv_list(mapping, option="--map")
    if rule != "prime" and pool is None:
        raise click.UsageError(f"--rule {rule} needs --pool POOL")
    sel = run(
        SelectConfig(
            rule=rule, theta=theta, group_by=group_by, by=by, top=top, rank=rank, low=low, high=high
        ),
        pool=resolve_pool(pool) if pool is not None else None,
        scores=scores,
        skills=skills,
        candidates=candidates,
        columns=kv,
    )
    from sample_forge.join import count_line

    con = console(quiet)
    for table, rep in sel.joins.items():
        con.print(count_line(f"join pool + {table}", rep, "pool", table), highlight=False, soft_wrap=True)
    if sel.joins or unjoined:
        rejects = unjoined or side_path(out, "rejects", "selection.jsonl")
        write_rows(rejects, sel.unjoined)
        con.print(f"{len(sel.unjoined)} unjoined rows -> {rejects}", highlight=False, soft_wrap=True)
    if sel.rejected:
        con.print(f"{len(sel.rejected)} candidates not accepted by validation (skipped)", highlight=False)
    if not sel.rows:
        raise click.ClickException(f"no sample qualifies under rule '{rule}' ({sel.n_pool} read)")
    write_table(out, sel.rows)
    for r in sel.rows:  # the listing never mixes with JSON lines on stdout
        click.echo(f"{r['id']}\t{r.get('subject') or '-'}\t{r['reason']}", err=to_stdout(out))
    con.print(
        f"{len(sel.rows)} chosen of {sel.n_pool}; {len(sel.unjoined)} unjoined; wrote {out_name(out)}",
        highlight=False,
    )
