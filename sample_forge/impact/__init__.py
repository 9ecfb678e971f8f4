"""Learning-impact scoring of training samples from a pilot RL run (LIMR, 1-shot RLVR).

The names below are loaded on first use, so importing ``sample_forge.impact.formats`` (the CLI's
``--format`` choices) does not load NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ScoreConfig",
    "ScoreResult",
    "score_run",
    "read_trajectory",
    "compute_scores",
    "lim_scores",
    "SimConfig",
    "simulate_run",
]

_HOME = {
    "ScoreConfig": "run",
    "ScoreResult": "run",
    "score_run": "run",
    "read_trajectory": "run",
    "compute_scores": "scores",
    "lim_scores": "scores",
    "SimConfig": "simulate",
    "simulate_run": "simulate",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
