"""The registry of trainer log formats that ``score`` reads and ``simulate-pilot`` writes.

Every module of this package except ``base`` is one format: it is named after the format and
declares ``FORMAT = LogFormat.from_module(__name__, ...)`` (see ``base.py``). Adding a format is
adding a module (``sample_forge/registry.py``, as for trainers); the ``--format`` choices, detection,
the reader, the default correctness rule and the simulator all come from here. Names are listed
without importing the modules, so the CLI stays quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sample_forge.registry import Registry

if TYPE_CHECKING:
    from sample_forge.impact.formats.base import LogFormat

__all__ = ["names", "get", "registry", "looks_for"]

_REGISTRY: Registry[LogFormat] = Registry(__name__, "FORMAT", "log format")


def names() -> tuple[str, ...]:
    """Every registered format name, sorted."""
    return _REGISTRY.names


def get(name: str) -> LogFormat:
    return _REGISTRY.get(name)


def registry() -> dict[str, LogFormat]:
    return _REGISTRY.all()


def looks_for() -> str:
    """What detection looks for, one phrase per format (for 'nothing found' errors)."""
    return ", ".join(f"{f.trainer} {f.pattern}" for f in registry().values())
