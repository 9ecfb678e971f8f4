"""One way to register a plug-in: every module of a package except ``base`` is one entry, named after
the module, found by ``pkgutil`` (adding an entry is adding a module). The trainers ``export`` writes
for (``export/trainers/``) and the log formats ``score`` reads (``impact/formats/``) are both such
registries. Names are listed without importing the modules, so a CLI stays quick to start; an entry
is imported the first time it is asked for."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from functools import cached_property
from typing import Any, Generic, TypeVar

from sample_forge.errors import SampleForgeError

__all__ = ["Registry", "module_entry"]

E = TypeVar("E")


class Registry(Generic[E]):
    """The entries of ``package``: each module defines one, in its attribute ``attr``, whose ``name``
    is the module's. Order: ``first`` (the default, so help and errors name it first), then by name."""

    def __init__(self, package: str, attr: str, what: str, first: str | None = None) -> None:
        self.package, self.attr, self.what, self.first = package, attr, what, first
        self._loaded: dict[str, E] = {}

    @cached_property
    def names(self) -> tuple[str, ...]:
        path = importlib.import_module(self.package).__path__
        found = sorted(m.name for m in pkgutil.iter_modules(path) if m.name != "base")
        return tuple(sorted(found, key=lambda n: n != self.first))

    def get(self, name: str) -> E:
        if name not in self._loaded:
            if name not in self.names:
                raise SampleForgeError(f"unknown {self.what} '{name}'; one of {', '.join(self.names)}")
            entry = getattr(importlib.import_module(f"{self.package}.{name}"), self.attr)
            if entry.name != name:  # the module name is the one place to look for an entry's code
                short = self.package.rsplit(".", 1)[-1]
                raise SampleForgeError(
                    f"{short}/{name}.py defines {self.what} '{entry.name}'; name it '{name}'"
                )
            self._loaded[name] = entry
        return self._loaded[name]

    def all(self) -> dict[str, E]:
        return {n: self.get(n) for n in self.names}


def module_entry(module_name: str) -> tuple[str, dict[str, Any]]:
    """The short name and the namespace of the module being defined, for an entry built from the
    module's conventionally named functions (called at the end of the module, which is then in
    ``sys.modules`` with everything above the call defined)."""
    return module_name.rsplit(".", 1)[-1], vars(sys.modules[module_name])
