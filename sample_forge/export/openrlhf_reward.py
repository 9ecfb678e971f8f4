"""OpenRLHF reward function for the exported ``input``/``label`` rows: 1.0 when math-verify finds the
completion's final answer equivalent to the label, else 0.0. ``sample-forge export --to openrlhf`` copies
this file next to the data; pass it as ``--remote_rm_url reward_func.py``.

Self-contained on purpose (it runs inside the trainer, which does not need sample-forge installed).
math-verify times out with ``signal.alarm``, which only works in the main thread; called from any other
thread, the batch is scored by ``python reward_func.py`` in a child process under a hard timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

_TIMEOUT = 5  # seconds per math-verify phase
_CHILD_TIMEOUT = float(os.environ.get("SAMPLE_FORGE_REWARD_TIMEOUT", "120"))  # whole batch, hard


def _gold(label: str) -> str:
    s = str(label).strip()
    return s if ("$" in s or "\\boxed" in s) else "$\\boxed{" + s + "}$"


def _score(completion: str, label: str) -> float:
    from math_verify import LatexExtractionConfig, parse, verify

    gold = parse(_gold(label), parsing_timeout=_TIMEOUT)
    if not gold:
        return 0.0
    pred = parse(
        completion,
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0)],
        parsing_timeout=_TIMEOUT,
    )
    return float(bool(pred) and verify(gold, pred, timeout_seconds=_TIMEOUT))


def _score_all(pairs: list[tuple[str, str]]) -> list[float]:
    scores = []
    for completion, label in pairs:
        try:
            scores.append(_score(completion, label))
        except Exception:  # one bad completion must not stop the run
            scores.append(0.0)
    return scores


def _score_in_child(pairs: list[tuple[str, str]]) -> list[float]:
    """Score in a fresh interpreter (its main thread, so math-verify's alarms work); killed after
    ``_CHILD_TIMEOUT`` seconds, which then scores the whole batch 0.0 with a warning."""
    try:
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__)],
            input=json.dumps(pairs),
            capture_output=True,
            text=True,
            timeout=_CHILD_TIMEOUT,
            check=True,
        )
        scores = json.loads(out.stdout)
        if len(scores) == len(pairs):
            return [float(s) for s in scores]
        reason = f"child returned {len(scores)} scores for {len(pairs)} completions"
    except subprocess.TimeoutExpired:
        reason = f"scoring took over {_CHILD_TIMEOUT:g}s"
    except (subprocess.CalledProcessError, ValueError) as e:
        reason = f"scoring process failed: {str(getattr(e, 'stderr', '') or e).strip()[-300:]}"
    print(f"reward_func: {reason}; {len(pairs)} completions scored 0.0", file=sys.stderr)
    return [0.0] * len(pairs)


def reward_func(queries, prompts, labels, **kwargs):  # type: ignore[no-untyped-def]
    """OpenRLHF's signature: ``queries`` = prompt + response, ``labels`` from ``--label_key``."""
    import torch

    pairs = [
        (query[len(prompt) :] if query.startswith(prompt) else query, str(label))
        for query, prompt, label in zip(queries, prompts, labels)
    ]
    if threading.current_thread() is threading.main_thread():
        scores = _score_all(pairs)
    else:
        scores = _score_in_child(pairs)
    rewards = torch.tensor(scores, dtype=torch.float32)
    return {"rewards": rewards, "scores": rewards, "extra_logs": {"accuracy": rewards}}


if __name__ == "__main__":  # the child of _score_in_child: JSON [[completion, label], ...] on stdin
    json.dump(_score_all([(c, lbl) for c, lbl in json.load(sys.stdin)]), sys.stdout)
