"""``sample-forge score`` and ``sample-forge simulate-pilot``: thin layers over sample_forge.impact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sample_forge.cli.common import (
    by_option,
    config_from,
    console,
    deprecated,
    domain_errors,
    interval_level_option,
    json_option,
    out_name,
    out_option,
    pool_option,
    quiet_option,
    renamed_option,
    theta_option,
    to_stdout,
    top_option,
    write_table,
)
from sample_forge.impact import formats
from sample_forge.impact.score_report import report_path, write_scores
from sample_forge.impact.score_report import slim_report as _slim

__all__ = ["score", "simulate_pilot"]

_FORMATS = formats.names()  # the registry of log formats, impact/formats/
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
@out_option(default=Path("scores.jsonl"), path_type=Path, help="Scores table (.jsonl/.parquet/.csv).")
@pool_option(help="Join pool fields (on id, else prompt text): a table or 'demo'.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), help="Training steps per epoch (LIMR: 8).")
@click.option(
    "--epoch-by",
    type=click.Choice(["auto", "steps", "pass"]),
    default="auto",
    help="pass: the k-th time a sample is seen is its epoch k (One-Shot-RLVR).",
)
@click.option("--first-step", type=int, help="Step that starts epoch 1 (default: the first logged step).")
@click.option(
    "--missing",
    type=click.Choice(["limr", "chain", "drop", "interpolate", "next"]),
    default="limr",
    help="Missing epochs: limr = LIMR's lim_selection.py (an epoch takes the next one's value if that "
    "was logged; samples still incomplete are dropped); chain = fill whole runs from the next logged "
    "epoch (next: deprecated spelling of chain).",
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
@click.option(
    "--resamples",
    type=click.IntRange(min=0),
    default=1000,
    help="Resamples of every cell's Beta posterior for the error bars (0: none).",
)
@interval_level_option("interval_level", help="Coverage of the lim/hist_var/learnability intervals.")
@click.option("--seed", type=int, default=0, help="Seed of the resampling.")
@click.option(
    "--stability-top",
    type=click.IntRange(min=1),
    default=10,
    help="K of top_share: the share of resamples in which each of the top K stays in the top K.",
)
@click.option(
    "--rollouts-per-epoch",
    type=click.IntRange(min=1),
    help="Logs of accuracies (oneshot): rollouts behind each value (default: what the values' "
    "granularity shows, e.g. multiples of 1/8 -> 8).",
)
@json_option("Print the run report as JSON on stdout.")
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
    resamples: int,
    interval_level: float,
    seed: int,
    stability_top: int,
    rollouts_per_epoch: int | None,
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
    cfg = config_from(ScoreConfig, format=fmt, threshold=_keep_rule(by, theta, threshold))
    res = score_run(trajectory, cfg, pool=Path(resolve_pool(pool)) if pool is not None else None)
    rep = res.report
    if to_stdout(out):
        write_table(out, res.rows)
    else:
        # the table, its metadata (pilot diagnostics and verdict, error-bar settings) and the join's rejects
        write_scores(out, res.rows, rep)
    if rejects is not None:
        write_rows(rejects, _rejects(res))
    if plot is not None:
        from sample_forge.impact.plot import plot_curves

        plot_curves(
            res.matrix,
            [s.id for s in res.scores],
            plot,
            title=f"{trajectory.name}: top/bottom by {by}",
            level=interval_level,
            bands=resamples > 0,
        )
    if as_json:
        click.echo(json.dumps(_slim(rep), ensure_ascii=False))
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
    from rich.cells import cell_len
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from sample_forge.join import normalize_text

    con = console()
    rep = res.report
    con.print(
        f"[bold]score[/]: {rep['format']} log, {rep['files']} files, {rep['records']:,} records, "
        f"{rep['samples_seen']:,} samples seen, {rep['samples_scored']:,} scored, "
        f"{rep['rows_written']:,} rows written{' to ' + escape(out_name(out)) if out else ''}"
    )
    con.print(f"  epochs: {rep['mode']} ({rep['epochs']}); {escape(str(rep['rule']))}")
    if rep["mode"] != "pass":
        con.print(
            f"  missing epochs ({rep['missing_rule']} rule): {rep['missing_cells']} cells; filled {rep['filled_cells']} "
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
    _pilot_lines(con, rep, out)
    if "join" in rep:
        from sample_forge.join import rejects_path

        j = rep["join"]
        con.print(
            f"  pool join: {j['joined']} joined, {j['left_unmatched']} scored samples not in the pool, "
            f"{j['right_unmatched']} pool rows never trained on, {j['ambiguous']} ambiguous"
            + (
                f" (listed in {escape(str(rejects_path(out)))})"
                if j["rejects"] and out and not to_stdout(out)
                else ""
            )
        )
    if not res.scores:
        con.print(
            "  [yellow]no sample has a complete curve[/]: try --missing interpolate, "
            "--epoch-by pass or a larger --steps-per-epoch"
        )
        return
    key = rep["by"]
    hist = _hist([getattr(s, key) for s in res.scores])
    if hist:
        peak = max(c for _, c in hist) or 1
        con.print(f"  {key} histogram:")
        for label, c in hist:
            con.print(f"    {label:>22} {'█' * max(0, round(30 * c / peak)):<30} {c}")
    unc = rep.get("uncertainty", {})
    share = {t["id"]: t["top_share"] for t in unc.get("top", [])}
    band = key in ("lim", "hist_var", "learnability") and bool(unc.get("resamples"))
    table = Table(title=f"top samples by {key}", show_lines=False)
    cols = ["rank", "id", "lim", "hist_var", "learnability", "mean_acc", "first→last"]
    if band:
        cols.append(f"{key} {unc['interval_level']:.0%}")
    if share:
        cols.append(f"in top {unc['top_k']}")
    texts = rep.get("texts", {})
    bounds = {r.get("log_id", r["id"]): r for r in res.rows}
    digits = 3 if key == "hist_var" else 2
    cells: list[tuple[list[str], str]] = []
    for s in res.scores[:10]:
        row = bounds.get(s.id) or {}
        # the pool's problem once joined (the learned template can take the problems' shared first words)
        text = normalize_text(str(row.get("problem") or texts.get(s.id) or "")[:400])
        vals = [
            str(s.rank),
            str(row.get("id", s.id)),  # the pool's id once joined
            f"{s.lim:.3f}",
            f"{s.hist_var:.4f}",
            f"{s.learnability:.3f}",
            f"{s.mean_acc:.2f}",
            f"{s.first_acc:.2f}→{s.last_acc:.2f}",
        ]
        if band:
            lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
            vals.append(f"{lo:.{digits}f}–{hi:.{digits}f}" if lo is not None and hi is not None else "")
        if share:
            vals.append(f"{share[s.id]:.0%}" if s.id in share else "")
        cells.append((vals, text))
    # one line per sample within the terminal's width (measured in cells: CJK counts twice): every
    # number whole, the id and the problem cut with "…". On a narrow terminal the columns least
    # needed go first: the other scores, the stability, the band; the ranking score always stays.
    widths = {c: max(cell_len(c), *(cell_len(v[k]) for v, _ in cells)) for k, c in enumerate(cols)}
    widths["id"] = min(widths["id"], 24)
    ranked = {"first_acc": "first→last", "last_acc": "first→last"}.get(key, key)
    others = [c for c in ("first→last", "mean_acc", "learnability", "hist_var", "lim") if c != ranked]
    extras = [c for c in cols[7:] if c.startswith("in top ")] + [c for c in cols[7:] if c.startswith(key)]

    def room() -> int:
        return con.width - sum(widths.values()) - 3 * len(widths) - 4

    need = 24 if any(text for _, text in cells) else 0
    for drop, id_floor in ((others, 14), (extras, 8)):
        while room() < need and drop:
            widths.pop(drop.pop(0))
        widths["id"] = max(min(widths["id"], id_floor), widths["id"] - max(0, need - room()))
    keep = [k for k, c in enumerate(cols) if c in widths]
    for c in widths:
        table.add_column(c, no_wrap=True, overflow="ellipsis", min_width=widths[c], max_width=widths[c])
    if need:  # an id-keyed log without texts has no prompt column
        table.add_column("problem" if rep.get("join") else "prompt", no_wrap=True, overflow="ellipsis")
    width = max(8, room())
    for vals, text in cells:
        problem = Text(text)
        problem.truncate(width, overflow="ellipsis")
        # Text cells: shown as they are (no markup, so a trailing backslash is not doubled)
        table.add_row(*(Text(vals[k]) for k in keep), *([problem] if need else []))
    con.print(table)


def _pilot_lines(con: Any, rep: dict[str, Any], out: Path | None) -> None:
    """The pilot's diagnostics, its verdict, and the top's stability."""
    from rich.markup import escape

    from sample_forge.impact.uncertainty import pilot_verdict

    p = rep.get("pilot")
    if not p:
        return
    curve = p["mean_curve"]
    con.print(
        f"  pilot: {p['rollouts_per_epoch']:g} rollouts per epoch; mean accuracy "
        f"{curve[0]:.3f} → {curve[-1]:.3f} (rise {p['rise']:+.3f}); never solved "
        f"{p['never_solved']} ({p['never_solved_share']:.0%}), always solved {p['always_solved']} "
        f"({p['always_solved_share']:.0%})"
        if curve and p["rollouts_per_epoch"] is not None
        else f"  pilot: never solved {p['never_solved']}, always solved {p['always_solved']}"
    )
    ok, text = pilot_verdict(rep)
    if not ok:
        con.print(f"  [bold yellow]warning[/]: {escape(text)}")
    unc = rep.get("uncertainty", {})
    if unc.get("resamples"):
        con.print(
            f"  error bars: {unc['interval_level']:.0%} intervals from {unc['resamples']} resamples "
            f"(Beta posterior per cell, seed {unc['seed']}, {unc['seconds']:.1f} s); rollouts: "
            f"{escape(str(unc.get('rollouts')))}"
        )
        top = unc.get("top") or []
        if top:
            t1 = top[0]
            con.print(
                f"  stability by {unc['by']}: rank 1 ({escape(t1['id'])}) stays rank 1 in "
                f"{unc['p_rank1']:.0%} of resamples (π1); "
                + ", ".join(f"{escape(t['id'])} {t['top_share']:.0%}" for t in top[:5])
                + f" stay in the top {unc['top_k']}"
            )
    if out is not None and not to_stdout(out):
        con.print(f"  report: {escape(str(report_path(out)))}")


@click.command("simulate-pilot")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="verl")
@click.option("--samples", type=click.IntRange(min=1), default=64)
@click.option("--epochs", type=click.IntRange(min=1), default=6)
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=4)
@click.option("--rollouts", type=click.IntRange(min=1), default=8)
@click.option("--response-chars", type=click.IntRange(min=1), default=400)
@click.option(
    "--missing-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Chance a sample skips an epoch.",
)
@click.option("--with-ids", is_flag=True, help="Log sample ids (verl index, TRL sample_id).")
@click.option("--seed", type=int, default=0)
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
