"""What a trainer is to ``export``: the rows it reads, the files they go to, the command line that
trains on them. One module per trainer in this package defines ``row``, ``command`` and ``updates``
(and ``write`` when the rows go elsewhere than ``train.jsonl``) and declares
``TRAINER = Trainer.from_module(__name__, ...)``; see docs/design.md, "Adding a trainer"."""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sample_forge.export.samples import ExportSample
from sample_forge.registry import module_entry
from sample_forge.tables import write_rows

__all__ = [
    "Trainer",
    "PaperSettings",
    "RowOptions",
    "Dataset",
    "Row",
    "join_command",
    "quote",
    "write_jsonl",
]

Row = dict[str, Any]


@dataclass(frozen=True)
class PaperSettings:
    """GRPO settings of the paper (one sample copied ``batch`` times into the batch)."""

    model: str = "Qwen/Qwen2.5-7B"
    batch: int = 128
    rollouts: int = 16
    temperature: float = 1.0
    lr: float = 1e-6
    max_response: int = 2048
    max_prompt: int = 1024
    steps: int = 140
    gpus: int = 8

    def full_batches(self, rows: int) -> int:
        """Batches of ``batch`` prompts in one pass over ``rows`` rows: verl and OpenRLHF drop the last,
        incomplete batch."""
        return rows // self.batch

    def passes(self, rows: int) -> int:
        """Passes over the data (verl epochs, OpenRLHF episodes) that reach ``steps`` updates; a dataset
        smaller than one batch counts as one batch per pass (export notes that it makes no update)."""
        return math.ceil(self.steps / max(1, self.full_batches(rows)))


@dataclass(frozen=True)
class RowOptions:
    """The export settings a trainer's rows may use (the prompt template is already in ``prompt``)."""

    repeat: int
    data_source: str | None = None  # None: each sample's own
    split: str = "train"


@dataclass(frozen=True)
class Dataset:
    """What a command line trains on: ``path`` (the data file, or TRL's directory), its ``rows`` (copies
    included: the size decides how many passes make the paper's step count) and ``run``, the run's name
    (it keeps the output directories of the runs of one export apart)."""

    path: Path
    rows: int
    run: str = "grpo"


def repeat_rows(
    row: Callable[[ExportSample, RowOptions], Row], samples: Sequence[ExportSample], opts: RowOptions
) -> list[Row]:
    """One trainer row per sample, ``opts.repeat`` copies each (the paper's one sample x batch)."""
    rows = []
    for s in samples:
        r = row(s, opts)
        rows.extend(dict(r) for _ in range(opts.repeat))
    return rows


def write_jsonl(rows: list[Row], out_dir: Path, stem: str = "train") -> list[Path]:
    path = out_dir / f"{stem}.jsonl"
    write_rows(path, rows)
    return [path]


@dataclass(frozen=True)
class Trainer:
    """One GRPO trainer ``export --to NAME`` writes for.

    ``write(rows, dir)`` writes the rows to ``dir / f`` for each f in ``files`` (plus ``extras``, files
    without rows such as a reward function) and returns their paths; ``command(dataset, settings)`` is
    the line that trains on ``dir / reads`` (``reads`` None: the directory itself) for the paper's
    ``settings.steps`` updates whatever the dataset's size; ``updates(rows, settings)`` is how many
    optimizer updates that line makes on ``rows`` rows, from the trainer's own loop (tests check the
    line against it; export notes any difference from ``settings.steps``)."""

    name: str
    description: str  # one line, for the docs table
    rows: Callable[[Sequence[ExportSample], RowOptions], list[Row]]
    command: Callable[[Dataset, PaperSettings], str]
    updates: Callable[[int, PaperSettings], int]
    write: Callable[[list[Row], Path], list[Path]] = (
        write_jsonl  # the rows as ``train.jsonl`` (the default ``files``)
    )
    files: tuple[str, ...] = ("train.jsonl",)
    extras: tuple[str, ...] = ()
    reads: str | None = "train.jsonl"

    @classmethod
    def from_module(cls, module: str, description: str, **files: Any) -> Trainer:
        """The trainer a module defines by its conventional names: ``row(sample, opts)`` (one row per
        sample; copies are made here), ``command``, ``updates`` and, optionally, ``write``; ``files``
        are the ``files``/``extras``/``reads`` fields where they differ from the defaults."""
        name, ns = module_entry(module)
        own = {"write": ns["write"]} if "write" in ns else {}
        rows = partial(repeat_rows, ns["row"])
        return cls(name, description, rows, ns["command"], ns["updates"], **own, **files)

    def data_path(self, out_dir: Path) -> Path:
        """What the command line is given: the data file, or the directory (``reads`` None)."""
        return out_dir / self.reads if self.reads else out_dir


def quote(value: object) -> str:
    return shlex.quote(str(value))


def join_command(head: str, args: list[str]) -> str:
    """One option per line, continued with a backslash, ready to paste into a shell."""
    return " \\\n  ".join([head, *args])
