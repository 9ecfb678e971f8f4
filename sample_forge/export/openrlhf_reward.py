"""OpenRLHF reward function for the exported ``input``/``label`` rows: 1.0 when math-verify finds the
completion's final answer equivalent to the label, else 0.0. ``sample-forge export --to openrlhf`` copies
this file next to the data; pass it as ``--remote_rm_url reward_func.py``.

Self-contained on purpose (it runs inside the trainer, which does not need sample-forge installed)."""

from __future__ import annotations

import threading


def _gold(label: str) -> str:
    s = str(label).strip()
    return s if ("$" in s or "\\boxed" in s) else "$\\boxed{" + s + "}$"


def _score(completion: str, label: str) -> float:
    from math_verify import LatexExtractionConfig, parse, verify

    # math-verify times out with signal.alarm, which only works in the main thread
    t = 5 if threading.current_thread() is threading.main_thread() else None
    gold = parse(_gold(label), parsing_timeout=t)
    if not gold:
        return 0.0
    pred = parse(completion, extraction_config=[LatexExtractionConfig(boxed_match_priority=0)],
                 parsing_timeout=t)
    return float(bool(pred) and verify(gold, pred, timeout_seconds=t))


def reward_func(queries, prompts, labels, **kwargs):  # type: ignore[no-untyped-def]
    """OpenRLHF's signature: ``queries`` = prompt + response, ``labels`` from ``--label_key``."""
    import torch

    scores = []
    for query, prompt, label in zip(queries, prompts, labels):
        completion = query[len(prompt):] if query.startswith(prompt) else query
        try:
            scores.append(_score(completion, label))
        except Exception:  # one bad completion must not stop the run
            scores.append(0.0)
    rewards = torch.tensor(scores, dtype=torch.float32)
    return {"rewards": rewards, "scores": rewards, "extra_logs": {"accuracy": rewards}}
