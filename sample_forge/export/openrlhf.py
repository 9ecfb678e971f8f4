"""OpenRLHF / slime rows (``input`` + ``label``, read with ``--input_key input --label_key label`` /
``--input-key input --label-key label``) and ROLL rows (``messages`` + ``ground_truth`` + ``tag``, the
fields of ROLL's RLVR math data; ``tag`` routes the row to the math rule reward)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from sample_forge.export.samples import ExportSample
from sample_forge.tables import write_rows

__all__ = ["input_label_rows", "roll_rows", "write_jsonl", "write_reward_func", "REWARD_FUNC_NAME"]

REWARD_FUNC_NAME = "reward_func.py"


def input_label_rows(samples: Sequence[ExportSample], *, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for s in samples:
        row = {"input": s.prompt, "label": s.answer, "sample_id": s.id}
        rows.extend(dict(row) for _ in range(repeat))
    return rows


def roll_rows(
    samples: Sequence[ExportSample], *, repeat: int, tag: str = "math_rule"
) -> list[dict[str, Any]]:
    rows = []
    for s in samples:
        messages = orjson.dumps([{"role": "user", "content": s.prompt}]).decode()
        row = {"id": s.id, "messages": messages, "ground_truth": s.answer, "tag": tag}
        rows.extend(dict(row) for _ in range(repeat))
    return rows


def write_jsonl(rows: list[dict[str, Any]], out_dir: Path, stem: str = "train") -> list[Path]:
    path = out_dir / f"{stem}.jsonl"
    write_rows(path, rows)
    return [path]


def write_reward_func(out_dir: Path) -> Path:
    """Copy the math-verify reward function OpenRLHF loads with ``--remote_rm_url``."""
    from sample_forge.tables import atomic_write

    src = Path(__file__).with_name("openrlhf_reward.py")
    path = out_dir / REWARD_FUNC_NAME
    with atomic_write(path, "wb") as f:
        f.write(src.read_bytes())
    return path
