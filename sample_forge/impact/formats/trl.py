"""TRL ``log_completions=True`` logs: ``completions/completions_{step:05d}.parquet``.

Only ``step``, ``prompt``, the reward column and ``sample_id`` are read (Parquet is columnar, so the
``completion`` column is never loaded). Prompts are dictionary-encoded per file, so each distinct
prompt is normalized and hashed once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import ReadStats, SampleRegistry, Trajectory, normalize_prompt
from sample_forge.impact.step_gaps import step_gap_note

__all__ = ["FORMAT", "read_trl", "trl_files", "RESERVED"]

_FILE = re.compile(r"^completions_(\d+)\.parquet$")
RESERVED = {"step", "epoch", "prompt", "completion", "advantage", "sample_id", "index", "id", "image"}


def trl_files(directory: Path) -> list[Path]:
    files = [
        p
        for d in (directory, directory / "completions")
        if d.is_dir()
        for p in d.iterdir()
        if _FILE.match(p.name)
    ]
    return sorted(files, key=lambda p: int(_FILE.match(p.name).group(1)))  # type: ignore[union-attr]


def _reward_column(path: Path, names: list[str], numeric: set[str], wanted: str | None) -> str:
    if wanted:
        if wanted not in names:
            raise InputError(
                f"no reward column '{wanted}' (columns: {', '.join(names)})", path=str(path), field=wanted
            )
        return wanted
    cands = [n for n in names if n in numeric and n not in RESERVED]
    if len(cands) == 1:
        return cands[0]
    acc = [n for n in cands if "accuracy" in n or "correct" in n]
    if len(acc) == 1:
        return acc[0]
    raise InputError(
        f"cannot tell which reward column means correctness among {cands or 'none'}; pass --reward-column",
        path=str(path),
    )


def _prompt_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # conversational: the last user message
        users = [m.get("content", "") for m in value if isinstance(m, dict) and m.get("role") == "user"]
        return str(users[-1] if users else value[-1].get("content", ""))
    return str(value)


def read_trl(
    files: list[Path], *, reward_column: str | None = None, id_key: str | None = "auto"
) -> Trajectory:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    if not files:
        raise InputError("no TRL completions_*.parquet files")
    stats = ReadStats()
    reg: SampleRegistry | None = None
    samples, steps, rewards, epochs = [], [], [], []
    had_epoch: bool | None = None
    col = None
    for path in files:
        try:
            pf = pq.ParquetFile(path)
        except Exception as e:  # pyarrow raises several types for corrupt files
            if path == files[-1]:
                stats.truncated.append(f"{path}: unreadable last file ({e})")
                continue
            raise InputError(f"cannot read Parquet ({e})", path=str(path)) from None
        schema = pf.schema_arrow
        names = schema.names
        numeric = {
            f.name
            for f in schema
            if pat.is_integer(f.type) or pat.is_floating(f.type) or pat.is_boolean(f.type)
        }
        col = _reward_column(path, names, numeric, reward_column or col)
        key = ("sample_id" if "sample_id" in names else None) if id_key == "auto" else id_key
        if reg is None:
            reg = SampleRegistry(keyed_by="id" if key else "prompt")
        for need in ("step", "prompt"):
            if need not in names:
                raise InputError("missing column", path=str(path), field=need)
        with_epoch = "epoch" in numeric
        if had_epoch is None:
            had_epoch = with_epoch
        elif had_epoch != with_epoch:
            raise InputError("some files have an epoch column and some do not", path=str(path), field="epoch")
        table = pf.read(
            columns=[c for c in ("step", "prompt", col, key) if c] + (["epoch"] if with_epoch else [])
        )
        stats.files += 1
        stats.bytes += path.stat().st_size
        stats.rows += table.num_rows
        r = table.column(col).to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(r)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(
                f"reward is NaN, missing or not finite ({r[row]})", path=str(path), line=row + 1, field=col
            )
        enc = table.column(key).cast("string") if key else table.column("prompt")
        if not key and not pat.is_string(enc.type) and not pat.is_large_string(enc.type):
            vals = [_prompt_text(v) for v in enc.to_pylist()]
            uniq = {v: reg.add_prompt(v) for v in dict.fromkeys(vals)}
            local = np.array([uniq[v] for v in vals], dtype=np.int32)
        else:
            d = pc.dictionary_encode(enc).combine_chunks()
            dictionary = d.dictionary.to_pylist()
            if key:
                prompts = table.column("prompt").to_pylist() if len(dictionary) else []
                first = {}
                idx = d.indices.to_numpy(zero_copy_only=False)
                for j, code in enumerate(idx):
                    first.setdefault(int(code), j)
                remap = np.array(
                    [
                        reg.add(str(v), normalize_prompt(_prompt_text(prompts[first[c]])))
                        for c, v in enumerate(dictionary)
                    ],
                    dtype=np.int32,
                )
            else:
                remap = np.array([reg.add_prompt(v) for v in dictionary], dtype=np.int32)
                idx = d.indices.to_numpy(zero_copy_only=False)
            local = remap[idx] if len(idx) else np.zeros(0, np.int32)
        samples.append(local)
        steps.append(table.column("step").to_numpy(zero_copy_only=False).astype(np.int64))
        rewards.append(r)
        if with_epoch:
            epochs.append(table.column("epoch").to_numpy(zero_copy_only=False).astype(np.int32))
    if reg is None:
        raise InputError("no readable TRL completions files")
    step = np.concatenate(steps)
    gaps = step_gap_note(step, "trl")
    if gaps:
        stats.notes.append(gaps)
    return Trajectory(
        format="trl",
        registry=reg,
        sample=np.concatenate(samples).astype(np.int32),
        step=step,
        reward=np.concatenate(rewards),
        epoch=np.concatenate(epochs) if epochs else None,
        stats=stats,
    )


def _matches(path: Path) -> bool:
    return bool(_FILE.match(path.name))


def _read(files: list[Path], opts: ReadOptions) -> Trajectory:
    return read_trl(files, reward_column=opts.reward_column)


def _write(out: Path, run: SimRun) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (out / "completions").mkdir(exist_ok=True)
    resp = run.responses
    lines = nbytes = 0
    for s, items in run.by_step.items():
        cols: dict[str, list[Any]] = {
            "step": [],
            "prompt": [],
            "completion": [],
            "accuracy_reward": [],
            "advantage": [],
        }
        if run.with_ids:  # as sample-forge's TRL recorder logs them (log_extra)
            cols["sample_id"] = []
            cols["epoch"] = []
        for i, e in items:
            oks = run.rollouts_of(i, e)
            mean = sum(oks) / run.rollouts
            for ok in oks:
                cols["step"].append(s)
                cols["prompt"].append(run.prompt(i))
                cols["completion"].append(resp.texts[resp.next()])
                cols["accuracy_reward"].append(1.0 if ok else 0.0)
                cols["advantage"].append(float(ok) - mean)
                if run.with_ids:
                    cols["sample_id"].append(str(i))
                    cols["epoch"].append(e + 1)
                lines += 1
        p = out / "completions" / f"completions_{s:05d}.parquet"
        pq.write_table(pa.table(cols), p)
        nbytes += p.stat().st_size
    return lines, nbytes


FORMAT = LogFormat.from_module(
    __name__, trainer="TRL", pattern="completions/completions_*.parquet", default_correct="reward>0"
)
