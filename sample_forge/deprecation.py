"""The one deprecation message: old spellings keep working for a release and say so in one line."""

from __future__ import annotations

import sys

__all__ = ["deprecated"]


def deprecated(old: str, new: str) -> None:
    """``warning: <old> is deprecated; use <new>`` on stderr (library code too, which must not import
    the CLI; ``sample_forge.cli.common`` re-exports this)."""
    print(f"warning: {old} is deprecated; use {new}", file=sys.stderr, flush=True)
