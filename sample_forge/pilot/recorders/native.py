"""Rows of the native trajectory format (``docs/design.md``): one JSONL row per (sample, step),
``{"sample_id", "step", "epoch"?, "rollouts", "correct", "rewards": [...]}``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["group_rows", "is_correct"]


def is_correct(reward: float) -> bool:
    """A rollout counts as correct when its reward is (at least) 1, as in LIMR (+1 / -0.5 / -1)."""
    return reward is not None and reward == reward and float(reward) >= 1.0


def group_rows(
    sample_ids: Sequence[Any],
    rewards: Sequence[float],
    *,
    step: int,
    epochs: Sequence[Any] | None = None,
    correct: Callable[[float], bool] = is_correct,
    keep: Sequence[bool] | None = None,
) -> list[dict[str, Any]]:
    """Group one step's per-rollout rewards by sample, in first-seen order.

    ``keep[i] = False`` leaves rollout i out (the pilot's padding prompts). NaN rewards (a reward
    function that returned None) are kept as None and count as not correct.
    """
    rows: dict[str, dict[str, Any]] = {}
    for i, (sid, r) in enumerate(zip(sample_ids, rewards, strict=True)):
        if keep is not None and not keep[i]:
            continue
        key = str(sid)
        row = rows.get(key)
        if row is None:
            row = {"sample_id": key, "step": int(step)}
            if epochs is not None:
                row["epoch"] = int(epochs[i])
            row.update(rollouts=0, correct=0, rewards=[])
            rows[key] = row
        value = None if r is None or r != r else float(r)
        row["rewards"].append(value)
        row["rollouts"] += 1
        row["correct"] += int(value is not None and correct(value))
    return list(rows.values())
