"""The correctness reward shared by the pilot and the recorders: 1.0 when the last ``\\boxed{}`` of a
completion is math-verify-equivalent to the gold answer, else 0.0 (no box, wrong, unparseable or
timed out).

math-verify only ever runs in :class:`sample_forge.answers.AnswerChecker`'s worker processes here, so
the reward is safe to call from any thread (verl >= 0.7 calls reward functions from a thread pool,
where math-verify's ``signal.alarm`` timeout would raise or silently score 0).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Sequence
from typing import Any

from sample_forge.answers import AnswerChecker, extract_boxed

__all__ = [
    "INSTRUCTION",
    "EXAMPLE",
    "build_prompt",
    "completion_text",
    "correctness_rewards",
    "shared_checker",
]

# Small instruct models rarely box their answer unless asked to, and an unboxed answer scores 0.
INSTRUCTION = "Put the final answer in \\boxed{}."
# One worked exchange before the problem: with it SmolLM2-135M answers short, boxed, and sometimes
# right on easy problems (about 1 in 10 rollouts on the demo pool's first problems, measured with
# llama.cpp); with a bare "solve step by step" instruction it rambled past 64 tokens and boxed nothing.
EXAMPLE = ("What is $3+4$?", "$3+4=7$. The final answer is $\\boxed{7}$.")


def build_prompt(
    problem: str, instruction: str = INSTRUCTION, example: tuple[str, str] | None = EXAMPLE
) -> list[dict[str, str]]:
    """The chat prompt the pilot trains on (the model's chat template is applied by TRL):
    an optional one-shot exchange, then the problem with the instruction."""
    msgs = []
    if example is not None:
        msgs += [
            {"role": "user", "content": f"{example[0]} {instruction}"},
            {"role": "assistant", "content": example[1]},
        ]
    return msgs + [{"role": "user", "content": f"{problem.strip()} {instruction}"}]


def completion_text(completion: Any) -> str:
    """TRL passes a conversational completion as ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    return str(completion)


_checkers: dict[float, AnswerChecker] = {}
_lock = threading.Lock()


def shared_checker(timeout: float = 5.0) -> AnswerChecker:
    """One process-wide checker per timeout (workers: ``SAMPLE_FORGE_CHECK_WORKERS``, default 2).
    Shared by all threads of a process; its own lock serializes batches."""
    with _lock:
        checker = _checkers.get(float(timeout))
        if checker is None:
            workers = int(os.environ.get("SAMPLE_FORGE_CHECK_WORKERS", "2"))
            checker = AnswerChecker(timeout=timeout, workers=workers)
            _checkers[float(timeout)] = checker
            atexit.register(checker.close)
        return checker


def correctness_rewards(
    completions: Sequence[Any],
    golds: Sequence[Any],
    checker: AnswerChecker | None = None,
    timeout: float = 5.0,
) -> list[float]:
    """One 0/1 reward per completion, in order. Completions without a box are not sent to math-verify."""
    if len(completions) != len(golds):
        raise ValueError(f"{len(completions)} completions but {len(golds)} gold answers")
    preds = [extract_boxed(completion_text(c)) for c in completions]
    todo = [i for i, (p, g) in enumerate(zip(preds, golds)) if p is not None and g not in (None, "")]
    rewards = [0.0] * len(completions)
    if todo:
        checker = checker or shared_checker(timeout)
        verdicts = checker.check_many([(str(golds[i]), str(preds[i])) for i in todo])
        for i, ok in zip(todo, verdicts):
            rewards[i] = 1.0 if ok else 0.0
    return rewards
