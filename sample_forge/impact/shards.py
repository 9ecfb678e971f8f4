"""What the fast log readers (verl, OpenRLHF) share around their hot loops: a reader process's own
sample table and columns (:class:`Shard`), running the readers in processes, and merging what they
read into one :class:`Trajectory`. The parsing itself stays in each format's module."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sample_forge.errors import InputError
from sample_forge.impact.longtable import ReadStats, SampleRegistry, Trajectory

__all__ = ["Shard", "error_result", "string_end", "in_processes", "merge_shards", "few_distinct"]

FEW_VALUES = 8  # distinct values found by one comparison each; np.unique past that


def few_distinct(values: np.ndarray, limit: int = FEW_VALUES) -> tuple[list[Any], np.ndarray] | None:
    """The distinct values of ``values`` (first appearance first) and each entry's index among
    them, by one comparison per distinct value: a rule reward has two or three, and this is several
    times quicker than np.unique's sort. None past ``limit`` distinct values."""
    found: list[Any] = []
    inverse = np.zeros(len(values), dtype=np.intp)
    left = np.ones(len(values), dtype=bool)
    if not len(values):
        return found, inverse
    at = 0
    while len(found) < limit:
        v = values[at]
        hit = values == v
        if not hit[at]:  # NaN: equal to nothing
            return None
        inverse[hit] = len(found)
        found.append(v.item())
        left &= ~hit
        at = int(left.argmax())
        if not left[at]:
            return found, inverse
    return None


class Shard:
    """One reader process's sample table (``ids``, ``texts``, ``by_id``: local indices) and columns
    (local sample, step, reward per entry; ``count``: the rollouts an entry stands for, set by
    :meth:`add_step`), sent back to the parent by :meth:`result`."""

    def __init__(self, skip_bad: bool) -> None:
        self.skip_bad = skip_bad
        self.ids: list[str] = []
        self.texts: list[str | None] = []
        self.by_id: dict[str, int] = {}
        self.sample = array("i")
        self.step = array("q")
        self.reward = array("d")
        self.count: array | None = None
        self.stats = ReadStats()

    def add_step(
        self, idx: Sequence[int] | np.ndarray, step: int, reward: Sequence[float] | np.ndarray
    ) -> None:
        """One training step's rollouts (local sample, reward each), tallied: one entry per sample
        and reward value, with the rollouts it stands for in ``count``. The epoch matrix only sums
        rollouts and correct ones per cell, so a tally gives the same cells from a fraction of the
        entries (a LIMR-shape run: 1.43M rollouts, 0.39M entries). Rewards of more than
        ``FEW_VALUES`` distinct values are kept one entry per rollout."""
        idx = np.asarray(idx, dtype=np.intc)
        reward = np.asarray(reward, dtype=np.float64)
        if self.count is None:
            self.count = array("i", [1]) * len(self.sample)
        few = few_distinct(reward)
        if few is None:
            count = np.ones(len(idx), dtype=np.intc)
        else:
            values, inverse = few
            n = len(self.ids)
            tally = np.bincount(inverse * n + idx, minlength=len(values) * n)
            cell = np.flatnonzero(tally)
            count = tally[cell].astype(np.intc)
            idx = (cell % n).astype(np.intc)
            reward = np.asarray(values, dtype=np.float64)[cell // n]
        self.sample.frombytes(idx.tobytes())
        self.step.extend(array("q", [step]) * len(idx))
        self.reward.frombytes(reward.tobytes())
        self.count.frombytes(count.tobytes())

    def result(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "texts": self.texts,
            "sample": self.sample.tobytes(),
            "step": self.step.tobytes(),
            "reward": self.reward.tobytes(),
            "count": None if self.count is None else self.count.tobytes(),
            "stats": self.stats,
        }


def error_result(e: InputError) -> dict[str, Any]:
    """A reader process's error as a result: exceptions with keyword fields do not survive pickling."""
    return {"error": str(e.args[0]) if e.args else str(e)}


def string_end(data: bytes, start: int) -> int:
    """Index of the quote closing the JSON string whose content starts at ``start``, or -1."""
    e = data.find(b'"', start)
    while e > 0 and data[e - 1] == 92:  # an odd run of backslashes escapes it
        b = e - 1
        while data[b - 1] == 92:
            b -= 1
        if (e - b) % 2 == 0:
            break
        e = data.find(b'"', e + 1)
    return e


def in_processes(
    run: Callable[..., dict[str, Any]], parts: Sequence[Any], *args: Any
) -> list[dict[str, Any]]:
    """``run(part, *args)`` for each part, each in a process of its own (in this one for one part)."""
    if len(parts) == 1:
        return [run(parts[0], *args)]
    import multiprocessing as mp
    import threading
    from concurrent.futures import ProcessPoolExecutor

    n = len(parts)
    # fork is cheapest, but forking a process that runs other threads can deadlock the child
    fork_ok = "fork" in mp.get_all_start_methods() and threading.active_count() == 1
    ctx = mp.get_context("fork" if fork_ok else "spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as ex:
        return list(ex.map(run, parts, *([a] * n for a in args)))


def merge_shards(fmt: str, results: list[dict[str, Any]], *, keyed_by: str) -> Trajectory:
    """One trajectory of the shards' results, in order; the first error a shard met is raised."""
    for r in results:
        if "error" in r:
            raise InputError(r["error"])
    reg = SampleRegistry(keyed_by=keyed_by)
    stats = ReadStats()
    samples, steps, rewards, counts = [], [], [], []
    tallied = any(r.get("count") is not None for r in results)
    for r in results:
        remap = np.array([reg.add(sid, text) for sid, text in zip(r["ids"], r["texts"])], dtype=np.int32)
        local = np.frombuffer(r["sample"], dtype=np.int32)
        samples.append(remap[local] if len(local) else local)
        steps.append(np.frombuffer(r["step"], dtype=np.int64))
        rewards.append(np.frombuffer(r["reward"], dtype=np.float64))
        if tallied:  # a shard without a tally holds one rollout per entry
            c = r.get("count")
            counts.append(np.ones(len(local), np.int32) if c is None else np.frombuffer(c, dtype=np.int32))
        stats.merge(r["stats"])

    def cat(xs, dt):
        return np.concatenate(xs) if xs else np.zeros(0, dt)

    return Trajectory(
        format=fmt,
        registry=reg,
        sample=cat(samples, np.int32),
        step=cat(steps, np.int64),
        reward=cat(rewards, np.float64),
        count=cat(counts, np.int32) if tallied else None,
        stats=stats,
    )
