"""``sample-forge passrate``: k samples per problem from the model to be trained, checked with
math-verify; ``passrate calibrate``: how far the result agrees with a pilot's scores. A thin layer over
sample_forge.passrate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sample_forge.cli.common import (
    all_failed,
    config_from,
    console,
    domain_errors,
    interval_level_option,
    out_name,
    out_option,
    pool_option,
    quiet_option,
    side_path,
    write_table,
)
from sample_forge.cli.models import LLMOptions, llm_options
from sample_forge.scale.ray_data import ray_option

__all__ = ["passrate"]


class _Bar:
    """A rich bar with problems/s, tokens/s and spend, on a terminal only."""

    def __init__(self, quiet: bool) -> None:
        self.bar: Any = None
        if quiet or not sys.stderr.isatty():
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("passrate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rates]}"),
            TimeElapsedColumn(),
            console=console(),
        )
        self.task = self.bar.add_task("passrate", total=None, rates="")
        self.bar.start()

    def __call__(self, p: Any) -> None:
        if self.bar is None:
            return
        rates = (
            f"{p.problems_per_s:.2f} problems/s, {p.tokens_per_s:.0f} tokens/s, "
            f"{p.calls} calls, ${p.spent_usd:.4f}"
        )
        self.bar.update(self.task, total=p.problems_total, completed=p.problems_done, rates=rates)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_calibration(cal: dict[str, Any], quiet: bool) -> None:
    from rich.table import Table

    con = console(quiet)
    con.print(
        f"calibration: {cal['n']} problems in both tables ({cal['rates_only']} only in the rates, "
        f"{cal['scores_only']} only in the pilot); {cal['n_boot']} bootstrap resamples, "
        f"{cal['level']:.0%} intervals; top {cal['top']} overlap",
        highlight=False,
    )
    t = Table(show_lines=False)
    for col in ("pass-rate score", "pilot score", "spearman", "kendall", f"top-{cal['top']} overlap"):
        t.add_column(col)

    def ci(d: dict[str, Any], key: str) -> str:
        v, lo, hi = d[key], d[f"{key}_lo"], d[f"{key}_hi"]
        return "n/a (constant)" if v is None else f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    for d in cal["pairs"]:
        t.add_row(d["rate"], d["pilot"], ci(d, "spearman"), ci(d, "kendall"), f"{d['top_overlap']}")
    con.print(t)


def _calibrate(rates: Any, scores: Path, out: Path, top: int, n_boot: int, seed: int, quiet: bool) -> None:
    from sample_forge.passrate.calibrate import calibrate

    cal = calibrate(rates, scores, top=top, n_boot=n_boot, seed=seed)
    out.write_text(json.dumps(cal, indent=2) + "\n", encoding="utf-8")
    _print_calibration(cal, quiet)
    console(quiet).print(f"calibration written to {out}", highlight=False)


_calib_options = [
    click.option("--top", type=click.IntRange(min=1), default=10, help="K of the top-K overlap."),
    click.option("--n-boot", type=click.IntRange(min=1), default=1000),
    click.option("--seed", type=int, default=0, help="Seed of the sampling and bootstrap."),
]


def _with(opts: list[Any]) -> Any:
    def deco(fn: Any) -> Any:
        for o in reversed(opts):
            fn = o(fn)
        return fn

    return deco


@click.group("passrate", invoke_without_command=True)
@pool_option(help="Problem pool: a table, 'demo' (the embedded demo pool) or hf:ORG/NAME[:CONFIG][@SPLIT].")
@click.option("-k", "k", type=click.IntRange(min=1), default=16, help="Samples per problem.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0)
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024)
@click.option(
    "--template",
    default="qwen-boxed",
    help="Prompt template: qwen-boxed | orz | none | pilot (the pilot's own one-shot prompt) | FILE "
    "with a {problem} slot.",
)
@click.option("--pass-at", type=click.IntRange(min=1), help="k' of the unbiased pass@k' column (default: k).")
@interval_level_option("level", help="Mass of the Beta(c+1, k-c+1) interval (pass_rate_lo, pass_rate_hi).")
@click.option("--check-timeout", type=click.FloatRange(min=0.1), default=5.0)
@out_option(
    default=Path("rates.jsonl"), path_type=Path, help="Rates table (.jsonl, .json, .parquet or .csv)."
)
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A pilot's scores table (`sample-forge score`): also write <stem>.calibration.json.",
)
@_with(_calib_options)
@llm_options
@ray_option
@quiet_option
@click.pass_context
@domain_errors
def passrate(
    ctx: click.Context,
    pool: str | None,
    k: int,
    temperature: float,
    max_tokens: int,
    template: str,
    pass_at: int | None,
    level: float,
    check_timeout: float,
    out: Path | None,
    against: Path | None,
    top: int,
    n_boot: int,
    seed: int,
    llm: LLMOptions,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Pass rate of every problem of a pool on the model to be trained, before any pilot run.

    Writes one row per problem (pass_rate, its Beta interval, pass_at_k, learnability, mean_tokens,
    unparsed, truncated), keyed by id like `score`'s table, so `select --rule band|top` takes it;
    rows without an answer go to OUT's `.rejects.jsonl`.

    \b
    Examples:
      sample-forge passrate --pool pool.jsonl -m qwen7b -k 16 -o rates.parquet
      sample-forge passrate --pool demo -k 4 --max-tokens 256 -o rates.jsonl --against scores.jsonl
      sample-forge select --pool pool.jsonl --scores rates.parquet --rule band --low 0.2 --high 0.8
      sample-forge passrate calibrate rates.parquet scores.jsonl
    """
    if ctx.invoked_subcommand is not None:
        return
    if pool is None:
        raise click.UsageError("passrate needs --pool (or the `calibrate` subcommand)")
    from sample_forge.answers import AnswerChecker
    from sample_forge.passrate import PassRateConfig, pass_rates, read_pool
    from sample_forge.pool import resolve_pool
    from sample_forge.tables import write_rows

    cfg = config_from(PassRateConfig)
    con = console(quiet)
    with AnswerChecker(timeout=check_timeout) as checker:
        got = read_pool(resolve_pool(pool), checker=checker)
        if got.rejects:
            con.print(f"{len(got.rejects)} pool rows without an answer: not sampled", highlight=False)
        bar = _Bar(quiet)
        try:
            with llm.get_model(ledger=side_path(out, "spent", "rates.jsonl", resumed=True)) as m:
                sampler, rate_checker = m, checker
                if ray_address:  # LLM calls and answer checks on the cluster; cache and budget stay here
                    from sample_forge.scale.answers import RayAnswerChecker
                    from sample_forge.scale.llm import ray_models

                    sampler = ray_models(ray_address, {"m": m})["m"]
                    rate_checker = RayAnswerChecker(timeout=check_timeout)
                res = pass_rates(
                    got.problems,
                    sampler,
                    cfg,
                    checker=rate_checker,
                    progress=bar,
                    failures_path=side_path(out, "failures", "rates.jsonl", resumed=True),
                )
        finally:
            bar.close()
    kinds: dict[str, int] = {}
    for r in res.rejects:  # "llm length: ..." -> "llm length"
        k = str(r.get("reason", "")).split(":")[0]
        kinds[k] = kinds.get(k, 0) + 1
    all_failed("passrate", res.report["problems"], res.report["failed"], kinds, "problems")
    write_table(out, res.rows)
    rejects = got.rejects + res.rejects
    rej_path = side_path(out, "rejects", "rates.jsonl")
    write_rows(rej_path, rejects)
    rep = res.report
    con.print(
        f"passrate: {rep['rows']} problems x k={rep['k']} -> {out_name(out)}; {rep['samples']} samples "
        f"({rep['from_cache']} requests from cache), {rep['correct']} correct, {rep['unparsed']} unparsed, "
        f"{rep['truncated']} truncated; {rep['tokens']} new tokens, ${rep['spent_usd']:.4f}, "
        f"{rep['seconds']:.1f} s; {len(rejects)} rejects -> {rej_path}",
        highlight=False,
        soft_wrap=True,
    )
    if rep["budget_stop"]:
        con.print(f"[yellow]stopped[/]: {rep['budget_stop']}")
    if against is not None:
        calib = Path(side_path(out, "calibration", "rates.jsonl", ".json"))
        _calibrate(res.rows, against, calib, top, n_boot, seed, quiet)


@passrate.command("calibrate")
@click.argument("rates", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scores", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_with(_calib_options)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibration JSON (default: RATES's .calibration.json).",
)
@quiet_option
@domain_errors
def calibrate_cmd(
    rates: Path, scores: Path, top: int, n_boot: int, seed: int, out: Path | None, quiet: bool
) -> None:
    """Spearman and Kendall correlations (bootstrap intervals) and top-K overlap between a pass-rate
    table (RATES) and a pilot's scores (SCORES)."""
    _calibrate(
        rates,
        scores,
        out or Path(side_path(rates, "calibration", "rates.jsonl", ".json")),
        top,
        n_boot,
        seed,
        quiet,
    )
