"""``sample-forge pilot``: a short GRPO pilot run (TRL) that records every rollout's reward."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sample_forge.cli.common import (
    console,
    domain_errors,
    json_option,
    model_option,
    out_option,
    pool_option,
    quiet_option,
)


@click.command("pilot")
@pool_option(required=True, help="Problems (JSONL/Parquet/CSV, or 'demo') with id, problem, answer.")
@model_option(
    default="smollm2",
    help="'smollm2' (built-in SmolLM2-135M-Instruct GGUF), a .gguf file, or a HF model id/path.",
)
@click.option("--epochs", default=3, type=int, help="Passes over the pool.")
@click.option("--rollouts", default=8, type=int, help="Completions per prompt (GRPO group).")
@out_option(
    directory=True,
    default="runs/pilot",
    help="Run directory (trajectory.jsonl, completions/, checkpoints, pilot.json).",
)
@click.option(
    "--prompts-per-step",
    default=4,
    type=int,
    help="Samples per optimizer step; an epoch is ceil(N / this) steps.",
)
@click.option("--temperature", default=1.0, type=float)
@click.option("--max-completion-length", default=256, type=int, help="Tokens per rollout.")
@click.option("--learning-rate", "--lr", "learning_rate", default=1e-6, type=float)
@click.option("--beta", default=0.0, type=float, help="KL coefficient (0: no reference model).")
@click.option("--seed", default=0, type=int)
@click.option("--limit", type=int, default=None, help="Use only the first N problems.")
@click.option(
    "--per-subject",
    type=int,
    default=None,
    help="Use only the first N problems of each subject (a balanced pilot over a large pool).",
)
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps.")
@click.option(
    "--dtype",
    default="auto",
    help="auto (bf16 on cuda, fp32 on cpu), float32, bfloat16, float16.",
)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option(
    "--save-steps", type=int, default=None, help="Checkpoint every N steps (default: each epoch; 0: never)."
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace a previous run in --out.")
@json_option("Print the run summary as JSON on stdout.")
@quiet_option
@domain_errors
def pilot(
    pool: str,
    model: str,
    epochs: int,
    rollouts: int,
    out: str,
    prompts_per_step: int,
    temperature: float,
    max_completion_length: int,
    learning_rate: float,
    beta: float,
    seed: int,
    limit: int | None,
    per_subject: int | None,
    device: str,
    dtype: str,
    threads: int | None,
    save_steps: int | None,
    resume: bool,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run a short GRPO pilot (TRL GRPOTrainer) and record every rollout's 0/1 correctness reward
    (math-verify on the last \\boxed{}) per sample and step, for `sample-forge score`.

    \b
    Example (built-in SmolLM2 on the CPU, about a minute per step here):
      sample-forge pilot --pool demo --limit 8 --epochs 2 --rollouts 4 \\
          --max-completion-length 96 -o runs/pilot
      sample-forge score --trajectory runs/pilot/trajectory.jsonl
    """
    from sample_forge.pilot.trl_pilot import run_pilot
    from sample_forge.pool import resolve_pool

    result = run_pilot(
        resolve_pool(pool),
        model,
        epochs,
        rollouts,
        out,
        resume=resume,
        overwrite=overwrite,
        progress=None if quiet else PilotBar(),
        prompts_per_step=prompts_per_step,
        temperature=temperature,
        max_completion_length=max_completion_length,
        learning_rate=learning_rate,
        beta=beta,
        seed=seed,
        limit=limit,
        per_subject=per_subject,
        device=device,
        dtype=dtype,
        threads=threads,
        save_steps=save_steps,
    )
    s = result.summary
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    con = console(quiet=quiet)
    con.print(
        f"pilot: {s['n_samples']} samples x {s['epochs']} epochs x {s['rollouts']} rollouts, "
        f"{s['steps_done']} steps on {s['device']}/{s['dtype']} in {s['runtime_s']:.0f}s"
    )
    con.print("accuracy per epoch: " + ", ".join(f"{e}: {a:.3f}" for e, a in s["epoch_accuracy"].items()))
    con.print(f"trajectory: {result.trajectory}  ({s['trajectory_rows']} rows)")


class PilotBar:
    """The pilot's progress: a rich bar with the running mean accuracy on a terminal, one line per
    epoch elsewhere (pipes, CI)."""

    def __init__(self) -> None:
        self._con = console()
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, p: Any) -> None:
        if p.phase == "begin":
            if sys.stderr.isatty():
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )

                self._bar = Progress(
                    TextColumn("[bold]pilot[/] {task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=self._con,
                )
                self._bar.start()
                self._task = self._bar.add_task("starting", total=p.total_steps, completed=p.step)
        elif p.phase == "step":
            acc = p.mean_accuracy
            if self._bar is not None:
                desc = f"epoch {p.epoch}  mean acc {acc:.3f}" if acc is not None else f"epoch {p.epoch}"
                self._bar.update(self._task, completed=p.step, description=desc)
            elif p.epoch_end:
                nan = float("nan")
                self._con.print(
                    f"pilot: step {p.step}/{p.total_steps}, epoch {p.epoch} accuracy "
                    f"{p.epoch_accuracy if p.epoch_accuracy is not None else nan:.3f}, "
                    f"running mean {acc if acc is not None else nan:.3f}"
                )
        elif self._bar is not None:
            self._bar.stop()
            self._bar = None
