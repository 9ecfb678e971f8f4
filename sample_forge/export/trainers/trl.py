"""TRL ``GRPOTrainer`` rows: a chat ``prompt``, a ``solution`` for ``trl.rewards.accuracy_reward`` and a
``sample_id`` (TRL passes every extra column to the reward functions and to ``log_extra``).

``accuracy_reward`` parses the solution with math-verify's default extraction: a bare ``\\frac{\\sqrt{3}}{2}``
would parse as ``3``. ``$\\boxed{answer}$`` parses whole, and a completion equal to it scores 1.0."""

from __future__ import annotations

from typing import Any

from sample_forge.answers import extract_boxed
from sample_forge.export.samples import ExportSample
from sample_forge.export.trainers.base import Dataset, PaperSettings, RowOptions, Trainer, join_command, quote

__all__ = ["TRAINER", "row", "trl_solution"]


def trl_solution(answer: str) -> str:
    """``$\\boxed{answer}$``; an answer already boxed or in ``$...$`` is unwrapped first."""
    a = str(answer).strip()
    inner = extract_boxed(a)
    if inner is not None:
        a = inner
    elif len(a) >= 2 and a.startswith("$") and a.endswith("$") and not a.startswith("\\$"):
        a = a.strip("$").strip()
    return "$\\boxed{" + a + "}$"


def row(s: ExportSample, opts: RowOptions) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": s.prompt}],
        "solution": trl_solution(s.answer),
        "sample_id": s.id,
    }


def updates(rows: int, s: PaperSettings) -> int:
    """``--max_steps`` optimizer steps: the HF Trainer goes round the dataset as often as it needs."""
    return s.steps


def command(data: Dataset, s: PaperSettings) -> str:
    # one optimizer step = batch prompts x rollouts completions (divide grad accumulation by #GPUs)
    completions = s.batch * s.rollouts
    return join_command(
        "trl grpo",
        [
            f"--model_name_or_path {quote(s.model)}",
            f"--dataset_name {quote(data.path)}",
            "--reward_funcs accuracy_reward",
            f"--num_generations {s.rollouts}",
            f"--per_device_train_batch_size {s.rollouts}",
            f"--gradient_accumulation_steps {completions // s.rollouts}",
            f"--temperature {s.temperature:g}",
            f"--learning_rate {s.lr:g}",
            f"--max_completion_length {s.max_response}",
            "--beta 0.0",
            f"--max_steps {s.steps}",
            f"--output_dir {quote(f'runs/trl-grpo/{data.run}')}",
        ],
    )


TRAINER = Trainer.from_module(
    __name__,
    "TRL `trl grpo` (`GRPOTrainer`); `--dataset_name` is the directory",
    reads=None,  # `trl grpo --dataset_name DIR` loads the directory's JSONL as split "train"
)
