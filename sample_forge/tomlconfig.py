"""A TOML table to a frozen config dataclass, checked: an unknown key, a missing required one or a
value of the wrong type is one error naming the file, the section and the key. Serves the forge
recipe and the models config, so both read their files the same way."""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sample_forge.errors import InputError

__all__ = ["read_toml", "from_table"]

T = TypeVar("T")


def read_toml(path: str | Path, *, missing: str = "no such file") -> dict[str, Any]:
    """The document of a TOML file; an unreadable one is an error naming the file."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(missing, path=str(p)) from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML ({e})", path=str(p)) from None


def _type_name(tp: Any) -> str:
    return tp.__name__ if typing.get_origin(tp) is None and isinstance(tp, type) else str(tp)


def _convert(value: Any, tp: Any, path: str, where: str) -> Any:
    """``value`` as the annotation ``tp`` wants it (lists become tuples, ints floats, tables nested
    dataclasses), or an error naming ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, path, where)
            except InputError:
                continue
    elif tp is Any:
        return value
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, dict):
            return from_table(tp, value, path=path, section=where)
    elif origin in (list, tuple) and isinstance(value, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], path, where) for v in value)
        if origin is tuple:
            if len(args) == len(value):
                return tuple(_convert(v, a, path, where) for v, a in zip(value, args))
        else:
            return [_convert(v, args[0], path, where) for v in value]
    elif origin is dict and isinstance(value, dict):
        return {
            _convert(k, args[0], path, where): _convert(v, args[1], path, f"{where}.{k}")
            for k, v in value.items()
        }
    elif isinstance(value, bool):  # bool is an int to Python, not to a config file
        if tp is bool:
            return value
    elif tp is float and isinstance(value, (int, float)):
        return float(value)
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise InputError(
        f"expected {_type_name(tp)}, got {type(value).__name__} {value!r}", path=path, field=where
    )


def from_table(
    cls: type[T],
    table: Any,
    *,
    path: str | Path,
    section: str,
    skip: tuple[str, ...] = (),
    renamed: Mapping[str, str] | None = None,
    **fixed: Any,
) -> T:
    """``cls(**table)`` after checking every key and value against ``cls``'s fields and annotations.
    ``skip``: fields a file may not set (``fixed`` gives them); ``renamed``: old key -> new key, still
    read for this release with a one-line deprecation message on stderr."""
    path = str(path)
    if not isinstance(table, dict):
        raise InputError("expected a [table]", path=path, field=section)
    data = dict(table)
    for old, new in (renamed or {}).items():
        if old in data:
            if new in data:
                raise InputError(f"give '{new}' only ('{old}' is its old name)", path=path, field=section)
            print(f"warning: {path}: [{section}] {old} is deprecated; use {new}", file=sys.stderr)
            data[new] = data.pop(old)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip and f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}", path=path, field=section
        )
    for name, f in fields.items():
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InputError("required, missing", path=path, field=f"{section}.{name}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: _convert(v, hints[k], path, f"{section}.{k}") for k, v in data.items()}
    return cls(**kwargs, **fixed)
