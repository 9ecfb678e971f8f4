"""slime rows: OpenRLHF's ``input`` + ``label`` (read with ``--input-key input --label-key label``),
scored by slime's own math rule reward (``--rm-type math``)."""

from __future__ import annotations

from sample_forge.export.trainers.base import Dataset, PaperSettings, Trainer, join_command, quote
from sample_forge.export.trainers.openrlhf import row  # OpenRLHF's rows

__all__ = ["TRAINER", "row"]


def updates(rows: int, s: PaperSettings) -> int:
    """``--num-rollout`` rollouts (the data loader wraps round the dataset), each of
    ``rollout-batch-size x n-samples-per-prompt`` completions = ``global-batch-size``: one step each."""
    return s.steps


def command(data: Dataset, s: PaperSettings) -> str:
    return join_command(
        "python3 train.py",
        [
            f"--hf-checkpoint {quote(s.model)}",
            f"--prompt-data {quote(data.path)}",
            "--input-key input",
            "--label-key label",
            "--apply-chat-template",
            "--rm-type math",
            "--advantage-estimator grpo",
            f"--num-rollout {s.steps}",
            f"--rollout-batch-size {s.batch}",
            f"--n-samples-per-prompt {s.rollouts}",
            f"--rollout-temperature {s.temperature:g}",
            f"--rollout-max-response-len {s.max_response}",
            f"--global-batch-size {s.batch * s.rollouts}",
            f"--lr {s.lr:g}",
            "--kl-coef 0.00",
            "--entropy-coef 0.00",
        ],
    )


TRAINER = Trainer.from_module(__name__, "slime `train.py`, scored by its math rule reward (`--rm-type math`)")
