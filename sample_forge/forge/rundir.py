"""The files of a forge run directory, named once for the runner and the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunDir"]


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def recipe(self) -> Path:
        """The resolved recipe of the last run, every default filled in (JSON)."""
        return self.root / "recipe.json"

    @property
    def pool(self) -> Path:
        return self.root / "pool.parquet"

    @property
    def tags(self) -> Path:
        return self.root / "tags.jsonl"

    @property
    def scores(self) -> Path:
        return self.root / "scores.jsonl"

    @property
    def score_report(self) -> Path:
        """The score table's report (pilot diagnostics and verdict, intervals): ``scores.report.json``."""
        from sample_forge.impact.score_report import report_path

        return report_path(self.scores)

    @property
    def curves(self) -> Path:
        """Per-sample accuracy per epoch: rows ``{id, acc: [...]}``, plus a ``__mean__`` row."""
        return self.root / "curves.jsonl"

    @property
    def selection(self) -> Path:
        return self.root / "selection.jsonl"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates.jsonl"

    @property
    def rejects(self) -> Path:
        return self.root / "rejects.jsonl"

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    @property
    def manifest(self) -> Path:
        """The manifest of a one-dataset export (``[export] one_dataset``); a run per sample has one
        in each run directory, listed in ``runs_index``."""
        return self.export_dir / "manifest.json"

    @property
    def runs_index(self) -> Path:
        """The export's runs, one row each: ``id``, ``rule``, ``reason``, ``dir``, ``files``, ``commands``."""
        return self.export_dir / "runs.jsonl"

    @property
    def chosen(self) -> Path:
        """THE chosen sample, the runner-up and the command lines of its run (``forge/chosen.py``)."""
        return self.root / "chosen.json"

    @property
    def markers(self) -> Path:
        return self.root / ".markers"

    @property
    def report(self) -> Path:
        return self.root / "report.html"
