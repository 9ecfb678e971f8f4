"""OpenRLHF / LIMR sample dumps: ``step_{k}.json``, a JSON list of
``{prompt, response, reward, response_length}`` per training step k.

Each file is one step, so it is parsed whole (memory bounded by one step) and dropped at once;
only ``prompt`` and ``reward`` are kept. LIMR's rule reward is +1 / -0.5 / -1, so the default
correctness rule is ``reward==1``.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from pathlib import Path

import orjson

from sample_forge.errors import InputError
from sample_forge.impact.formats.base import LogFormat, ReadOptions, SimRun
from sample_forge.impact.longtable import ReadStats, SampleRegistry, Trajectory, as_array

__all__ = ["FORMAT", "read_openrlhf", "openrlhf_files"]

_FILE = re.compile(r"^step_(\d+)\.json$")


def openrlhf_files(directory: Path) -> list[Path]:
    files = [p for p in directory.iterdir() if _FILE.match(p.name)]
    return sorted(files, key=lambda p: int(_FILE.match(p.name).group(1)))  # type: ignore[union-attr]


def read_openrlhf(files: list[Path], *, skip_bad_lines: bool = False) -> Trajectory:
    if not files:
        raise InputError("no OpenRLHF step_*.json files")
    reg = SampleRegistry(keyed_by="prompt")
    stats = ReadStats()
    cache: dict[str, int] = {}
    sample, step, reward = array("i"), array("q"), array("d")
    for path in files:
        k = int(_FILE.match(path.name).group(1))  # type: ignore[union-attr]
        data = path.read_bytes()
        stats.bytes += len(data)
        try:
            rows = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            if path == files[-1]:  # the run is still writing its last step
                stats.truncated.append(f"{path}: truncated last file ({e})")
                continue
            raise InputError(f"malformed JSON ({e})", path=str(path)) from None
        del data
        if not isinstance(rows, list):
            raise InputError("expected a JSON list of {prompt, response, reward}", path=str(path))
        stats.files += 1
        for n, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or "prompt" not in row or "reward" not in row:
                if skip_bad_lines:
                    stats.bad_lines.append(f"{path}:{n}: not a {{prompt, reward}} object")
                    continue
                field = "prompt" if isinstance(row, dict) and "prompt" not in row else "reward"
                raise InputError("entry lacks a key", path=str(path), line=n, field=field)
            r = row["reward"]
            if isinstance(r, list) and len(r) == 1:
                r = r[0]
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r):
                raise InputError(
                    f"reward is not a finite number ({r!r})", path=str(path), line=n, field="reward"
                )
            p = row["prompt"]
            i = cache.get(p)
            if i is None:
                i = cache[p] = reg.add_prompt(p if isinstance(p, str) else str(p))
            sample.append(i)
            step.append(k)
            reward.append(float(r))
        stats.rows += len(rows)
        del rows
    return Trajectory(
        format="openrlhf",
        registry=reg,
        sample=as_array(sample, "int32"),
        step=as_array(step, "int64"),
        reward=as_array(reward, "float64"),
        stats=stats,
    )


def _matches(path: Path) -> bool:
    return bool(_FILE.match(path.name))


def _read(files: list[Path], opts: ReadOptions) -> Trajectory:
    return read_openrlhf(files, skip_bad_lines=opts.skip_bad_lines)


def _write(out: Path, run: SimRun) -> tuple[int, int]:
    resp = run.responses
    lines = nbytes = 0
    for s, items in run.by_step.items():
        rows = []
        for i, e in items:
            for ok in run.rollouts_of(i, e):
                text = resp.texts[resp.next()]
                # LIMR's rule reward: +1 correct, -0.5 wrong answer, -1 no parsable answer
                reward = 1.0 if ok else (-0.5 if run.rng.random() < 0.7 else -1.0)
                rows.append(
                    {
                        "prompt": run.prompt(i),
                        "response": text,
                        "reward": reward,
                        "response_length": len(text) // 4,
                    }
                )
                lines += 1
        data = json.dumps(rows, ensure_ascii=False).encode()
        (out / f"step_{s}.json").write_bytes(data)
        nbytes += len(data)
    return lines, nbytes


FORMAT = LogFormat(
    name="openrlhf",
    trainer="OpenRLHF",
    pattern="step_*.json",
    files=openrlhf_files,
    matches=_matches,
    read=_read,
    write=_write,
    default_correct="reward==1",
)
