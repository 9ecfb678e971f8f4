"""The trainers ``export`` writes for, by name. Each module of this package is one trainer: it
declares ``TRAINER = Trainer.from_module(__name__, ...)`` and is registered by being there (see
``sample_forge/registry.py``): ``export --to``, the manifest, the forge export stage and the docs
table (tests/test_trainers_registry.py checks all four). verl, the default, is listed first."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sample_forge.export.trainers.base import Dataset, PaperSettings, RowOptions, Trainer
from sample_forge.registry import Registry

__all__ = ["TRAINERS", "Trainer", "PaperSettings", "RowOptions", "Dataset", "get_trainer"]

_REGISTRY: Registry[Trainer] = Registry(__name__, "TRAINER", "trainer", first="verl")
TRAINERS: Mapping[str, Trainer] = MappingProxyType(_REGISTRY.all())
get_trainer = _REGISTRY.get
