"""``sample-forge tag`` (tag a pool's salient skills; ``tag calibrate``) and ``sample-forge skills``
(list the catalog; ``skills discover``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sample_forge.cli.common import (
    StageLines,
    all_failed,
    console,
    deprecated,
    domain_errors,
    json_option,
    llm_summary_by_cli,
    out_name,
    out_option,
    pool_option,
    progress,
    quiet_option,
    retry_failed_option,
    side_path,
    write_table,
)
from sample_forge.cli.models import LLMOptions, llm_options
from sample_forge.scale.ray_data import ray_option

__all__ = ["tag", "skills"]


class _PoolOrSubcommand(click.Group):
    """``tag --pool POOL ...`` runs the hidden ``run`` command; ``tag calibrate ...`` the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_PoolOrSubcommand)
def tag() -> None:
    """Tag the salient math skills of each problem of a pool (Polymath paper).

    \b
      sample-forge tag --pool POOL -o tags.jsonl [--method llm|embed] [-m NAME]
                       [--explain ID] [--plot spectrum.png]     (options: tag run --help)
      sample-forge tag calibrate LLM_TAGS --pool POOL -o thresholds.json

    \b
    Examples:
      sample-forge tag --pool demo -o tags.jsonl --method embed --plot spectrum.png
      sample-forge tag --pool pool.jsonl -o tags.jsonl --method llm -m local --max-tokens 256
    """


@tag.command("run", hidden=True)
@click.argument("pool_arg", metavar="", required=False)
@pool_option(help="Problem pool: a table, 'demo' (the embedded demo pool) or hf:ORG/NAME[:CONFIG][@SPLIT].")
@out_option(default="tags.jsonl", help="Skills table (.jsonl/.parquet/.csv), keyed by id.")
@click.option(
    "--method",
    type=click.Choice(["llm", "embed"]),
    default=None,
    help="llm: the paper's prompt, one call per category (default when a model is "
    "configured); embed: offline embedding tagger.",
)
@llm_options
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Skill catalog YAML (default: the shipped data/skills.yaml).",
)
@click.option(
    "--thresholds",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Embed thresholds JSON from `tag calibrate` (default: shipped).",
)
@click.option("--top-k", type=int, default=3, help="Embed: skills per category.")
@click.option("--max-tokens", type=int, default=256, help="LLM: tokens per answer.")
@click.option("--limit", type=int, default=None, help="Only the first N problems.")
@click.option(
    "--failures",
    type=click.Path(dir_okay=False),
    default=None,
    help="LLM call failures as JSONL (default: OUT without its suffix + .failures.jsonl).",
)
@retry_failed_option
@click.option("--explain", "explain_id", default=None, help="Print how one problem was tagged.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Saliency plot (PNG).")
@click.option("--plot-kind", type=click.Choice(["bar", "radar"]), default="bar")
@click.option(
    "--stats",
    "stats_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Saliency statistics (JSON): skill frequencies per category and subject.",
)
@ray_option
@quiet_option
@domain_errors
def run(
    pool_arg: str | None,
    pool: str | None,
    out: str | None,
    method: str | None,
    llm: LLMOptions,
    catalog: str | None,
    thresholds: str | None,
    top_k: int,
    max_tokens: int,
    limit: int | None,
    failures: str | None,
    retry_failed: bool,
    explain_id: str | None,
    plot: str | None,
    plot_kind: str,
    stats_path: str | None,
    ray_address: str | None,
    quiet: bool,
) -> None:
    """Tag --pool POOL. Example: sample-forge tag --pool pool.jsonl -o tags.jsonl --method embed"""
    from sample_forge.errors import SampleForgeError
    from sample_forge.pool import load_pool
    from sample_forge.skills import default_method, load_catalog, load_thresholds
    from sample_forge.skills.spectrum import plot_spectrum, pool_stats

    if pool_arg is not None:
        deprecated("tag POOL (positional)", "tag --pool POOL")
        pool = pool or pool_arg
    if pool is None:
        raise click.UsageError("Missing option '--pool'.")
    pool_path = pool
    con = console(quiet)
    problems = load_pool(pool_path, limit=limit)
    method = method or default_method(llm.model)
    cat = load_catalog(catalog)
    if explain_id is not None:
        chosen = [p for p in problems if p.id == explain_id]
        if not chosen:
            raise SampleForgeError(f"{pool_path}: no problem with id '{explain_id}'")
        _explain(chosen[0], method, llm, cat, thresholds, top_k, max_tokens)
        # --explain alone prints; with -o given too it also writes the table
        ctx = click.get_current_context()
        if ctx.get_parameter_source("out") != click.core.ParameterSource.COMMANDLINE:
            return
    if method == "embed" and ray_address:
        raise click.UsageError("--ray runs --method llm on a cluster; --method embed runs here")
    if method == "embed":
        from sample_forge.skills import EmbedConfig, EmbedTagger

        tagger = EmbedTagger(cat, load_thresholds(thresholds), EmbedConfig(top_k=top_k))
        bar = iter(progress(range(len(problems)), total=len(problems), description="tagging", quiet=quiet))

        def advance(n: int) -> None:
            for _ in range(n):
                next(bar, None)

        tags = tagger.tag(problems, progress=advance)
        for _ in bar:
            pass
    else:
        from sample_forge.skills import Canonicalizer, LLMTagConfig, LLMTagger

        failures = failures or side_path(out, "failures", "tags.jsonl", resumed=True)
        lines = StageLines(quiet)
        with (
            llm.get_model(ledger=side_path(out, "spent", "tags.jsonl", resumed=True)) as m,
            llm_summary_by_cli(),
        ):
            m.retry_failed = retry_failed
            if ray_address:
                from sample_forge.scale.llm import RayModel, key_env
                from sample_forge.scale.ray_data import connect

                connect(None if ray_address == "local" else ray_address, env_vars=key_env(m.config))
                m = RayModel(m)
            lines.start(f"tag {len(problems)} problems (llm {m.name})")
            try:
                tags = LLMTagger(m, Canonicalizer(cat), LLMTagConfig(max_tokens=max_tokens)).tag(
                    problems, progress=lines.wrap, failures_path=failures
                )
            finally:
                lines.end()
            con.print(m.last_summary["message"], markup=False, highlight=False)
        # one call per problem and category: when none of them gave skills there is no table to trust
        calls = sum(len(t.failures) + len(t.raw) for t in tags)
        kinds: dict[str, int] = {}
        for t in tags:
            for why in t.failures.values():
                kinds[why.split(":")[0]] = kinds.get(why.split(":")[0], 0) + 1
        all_failed("tag", calls, sum(kinds.values()), kinds, "category calls")
    n = write_table(out, (_row(t) for t in tags))
    stats = pool_stats(tags, {p.id: p.subject for p in problems})
    if stats_path:
        Path(stats_path).write_text(json.dumps(stats, indent=1), encoding="utf-8")
    if plot:
        plot_spectrum(stats, plot, kind=plot_kind)
    n_fail = sum(len(t.failures) for t in tags)
    con.print(
        f"tagged {n} problems ({method}) -> {out_name(out)}; mean skills {stats['mean_total']:.2f}, "
        f"breadth {stats['breadth']}; failed categories: {n_fail}"
        + (f" {stats['failures']}" if n_fail else "")
    )


def _row(t: Any) -> dict[str, Any]:
    """Every group present in every row (empty list / 0 / null), so Parquet and CSV get fixed
    columns; JSON readers see the same record."""
    from sample_forge.skills import GROUPS
    from sample_forge.subjects import CATEGORIES

    d = t.to_dict()
    d["raw"] = {c: d["raw"].get(c, []) for c in CATEGORIES}
    d["canonical"] = {g: d["canonical"].get(g, []) for g in GROUPS}
    d["spectrum"] = {g: d["spectrum"].get(g, 0) for g in GROUPS}
    d["failures"] = {c: d["failures"].get(c) for c in CATEGORIES}
    return d


def _explain(
    problem: Any, method: str, llm: LLMOptions, cat: Any, thresholds: str | None, top_k: int, max_tokens: int
) -> None:
    from sample_forge.skills import EmbedConfig, EmbedTagger, load_thresholds

    out = click.echo
    out(f"problem {problem.id} ({problem.subject or 'no subject'}): {problem.problem[:300]}")
    if method == "embed":
        tagger = EmbedTagger(cat, load_thresholds(thresholds), EmbedConfig(top_k=top_k))
        [t] = tagger.tag([problem])
        for group, info in tagger.explain(problem).items():
            margin = "" if info["margin"] is None else f", category margin {info['margin']:+.3f}"
            out(f"  {group} (threshold {info['threshold']:.3f}{margin}): chosen {t.canonical.get(group, [])}")
            out("    best: " + "; ".join(f"{n} {s:.3f}" for n, s in info["best"]))
    else:
        from sample_forge.skills import Canonicalizer, LLMTagConfig, LLMTagger
        from sample_forge.skills.parse import parse_answer

        with llm.get_model() as m:
            tagger = LLMTagger(m, Canonicalizer(cat), LLMTagConfig(max_tokens=max_tokens))
            rows = tagger.raw_answers([problem])
            [t] = tagger.tags_from_answers([problem], rows)
        for row in rows:
            c = row["category"]
            out(
                f"  {c}: "
                + (
                    f"call failed: {row['error']}"
                    if row["error"]
                    else f"answer{' (cached)' if row['cached'] else ''}: {row['text']!r}"
                )
            )
            if not row["error"]:
                parsed = parse_answer(row["text"])
                out(f"    parsed: {parsed.skills if parsed.ok else 'FAILED: ' + str(parsed.failure)}")
                pairs = tagger.canon.nearest(parsed.skills, c) if parsed.skills else []
                for s, (name, sim) in zip(parsed.skills, pairs):
                    ok = sim >= tagger.canon.config.min_similarity
                    out(f"    {s!r} -> {name if ok else '(none)'} ({sim:.3f})")
    out(f"  spectrum {t.spectrum}, total {t.total}, breadth {t.breadth}")


@tag.command("calibrate")
@click.argument("tags_path", metavar="LLM_TAGS", required=False)
@pool_option(
    required=True, help="The pool the tags were made on: a table, 'demo' or hf:ORG/NAME[:CONFIG][@SPLIT]."
)
@out_option(default="thresholds.json", stdout=False, help="Thresholds JSON.")
@click.option(
    "--from-subjects",
    is_flag=True,
    help="Use each problem's MATH subject as its reference category instead of LLM tags.",
)
@click.option(
    "--limit", type=int, default=None, help="Only N problems of the pool, a random sample (--seed)."
)
@click.option("--seed", type=int, default=0, help="Sampling seed for --limit.")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), default=None)
@quiet_option
@domain_errors
def calibrate_cmd(
    tags_path: str | None,
    pool: str,
    out: str,
    from_subjects: bool,
    limit: int | None,
    seed: int,
    catalog: str | None,
    quiet: bool,
) -> None:
    """Fit the embed tagger's per-category thresholds to LLM tags (or to subjects).

    \b
    Examples:
      sample-forge tag calibrate llm_tags.jsonl --pool pool.jsonl -o thresholds.json
      sample-forge tag calibrate --from-subjects --pool math_train.jsonl --limit 2000 -o t.json
      sample-forge tag --pool pool.jsonl --method embed --thresholds thresholds.json -o tags.jsonl
    """
    from sample_forge.errors import SampleForgeError
    from sample_forge.pool import load_pool
    from sample_forge.records import SkillTag
    from sample_forge.skills import EmbedTagger, load_catalog
    from sample_forge.skills.calibrate import calibrate, labels_from_subjects, labels_from_tags
    from sample_forge.tables import iter_rows

    pool_path = pool
    problems = load_pool(pool_path, limit=limit, seed=seed if limit else None)
    if from_subjects:
        labels, source = labels_from_subjects(problems), f"subjects of {pool_path}"
    elif tags_path:
        rows = []
        for i, r in enumerate(iter_rows(tags_path), start=1):
            pid = r.get("id", r.get("problem_id"))  # problem_id: the key before tags used id
            if pid is None:
                from sample_forge.errors import InputError

                raise InputError("missing", path=tags_path, line=i, field="id")
            rows.append(
                SkillTag(
                    id=str(pid),
                    method=r.get("method", "llm"),
                    canonical=r.get("canonical") or {},
                    failures={k: v for k, v in (r.get("failures") or {}).items() if v},
                )
            )
        labels, source = labels_from_tags(rows), f"LLM tags {tags_path} on {pool_path}"
    else:
        raise click.UsageError("give LLM_TAGS or --from-subjects")
    if not any(p.id in labels for p in problems):
        raise SampleForgeError(f"no problem of {pool_path} has a usable label")
    th = calibrate(problems, labels, tagger=EmbedTagger(load_catalog(catalog)), source=source)
    Path(out).write_text(json.dumps(th.to_dict(), indent=1), encoding="utf-8")
    con = console(quiet)
    con.print(f"thresholds -> {out}: " + ", ".join(f"{k} {v:.3f}" for k, v in th.values.items()))
    con.print(
        f"top-category agreement {th.metrics.get('top_category_agreement')} "
        f"(F1 thresholds alone: {th.metrics.get('top_category_agreement_f1_thresholds')})"
    )


@click.group(invoke_without_command=True)
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--category", default=None, help="Only this category (or Cross-domain).")
@json_option("JSON lines instead of a table.")
@click.pass_context
@domain_errors
def skills(ctx: click.Context, catalog: str | None, category: str | None, as_json: bool) -> None:
    """List the skill catalog; `skills discover TAGS` proposes new entries.

    \b
    Examples:
      sample-forge skills --category Geometry
      sample-forge skills discover llm_tags.jsonl --min-count 3
    """
    ctx.ensure_object(dict)
    ctx.obj["catalog"] = catalog
    if ctx.invoked_subcommand is not None:
        return
    from sample_forge.skills import load_catalog

    cat = load_catalog(catalog)
    items = [s for s in cat.skills if category is None or s.group.lower() == category.lower()]
    if category is not None and not items:
        raise click.BadParameter(f"no skills in '{category}'", param_hint="--category")
    if as_json:
        for s in items:
            click.echo(json.dumps({"name": s.name, "category": s.group, "description": s.description}))
        return
    from rich.table import Table

    table = Table("category", "skill", "description")
    for s in items:
        table.add_row(s.group, s.name, s.description)
    console(stderr=False).print(table)


@skills.command("discover")
@click.argument("tags_path", metavar="TAGS")
@click.option("--min-count", type=int, default=2, help="Smallest cluster proposed.")
@click.option(
    "--distance",
    type=float,
    default=0.35,
    help="Cosine distance at which clusters stop merging.",
)
@click.option(
    "--all",
    "include_matched",
    is_flag=True,
    help="Cluster every free-text skill, not only those the catalog does not cover.",
)
@out_option(help="Proposals as JSONL.")
@click.pass_context
@domain_errors
def discover(
    ctx: click.Context,
    tags_path: str,
    min_count: int,
    distance: float,
    include_matched: bool,
    out: str | None,
) -> None:
    """Cluster the free-text skills of LLM tags and propose catalog entries with counts.

    Example: sample-forge skills discover llm_tags.jsonl --min-count 3 -o proposals.jsonl
    """
    from sample_forge.errors import InputError
    from sample_forge.skills import Canonicalizer, discover_skills, load_catalog
    from sample_forge.tables import iter_rows, write_rows

    items: list[tuple[str, str]] = []
    for i, row in enumerate(iter_rows(tags_path), start=1):
        raw = row.get("raw")
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise InputError("expected an object of category -> skills", path=tags_path, line=i, field="raw")
        for cat_name, texts in raw.items():
            items.extend((cat_name, str(t)) for t in (texts or []))
    if not items:
        click.echo(f"{tags_path}: no free-text skills (tags made with --method llm have them)")
        return
    canon = Canonicalizer(load_catalog(ctx.obj.get("catalog")))
    props = discover_skills(
        items,
        canonicalizer=canon,
        distance_threshold=distance,
        min_count=min_count,
        include_matched=include_matched,
    )
    if out:
        write_rows(out, (vars(p) for p in props))
    for p in props:
        click.echo(
            f"{p.count:5d}  {p.category:13s}  {p.name}   (nearest: {p.nearest} {p.similarity:.2f};"
            f" {len(p.members)} variants)"
        )
    click.echo(f"{len(props)} proposals from {len(items)} free-text skills")
