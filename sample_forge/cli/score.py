"""``sample-forge score`` and ``sample-forge simulate-pilot``: thin layers over sample_forge.impact."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sample_forge.cli.common import (
    by_option,
    console,
    deprecated,
    domain_errors,
    out_option,
    pool_option,
    quiet_option,
    renamed_option,
    theta_option,
    top_option,
)

__all__ = ["score", "simulate_pilot"]

_FORMATS = ("verl", "trl", "openrlhf", "oneshot", "native")
_RANK = ("lim", "hist_var", "learnability", "mean_acc", "first_acc", "last_acc", "n_epochs")


def _default_trajectory() -> Path | None:
    from sample_forge.paths import resource_path

    try:
        return resource_path("data/demo/pilot")
    except FileNotFoundError:
        return None


@click.command("score")
@click.option(
    "--trajectory",
    "-t",
    type=click.Path(path_type=Path),
    help="Pilot run directory or file (default: the embedded demo run).",
)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), help="Force the log format (default: detect).")
@out_option(path_type=Path, help="Scores table (.jsonl/.parquet/.csv); default: JSONL on stdout.")
@pool_option(help="Join pool fields (on id, else prompt text): a table or 'demo'.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), help="Training steps per epoch (LIMR: 8).")
@click.option(
    "--epoch-by",
    type=click.Choice(["auto", "steps", "pass"]),
    default="auto",
    show_default=True,
    help="pass: the k-th time a sample is seen is its epoch k (One-Shot-RLVR).",
)
@click.option("--first-step", type=int, help="Step that starts epoch 1 (default: the first logged step).")
@click.option(
    "--missing",
    type=click.Choice(["next", "drop", "interpolate"]),
    default="next",
    show_default=True,
    help="Missing epochs: next = LIMR (fill from the next epoch, drop samples still incomplete).",
)
@click.option("--correct", help="Rule for a correct rollout, e.g. 'reward==1' (default per format).")
@click.option("--reward-column", help="TRL: the reward column that means correctness.")
@by_option(_RANK, help="The score to rank by.")
@renamed_option("--by", "by", "--rank-by", type=click.Choice(_RANK))
@click.option("--ascending", is_flag=True, help="Rank lowest first.")
@theta_option(help="Keep samples whose --by score is >= X (e.g. --by lim --theta 0.6).")
@click.option("--threshold", hidden=True, default=None)
@top_option(help="Keep the N best rows.")
@click.option("--plot", type=click.Path(path_type=Path), help="Write curves.png (mean + top/bottom samples).")
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    help="JSONL of what was left out: dropped samples, unjoined samples, skipped lines.",
)
@click.option("--skip-bad-lines", is_flag=True, help="Count and skip malformed lines instead of failing.")
@click.option("--workers", type=click.IntRange(min=1), help="Reader processes for large verl runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON on stdout.")
@quiet_option
@domain_errors
def score(
    trajectory: Path | None,
    fmt: str | None,
    out: Path | None,
    pool: str | None,
    steps_per_epoch: int | None,
    epoch_by: str,
    first_step: int | None,
    missing: str,
    correct: str | None,
    reward_column: str | None,
    by: str,
    ascending: bool,
    theta: float | None,
    threshold: str | None,
    top: int | None,
    plot: Path | None,
    rejects: Path | None,
    skip_bad_lines: bool,
    workers: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Rank the training samples of a pilot RL run by learning impact (LIM, historical variance,
    learnability).

    \b
    Example:
      sample-forge score -t runs/pilot --steps-per-epoch 8 --pool pool.jsonl \\
          --by lim --theta 0.6 -o scores.parquet --plot curves.png
      sample-forge score -t acc_step_500.json --by hist_var --top 20
    """
    from sample_forge.errors import SampleForgeError
    from sample_forge.impact.run import ScoreConfig, score_run
    from sample_forge.pool import resolve_pool
    from sample_forge.tables import write_rows

    if trajectory is None:
        trajectory = _default_trajectory()
        if trajectory is None:
            raise SampleForgeError("no --trajectory given and no embedded demo run found")
    cfg = ScoreConfig(
        format=fmt,
        steps_per_epoch=steps_per_epoch,
        epoch_by=epoch_by,
        first_step=first_step,
        missing=missing,
        correct=correct,
        rank_by=by,
        ascending=ascending,
        threshold=_keep_rule(by, theta, threshold),
        top=top,
        skip_bad_lines=skip_bad_lines,
        workers=workers,
        reward_column=reward_column,
    )
    res = score_run(trajectory, cfg, pool=Path(resolve_pool(pool)) if pool is not None else None)
    rep = res.report
    if out is not None:
        write_rows(out, res.rows)
        unjoined = rep.get("join", {}).get("unjoined") or []
        if unjoined:
            write_rows(out.with_name(out.stem + ".unjoined.jsonl"), unjoined)
    elif not as_json:
        for row in res.rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    if rejects is not None:
        write_rows(rejects, _rejects(res))
    if plot is not None:
        from sample_forge.impact.plot import plot_curves

        plot_curves(
            res.matrix, [s.id for s in res.scores], plot, title=f"{trajectory.name}: top/bottom by {by}"
        )
    if as_json:
        slim = {k: v for k, v in rep.items() if k != "texts"}
        if "join" in slim:
            slim["join"] = {"joined": slim["join"]["joined"], "unjoined": len(slim["join"]["unjoined"])}
        click.echo(json.dumps(slim, ensure_ascii=False))
    if not quiet:
        _summary(res, out)


def _keep_rule(by: str, theta: float | None, threshold: str | None) -> str | None:
    """``--theta X`` is the rule ``<by> >= X``; ``--threshold EXPR`` (deprecated) is a rule as given."""
    if threshold is None:
        return None if theta is None else f"{by}>={theta!r}"
    deprecated("--threshold EXPR", "--by SCORE --theta X")
    if theta is not None:
        raise click.UsageError("give --theta or the deprecated --threshold, not both")
    return threshold


def _rejects(res: Any) -> list[dict[str, Any]]:
    rep = res.report
    out: list[dict[str, Any]] = [
        {"id": sid, "reason": "incomplete epochs", "detail": rep.get("rule")} for sid in res.matrix.dropped
    ]
    out += [
        {"id": u["id"], "reason": "not in pool", "detail": u.get("prompt")}
        for u in rep.get("join", {}).get("unjoined", [])
    ]
    out += [{"id": None, "reason": "truncated last line", "detail": t} for t in rep["truncated_lines"]]
    out += [{"id": None, "reason": "malformed line", "detail": b} for b in res.bad_lines]
    return out


def _hist(values: list[float], bins: int = 10) -> list[tuple[str, int]]:
    import numpy as np

    v = np.asarray([x for x in values if x == x], dtype=float)
    if not len(v):
        return []
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        return [(f"{lo:.3g}", len(v))]
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return [(f"[{edges[i]:.3g}, {edges[i + 1]:.3g})", int(c)) for i, c in enumerate(counts)]


def _summary(res: Any, out: Path | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    con = console()
    rep = res.report
    con.print(
        f"[bold]score[/]: {rep['format']} log, {rep['files']} files, {rep['records']:,} records, "
        f"{rep['samples_seen']:,} samples seen, {rep['samples_scored']:,} scored, "
        f"{rep['rows_written']:,} rows written{' to ' + escape(str(out)) if out else ''}"
    )
    con.print(f"  epochs: {rep['mode']} ({rep['epochs']}); {escape(str(rep['rule']))}")
    if rep["mode"] != "pass":
        con.print(
            f"  missing epochs: {rep['missing_cells']} cells; filled {rep['filled_cells']} "
            f"epochs of {rep['filled_samples']} samples; dropped {rep['dropped_samples']} samples"
        )
    con.print(f"  {rep['correct']}; keyed by {rep['keyed_by']}")
    for t in rep["truncated_lines"]:
        con.print(f"  [yellow]truncated last line skipped[/]: {escape(t)}")
    if rep["bad_lines_skipped"]:
        con.print(
            f"  [yellow]{rep['bad_lines_skipped']} malformed lines skipped[/] "
            f"(first: {escape(rep['bad_lines'][0])})"
        )
    for n in rep["notes"]:
        con.print(f"  note: {escape(n)}")
    if "join" in rep:
        un = rep["join"]["unjoined"]
        con.print(
            f"  pool join: {rep['join']['joined']} joined, {len(un)} not joined"
            + (
                f" (listed in {escape(str(out.with_name(out.stem + '.unjoined.jsonl')))})"
                if un and out
                else ""
            )
        )
        for u in un[:5]:
            con.print(f"    not in pool: {escape(str(u['id']))} {escape((u['prompt'] or '')[:70])}")
    if not res.scores:
        con.print(
            "  [yellow]no sample has a complete curve[/]: try --missing interpolate, "
            "--epoch-by pass or a larger --steps-per-epoch"
        )
        return
    key = rep["rank_by"]
    hist = _hist([getattr(s, key) for s in res.scores])
    if hist:
        peak = max(c for _, c in hist) or 1
        con.print(f"  {key} histogram:")
        for label, c in hist:
            con.print(f"    {label:>22} {'█' * max(0, round(30 * c / peak)):<30} {c}")
    table = Table(title=f"top samples by {key}", show_lines=False)
    for col in ("rank", "id", "lim", "hist_var", "learnability", "mean_acc", "first→last", "prompt"):
        table.add_column(col)
    texts = rep.get("texts", {})
    for s in res.scores[:10]:
        text = (texts.get(s.id) or "")[:50]
        table.add_row(
            str(s.rank),
            escape(s.id),
            f"{s.lim:.3f}",
            f"{s.hist_var:.4f}",
            f"{s.learnability:.3f}",
            f"{s.mean_acc:.2f}",
            f"{s.first_acc:.2f}→{s.last_acc:.2f}",
            escape(text),
        )
    con.print(table)


@click.command("simulate-pilot")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="verl", show_default=True)
@click.option("--samples", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--rollouts", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--response-chars", type=click.IntRange(min=1), default=400, show_default=True)
@click.option(
    "--missing-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Chance a sample skips an epoch.",
)
@click.option("--with-ids", is_flag=True, help="Log sample ids (verl index, TRL sample_id).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Run directory to write.")
@quiet_option
@domain_errors
def simulate_pilot(
    fmt: str,
    samples: int,
    epochs: int,
    steps_per_epoch: int,
    rollouts: int,
    response_chars: int,
    missing_rate: float,
    with_ids: bool,
    seed: int,
    out: Path,
    quiet: bool,
) -> None:
    """Write a realistic simulated pilot run (logistic learning curves, binary rewards) in a
    trainer's exact log layout, plus its pool.jsonl.

    \b
    Example:
      sample-forge simulate-pilot --format verl --samples 200 --epochs 8 --steps-per-epoch 8 -o runs/sim
      sample-forge score -t runs/sim --steps-per-epoch 8 --pool runs/sim/pool.jsonl
    """
    from sample_forge.impact.simulate import SimConfig, simulate_run

    cfg = SimConfig(
        samples=samples,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        rollouts=rollouts,
        response_chars=response_chars,
        seed=seed,
        missing_rate=missing_rate,
        with_ids=with_ids,
    )
    info = simulate_run(fmt, out, cfg)
    if not quiet:
        console().print(
            f"wrote a simulated {fmt} run: {info['samples']} samples × {info['epochs']} "
            f"epochs × {steps_per_epoch} steps/epoch, {info['records']:,} records, "
            f"{info['bytes']:,} bytes, {info['missing']} missing (sample, epoch) → {out}"
        )
