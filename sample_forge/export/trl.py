"""TRL ``GRPOTrainer`` rows: a chat ``prompt``, a ``solution`` for ``trl.rewards.accuracy_reward`` and a
``sample_id`` (TRL passes every extra column to the reward functions and to ``log_extra``).

``accuracy_reward`` parses the solution with math-verify's default extraction: a bare ``\\frac{\\sqrt{3}}{2}``
would parse as ``3``. ``$\\boxed{answer}$`` parses whole, and a completion equal to it scores 1.0."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sample_forge.answers import extract_boxed
from sample_forge.export.samples import ExportSample

__all__ = ["trl_rows", "trl_solution"]


def trl_solution(answer: str) -> str:
    """``$\\boxed{answer}$``; an answer already boxed or in ``$...$`` is unwrapped first."""
    a = str(answer).strip()
    inner = extract_boxed(a)
    if inner is not None:
        a = inner
    elif len(a) >= 2 and a.startswith("$") and a.endswith("$") and not a.startswith("\\$"):
        a = a.strip("$").strip()
    return "$\\boxed{" + a + "}$"


def trl_rows(samples: Sequence[ExportSample], *, repeat: int) -> list[dict[str, Any]]:
    rows = []
    for s in samples:
        row = {
            "prompt": [{"role": "user", "content": s.prompt}],
            "solution": trl_solution(s.answer),
            "sample_id": s.id,
        }
        rows.extend(dict(row) for _ in range(repeat))
    return rows
