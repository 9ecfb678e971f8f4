"""One-Shot-RLVR history files: ``acc_step_{N}.json`` = ``{index: [accuracy each time the sample
was seen]}``. Each file is a cumulative snapshot, so only the one with the largest N is read; the
list position is the pass number (no training steps are recorded)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import orjson

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import ReadStats, SampleRegistry, Trajectory

__all__ = ["FORMAT", "read_oneshot", "oneshot_files"]

_FILE = re.compile(r"(?:^|_)acc_step_(\d+)\.json$")


def oneshot_files(directory: Path) -> list[Path]:
    files = [p for p in directory.iterdir() if _FILE.search(p.name)]
    return sorted(files, key=lambda p: int(_FILE.search(p.name).group(1)))  # type: ignore[union-attr]


def read_oneshot(files: list[Path]) -> Trajectory:
    if not files:
        raise InputError("no acc_step_*.json files")
    path = files[-1]
    stats = ReadStats(files=1)
    if len(files) > 1:
        stats.notes.append(f"{len(files)} acc_step snapshots: read the latest, {path.name}")
    data = path.read_bytes()
    stats.bytes = len(data)
    try:
        hist = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise InputError(f"malformed JSON ({e})", path=str(path)) from None
    if not isinstance(hist, dict):
        raise InputError("expected {index: [accuracy, ...]}", path=str(path))
    reg = SampleRegistry(keyed_by="id")
    samples, passes, accs = [], [], []
    for key, values in hist.items():
        if not isinstance(values, list):
            raise InputError("expected a list of accuracies", path=str(path), field=str(key))
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"accuracy is not a finite number ({v!r})", path=str(path), field=str(key))
        i = reg.add(str(key))
        samples.append(np.full(len(values), i, np.int32))
        passes.append(np.arange(1, len(values) + 1, dtype=np.int64))
        accs.append(np.asarray(values, dtype=np.float64))
    stats.rows = sum(len(a) for a in accs)
    acc = np.concatenate(accs) if accs else np.zeros(0)
    return Trajectory(
        format="oneshot",
        registry=reg,
        sample=np.concatenate(samples) if samples else np.zeros(0, np.int32),
        step=np.concatenate(passes) if passes else np.zeros(0, np.int64),
        rollouts=np.ones(len(acc), np.float64),
        correct=acc,
        has_steps=False,
        stats=stats,
    )


def _matches(path: Path) -> bool:
    return bool(_FILE.search(path.name))


def _read(files: list[Path], opts: ReadOptions) -> Trajectory:
    return read_oneshot(files)


def _write(out: Path, run: SimRun) -> tuple[int, int]:
    """One final snapshot: each sample's accuracies in the order it was seen."""
    hist: dict[str, list[float]] = {}
    lines = 0
    for items in run.by_step.values():
        for i, e in items:
            hist.setdefault(str(i), []).append(float(run.correct[i, e]) / run.rollouts)
            lines += 1
    data = json.dumps(hist, indent=4).encode()
    (out / f"acc_step_{run.total_steps}.json").write_bytes(data)
    return lines, len(data)


FORMAT = LogFormat.from_module(
    __name__,
    trainer="One-Shot-RLVR",
    pattern="acc_step_*.json",
    logged="accuracies",
    takes_correct_rule=False,
)
