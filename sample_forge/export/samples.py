"""The sample as every emitter sees it: id, row index, templated prompt, gold answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExportSample"]


@dataclass
class ExportSample:
    """One sample to export. ``index`` goes to verl's ``extra_info.index``: the numeric id when the id
    is a number (DSR-sub index 124), else the position in the selection."""

    id: str
    index: int
    problem: str
    prompt: str
    answer: str
    data_source: str = "sample_forge"
    template_applied: bool = True
    source_row: dict[str, Any] = field(default_factory=dict)
