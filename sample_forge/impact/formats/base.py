"""What a trainer log format is to sample-forge: the one object each module of ``formats/`` defines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sample_forge.impact.longtable import Trajectory
from sample_forge.impact.rules import Rule
from sample_forge.registry import module_entry

__all__ = ["LogFormat", "ReadOptions", "SimRun"]

_CHATML = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{{}}.<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"
)


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings from ``ScoreConfig``; a reader uses the ones its format has a use for."""

    skip_bad_lines: bool = False
    workers: int | None = None
    reward_column: str | None = None
    rule: Rule | None = None  # a user --correct rule, for logs that keep per-rollout rewards


@dataclass
class SimRun:
    """One simulated run, ready to be written in any layout (built by ``impact.simulate``)."""

    problems: list[dict[str, Any]]
    correct: np.ndarray  # correct rollouts [sample, epoch]
    by_step: dict[int, list[tuple[int, int]]]  # step -> [(sample, epoch), ...] in a fixed order
    rollouts: int
    with_ids: bool
    responses: Any  # simulate._Responses: .texts, .json, .next()
    rng: np.random.Generator

    @property
    def total_steps(self) -> int:
        return len(self.by_step)

    def rollouts_of(self, i: int, e: int) -> list[bool]:
        c = int(self.correct[i, e])
        return [k < c for k in range(self.rollouts)]

    def prompt(self, i: int) -> str:
        """Sample i's problem in the chat template the trainers log."""
        return _CHATML.format(q=self.problems[i]["problem"])


@dataclass(frozen=True)
class LogFormat:
    """A trainer log format: how to find its files, read them, judge a rollout, and simulate one.

    The registry (``formats/__init__.py``) finds every module of the package; each is named after
    its format and declares ``FORMAT = LogFormat.from_module(__name__, ...)``.
    """

    name: str  # the --format value
    trainer: str  # who writes it, for messages ("One-Shot-RLVR")
    pattern: str  # one line: the files it is made of
    files: Callable[[Path], list[Path]]  # the format's files in a directory, in reading order
    matches: Callable[[Path], bool]  # one file is of this format
    read: Callable[[list[Path], ReadOptions], Trajectory]
    write: Callable[[Path, SimRun], tuple[int, int]]  # simulator: writes a run, returns (records, bytes)
    default_correct: str | None = None  # rule on the logged reward; None: the log holds correctness itself
    logged: str = "rewards"  # what the log holds about correctness, for the report
    takes_correct_rule: bool = True  # False: a --correct rule cannot apply (nothing to apply it to)
    supersedes: tuple[str, ...] = ()  # formats written alongside it that it makes redundant

    @classmethod
    def from_module(cls, module: str, trainer: str, pattern: str, **more: Any) -> LogFormat:
        """The format a module defines by its conventional names: ``{name}_files``, ``_matches``,
        ``_read`` and ``_write``; ``more`` are the fields after ``write``."""
        name, ns = module_entry(module)
        functions = (ns[f"{name}_files"], ns["_matches"], ns["_read"], ns["_write"])
        return cls(name, trainer, pattern, *functions, **more)
