"""The registry of trainer log formats that ``score`` reads and ``simulate-pilot`` writes.

Every module of this package except ``base`` is one format: it is named after the format and
defines ``FORMAT = LogFormat(...)`` (see ``base.py``). Adding a format is adding a module; the
``--format`` choices, detection, the reader, the default correctness rule and the simulator all
come from here. Names are listed without importing the modules, so the CLI stays quick to start.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

from sample_forge.errors import SampleForgeError

if TYPE_CHECKING:
    from sample_forge.impact.formats.base import LogFormat

__all__ = ["names", "get", "registry", "looks_for"]

_NOT_FORMATS = {"base"}


@cache
def names() -> tuple[str, ...]:
    """Every registered format name, sorted."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_FORMATS))


@cache
def get(name: str) -> LogFormat:
    if name not in names():
        raise SampleForgeError(f"unknown log format '{name}'; one of {', '.join(names())}")
    fmt = importlib.import_module(f"{__name__}.{name}").FORMAT
    if fmt.name != name:
        raise SampleForgeError(f"formats/{name}.py defines FORMAT.name = {fmt.name!r}; name it {name!r}")
    return fmt


def registry() -> dict[str, LogFormat]:
    return {n: get(n) for n in names()}


def looks_for() -> str:
    """What detection looks for, one phrase per format (for 'nothing found' errors)."""
    return ", ".join(f"{f.trainer} {f.pattern}" for f in registry().values())
