"""verl recorder: a custom reward function module for ``custom_reward_function.path``.

    custom_reward_function.path=$(python -c "import sample_forge.pilot.recorders.verl_reward as m; print(m.__file__)")
    custom_reward_function.name=compute_score
    trainer.rollout_data_dir=runs/pilot/rollouts

``compute_score`` returns a dict: ``score`` (0/1 correctness by math-verify on the last ``\\boxed{}``)
plus ``acc``, ``pred`` and ``index`` (the sample's ``extra_info["index"]``, as written by
``sample-forge export``). verl puts every key of that dict into its ``{step}.jsonl`` rollout dumps, so
each dumped response carries its sample id and ``sample-forge score`` can key by it instead of by
prompt text.

Thread safety: verl >= 0.7 calls reward functions from a thread pool. math-verify's timeout uses
``signal.alarm``, which only works in the main thread (elsewhere it raises, and verl scores 0). Here
math-verify never runs in the calling thread: every check goes to a module-level process pool
(:func:`sample_forge.pilot.reward.shared_checker`) with a hard per-item timeout.
"""

from __future__ import annotations

from typing import Any

from sample_forge.pilot.reward import correctness_rewards

__all__ = ["compute_score"]

TIMEOUT = 5.0  # seconds per answer check; a check that overruns scores 0


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's reward signature. Every call returns the same keys (verl stacks them per batch)."""
    from sample_forge.answers import extract_boxed

    gold = ground_truth[0] if isinstance(ground_truth, (list, tuple)) and ground_truth else ground_truth
    score = correctness_rewards([solution_str], [gold], timeout=TIMEOUT)[0]
    index = (extra_info or {}).get("index")
    return {
        "score": float(score),
        "acc": bool(score >= 1.0),
        "pred": extract_boxed(solution_str) or "",
        "index": -1 if index is None else index,
    }
