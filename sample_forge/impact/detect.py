"""Which trainer wrote a log directory (or file), from file names and, for JSONL, the first line."""

from __future__ import annotations

from pathlib import Path

from sample_forge.errors import InputError
from sample_forge.impact.native import is_native_file, native_files
from sample_forge.impact.oneshot import oneshot_files
from sample_forge.impact.openrlhf import openrlhf_files
from sample_forge.impact.trl import trl_files
from sample_forge.impact.verl import verl_files

__all__ = ["detect", "FORMATS", "files_of"]

FORMATS = ("verl", "trl", "openrlhf", "oneshot", "native")
_LISTERS = {
    "verl": verl_files,
    "trl": trl_files,
    "openrlhf": openrlhf_files,
    "oneshot": oneshot_files,
    "native": native_files,
}
_LOOKS_FOR = (
    "verl {step}.jsonl, TRL completions/completions_*.parquet, OpenRLHF step_*.json, "
    "One-Shot-RLVR acc_step_*.json, native *.jsonl with sample_id/step/rollouts/correct"
)


def files_of(path: Path, fmt: str) -> list[Path]:
    """The log files of format ``fmt`` under ``path`` (a directory or one file)."""
    if path.is_file():
        return [path]
    return _LISTERS[fmt](path)


def _file_format(path: Path) -> str | None:
    name = path.name
    for fmt, lister in _LISTERS.items():
        if fmt != "native" and path in lister(path.parent):
            return fmt
    if name.endswith(".jsonl") and is_native_file(path):
        return "native"
    return None


def detect(path: Path) -> str:
    """The single format found at ``path``; a clear error for nothing found or mixed formats."""
    if not path.exists():
        raise InputError("no such file or directory", path=str(path))
    if path.is_file():
        fmt = _file_format(path)
        if fmt is None:
            raise InputError(f"not a trajectory log I know ({_LOOKS_FOR})", path=str(path))
        return fmt
    found = {fmt: len(lister(path)) for fmt, lister in _LISTERS.items()}
    found = {k: v for k, v in found.items() if v}
    if not found:
        raise InputError(f"no trajectory files found (looked for {_LOOKS_FOR})", path=str(path))
    if set(found) == {"native", "trl"}:
        # `sample-forge pilot` writes both: its native trajectory is the complete record
        return "native"
    if len(found) > 1:
        what = ", ".join(f"{k} ({v} files)" for k, v in found.items())
        raise InputError(
            f"mixed trajectory formats in one directory: {what}; pass --format or split the directory",
            path=str(path),
        )
    return next(iter(found))
