"""One run per chosen sample: the directory names of an export's runs and the index that lists them.

The paper and 1-shot RLVR train on ONE sample copied into the whole batch, one run per sample; so
``export`` writes each sample to ``<out>/<run>/`` and lists the runs in ``<out>/runs.jsonl``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sample_forge.tables import write_rows

__all__ = ["INDEX_NAME", "DATASET_RUN", "run_names", "write_index"]

INDEX_NAME = "runs.jsonl"
DATASET_RUN = "dataset"  # the run name of a deliberate multi-sample dataset (`--one-dataset`)
_MAX = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(sample_id: str) -> str:
    name = _UNSAFE.sub("_", sample_id).strip("._-")[:_MAX].rstrip("._-")
    return name or "sample"


def run_names(ids: Iterable[str]) -> list[str]:
    """A directory name per sample id: the id with every character outside ``A-Za-z0-9._-`` replaced
    by ``_`` (MATH's ``test/algebra/1.json`` -> ``test_algebra_1.json``), at most 80 characters, made
    unique by ``-2``, ``-3``... Uniqueness ignores case: on macOS and Windows ``A`` and ``a`` are one
    directory."""
    seen: set[str] = set()
    names = []
    for sid in ids:
        base = _safe(str(sid))
        name, n = base, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}-{n}"
        seen.add(name.lower())
        names.append(name)
    return names


def write_index(out_dir: Path, entries: Sequence[Mapping[str, Any]]) -> Path:
    """``<out>/runs.jsonl``: one row per run (``id``, ``rule``, ``reason``, ``dir``, ``files``, ...)."""
    path = out_dir / INDEX_NAME
    write_rows(path, [dict(e) for e in entries])
    return path
