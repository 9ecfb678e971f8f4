"""ROLL rows: ``messages`` (a JSON string of chat messages) + ``ground_truth`` + ``tag``, the fields of
ROLL's RLVR math data; ``tag`` routes the row to the math rule reward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from sample_forge.export.samples import ExportSample
from sample_forge.export.trainers.base import (
    Dataset,
    PaperSettings,
    RowOptions,
    Trainer,
    join_command,
    quote,
)

__all__ = ["TRAINER", "roll_rows"]

TAG = "math_rule"


def roll_rows(samples: Sequence[ExportSample], opts: RowOptions) -> list[dict[str, Any]]:
    rows = []
    for s in samples:
        messages = orjson.dumps([{"role": "user", "content": s.prompt}]).decode()
        row = {"id": s.id, "messages": messages, "ground_truth": s.answer, "tag": TAG}
        rows.extend(dict(row) for _ in range(opts.repeat))
    return rows


def roll_updates(rows: int, s: PaperSettings) -> int:
    """``max_steps`` pipeline steps; the RLVR pipeline's data iterator starts over when it runs out."""
    return s.steps


def roll_command(data: Dataset, s: PaperSettings) -> str:
    return join_command(
        "python3 examples/start_rlvr_pipeline.py --config_path YOUR_CONFIG_DIR "
        "--config_name YOUR_RLVR_CONFIG",
        [
            f"pretrain={quote(s.model)}",
            f"actor_train.data_args.file_name={quote(data.path)}",
            "adv_estimator=grpo",
            f"rollout_batch_size={s.batch}",
            f"num_return_sequences_in_group={s.rollouts}",
            f"actor_infer.generating_args.temperature={s.temperature:g}",
            f"actor_infer.generating_args.max_new_tokens={s.max_response}",
            f"actor_train.training_args.learning_rate={s.lr:g}",
            "init_kl_coef=0.0",
            f"max_steps={s.steps}",
        ],
    )


TRAINER = Trainer(
    name="roll",
    description="ROLL RLVR pipeline; `tag` routes each row to the math rule reward",
    rows=roll_rows,
    command=roll_command,
    updates=roll_updates,
)
