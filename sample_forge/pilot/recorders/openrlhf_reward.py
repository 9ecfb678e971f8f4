"""OpenRLHF recorder: a ``reward_func`` file for ``--remote_rm_url`` (with ``--label_key answer``).

    --remote_rm_url $(python -c "import sample_forge.pilot.recorders.openrlhf_reward as m; print(m.__file__)")
    --label_key answer
    # rewards go to $SAMPLE_FORGE_REWARD_LOG (default ./sample_forge_rewards.jsonl)

``reward_func(queries, prompts, labels)`` scores each response with math-verify on its last
``\\boxed{}`` (in a process pool, so it is safe in any thread) and appends one native trajectory row
per prompt and call: ``{"sample_id", "step", "rollouts", "correct", "rewards", "prompt"}``. OpenRLHF
tells a reward function neither the sample id nor the step, so ``sample_id`` is a hash of the prompt
text (``prompt`` is kept so ``sample-forge score --pool`` can join it back) and ``step`` counts the
calls in this process; set ``SAMPLE_FORGE_REWARD_STEP`` from your launcher to record the real step.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from typing import Any

from sample_forge.pilot.recorders.native import group_rows
from sample_forge.pilot.reward import correctness_rewards
from sample_forge.tables import append_jsonl

__all__ = ["reward_func", "prompt_id"]

_counter = itertools.count(1)
_lock = threading.Lock()


def prompt_id(prompt: str) -> str:
    """A stable id for a prompt whose dataset id the trainer does not pass on."""
    return "p" + hashlib.sha1(" ".join(prompt.split()).encode("utf-8")).hexdigest()[:16]


def _response(query: str, prompt: str) -> str:
    # queries are prompt + response; anything else is scored whole
    return query[len(prompt) :] if query.startswith(prompt) else query


def reward_func(queries: list[str], prompts: list[str], labels: list[str], **kwargs: Any) -> dict[str, Any]:
    import torch

    responses = [_response(q, p) for q, p in zip(queries, prompts, strict=True)]
    rewards = correctness_rewards(responses, labels)
    with _lock:
        step = int(os.environ.get("SAMPLE_FORGE_REWARD_STEP") or next(_counter))
        rows = group_rows([prompt_id(p) for p in prompts], rewards, step=step)
        text = {prompt_id(p): p for p in prompts}
        for row in rows:
            row["prompt"] = text[row["sample_id"]]
        append_jsonl(os.environ.get("SAMPLE_FORGE_REWARD_LOG", "sample_forge_rewards.jsonl"), rows)
    t = torch.tensor(rewards, dtype=torch.float32)
    return {"rewards": t, "scores": t, "extra_logs": {"accuracy": t}}
