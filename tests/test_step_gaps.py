"""A log whose steps skip numbers is named as such, with the missing steps and the likely cause."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sample_forge.impact.formats.trl import read_trl, trl_files
from sample_forge.impact.formats.verl import read_verl, verl_files
from sample_forge.impact.step_gaps import step_gap_note


def test_trl_logging_steps_gt_1(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "completions").mkdir()
    for s in (10, 20, 30, 40):  # logging_steps=10: TRL wrote the last batch of every 10th step
        cols = {"step": [s] * 4, "prompt": ["p1", "p1", "p2", "p2"], "completion": ["c"] * 4}
        cols["accuracy_reward"] = [1.0, 0.0, 0.0, 1.0]
        pq.write_table(pa.table(cols), tmp_path / "completions" / f"completions_{s:05d}.parquet")
    t = read_trl(trl_files(tmp_path))
    (note,) = [n for n in t.stats.notes if "skip" in n]
    assert "27 of steps 10-40 are missing (11, 12, 13, 14, 15, 16, 17, 18, …)" in note
    assert "every 10th step" in note and "logging_steps=1" in note


def test_verl_missing_files(tmp_path: Path) -> None:
    for s in (1, 2, 3, 6):
        line = {"input": "q", "output": "r", "gts": "1", "score": 1.0, "step": s}
        (tmp_path / f"{s}.jsonl").write_text(json.dumps(line) + "\n")
    t = read_verl(verl_files(tmp_path), workers=1)
    (note,) = [n for n in t.stats.notes if "skip" in n]
    assert "2 of steps 1-6 are missing (4, 5)" in note and "{step}.jsonl" in note


def test_no_note_without_gaps() -> None:
    assert step_gap_note(np.array([3, 3, 4, 5, 5]), "trl") is None
