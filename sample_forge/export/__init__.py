"""Hand the chosen sample(s) to a GRPO trainer in exactly the form it reads: verl Parquet + ``.json``,
TRL JSONL, OpenRLHF / slime ``input``/``label`` JSONL, ROLL JSONL; one run per sample (its N copies, a
manifest, ready command lines for the paper's step count) and an index of the runs; or, on request,
one dataset of every sample. See docs/select-and-export.md."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.export.manifest import build_manifest, write_manifest
from sample_forge.export.runs import DATASET_RUN, INDEX_NAME, run_names, write_index
from sample_forge.export.samples import ExportSample
from sample_forge.export.templates import Template, load_template
from sample_forge.export.trainers import TRAINERS, Dataset, PaperSettings, RowOptions, Trainer
from sample_forge.export.trainers.trl import trl_solution

__all__ = [
    "ExportConfig",
    "ExportResult",
    "RunExport",
    "INDEX_NAME",
    "export",
    "export_rows",
    "prepare_samples",
    "TRAINERS",
    "Trainer",
    "load_template",
    "Template",
    "PaperSettings",
    "trl_solution",
]

DEFAULT_DATA_SOURCE = "lighteval/MATH"  # verl's built-in rule reward scores this data source


@dataclass(frozen=True)
class ExportConfig:
    """What to write: trainers (``to``), copies per sample, prompt template, verl data source / split.
    ``one_dataset``: every sample in one dataset (command lines computed for its size) instead of one
    run per sample (the paper's way)."""

    to: tuple[str, ...] = ("verl",)
    repeat: int = 128
    template: str = "qwen-boxed"
    data_source: str | None = None  # None: the row's own data_source, else DEFAULT_DATA_SOURCE
    split: str = "train"
    force: bool = False  # export answers math-verify cannot parse
    one_dataset: bool = False
    settings: PaperSettings = field(default_factory=PaperSettings)


@dataclass
class RunExport:
    """One trainer-ready dataset: one sample's N copies (or, with ``one_dataset``, every sample's)."""

    name: str
    out_dir: Path
    samples: list[ExportSample]
    files: dict[str, list[Path]]
    rows: dict[str, int]
    commands: dict[str, str]
    updates: dict[str, int]  # optimizer updates each command line makes on these rows
    manifest: Path


@dataclass
class ExportResult:
    out_dir: Path
    runs: list[RunExport]
    index: Path
    notes: list[str]

    @property
    def samples(self) -> list[ExportSample]:
        return [s for r in self.runs for s in r.samples]

    @property
    def run(self) -> RunExport:
        """The only run (one sample, or ``one_dataset``)."""
        if len(self.runs) != 1:
            raise SampleForgeError(f"{len(self.runs)} runs were exported; see {self.index}")
        return self.runs[0]

    # the only run's files, rows, commands and manifest
    files = property(lambda self: self.run.files)
    rows = property(lambda self: self.run.rows)
    commands = property(lambda self: self.run.commands)
    manifest = property(lambda self: self.run.manifest)


def _answer_problem(answer: str) -> str | None:
    """Why math-verify cannot use this gold answer, or None when it can."""
    from sample_forge.answers import can_parse

    if not can_parse(answer):
        return "math-verify cannot parse it"
    if not can_parse(trl_solution(answer)):
        return f"math-verify cannot parse it as {trl_solution(answer)}"
    return None


def prepare_samples(
    rows: Sequence[Mapping[str, Any]], template: Template, *, force: bool = False, path: str | None = None
) -> tuple[list[ExportSample], list[str]]:
    """Check every row (answer present and parseable) and build the templated prompts."""
    if not rows:
        raise InputError("nothing to export: the selection is empty", path=path)
    samples, notes = [], []
    for pos, r in enumerate(rows):
        line = r.get("_line")
        sid = str(r.get("id") if r.get("id") is not None else pos)
        problem = r.get("problem")
        if problem is not None and not isinstance(problem, str):  # str() would export a Python repr
            raise InputError(
                f"sample {sid}: problem must be text, got {type(problem).__name__}",
                path=path,
                line=line,
                field="problem",
            )
        if not problem or not str(problem).strip():
            raise InputError(f"sample {sid} has no problem text", path=path, line=line, field="problem")
        answer = r.get("answer")
        if (answer is None or not str(answer).strip()) and r.get("solution"):
            from sample_forge.answers import extract_boxed

            answer = extract_boxed(str(r["solution"]))  # MATH-style rows: the answer is the last \boxed{}
            if answer:
                notes.append(f"sample {sid}: answer taken from the solution's last \\boxed{{}}: {answer}")
        if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
            raise InputError(
                f"sample {sid}: answer must be text or a number, got {type(answer).__name__}",
                path=path,
                line=line,
                field="answer",
            )
        if answer is None or not str(answer).strip():
            raise InputError(
                f"sample {sid} has no answer: every rollout would get reward 0",
                path=path,
                line=line,
                field="answer",
            )
        answer = str(answer).strip()
        why = _answer_problem(answer)
        if why is not None:
            if not force:
                raise InputError(
                    f"sample {sid}: answer '{answer}' is unusable ({why}); every rollout "
                    f"would get reward 0 (use --force to export anyway)",
                    path=path,
                    line=line,
                    field="answer",
                )
            notes.append(f"sample {sid}: exported with --force although its answer '{answer}' {why}")
        problem = str(problem)
        applied = template.already_applied(problem)
        if applied:
            notes.append(f"sample {sid}: problem already carries the '{template.name}' template; left as is")
        index = int(sid) if sid.isdigit() else pos
        samples.append(
            ExportSample(
                id=sid,
                index=index,
                problem=problem,
                prompt=template.apply(problem),
                answer=answer,
                # a selection table keeps a pool's extra columns (DSR-sub's data_source) in meta
                data_source=str(
                    r.get("data_source") or (r.get("meta") or {}).get("data_source") or DEFAULT_DATA_SOURCE
                ),
                template_applied=not applied,
                source_row=dict(r),
            )
        )
    return samples, notes


def _drop_nulls(v: Any) -> Any:
    """Parquet pads dict columns with the union of keys (null values); the manifest shows the real ones."""
    if isinstance(v, Mapping):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    return v


def _manifest_sample(s: ExportSample) -> dict[str, Any]:
    r = s.source_row
    return {
        "id": s.id,
        "index": s.index,
        "answer": s.answer,
        "subject": r.get("subject"),
        "rule": r.get("rule"),
        "reason": r.get("reason"),
        "scores": _drop_nulls(r.get("scores")),
        "skills": _drop_nulls(r.get("skills")),
        "problem_sha256": hashlib.sha256(s.problem.encode("utf-8")).hexdigest(),
        "template_added": s.template_applied,
    }


def _write_run(
    name: str,
    out: Path,
    samples: list[ExportSample],
    cfg: ExportConfig,
    template: Template,
    *,
    command: str,
    source: str | None,
    notes: list[str],
) -> RunExport:
    """One dataset: a subdirectory per trainer, its manifest, its command lines for its size."""
    files: dict[str, list[Path]] = {}
    counts: dict[str, int] = {}
    commands: dict[str, str] = {}
    updates: dict[str, int] = {}
    opts = RowOptions(repeat=cfg.repeat, data_source=cfg.data_source, split=cfg.split)
    s = cfg.settings
    for t in dict.fromkeys(cfg.to):
        trainer, d = TRAINERS[t], out / t
        rows_out = trainer.rows(samples, opts)
        files[t], counts[t] = trainer.write(rows_out, d), len(rows_out)
        commands[t] = trainer.command(Dataset(trainer.data_path(d), len(rows_out), name), s)
        updates[t] = trainer.updates(len(rows_out), s)
        if updates[t] != s.steps:
            notes.append(
                f"{name}: {t} makes {updates[t]} updates, not {s.steps}: {len(rows_out)} rows are "
                f"{len(rows_out) // s.batch} full batch(es) of {s.batch} per pass"
            )
    manifest = build_manifest(
        out_dir=out,
        samples=[_manifest_sample(x) for x in samples],
        files=files,
        # a file a trainer writes besides its rows (OpenRLHF's reward function) holds no rows
        rows={p: None if p.name in TRAINERS[t].extras else counts[t] for t, ps in files.items() for p in ps},
        template={"name": template.name, "text": template.text, "sha256": template.sha256},
        settings={
            "repeat": cfg.repeat,
            "data_source": cfg.data_source,
            "split": cfg.split,
            "force": cfg.force,
            "one_dataset": cfg.one_dataset,
            "run": name,
            "trainers": list(files),
            "paper": vars(s),
            "source": source,
        },
        command=command,
        commands=commands,
        updates=updates,
        notes=[n for n in notes if n.startswith((f"{name}:", *(f"sample {x.id}:" for x in samples)))],
    )
    return RunExport(name, out, samples, files, counts, commands, updates, write_manifest(out, manifest))


def _index_entry(run: RunExport, root: Path) -> dict[str, Any]:
    one = run.samples[0].source_row if len(run.samples) == 1 else {}

    def rel(p: Path) -> str:
        return str(p.relative_to(root))

    return {
        "id": run.samples[0].id if len(run.samples) == 1 else None,
        "ids": [x.id for x in run.samples],
        "rule": one.get("rule"),
        "reason": one.get("reason"),
        "dir": rel(run.out_dir) if run.out_dir != root else ".",
        "manifest": rel(run.manifest),
        "files": {t: [rel(p) for p in ps] for t, ps in run.files.items()},
        "rows": dict(run.rows),
        "updates": dict(run.updates),
        "commands": dict(run.commands),
    }


def export_rows(
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    cfg: ExportConfig = ExportConfig(),
    *,
    command: str = "",
    source: str | None = None,
) -> ExportResult:
    """Validate, then write one run directory per sample (``<out>/<run>/``: a subdirectory per
    trainer, the manifest, command lines for the paper's step count) and ``<out>/runs.jsonl``; with
    ``cfg.one_dataset`` one dataset of every sample straight into ``<out>``."""
    bad = [t for t in cfg.to if t not in TRAINERS]
    if bad or not cfg.to:
        raise SampleForgeError(
            f"--to must name trainers among {', '.join(TRAINERS)}; got {', '.join(bad) or 'none'}"
        )
    if cfg.repeat < 1:
        raise SampleForgeError(f"--repeat must be at least 1, got {cfg.repeat}")
    template = load_template(cfg.template)
    samples, notes = prepare_samples(rows, template, force=cfg.force, path=source)

    out = Path(out_dir)
    if cfg.one_dataset:
        plan = [(DATASET_RUN, out, samples)]
    else:
        names = run_names(x.id for x in samples)
        plan = [(n, out / n, [x]) for n, x in zip(names, samples)]
    runs = [
        _write_run(name, d, group, cfg, template, command=command, source=source, notes=notes)
        for name, d, group in plan
    ]
    index = write_index(out, [_index_entry(r, out) for r in runs])
    return ExportResult(out, runs, index, notes)


def _pick(rows: list[dict[str, Any]], ids: Iterable[str] | None, path: str | None) -> list[dict[str, Any]]:
    ids = [str(i) for i in ids or []]
    if not ids:
        return rows
    by_id: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_id.setdefault(str(r["id"]), r)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise InputError(
            f"no sample with id {', '.join(missing)} ({len(rows)} rows read)", path=path, field="id"
        )
    return [by_id[i] for i in ids]


def export(
    table: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    cfg: ExportConfig = ExportConfig(),
    *,
    ids: Iterable[str] | None = None,
    columns: Mapping[str, str] | None = None,
    command: str = "",
) -> ExportResult:
    """Export rows of a selection table (or any pool-like table: DSR-sub, LIMR, verl Parquet) chosen by
    ``ids`` (all rows when None)."""
    from sample_forge.adapter import read_table

    rows = read_table(table, columns)
    return export_rows(_pick(rows, ids, str(table)), out_dir, cfg, command=command, source=str(table))
