"""``sample-forge export``: write the chosen sample(s) in the form each GRPO trainer reads."""

from __future__ import annotations

import shlex

import click

from sample_forge.cli.common import (
    config_from,
    console,
    domain_errors,
    map_option,
    model_option,
    out_option,
    parse_kv_list,
    quiet_option,
)
from sample_forge.export.trainers import TRAINERS

__all__ = ["export"]


def _trainers(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        for t in v.split(","):
            t = t.strip().lower()
            if not t:
                continue
            if t not in TRAINERS:
                raise click.BadParameter(f"'{t}' is not one of {', '.join(TRAINERS)}", param_hint="--to")
            out.append(t)
    return tuple(dict.fromkeys(out)) or ("verl",)


@click.command("export")
@click.argument("selection", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to",
    multiple=True,
    default=("verl",),
    help=f"Trainer(s): {', '.join(TRAINERS)} (repeat or comma-separate).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=128,
    help="Copies of each sample (the paper fills the batch of 128 with one sample).",
)
@click.option(
    "--template",
    default="qwen-boxed",
    help="orz | qwen-boxed | none | FILE with a {problem} slot.",
)
@click.option("--data-source", help="verl data_source (default: the row's own, else lighteval/MATH).")
@click.option("--split", default="train", help="verl extra_info.split.")
@click.option("--id", "ids", multiple=True, help="Export only these sample ids (repeatable).")
@map_option(
    old="--columns", help="Map our column names onto the table's, e.g. 'answer=label,problem=question'."
)
@model_option(default="Qwen/Qwen2.5-7B", help="Model in the printed commands.")
@click.option("--force", is_flag=True, help="Export even when math-verify cannot parse an answer.")
@click.option(
    "--one-dataset",
    is_flag=True,
    help="Every sample in ONE dataset (command lines computed for its size) instead of one run per sample.",
)
@out_option(
    directory=True,
    default="export",
    help="Output directory: a run directory per sample (or, with --one-dataset, one dataset) and runs.jsonl.",
)
@quiet_option
@domain_errors
def export(
    selection: str,
    to: tuple[str, ...],
    repeat: int,
    template: str,
    data_source: str | None,
    split: str,
    ids: tuple[str, ...],
    mapping: str | None,
    model: str,
    force: bool,
    one_dataset: bool,
    out: str,
    quiet: bool,
) -> None:
    """Export the samples of SELECTION (a `sample-forge select` table, or any pool-like table such as
    DSR-sub) for GRPO trainers: one run directory per sample (OUT/RUN/, RUN from the sample id) with
    its copies, a manifest and ready command lines (paper settings: batch 128, 16 rollouts,
    temperature 1.0, lr 1e-6, max response 2048, no KL, 140 updates), listed in OUT/runs.jsonl.

    \b
    Examples:
      sample-forge export selection.jsonl --to verl --to trl -o export/
      sample-forge export dsr_sub.jsonl --id 124 --to verl --template qwen-boxed --data-source deepscaler
      sample-forge export chosen.parquet --to openrlhf,slime --template orz --repeat 64
      sample-forge export selection.jsonl --one-dataset --to verl   # all samples, one run
    """
    from sample_forge.export import ExportConfig, PaperSettings
    from sample_forge.export import export as run

    cfg = config_from(ExportConfig, to=_trainers(to), settings=PaperSettings(model=model))
    # every option spelled out (defaults too): re-running it reproduces the files exactly
    argv = [
        "sample-forge",
        "export",
        selection,
        "--to",
        ",".join(cfg.to),
        "--repeat",
        str(repeat),
        "--template",
        template,
        "--split",
        split,
        "--model",
        model,
        "--out",
        out,
    ]
    argv += [a for i in ids for a in ("--id", i)]
    argv += ["--data-source", data_source] if data_source else []
    argv += ["--map", mapping] if mapping else []
    argv += ["--force"] if force else []
    argv += ["--one-dataset"] if one_dataset else []
    command = shlex.join(argv)
    res = run(
        selection,
        out,
        cfg,
        ids=ids or None,
        columns=parse_kv_list(mapping, option="--map"),
        command=command,
    )
    con = console(quiet)
    for note in res.notes:
        con.print(f"[yellow]note[/] {note}", markup=True, highlight=False)
    for r in res.runs:
        what = r.samples[0].id if len(r.samples) == 1 else f"{len(r.samples)} samples"
        con.print(f"run {r.name} ({what}): {r.out_dir}", highlight=False)
        for t, paths in r.files.items():
            con.print(f"  {t}: {r.rows[t]} rows -> {', '.join(str(p) for p in paths)}", highlight=False)
    con.print(f"runs: {res.index}", highlight=False)
    for r in res.runs:
        for t, cmd in r.commands.items():
            click.echo(f"# {r.name}: {t} ({r.updates[t]} updates)\n{cmd}\n")
