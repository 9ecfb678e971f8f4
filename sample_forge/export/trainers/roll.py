"""ROLL rows: ``messages`` (a JSON string of chat messages) + ``ground_truth`` + ``tag``, the fields of
ROLL's RLVR math data; ``tag`` routes the row to the math rule reward."""

from __future__ import annotations

from typing import Any

import orjson

from sample_forge.export.samples import ExportSample
from sample_forge.export.trainers.base import Dataset, PaperSettings, RowOptions, Trainer, join_command, quote

__all__ = ["TRAINER", "row"]

TAG = "math_rule"


def row(s: ExportSample, opts: RowOptions) -> dict[str, Any]:
    messages = orjson.dumps([{"role": "user", "content": s.prompt}]).decode()
    return {"id": s.id, "messages": messages, "ground_truth": s.answer, "tag": TAG}


def updates(rows: int, s: PaperSettings) -> int:
    """``max_steps`` pipeline steps; the RLVR pipeline's data iterator starts over when it runs out."""
    return s.steps


def command(data: Dataset, s: PaperSettings) -> str:
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


TRAINER = Trainer.from_module(__name__, "ROLL RLVR pipeline; `tag` routes each row to the math rule reward")
