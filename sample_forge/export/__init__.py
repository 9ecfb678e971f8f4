"""Hand the chosen sample(s) to a GRPO trainer in exactly the form it reads: verl Parquet + ``.json``,
TRL JSONL, OpenRLHF / slime ``input``/``label`` JSONL, ROLL JSONL; N copies each, a manifest, and ready
command lines. See docs/select-and-export.md."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge.errors import InputError, SampleForgeError
from sample_forge.export.manifest import build_manifest, write_manifest
from sample_forge.export.samples import ExportSample
from sample_forge.export.templates import Template, load_template
from sample_forge.export.trainers import TRAINERS, PaperSettings, RowOptions, Trainer
from sample_forge.export.trainers.trl import trl_solution

__all__ = [
    "ExportConfig",
    "ExportResult",
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
    """What to write: trainers (``to``), copies per sample, prompt template, verl data source / split."""

    to: tuple[str, ...] = ("verl",)
    repeat: int = 128
    template: str = "qwen-boxed"
    data_source: str | None = None  # None: the row's own data_source, else DEFAULT_DATA_SOURCE
    split: str = "train"
    force: bool = False  # export answers math-verify cannot parse
    settings: PaperSettings = field(default_factory=PaperSettings)


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, list[Path]]
    rows: dict[str, int]
    commands: dict[str, str]
    manifest: Path
    notes: list[str]
    samples: list[ExportSample]


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


def export_rows(
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    cfg: ExportConfig = ExportConfig(),
    *,
    command: str = "",
    source: str | None = None,
) -> ExportResult:
    """Validate, then write one subdirectory per trainer, the manifest, and return the commands."""
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
    files: dict[str, list[Path]] = {}
    counts: dict[str, int] = {}
    commands: dict[str, str] = {}
    opts = RowOptions(repeat=cfg.repeat, data_source=cfg.data_source, split=cfg.split)
    for name in dict.fromkeys(cfg.to):
        trainer, d = TRAINERS[name], out / name
        rows_out = trainer.rows(samples, opts)
        files[name], counts[name] = trainer.write(rows_out, d), len(rows_out)
        commands[name] = trainer.command(trainer.data_path(d), cfg.settings)
    manifest = build_manifest(
        out_dir=out,
        samples=[_manifest_sample(s) for s in samples],
        files=files,
        # a file a trainer writes besides its rows (OpenRLHF's reward function) holds no rows
        rows={p: None if p.name in TRAINERS[t].extras else counts[t] for t, ps in files.items() for p in ps},
        template={"name": template.name, "text": template.text, "sha256": template.sha256},
        settings={
            "repeat": cfg.repeat,
            "data_source": cfg.data_source,
            "split": cfg.split,
            "force": cfg.force,
            "trainers": list(files),
            "paper": vars(cfg.settings),
            "source": source,
        },
        command=command,
        commands=commands,
        notes=notes,
    )
    mpath = write_manifest(out, manifest)
    return ExportResult(out, files, counts, commands, mpath, notes, samples)


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
