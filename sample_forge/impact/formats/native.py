"""sample-forge's own trajectory format (written by ``sample-forge pilot``): JSONL, one row per
(sample, step): ``{"sample_id", "step", "rollouts", "correct", "rewards": [...]}`` (+ ``epoch``).

``correct`` is used as logged unless a ``--correct`` rule is given; then it is recomputed from
``rewards``.
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import numpy as np
import orjson

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import ReadStats, SampleRegistry, Trajectory, as_array
from sample_forge.impact.rules import Rule

__all__ = ["FORMAT", "read_native", "is_native_file", "native_files"]

_KEYS = ("sample_id", "step", "rollouts", "correct")


def is_native_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            row = orjson.loads(f.readline())
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(row, dict) and all(k in row for k in _KEYS)


def native_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.jsonl") if not p.stem.isdigit() and is_native_file(p))


def _bad(msg: str, path: Path, line: int, field: str | None = None) -> InputError:
    return InputError(msg, path=str(path), line=line, field=field)


def read_native(files: list[Path], *, rule: Rule | None = None, skip_bad_lines: bool = False) -> Trajectory:
    if not files:
        raise InputError("no native trajectory .jsonl files")
    reg = SampleRegistry(keyed_by="id")
    stats = ReadStats()
    sample, step, rollouts, correct, epoch = (array("i"), array("q"), array("d"), array("d"), array("i"))
    has_epoch: bool | None = None
    for path in files:
        stats.files += 1
        stats.bytes += path.stat().st_size
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        last = len(lines) - 1 if lines[-1] else len(lines) - 2
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
            except (orjson.JSONDecodeError, ValueError) as e:
                if n - 1 == last and not line.endswith(b"\n") and lines[-1]:
                    stats.truncated.append(f"{path}:{n}")
                    continue
                if skip_bad_lines:
                    stats.bad_lines.append(f"{path}:{n}: malformed JSON")
                    continue
                raise _bad(f"malformed JSON line ({e})", path, n) from None
            for k in _KEYS:
                if k not in row:
                    if skip_bad_lines:
                        stats.bad_lines.append(f"{path}:{n}: missing {k}")
                        break
                    raise _bad("missing key", path, n, k)
            else:
                r, c, s = row["rollouts"], row["correct"], row["step"]
                for name, v in (("rollouts", r), ("correct", c), ("step", s)):
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                        raise _bad(f"not a finite number ({v!r})", path, n, name)
                if rule is not None:
                    rw = row.get("rewards")
                    if not isinstance(rw, list) or len(rw) != r:
                        raise _bad("a --correct rule needs one reward per rollout", path, n, "rewards")
                    for v in rw:  # None: the reward function gave no reward (not correct)
                        if v is not None and (
                            isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                        ):
                            raise _bad(f"reward is not a finite number ({v!r})", path, n, "rewards")
                    vals = np.asarray([np.nan if v is None else v for v in rw], dtype=float)
                    c = int(rule.apply({"reward": vals}).sum())
                if r <= 0 or not 0 <= c <= r:
                    raise _bad(
                        f"need 0 <= correct <= rollouts, 0 < rollouts (got {c}/{r})", path, n, "correct"
                    )
                e = row.get("epoch")
                if has_epoch is None:
                    has_epoch = e is not None
                elif has_epoch != (e is not None):
                    raise _bad("some rows have an epoch and some do not", path, n, "epoch")
                sample.append(reg.add(str(row["sample_id"])))
                step.append(int(s))
                rollouts.append(float(r))
                correct.append(float(c))
                if has_epoch:
                    epoch.append(int(e))
                stats.rows += 1
    return Trajectory(
        format="native",
        registry=reg,
        sample=as_array(sample, "int32"),
        step=as_array(step, "int64"),
        rollouts=as_array(rollouts, "float64"),
        correct=as_array(correct, "float64"),
        epoch=as_array(epoch, "int32") if has_epoch else None,
        stats=stats,
    )


def _matches(path: Path) -> bool:
    # a digit stem is verl's {step}.jsonl
    return path.suffix == ".jsonl" and not path.stem.isdigit() and is_native_file(path)


def _read(files: list[Path], opts: ReadOptions) -> Trajectory:
    return read_native(files, rule=opts.rule, skip_bad_lines=opts.skip_bad_lines)


def _write(out: Path, run: SimRun) -> tuple[int, int]:
    from sample_forge.tables import write_rows

    rows = []
    for s, items in run.by_step.items():
        for i, e in items:
            oks = run.rollouts_of(i, e)
            rows.append(
                {
                    "sample_id": str(i),
                    "step": s,
                    "rollouts": run.rollouts,
                    "correct": sum(oks),
                    "rewards": [1.0 if ok else 0.0 for ok in oks],
                    "epoch": e,
                }
            )
    path = out / "trajectory.jsonl"
    write_rows(path, rows)
    return len(rows), path.stat().st_size


FORMAT = LogFormat.from_module(
    __name__,
    trainer="native",
    pattern="*.jsonl with sample_id/step/rollouts/correct",
    logged="correct counts",
    # `sample-forge pilot` writes both: its native trajectory is the complete record
    supersedes=("trl",),
)
