"""What every command shares: one-line domain errors, --quiet, progress bars only on a terminal."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import click

from sample_forge.errors import SampleForgeError

__all__ = ["domain_errors", "quiet_option", "progress", "console", "parse_kv_list"]

F = TypeVar("F", bound=Callable[..., Any])


def domain_errors(fn: F) -> F:
    """Turn SampleForgeError (and a few well-understood OS errors) into one clear line.
    ``SAMPLE_FORGE_DEBUG=1`` lets the traceback through."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if os.environ.get("SAMPLE_FORGE_DEBUG"):
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except SampleForgeError as e:
            raise click.ClickException(str(e)) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            msg = f"{e.strerror}: {e.filename}" if e.strerror and e.filename else str(e)
            raise click.ClickException(msg) from None

    return wrapper  # type: ignore[return-value]


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries.")


def console(quiet: bool = False, stderr: bool = True) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, quiet=quiet)


def progress(
    items: Iterable[Any], *, total: int | None = None, description: str = "", quiet: bool = False
) -> Iterator[Any]:
    """A rich progress bar on an interactive terminal; silent in pipes, CI and with --quiet."""
    if quiet or not sys.stderr.isatty():
        yield from items
        return
    from rich.progress import track

    yield from track(items, total=total, description=description, console=console())


def parse_kv_list(text: str | None, *, option: str) -> dict[str, str]:
    """'a=b,c=d' -> {'a': 'b', 'c': 'd'}; a clear error naming the option otherwise."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise click.BadParameter(f"expected key=value, got '{part}'", param_hint=option)
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out
