"""The trainers ``export`` writes for, by name. Each module of this package defines one ``TRAINER``
(a :class:`Trainer`); listing it in ``_MODULES`` registers it everywhere: ``export --to``, the
manifest, the forge export stage and the docs table (tests/test_trainers_registry.py checks all four)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from sample_forge.errors import SampleForgeError
from sample_forge.export.trainers.base import Dataset, PaperSettings, RowOptions, Trainer

__all__ = ["TRAINERS", "Trainer", "PaperSettings", "RowOptions", "Dataset", "get_trainer"]

# the order of `--to` help and error messages; verl (the default) first
_MODULES = ("verl", "trl", "openrlhf", "slime", "roll")


def _load() -> Mapping[str, Trainer]:
    found: dict[str, Trainer] = {}
    for mod in _MODULES:
        t = importlib.import_module(f"{__name__}.{mod}").TRAINER
        if t.name != mod:  # the module name is the one place to look for a trainer's code
            raise SampleForgeError(f"trainers/{mod}.py defines trainer '{t.name}'; name it '{mod}'")
        found[t.name] = t
    return MappingProxyType(found)


TRAINERS: Mapping[str, Trainer] = _load()


def get_trainer(name: str) -> Trainer:
    try:
        return TRAINERS[name]
    except KeyError:
        raise SampleForgeError(f"unknown trainer '{name}'; one of {', '.join(TRAINERS)}") from None
