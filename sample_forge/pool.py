"""Load a problem pool from a Hugging Face dataset or a local table into :class:`Problem` records.

Sources: ``hf:ORG/NAME[:CONFIG][@SPLIT]`` (``sample_forge.hub``; ``hf:EleutherAI/hendrycks_math`` loads
all seven subject configs), ``demo`` (the embedded demo pool) or a local ``.jsonl``/``.json``/``.parquet``/
``.csv`` file. The gold answer is the answer column when there is one, else the last ``\\boxed{}`` of the
solution. Problems without an answer are kept and counted; every filter counts what it drops
(:class:`PoolStats`).
"""

from __future__ import annotations

import os
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_forge.adapter import ALIASES, adapt_row, check_map, column_of, first_present, subject_from_path
from sample_forge.answers import extract_boxed
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.hub import HubSource, is_hub, parse_hub
from sample_forge.records import Problem
from sample_forge.subjects import CATEGORIES, SUBJECTS, category_of, normalize_subject

__all__ = [
    "load_pool",
    "iter_pool",
    "PoolStats",
    "parse_source",
    "resolve_pool",
    "HubSource",
    "DEMO_POOL",
    "parse_levels",
    "parse_subjects",
    "HENDRYCKS_CONFIGS",
]

HENDRYCKS_ID = "EleutherAI/hendrycks_math"
HENDRYCKS_CONFIGS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
# default split per known dataset; others try "train" first, then the first split there is
_DEFAULT_SPLIT = {"HuggingFaceH4/MATH-500": "test"}

FIELDS = ("id", "problem", "answer", "solution", "subject", "level")


@dataclass
class PoolStats:
    """What loading did: rows read, kept, and dropped per reason; problems without an answer."""

    source: str = ""
    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> rows
    no_answer: int = 0
    no_answer_ids: list[str] = field(default_factory=list)  # first few, for the summary
    answer_from_solution: int = 0
    unknown_subject: int = 0
    unknown_level: int = 0
    duplicate_ids: int = 0
    by_subject: Counter = field(default_factory=Counter)
    by_level: Counter = field(default_factory=Counter)
    by_subject_level: Counter = field(default_factory=Counter)

    def _count_kept(self, p: Problem) -> None:
        self.kept += 1
        self.by_subject[p.subject] += 1
        self.by_level[p.level] += 1
        self.by_subject_level[(p.subject, p.level)] += 1
        if p.answer is None:
            self.no_answer += 1
            if len(self.no_answer_ids) < 5:
                self.no_answer_ids.append(p.id)

    def lines(self) -> list[str]:
        out = [f"{self.source}: read {self.read}, kept {self.kept}"]
        for reason, n in sorted(self.dropped.items()):
            out.append(f"dropped {n}: {reason}")
        if self.no_answer:
            out.append(f"kept without an answer: {self.no_answer} (e.g. {', '.join(self.no_answer_ids)})")
        if self.answer_from_solution:
            out.append(f"answer extracted from the solution's last \\boxed{{}}: {self.answer_from_solution}")
        if self.unknown_subject:
            out.append(f"subject unknown: {self.unknown_subject}")
        if self.unknown_level:
            out.append(f"level unknown: {self.unknown_level}")
        if self.duplicate_ids:
            out.append(f"duplicate ids made unique with a ~N suffix: {self.duplicate_ids}")
        return out


# ------------------------------------------------------------------------------------------------
# filters


def parse_subjects(values: Iterable[str] | str | None) -> set[str] | None:
    """Subject names (any spelling) or paper categories (``Probability``) -> set of MATH subjects.
    A name that is both (``Algebra``, ``Geometry``) means the subject."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    out: set[str] = set()
    for v in values:
        v = v.strip()
        if not v:
            continue
        s = normalize_subject(v)
        if s is not None:
            out.add(s)
            continue
        cat = category_of(v)
        if cat is None:
            raise SampleForgeError(
                f"unknown subject '{v}'; use one of: {', '.join(SUBJECTS)} "
                f"(or a category: {', '.join(CATEGORIES)})"
            )
        out.update(s for s in SUBJECTS if category_of(s) == cat)
    return out or None


def parse_levels(values: Iterable[int | str | None] | str | None) -> set[int | None] | None:
    """``'1,2,5'``, ``'3-5'``, ``[1, 2]``; ``?``/``unknown`` selects problems without a level."""
    if values is None:
        return None
    if isinstance(values, str):
        values = values.split(",")
    out: set[int | None] = set()
    for v in values:
        if v is None:
            out.add(None)
            continue
        if isinstance(v, int) and not isinstance(v, bool):
            if not 1 <= v <= 5:
                raise SampleForgeError(f"level {v} out of range 1-5")
            out.add(v)
            continue
        t = str(v).strip().lower()
        if not t:
            continue
        if t in ("?", "unknown", "none"):
            out.add(None)
            continue
        m = re.fullmatch(r"(?:level\s*)?([1-5])(?:\s*-\s*([1-5]))?", t)
        if not m:
            raise SampleForgeError(f"bad level '{v}'; use 1-5, a range like 3-5, or '?' for unknown")
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        out.update(range(min(lo, hi), max(lo, hi) + 1))
    return out or None


# ------------------------------------------------------------------------------------------------
# sources


DEMO = "demo"
DEMO_POOL = "data/demo/pool.jsonl"


def resolve_pool(source: str | os.PathLike[str]) -> str:
    """``demo`` is the embedded demo pool, for every command that takes a pool (and the recipe);
    anything else is returned as given."""
    text = str(source).strip()
    if text == DEMO:
        from sample_forge.paths import resource_path

        return str(resource_path(DEMO_POOL))
    return str(source)


def parse_source(source: str) -> HubSource | Path:
    """A hub source (``hf:ORG/NAME[:CONFIG][@SPLIT]``), ``demo``, or a local path."""
    source = str(source).strip()
    if is_hub(source):
        return parse_hub(source)
    return Path(resolve_pool(source))


def _offline_error(label: str, e: BaseException) -> SampleForgeError:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    offline = any(
        os.environ.get(k, "").lower() in ("1", "true", "yes")
        for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )
    why = (
        "offline mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE)"
        if offline
        else "the Hugging Face hub is unreachable or the dataset id/config/split is wrong"
    )
    return SampleForgeError(
        f"cannot load {label}: {why} and the dataset is not in the local cache [{type(e).__name__}: {first}]"
    )


def _load_hub_split(src: HubSource, config: str | None) -> tuple[Any, str]:
    import logging

    import datasets

    datasets.utils.logging.set_verbosity_error()
    if not sys.stderr.isatty():  # download bars only for a person at a terminal
        datasets.disable_progress_bars()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    splits = [src.split] if src.split else [_DEFAULT_SPLIT.get(src.dataset, "train")]
    label = src.label(config, src.split)
    try:
        try:
            return datasets.load_dataset(src.dataset, config, split=splits[0]), splits[0]
        except ValueError as e:
            # a dataset without that split: take its first split (e.g. test-only sets)
            if src.split or "split" not in str(e).lower():
                raise
            ds = datasets.load_dataset(src.dataset, config)
            first = next(iter(ds))
            return ds[first], first
    except KeyboardInterrupt:
        raise
    except Exception as e:  # datasets raises ConnectionError, FileNotFoundError, ValueError, hub errors
        raise _offline_error(label, e) from None


def _hub_rows(src: HubSource) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    configs: list[str | None]
    if src.config:
        configs = [src.config]
    elif src.dataset == HENDRYCKS_ID:
        configs = list(HENDRYCKS_CONFIGS)
    else:
        configs = [None]
    for config in configs:
        ds, split = _load_hub_split(src, config)
        label = src.label(config, split)
        hint = {"config": config, "split": split}
        for row in ds:
            yield row, label, hint


def _file_rows(path: Path) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    from sample_forge.tables import iter_rows

    if not path.exists():
        hint = (
            f" (a Hugging Face dataset? use --source hf:{path})"
            if re.fullmatch(r"[\w.-]+/[\w.-]+", str(path)) and not path.suffix
            else ""
        )
        raise InputError(f"no such file{hint}", path=str(path))
    label = str(path)
    for row in iter_rows(path):
        yield row, label, {}


# ------------------------------------------------------------------------------------------------
# rows -> problems


def _text(v: Any) -> str | None:
    """Column value -> stripped text (NaN from pandas/CSV and empty text are None)."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s or None


class _Columns:
    """The --map given (checked against the first row) and the top-level columns that fed our fields."""

    def __init__(self, mapping: Mapping[str, str] | None, first: Mapping[str, Any], label: str) -> None:
        self.mapping = dict(mapping or {})
        bad = [k for k in self.mapping if k not in FIELDS]
        if bad:
            raise SampleForgeError(
                f"--map: unknown field(s) {', '.join(bad)}; map any of {', '.join(FIELDS)}"
            )
        check_map(self.mapping, first, label)
        if column_of(first, "problem", self.mapping) is None:
            raise InputError(
                f"no problem column (tried {', '.join(ALIASES['problem'])}); "
                f"name it with --map problem=COLUMN (columns: {', '.join(map(str, first))})",
                path=label,
            )

    def used(self, row: Mapping[str, Any]) -> set[str]:
        # an empty value still comes from its column: it stays out of meta
        cols = (column_of(row, f, self.mapping) or first_present(row, f) for f in FIELDS)
        return {c.split(".")[0] for c in cols if c}


def _to_problem(
    row: Mapping[str, Any],
    cols: _Columns,
    label: str,
    index: int,
    hint: Mapping[str, Any],
    is_file: bool,
    stats: PoolStats,
) -> Problem:
    line = index + 1 if is_file else None
    a = adapt_row(row, cols.mapping, path=label, line=line, scores=False)
    problem = _text(a.get("problem"))
    if problem is None:
        col = column_of(row, "problem", cols.mapping) or cols.mapping.get("problem", "problem")
        if is_file:
            raise InputError("empty or missing problem text", path=label, line=line, field=col)
        raise SampleForgeError(f"{label} row {index}: empty or missing problem text ({col})")
    solution = _text(a.get("solution"))
    answer = _text(a.get("answer"))
    if answer is None and solution:
        answer = extract_boxed(solution)
        if answer is not None:
            stats.answer_from_solution += 1
    uid = _text(a.get("id"))
    subject = normalize_subject(_text(a.get("subject")))
    if subject is None:
        subject = subject_from_path(uid) or normalize_subject(hint.get("config"))
    if subject is None:
        stats.unknown_subject += 1
    level = a.get("level")
    if level is None:
        stats.unknown_level += 1
    if uid is None:
        base = Path(label).stem if is_file else label.removeprefix("hf:").replace(":", "/").replace("@", "/")
        uid = f"{base}-{index}"
    # a pool written by ``pool`` reads back as itself: its meta merges in, category is derived
    given_meta = row.get("meta")
    meta = dict(given_meta) if isinstance(given_meta, Mapping) else {}
    used = cols.used(row)
    meta.update({k: v for k, v in row.items() if k not in used and k not in _DERIVED and _json_safe(v)})
    if hint.get("config"):
        meta.setdefault("config", hint["config"])
    source = row.get("source") if isinstance(row.get("source"), str) and row.get("source") else label
    return Problem(
        id=uid,
        problem=problem,
        answer=answer,
        solution=solution,
        subject=subject,
        level=level,
        source=source,
        meta=meta,
    )


_DERIVED = ("meta", "category", "source")


def _json_safe(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, list, dict))


def iter_pool(
    source: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | None = None,
    subjects: Iterable[str] | str | None = None,
    levels: Iterable[int | str | None] | str | None = None,
    limit: int | None = None,
    stats: PoolStats | None = None,
) -> Iterator[Problem]:
    """Stream problems from ``source`` through the subject/level filters (first ``limit`` kept).
    ``stats`` (if given) is filled as rows go by."""
    stats = stats if stats is not None else PoolStats()
    want_subjects = parse_subjects(subjects)
    want_levels = parse_levels(levels)
    src = parse_source(str(source))
    is_file = isinstance(src, Path)
    stats.source = str(source)
    rows = _file_rows(src) if is_file else _hub_rows(src)
    cols: _Columns | None = None
    seen: Counter = Counter()
    index_by_label: Counter = Counter()
    if limit is not None and limit <= 0:
        return
    for row, label, hint in rows:
        if cols is None:
            cols = _Columns(mapping, row, label)
        index = index_by_label[label]
        index_by_label[label] += 1
        stats.read += 1
        p = _to_problem(row, cols, label, index, hint, is_file, stats)
        if want_subjects is not None and p.subject not in want_subjects:
            stats.dropped["subject not in --subjects"] += 1
            continue
        if want_levels is not None and p.level not in want_levels:
            stats.dropped["level not in --levels"] += 1
            continue
        seen[p.id] += 1
        if seen[p.id] > 1:
            stats.duplicate_ids += 1
            p.id = f"{p.id}~{seen[p.id]}"
        stats._count_kept(p)
        yield p
        if limit is not None and stats.kept >= limit:
            break  # the rest is never read: a streaming source need not finish


def load_pool(
    source: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | None = None,
    subjects: Iterable[str] | str | None = None,
    levels: Iterable[int | str | None] | str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    stats: PoolStats | None = None,
) -> list[Problem]:
    """Load a pool. With ``seed``, the order is shuffled with that seed before ``limit`` applies
    (a reproducible random sample); without it, ``limit`` keeps the first rows."""
    if limit is not None and limit < 0:
        raise SampleForgeError("--limit must be >= 0")
    stats = stats if stats is not None else PoolStats()
    if seed is None:
        return list(
            iter_pool(source, mapping=mapping, subjects=subjects, levels=levels, limit=limit, stats=stats)
        )
    inner = PoolStats()
    problems = list(iter_pool(source, mapping=mapping, subjects=subjects, levels=levels, stats=inner))
    random.Random(seed).shuffle(problems)
    if limit is not None and len(problems) > limit:
        inner.dropped["not sampled (--limit with --seed)"] += len(problems) - limit
        problems = problems[:limit]
    # recount what is kept after sampling
    kept = PoolStats(
        source=inner.source,
        read=inner.read,
        dropped=inner.dropped,
        answer_from_solution=inner.answer_from_solution,
        unknown_subject=inner.unknown_subject,
        unknown_level=inner.unknown_level,
        duplicate_ids=inner.duplicate_ids,
    )
    for p in problems:
        kept._count_kept(p)
    stats.__dict__.update(kept.__dict__)
    return problems
