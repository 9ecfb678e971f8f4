"""From the long table to the sample x epoch accuracy matrix, with LIMR's missing-epoch rule
(``limr``, lim_selection.py's) or another one.

Epochs come from ``steps_per_epoch`` consecutive training steps (LIMR: 8), from an explicit epoch
column (native logs), or by pass: the k-th time a sample was seen is its epoch k (One-Shot-RLVR).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from sample_forge.errors import SampleForgeError

__all__ = ["EpochMatrix", "build_matrix", "MISSING_RULES", "fill_missing", "missing_rule"]

MISSING_RULES = ("limr", "chain", "drop", "interpolate")
_RENAMED = {"next": "chain"}  # old spelling -> name, accepted for this release


@dataclass
class EpochMatrix:
    """Accuracy per (sample, epoch), NaN where a sample has no value. Rows sorted by id."""

    ids: list[str]
    acc: np.ndarray  # [samples, epochs]
    filled: np.ndarray  # int per sample: epochs filled by the missing rule
    mode: str  # "steps" | "epoch" | "pass"
    lim_epochs: int  # LIM uses the first lim_epochs columns (all in steps mode)
    dropped: list[str] = field(default_factory=list)  # ids dropped as incomplete
    report: dict[str, object] = field(default_factory=dict)
    # what each cell's accuracy was measured on, for error bars (impact/uncertainty.py): rollouts
    # and correct ones per (sample, epoch), NaN where acc is; a filled cell carries its source's counts
    rollouts: np.ndarray | None = None
    correct: np.ndarray | None = None


def missing_rule(rule: str) -> str:
    """The rule's name; an old spelling is accepted with one line on stderr."""
    if rule in _RENAMED:
        new = _RENAMED[rule]
        sys.stderr.write(f"warning: missing-epoch rule '{rule}' is deprecated; use '{new}'\n")
        return new
    if rule not in MISSING_RULES:
        raise SampleForgeError(f"--missing: unknown rule '{rule}'; one of {', '.join(MISSING_RULES)}")
    return rule


def fill_missing(acc: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``rule`` to NaN cells. Returns (matrix, filled cells per row, keep mask per row)."""
    rule = missing_rule(rule)
    acc = acc.copy()
    missing = np.isnan(acc)
    if rule == "drop":
        return acc, np.zeros(len(acc), np.int64), ~missing.any(axis=1)
    if rule == "limr":
        # lim_selection.py's single forward pass: epoch k takes epoch k+1's value when k+1 was
        # logged, so of a run of missing epochs only the last is filled (and the sample dropped)
        take = missing[:, :-1] & ~missing[:, 1:]
        acc[:, :-1][take] = acc[:, 1:][take]
    elif rule == "chain":  # from the next epoch, chained back over a whole run; trailing gaps stay
        for k in range(acc.shape[1] - 2, -1, -1):
            gap = np.isnan(acc[:, k])
            acc[gap, k] = acc[gap, k + 1]
    else:  # interpolate: linear between the epochs around a gap, nearest value at the ends
        x = np.arange(acc.shape[1])
        for i in np.flatnonzero(missing.any(axis=1)):
            ok = ~missing[i]
            if ok.any():
                acc[i] = np.interp(x, x[ok], acc[i, ok])
    filled = (missing & ~np.isnan(acc)).sum(axis=1)
    return acc, filled, ~np.isnan(acc).any(axis=1)


def _sums(key: np.ndarray, weights: np.ndarray | None, size: int) -> np.ndarray:
    """Per-key sums of ``weights`` as float64; ``None`` (one rollout each) or a boolean mask (correct or
    not) are counted instead of summed as floats: the same numbers (integers), without a float array
    per record (a LIMR-shape run has 1.43M records)."""
    if weights is None:
        return np.bincount(key, minlength=size).astype(np.float64)
    if weights.dtype == np.bool_:
        return np.bincount(key[weights], minlength=size).astype(np.float64)
    return np.bincount(key, weights=weights, minlength=size)


def _cells(
    sample: np.ndarray, col: np.ndarray, n: int, width: int, rollouts: np.ndarray | None, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accuracy, rollouts, correct) per cell, each [n, width], NaN where a cell has no rollout."""
    cell = sample.astype(np.int64) * width + col
    roll = _sums(cell, rollouts, n * width)
    corr = _sums(cell, correct, n * width)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(roll > 0, corr / np.where(roll > 0, roll, 1), np.nan)
    none = roll <= 0
    roll[none] = np.nan
    corr[none] = np.nan
    return acc.reshape(n, width), roll.reshape(n, width), corr.reshape(n, width)


def build_matrix(
    ids: list[str],
    sample: np.ndarray,
    step: np.ndarray,
    rollouts: np.ndarray | None,
    correct: np.ndarray,
    *,
    epoch: np.ndarray | None = None,
    steps_per_epoch: int | None = None,
    first_step: int | None = None,
    by_pass: bool = False,
    missing: str = "limr",
) -> EpochMatrix:
    """The accuracy matrix. ``correct`` may be counts or accuracies (with ``rollouts`` = 1), or a
    boolean per rollout with ``rollouts`` None (one rollout per record)."""
    n = len(ids)
    if len(sample) == 0:
        raise SampleForgeError("the log holds no rollouts")
    # rows in id order, so results never depend on the order samples appeared in the logs
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    sample = rank[sample]
    ids = [ids[i] for i in order]
    report: dict[str, object] = {}
    if by_pass:
        s0 = int(step.min())
        span = int(step.max()) - s0 + 1
        key = sample.astype(np.int64) * span + (step - s0)
        uniq, inv = np.unique(key, return_inverse=True)
        usample = uniq // span
        first = np.searchsorted(usample, np.arange(n))
        pass_idx = np.arange(len(uniq)) - first[usample]
        width = int(pass_idx.max()) + 1
        roll = _sums(inv, rollouts, len(uniq))
        corr = _sums(inv, correct, len(uniq))
        acc = _cells(usample, pass_idx, n, width, None, corr / roll)[0]
        _, cell_roll, cell_corr = _cells(usample, pass_idx, n, width, roll, corr)
        counts = (~np.isnan(acc)).sum(axis=1)
        lim_epochs = int(counts.min())
        report.update(
            mode="pass",
            epochs=width,
            lim_epochs=lim_epochs,
            rule=f"by pass: LIM over the first {lim_epochs} passes (seen by every sample), "
            "other scores over each sample's whole curve",
        )
        return EpochMatrix(
            ids,
            acc,
            np.zeros(n, np.int64),
            "pass",
            lim_epochs,
            report=report,
            rollouts=cell_roll,
            correct=cell_corr,
        )
    if epoch is not None:
        col = epoch.astype(np.int64) - int(epoch.min())
        mode = "epoch"
    else:
        if not steps_per_epoch or steps_per_epoch < 1:
            raise SampleForgeError("need --steps-per-epoch N (LIMR: 8) or --epoch-by pass")
        s0 = int(step.min()) if first_step is None else first_step
        if int(step.min()) < s0:
            raise SampleForgeError(f"--first-step {s0} is after the first logged step {step.min()}")
        col = (step - s0) // steps_per_epoch
        mode = "steps"
    width = int(col.max()) + 1
    acc, roll, corr = _cells(sample, col, n, width, rollouts, correct)
    raw_missing = int(np.isnan(acc).sum())
    missing = missing_rule(missing)
    gap = np.isnan(acc)
    acc, filled, keep = fill_missing(acc, missing)
    # the same rule on the rollout counts; a filled cell's correct count follows its accuracy
    roll = fill_missing(roll, missing)[0]
    corr = np.where(gap, acc * roll, corr)
    dropped = [ids[i] for i in np.flatnonzero(~keep)]
    report.update(
        mode=mode,
        epochs=width,
        missing_rule=missing,
        missing_cells=raw_missing,
        filled_samples=int((filled[keep] > 0).sum()),
        filled_cells=int(filled[keep].sum()),
        dropped_samples=len(dropped),
        rule={
            "limr": "LIMR: a missing epoch takes the next epoch's accuracy if that one was logged "
            "(one forward pass); samples still incomplete are dropped",
            "chain": "a missing epoch takes the next logged epoch's accuracy (chained over runs of "
            "missing epochs); samples still incomplete are dropped",
            "drop": "samples with any missing epoch are dropped",
            "interpolate": "missing epochs linearly interpolated (ends: nearest)",
        }[missing],
    )
    return EpochMatrix(
        [ids[i] for i in np.flatnonzero(keep)],
        acc[keep],
        filled[keep],
        mode,
        width,
        dropped=dropped,
        report=report,
        rollouts=roll[keep],
        correct=corr[keep],
    )
