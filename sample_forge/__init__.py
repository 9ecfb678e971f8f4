"""sample-forge: find or build the one training problem that teaches a base model the most.

The stages, one function each (loaded on first use, so ``import sample_forge`` stays light)::

    load_pool -> tag_problems -> score_run -> select -> export_selection      (synthesize -> select prime)
    run_forge: the whole pipeline from a recipe

``export`` and ``forge`` are also subpackage names, so their functions are re-exported as
``export_selection`` and ``run_forge``.
"""

from __future__ import annotations

import importlib
from typing import Any

from sample_forge.errors import SampleForgeError
from sample_forge.records import Problem

__version__ = "0.1.0"

_STAGES = {
    "load_pool": ("sample_forge.pool", "load_pool"),
    "tag_problems": ("sample_forge.skills", "tag_problems"),
    "score_run": ("sample_forge.impact.run", "score_run"),
    "synthesize": ("sample_forge.synth", "synthesize"),
    "select": ("sample_forge.selection", "select"),
    "export_selection": ("sample_forge.export", "export"),
    "run_forge": ("sample_forge.forge.run", "forge"),
}

__all__ = [*_STAGES, "Problem", "SampleForgeError", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _STAGES:
        module, attr = _STAGES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sample_forge' has no attribute {name!r}")
