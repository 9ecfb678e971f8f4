"""``sample-forge forge [RECIPE.toml]``: the whole pipeline as one resumable run."""

from __future__ import annotations

import json
import sys

import click

from sample_forge.cli.common import console, domain_errors, json_option, quiet_option


def _refuse_missing(missing: list[tuple[str, str]]) -> None:
    if missing:
        lines = "\n".join(f"  {name}: {what}" for name, what in missing)
        raise click.ClickException(f"{len(missing)} missing input(s); the run would stop there:\n{lines}")


@click.command("forge")
@click.argument("recipe", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False),
    help="Run directory (default: the recipe's run_dir, runs/forge).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan (stages, inputs, outputs, will run / skip).")
@click.option("--force", is_flag=True, help="Re-run every stage even when its marker is current.")
@click.option("--no-report", is_flag=True, help="Do not write report.html.")
@json_option("Print a JSON summary on stdout.")
@quiet_option
@domain_errors
def forge(
    recipe: str | None,
    run_dir: str | None,
    dry_run: bool,
    force: bool,
    no_report: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run pool -> tag -> score -> synthesize -> select -> export in one run directory.

    With no RECIPE it runs the embedded default: the demo pool, the demo pilot run, the offline
    embedding tagger and the built-in local model (SmolLM2) for synthesis. No network, no API key.
    Each stage leaves a completion marker; a re-run skips stages whose settings and inputs are
    unchanged, and the LLM cache means a re-run never pays twice for a call.

    \b
    Examples:
      sample-forge forge                         # the embedded default, into runs/forge
      sample-forge forge recipe.toml --dry-run   # what would run, what would be skipped
      sample-forge forge recipe.toml --run-dir runs/exp1
    """
    from rich.table import Table

    from sample_forge.forge.recipe import load_recipe
    from sample_forge.forge.run import forge as run_forge
    from sample_forge.forge.run import missing_inputs, plan
    from sample_forge.forge.stages import fingerprint

    rec = load_recipe(recipe)
    out = console(quiet)
    if dry_run:
        from pathlib import Path

        from sample_forge.forge.rundir import RunDir

        rd = RunDir(Path(run_dir or rec.run_dir))
        rows = []
        stages = plan(rec, rd.root)
        missing = missing_inputs(rec, stages)
        lacking = {name for name, _ in missing}
        for st in stages:
            marker = rd.markers / f"{st.name}.json"
            current = (
                marker.exists()
                and not force
                and json.loads(marker.read_text()).get("fingerprint") == fingerprint(st)
                and all(p.exists() for p in st.outputs)
            )
            rows.append(
                {
                    "stage": st.name,
                    "action": "missing input" if st.name in lacking else "skip (done)" if current else "run",
                    "inputs": [str(p) for p in st.inputs],
                    "outputs": [str(p) for p in st.outputs],
                    "settings": st.settings,
                }
            )
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
            _refuse_missing(missing)
            return
        t = Table(title=f"forge plan: {rd.root}")
        for c in ("stage", "action", "inputs", "outputs"):
            t.add_column(c)
        for r in rows:
            t.add_row(r["stage"], r["action"], "\n".join(r["inputs"]) or "-", "\n".join(r["outputs"]))
        console(False, stderr=False).print(t)
        _refuse_missing(missing)
        return

    status: list[object] = []  # the spinner of the running stage, on a terminal

    def on_stage_start(st: object) -> None:
        # a line when a stage starts, in logs too; on a terminal a spinner with the time while it runs
        out.print(f"[bold]{st.name}[/bold]: started", highlight=False)
        if not quiet and sys.stderr.isatty():
            status.append(out.status(f"{st.name} running", spinner="dots"))
            status[-1].start()

    def on_stage(o: object) -> None:
        while status:
            status.pop().stop()
        name, skipped = o.name, o.skipped
        what = "skipped (marker current)" if skipped else f"done in {o.seconds:.1f} s"
        out.print(f"[bold]{name}[/bold]: {what}", highlight=False)

    try:
        res = run_forge(
            rec,
            run_dir,
            force=force,
            report=not no_report,
            on_stage=on_stage,
            on_stage_start=on_stage_start,
        )
    finally:
        while status:
            status.pop().stop()
    summary = {
        "run_dir": str(res.run_dir),
        "ran": res.ran,
        "skipped": res.skipped,
        "llm_requests_sent": res.llm_calls,
        "stages": {o.name: o.counts for o in res.outcomes},
        "chosen": res.chosen,
        "outcome": res.outcome,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    t = Table(title=f"forge: {res.run_dir}")
    for c in ("stage", "status", "counts"):
        t.add_column(c)
    from rich.text import Text

    from sample_forge.report.words import stage_facts

    for o in res.outcomes:
        facts, notes = stage_facts(o.counts)
        # Text, not markup: a note such as "[select] theta" is not a style
        t.add_row(o.name, "skipped" if o.skipped else "ran", Text("\n".join(["; ".join(facts), *notes])))
    out.print(t)
    out.print(f"LLM requests sent in this run: {res.llm_calls}")
    from sample_forge.forge.rundir import RunDir

    rd = RunDir(res.run_dir)
    out.print(f"export: {rd.export_dir}   runs: {rd.runs_index}", highlight=False)
    if not no_report:
        out.print(f"report: {rd.report}")
    if res.chosen:
        from sample_forge.forge.chosen import chosen_lines

        for line in chosen_lines(res.chosen, res.run_dir):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if res.outcome:
        from sample_forge.forge.outcome import outcome_lines

        # what the result means comes last, where the eye lands when the run ends
        for line in outcome_lines(res.outcome):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
