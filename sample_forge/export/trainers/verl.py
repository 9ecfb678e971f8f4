"""verl (and 1-shot RLVR) rows: ``{data_source, prompt: [{role: "user", content}], ability: "math",
reward_model: {style: "rule", ground_truth}, extra_info: {index, split}}``, one row per copy.

verl reads ``.parquet`` and ``.json`` (JSON Lines content), not ``.jsonl``; we write both. The Arrow
schema is fixed so the Parquet file has the same columns, field order and types as the released
``pi1_r128.parquet`` of One-Shot-RLVR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sample_forge.export.samples import ExportSample
from sample_forge.export.trainers.base import Dataset, PaperSettings, RowOptions, Trainer, join_command, quote
from sample_forge.tables import atomic_write, write_rows

__all__ = ["TRAINER", "row", "write"]


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("ground_truth", pa.string()), ("style", pa.string())])),
            ("extra_info", pa.struct([("index", pa.int64()), ("split", pa.string())])),
        ]
    )


def row(s: ExportSample, opts: RowOptions) -> dict[str, Any]:
    return {
        "data_source": opts.data_source or s.data_source,
        "prompt": [{"content": s.prompt, "role": "user"}],
        "ability": "math",
        "reward_model": {"ground_truth": s.answer, "style": "rule"},
        "extra_info": {"index": s.index, "split": opts.split},
    }


def write(rows: list[dict[str, Any]], out_dir: Path, stem: str = "train") -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    parquet, jsonl = out_dir / f"{stem}.parquet", out_dir / f"{stem}.json"
    table = pa.Table.from_pylist(rows, schema=_schema())
    with atomic_write(parquet, "wb") as f:
        pq.write_table(table, f)
    write_rows(jsonl, rows)
    return [parquet, jsonl]


def updates(rows: int, s: PaperSettings) -> int:
    """``RayPPOTrainer.fit``: ``total_epochs`` passes of ``rows // train_batch_size`` steps (the last
    batch dropped), stopped at ``total_training_steps``; one update per step (mini batch = batch)."""
    return min(s.steps, s.passes(rows) * s.full_batches(rows))


def command(data: Dataset, s: PaperSettings) -> str:
    d = quote(data.path)
    return join_command(
        "python3 -m verl.trainer.main_ppo",
        [
            "algorithm.adv_estimator=grpo",
            f"data.train_files={d}",
            f"data.val_files={d}",
            f"data.train_batch_size={s.batch}",
            f"data.max_prompt_length={s.max_prompt}",
            f"data.max_response_length={s.max_response}",
            f"actor_rollout_ref.model.path={quote(s.model)}",
            f"actor_rollout_ref.actor.optim.lr={s.lr:g}",
            f"actor_rollout_ref.actor.ppo_mini_batch_size={s.batch}",
            "actor_rollout_ref.actor.use_kl_loss=False",
            "actor_rollout_ref.actor.kl_loss_coef=0.0",
            "actor_rollout_ref.actor.entropy_coeff=0",
            "algorithm.use_kl_in_reward=False",
            f"actor_rollout_ref.rollout.n={s.rollouts}",
            f"actor_rollout_ref.rollout.temperature={s.temperature:g}",
            f"trainer.total_training_steps={s.steps}",
            # verl's default of 30 epochs would stop a 128-row run at 30 steps
            f"trainer.total_epochs={s.passes(data.rows)}",
            f"trainer.experiment_name={quote(data.run)}",
            f"trainer.n_gpus_per_node={s.gpus}",
            "trainer.nnodes=1",
        ],
    )


TRAINER = Trainer.from_module(
    __name__,
    "verl `main_ppo`; it reads `.parquet` and `.json` (JSON Lines), not `.jsonl`",
    files=("train.parquet", "train.json"),
    reads="train.parquet",
)
