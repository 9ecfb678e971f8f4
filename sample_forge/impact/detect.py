"""Which trainer wrote a log directory (or file): asks each registered format (``impact/formats/``)."""

from __future__ import annotations

from pathlib import Path

from sample_forge.errors import InputError
from sample_forge.impact import formats

__all__ = ["detect", "files_of"]


def files_of(path: Path, fmt: str) -> list[Path]:
    """The log files of format ``fmt`` under ``path`` (a directory or one file)."""
    if path.is_file():
        return [path]
    return formats.get(fmt).files(path)


def detect(path: Path) -> str:
    """The single format found at ``path``; a clear error for nothing found or mixed formats."""
    if not path.exists():
        raise InputError("no such file or directory", path=str(path))
    reg = formats.registry()
    if path.is_file():
        hits = [f.name for f in reg.values() if f.matches(path)]
        if not hits:
            raise InputError(f"not a trajectory log I know ({formats.looks_for()})", path=str(path))
        return hits[0]
    found = {name: n for name, f in reg.items() if (n := len(f.files(path)))}
    if not found:
        raise InputError(f"no trajectory files found (looked for {formats.looks_for()})", path=str(path))
    redundant = {s for name in found for s in reg[name].supersedes}
    kept = [name for name in found if name not in redundant]
    if len(kept) > 1:
        # most files first: the format the directory is mostly made of leads the message
        what = ", ".join(f"{k} ({v} files)" for k, v in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
        raise InputError(
            f"mixed trajectory formats in one directory: {what}; pass --format or split the directory",
            path=str(path),
        )
    return kept[0]
