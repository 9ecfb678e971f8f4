"""verl (and 1-shot RLVR) rows: ``{data_source, prompt: [{role: "user", content}], ability: "math",
reward_model: {style: "rule", ground_truth}, extra_info: {index, split}}``, one row per copy.

verl reads ``.parquet`` and ``.json`` (JSON Lines content), not ``.jsonl``; we write both. The Arrow
schema is fixed so the Parquet file has the same columns, field order and types as the released
``pi1_r128.parquet`` of One-Shot-RLVR."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sample_forge.export.samples import ExportSample
from sample_forge.tables import atomic_write, write_rows

__all__ = ["verl_rows", "write_verl"]


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


def verl_rows(
    samples: Sequence[ExportSample], *, repeat: int, data_source: str | None, split: str
) -> list[dict[str, Any]]:
    rows = []
    for s in samples:
        row = {
            "data_source": data_source or s.data_source,
            "prompt": [{"content": s.prompt, "role": "user"}],
            "ability": "math",
            "reward_model": {"ground_truth": s.answer, "style": "rule"},
            "extra_info": {"index": s.index, "split": split},
        }
        rows.extend(row for _ in range(repeat))
    return rows


def write_verl(rows: list[dict[str, Any]], out_dir: Path, stem: str = "train") -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    parquet, jsonl = out_dir / f"{stem}.parquet", out_dir / f"{stem}.json"
    table = pa.Table.from_pylist(rows, schema=_schema())
    with atomic_write(parquet, "wb") as f:
        pq.write_table(table, f)
    write_rows(jsonl, rows)
    return [parquet, jsonl]
