"""Naming the training steps a log skips, with the likely cause for the trainer that wrote it.

A step missing from a log otherwise only shows up later as missing epochs; a log whose steps skip
numbers usually means a logging setting, not the run, so the reader says so in its notes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["missing_steps", "step_gap_note"]

_SHOW = 8  # missing steps named in the note; the rest are counted

# why a trainer's log skips steps, and what to set instead
_CAUSES = {
    "trl": "TRL keeps only the last generation batch of each logging step, so logging_steps > 1 "
    "leaves the other steps out of completions/; log with logging_steps=1",
    "verl": "verl writes one {step}.jsonl per step: files are missing (deleted, or a resumed run "
    "wrote only the later steps)",
    "openrlhf": "OpenRLHF/LIMR write one step_N.json per step: files are missing (deleted, or a "
    "resumed run wrote only the later steps)",
}


def missing_steps(step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logged steps, steps between the first and the last logged one that are not logged)."""
    if len(step) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s0, s1 = int(step.min()), int(step.max())
    if s1 - s0 < 50_000_000:  # a count per step is linear; a sort is not needed
        seen = np.bincount(np.asarray(step, np.int64) - s0, minlength=s1 - s0 + 1) > 0
        return np.flatnonzero(seen) + s0, np.flatnonzero(~seen) + s0
    logged = np.unique(step)
    return logged, np.setdiff1d(np.arange(s0, s1 + 1), logged)


def step_gap_note(step: np.ndarray, trainer: str) -> str | None:
    """One note naming the skipped steps (first few + count) and the likely cause, or None."""
    logged, gaps = missing_steps(step)
    if not len(gaps):
        return None
    shown = ", ".join(str(int(s)) for s in gaps[:_SHOW]) + (", …" if len(gaps) > _SHOW else "")
    stride = np.diff(logged)
    every = (
        f"; only every {int(stride[0])}th step is logged"
        if len(stride) > 1 and (stride == stride[0]).all()
        else ""
    )
    cause = _CAUSES.get(trainer, "steps were not logged")
    return (
        f"the log's steps skip numbers: {len(gaps)} of steps {int(logged[0])}-{int(logged[-1])} "
        f"are missing ({shown}){every}. Likely cause: {cause}"
    )
