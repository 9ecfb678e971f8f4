"""OpenRLHF rows (``input`` + ``label``, read with ``--input_key input --label_key label``) and the
math-verify reward function ``--remote_rm_url`` loads, copied next to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sample_forge.export.samples import ExportSample
from sample_forge.export.trainers.base import (
    Dataset,
    PaperSettings,
    RowOptions,
    Trainer,
    join_command,
    quote,
    write_jsonl,
)
from sample_forge.tables import atomic_write

__all__ = ["TRAINER", "row", "REWARD_FUNC_NAME"]

REWARD_FUNC_NAME = "reward_func.py"
# self-contained (it runs inside the trainer), so it lives outside this package as a plain file
_REWARD_SOURCE = Path(__file__).resolve().parent.parent / "openrlhf_reward.py"


def row(s: ExportSample, opts: RowOptions) -> dict[str, Any]:
    return {"input": s.prompt, "label": s.answer, "sample_id": s.id}


def write(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    files = write_jsonl(rows, out_dir)
    path = out_dir / REWARD_FUNC_NAME
    with atomic_write(path, "wb") as f:
        f.write(_REWARD_SOURCE.read_bytes())
    return [*files, path]


def updates(rows: int, s: PaperSettings) -> int:
    """``PPOTrainer.fit``: ``num_episodes`` passes over the prompts, one rollout of
    ``rollout_batch_size`` prompts per full batch, one update per rollout (``train_batch_size`` = all
    its completions, ``max_epochs`` 1). It has no step cap: a dataset of k batches makes a multiple of k."""
    return s.passes(rows) * s.full_batches(rows)


def command(data: Dataset, s: PaperSettings) -> str:
    return join_command(
        "python3 -m openrlhf.cli.train_ppo_ray",
        [
            f"--pretrain {quote(s.model)}",
            f"--prompt_data {quote(data.path)}",
            "--input_key input",
            "--label_key label",
            "--apply_chat_template",
            "--advantage_estimator group_norm",
            f"--n_samples_per_prompt {s.rollouts}",
            f"--rollout_batch_size {s.batch}",
            f"--train_batch_size {s.batch * s.rollouts}",
            f"--temperature {s.temperature:g}",
            f"--actor_learning_rate {s.lr:g}",
            f"--generate_max_len {s.max_response}",
            f"--prompt_max_len {s.max_prompt}",
            "--init_kl_coef 0",
            f"--remote_rm_url {quote(data.path.with_name(REWARD_FUNC_NAME))}",
            f"--num_episodes {s.passes(data.rows)}",
            "--max_epochs 1",
            f"--actor_num_gpus_per_node {s.gpus}",
            f"--save_path {quote(f'runs/openrlhf-grpo/{data.run}')}",
        ],
    )


TRAINER = Trainer.from_module(
    __name__,
    "OpenRLHF `train_ppo_ray`, with a math-verify reward function for `--remote_rm_url`",
    extras=(REWARD_FUNC_NAME,),
)
