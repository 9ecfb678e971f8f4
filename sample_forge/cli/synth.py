"""``sample-forge synthesize`` and ``sample-forge decontam``: thin click layers over sample_forge.synth."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

import click

from sample_forge.cli.common import (
    StageLines,
    all_failed,
    config_from,
    console,
    domain_errors,
    json_option,
    out_name,
    out_option,
    quiet_option,
    retry_failed_option,
    side_path,
    to_stdout,
    write_table,
)
from sample_forge.cli.models import LLMOptions, cache_options
from sample_forge.errors import InputError
from sample_forge.scale.ray_data import ray_option

__all__ = ["synthesize", "decontam"]


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (value or "").split(",") if x.strip())


def _band(value: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"expected lo,hi (e.g. 0.2,0.8), got '{value}'", param_hint="--pass-band"
        ) from None
    return lo, hi


def _decontam_options(fn: Any) -> Any:
    opts = [
        click.option(
            "--bench-root",
            type=click.Path(file_okay=False),
            default=None,
            help="Folder where built-in benchmark names are found (e.g. ../shared/data); "
            "or set SAMPLE_FORGE_BENCH_ROOT.",
        ),
        click.option(
            "--bench-config",
            type=click.Path(dir_okay=False),
            default=None,
            help="TOML file registering benchmarks by path or hf id.",
        ),
        click.option("--ngram", type=click.IntRange(8, 13), default=8, help="Word n-gram size."),
        click.option(
            "--ngram-threshold",
            type=float,
            default=0.5,
            help="Share of n-grams in common with one benchmark item that flags it.",
        ),
        click.option(
            "--cosine",
            type=float,
            default=0.83,
            help="MiniLM cosine that flags a paraphrase.",
        ),
        click.option("--no-embed", is_flag=True, help="N-grams only (no embedding model)."),
        click.option(
            "--exact-cosine",
            is_flag=True,
            help="Embed every text with the float MiniLM (no int8 screen): every cosine exact, "
            "same flags, slower.",
        ),
    ]
    names = [f.name for f in fields(_Decontam)]

    @functools.wraps(fn)
    def with_decontam(*args: Any, **kwargs: Any) -> Any:
        decontam = _Decontam(**{n: kwargs.pop(n) for n in names})
        return fn(*args, decontam=decontam, **kwargs)

    for o in reversed(opts):
        with_decontam = o(with_decontam)
    return with_decontam


@dataclass(frozen=True)
class _Decontam:
    """The options of ``_decontam_options``, given to the command as one ``decontam`` argument."""

    bench_root: str | None
    bench_config: str | None
    ngram: int
    ngram_threshold: float
    cosine: float
    no_embed: bool
    exact_cosine: bool

    def index(self, against: tuple[str, ...]) -> Any:
        from sample_forge.synth.decontam import (
            DecontamConfig,
            DecontamIndex,
            load_benchmark,
            resolve_benchmarks,
        )

        specs = resolve_benchmarks(against, root=self.bench_root, config=self.bench_config)
        cfg = DecontamConfig(
            ngram=self.ngram,
            ngram_threshold=self.ngram_threshold,
            cosine_threshold=self.cosine,
            use_embeddings=not self.no_embed,
            screen=not self.exact_cosine,
        )
        return DecontamIndex.build([load_benchmark(s) for s in specs], cfg)


@click.command("synthesize")
@click.option(
    "--skills",
    required=True,
    help="Comma-separated catalog skills or categories (see `sample-forge skills`).",
)
@click.option("--n", "n", type=click.IntRange(1), default=8, help="Candidates to generate.")
@click.option(
    "--generators",
    default="default",
    help="Comma-separated model names, rotated over candidates ('default': env or config default).",
)
@click.option("--style", type=click.Choice(["prime", "specialist", "math-only"]), default="prime")
@click.option("--domain", default="physics", help="Science domain of --style specialist.")
@click.option("--solvers", default="default", help="Comma-separated solver model names.")
@click.option("-k", "--k", "k", type=click.IntRange(1), default=4, help="Samples per solver model.")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=0.6)
@click.option("--target-model", default=None, help="Model to be trained: enables the learnability check.")
@click.option("--target-k", type=click.IntRange(1), default=8)
@click.option("--pass-band", default="0.2,0.8", help="lo,hi pass rate of --target-model.")
@click.option(
    "--answer",
    type=click.Choice(["integer", "any"]),
    default="integer",
    help="integer: 1..1000; any: anything math-verify parses.",
)
@click.option(
    "--against",
    multiple=True,
    help="Benchmarks to decontaminate against (names, files, hf:ORG/NAME[:CONFIG][@SPLIT], 'all').",
)
@_decontam_options
@click.option("--tag-method", type=click.Choice(["embed", "llm"]), default="embed")
@click.option("--tag-model", default=None, help="Model for --tag-method llm.")
@click.option("--no-skills-check", is_flag=True, help="Do not tag the accepted candidates.")
@click.option("--max-tokens", type=click.IntRange(16), default=1024, help="Generation max tokens.")
@click.option("--solve-max-tokens", type=click.IntRange(16), default=2048)
@out_option(default="candidates.jsonl", help="Accepted candidates (JSONL/Parquet).")
@click.option(
    "--rejects", type=click.Path(dir_okay=False), default=None, help="Rejected candidates with reasons."
)
@click.option("--prime", is_flag=True, help="Pick the accepted candidate with the broadest skill spectrum.")
@cache_options
@retry_failed_option
@json_option("Print the summary as JSON on stdout.")
@ray_option
@quiet_option
@domain_errors
def synthesize(
    skills: str,
    n: int,
    generators: str,
    style: str,
    domain: str,
    solvers: str,
    k: int,
    min_agreement: float,
    target_model: str | None,
    target_k: int,
    pass_band: str,
    answer: str,
    against: tuple[str, ...],
    decontam: _Decontam,
    tag_method: str,
    tag_model: str | None,
    no_skills_check: bool,
    max_tokens: int,
    solve_max_tokens: int,
    out: str,
    rejects: str | None,
    prime: bool,
    llm: LLMOptions,
    retry_failed: bool,
    as_json: bool,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Write new problems with generator LLMs and validate them (form, decontamination, near-duplicates,
    joint solving, learnability, skills). Re-running the same command pays nothing for finished calls.

    \b
    Example:
      sample-forge synthesize --skills algebra,logic --n 8 --generators m1,m2 --solvers m1,m2 --k 4 \\
          --min-agreement 0.6 --against all --bench-root ../shared/data \\
          -o cands.jsonl --rejects rejects.jsonl --prime --budget-usd 5
    """
    import orjson

    from sample_forge.selection.prime import mark_prime
    from sample_forge.skills import resolve_skills
    from sample_forge.synth.pipeline import SynthConfig, summary_rows, write_outputs
    from sample_forge.synth.pipeline import synthesize as run_synth

    con = console(quiet)
    skill_list = resolve_skills(_csv(skills), on_alias=lambda m: con.print(m, markup=False, highlight=False))
    cfg = config_from(
        SynthConfig,
        skills=tuple(skill_list),
        generators=_csv(generators),
        solvers=_csv(solvers),
        pass_band=_band(pass_band),
        gen_max_tokens=max_tokens,
        check_skills=not no_skills_check,
        budget_ledger=side_path(out, "spent", "candidates.jsonl", resumed=True),
        cache=llm.cache,
        ray=ray_address,
    )
    index = decontam.index(against) if against else None
    lines = StageLines(quiet)
    lines.start(f"synthesize {n} candidates")
    try:
        run = run_synth(cfg, index=index, log=lambda m: con.print(m, markup=False, highlight=False))
    finally:
        lines.end()
    why = None
    if prime:
        _, why = mark_prime(run.candidates)
    if to_stdout(out):
        _write_stdout(run, out, rejects)
    else:
        write_outputs(run, out, rejects)
    # a candidate rejected for its content is an outcome; one that never became a problem is a failure
    failed = [
        c
        for c in run.candidates
        if c.checks and c.checks[-1].check in ("generate", "parse") and not c.checks[-1].keep
    ]
    if as_json:
        click.echo(orjson.dumps({**run.summary, "prime": why}).decode())
    elif not quiet:
        from rich.table import Table

        t = Table(title="synthesis")
        t.add_column("")
        t.add_column("count", justify="right")
        for label, value in summary_rows(run.summary):
            t.add_row(label, value)
        con.print(t)
        if why:
            con.print(f"prime: {why}")
        con.print(f"accepted -> {out_name(out)}" + (f"; rejected -> {rejects}" if rejects else ""))
    # after the summary, so a run that failed throughout still shows what it paid and why
    all_failed("synthesize", len(run.candidates), len(failed), run.summary["rejected"], "candidates")


def _write_stdout(run: Any, out: str, rejects: str | None) -> None:
    """``-o -``: accepted candidates as JSON lines on stdout, the rejects (if asked) to their file."""
    from sample_forge.synth.pipeline import _row
    from sample_forge.tables import table_format, write_rows

    write_table(out, (_row(c) for c in run.accepted))
    if rejects is not None:
        write_rows(rejects, (_row(c, table_format(rejects)) for c in run.rejected))


@click.command("decontam")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--against",
    multiple=True,
    required=True,
    help="Benchmarks: built-in names (aime24, math500, ... or 'all'), files, hf:ORG/NAME[:CONFIG][@SPLIT] "
    "(split: test unless given).",
)
@click.option("--field", "text_field", default=None, help="Problem text column (auto-detected).")
@_decontam_options
@out_option(default="flagged.jsonl", help="Rows + one flag column per benchmark.")
@click.option("--flagged-only", is_flag=True, help="Write only the flagged rows.")
@ray_option
@quiet_option
@domain_errors
def decontam(
    file: str,
    against: tuple[str, ...],
    text_field: str | None,
    decontam: _Decontam,
    out: str,
    flagged_only: bool,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Flag problems that overlap benchmark problems (word n-grams and MiniLM cosine), one column
    ``contaminated_<benchmark>`` per benchmark plus the closest match.

    \b
    Example:
      sample-forge decontam ../shared/data/math/math_train.jsonl --against math500,aime24,aime25 \\
          --bench-root ../shared/data -o flagged.jsonl
    """
    from sample_forge.synth.decontam import closest_match, problem_texts
    from sample_forge.tables import iter_rows

    con = console(quiet)
    rows = list(iter_rows(file))
    if not rows:
        raise InputError("no rows", path=file)
    _, texts = problem_texts(rows, file, text_field, need_text=True)
    index = decontam.index(against)
    if ray_address:
        from sample_forge.scale.embeddings import check_on_ray
        from sample_forge.scale.ray_data import connect

        connect(None if ray_address == "local" else ray_address)
        results = check_on_ray(index, texts)
    else:
        results = index.check(texts)
    counts = dict.fromkeys(index.names, 0)
    out_rows = []
    for r, matches in zip(rows, results):
        row = dict(r)
        for m in matches:
            row[f"contaminated_{m.benchmark}"] = m.flagged
            counts[m.benchmark] += int(m.flagged)
        best = closest_match(matches)
        row["contaminated"] = any(m.flagged for m in matches)
        row["closest_benchmark"] = best.benchmark if best else None
        row["closest_id"] = best.closest_id if best else None
        row["closest_text"] = best.closest_text if best else None
        row["closest_ngram_overlap"] = best.ngram_overlap if best else None
        row["closest_cosine"] = best.cosine if best else None
        if row["contaminated"] or not flagged_only:
            out_rows.append(row)
    write_table(out, out_rows)
    if not quiet:
        from rich.table import Table

        t = Table(title=f"decontamination of {len(rows)} problems")
        t.add_column("benchmark")
        t.add_column("flagged", justify="right")
        for name, c in counts.items():
            t.add_row(name, str(c))
        t.add_row("any", str(sum(1 for r in results if any(m.flagged for m in r))))
        con.print(t)
        con.print(f"-> {out_name(out)}")
