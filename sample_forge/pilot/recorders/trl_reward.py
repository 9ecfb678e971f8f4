"""TRL recorder: wrap any GRPOTrainer reward function so TRL's own completions log
(``log_completions=True`` -> ``<output_dir>/completions/completions_{step:05d}.parquet``) gets a
``sample_id`` column, and optionally write the native trajectory (one JSONL row per sample and step).

The ``sample_id`` column reaches the log through the ``log_extra`` callable that GRPOTrainer passes to
reward functions (TRL 1.x; checked with TRL 1.16). On a TRL without ``log_extra`` the completions
log has no id column; pass ``trajectory=`` to still record rewards per sample.

    from sample_forge.pilot.recorders.trl_reward import RecordingReward
    trainer = GRPOTrainer(..., reward_funcs=[RecordingReward(my_reward, trajectory="runs/x/trajectory.jsonl")])
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sample_forge.pilot.recorders.native import group_rows, is_correct
from sample_forge.tables import append_jsonl

__all__ = ["RecordingReward", "correctness_reward"]


def correctness_reward(completions: Sequence[Any], answer: Sequence[Any], **kwargs: Any) -> list[float]:
    """A TRL reward function: 1.0 when the last ``\\boxed{}`` matches the dataset's ``answer`` column
    (math-verify in a process pool), else 0.0."""
    from sample_forge.pilot.reward import correctness_rewards

    return correctness_rewards(completions, answer)


class RecordingReward:
    """Call ``reward_func`` unchanged; log ``id_column`` (and ``extra_columns``) per completion via
    ``log_extra``; append native trajectory rows to ``trajectory`` when given.

    The step recorded is ``trainer_state.global_step + 1``: rewards are computed while step
    ``global_step + 1`` is being built, and TRL names that step's completions file with the same number.
    Rollouts whose ``skip_column`` value is true are trained on but not recorded.
    """

    def __init__(
        self,
        reward_func: Callable[..., Sequence[float]],
        *,
        id_column: str = "sample_id",
        trajectory: str | os.PathLike[str] | None = None,
        extra_columns: Sequence[str] = ("epoch",),
        skip_column: str | None = None,
        correct: Callable[[float], bool] = is_correct,
    ) -> None:
        self.reward_func = reward_func
        self.id_column = id_column
        self.trajectory = trajectory
        self.extra_columns = tuple(extra_columns)
        self.skip_column = skip_column
        self.correct = correct
        # TRL names a reward function's columns and metrics after __name__
        self.__name__ = getattr(reward_func, "__name__", type(reward_func).__name__)
        self._calls = 0
        self._lock = threading.Lock()
        self.seen_rollouts = 0
        self.seen_correct = 0
        self.last_rows: list[dict[str, Any]] = []

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        rewards = list(self.reward_func(prompts=prompts, completions=completions, **kwargs))
        ids = kwargs.get(self.id_column)
        if ids is None:
            raise KeyError(
                f"RecordingReward: the training dataset has no '{self.id_column}' column "
                f"(columns passed to reward functions: {sorted(k for k in kwargs if k not in _TRL_KW)})"
            )
        ids = list(ids)
        log_extra = kwargs.get("log_extra")
        if log_extra is not None:
            log_extra(self.id_column, [str(i) for i in ids])
            for col in self.extra_columns:
                if col in kwargs:
                    log_extra(col, list(kwargs[col]))
        with self._lock:
            self._calls += 1
            state = kwargs.get("trainer_state")
            step = int(state.global_step) + 1 if state is not None else self._calls
            keep = None
            if self.skip_column and self.skip_column in kwargs:
                keep = [not bool(v) for v in kwargs[self.skip_column]]
            epochs = kwargs.get("epoch") if "epoch" in self.extra_columns else None
            rows = group_rows(ids, rewards, step=step, epochs=epochs, correct=self.correct, keep=keep)
            self.last_rows = rows
            for row in rows:
                self.seen_rollouts += row["rollouts"]
                self.seen_correct += row["correct"]
            if self.trajectory is not None and rows:
                append_jsonl(self.trajectory, rows)
        return rewards

    @property
    def mean_accuracy(self) -> float | None:
        """Running mean accuracy over every recorded rollout so far."""
        return self.seen_correct / self.seen_rollouts if self.seen_rollouts else None


_TRL_KW = {"trainer_state", "log_extra", "log_metric", "completion_ids", "environments"}
