"""``forge``: the whole pipeline from a recipe, in a resumable run directory: ``recipe`` (the TOML
file), ``stages`` (markers and fingerprints), ``rundir`` (the files of a run), ``run`` (``forge``)."""

from __future__ import annotations

from typing import Any

__all__ = ["forge", "plan"]


def __getattr__(name: str) -> Any:
    # lazy: report/ reads a run directory without importing every stage
    if name in __all__:
        from sample_forge.forge import run

        return getattr(run, name)
    raise AttributeError(name)
