"""Join a problem pool with its scores and skills, on ids or (failing that) normalised problem text.
Every row that finds no partner is reported, never dropped silently."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sample_forge.errors import InputError
from sample_forge.selection.columns import normalize_row, normalize_text
from sample_forge.tables import iter_rows

__all__ = ["JoinResult", "join_tables", "read_table", "SCORE_KEYS"]

SCORE_KEYS = (
    "lim",
    "hist_var",
    "learnability",
    "mean_acc",
    "first_acc",
    "last_acc",
    "n_epochs",
    "filled_epochs",
    "rank",
)


@dataclass
class JoinResult:
    """Pool rows with ``scores`` and ``skills`` attached; ``unjoined``: one entry per row of any table
    that found no partner (``table``, ``id``, ``line``, ``reason``)."""

    rows: list[dict[str, Any]]
    unjoined: list[dict[str, Any]] = field(default_factory=list)


def read_table(
    path: str | os.PathLike[str],
    mapping: Mapping[str, str] | None = None,
    *,
    need: tuple[str, ...] = (),
    numeric: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Rows of a table with our column names filled in; ``_line`` is the 1-based row number.
    A row missing a ``need`` field, or with a ``numeric`` one that is not a number, is an InputError
    naming file, line and field."""
    out = []
    for i, raw in enumerate(iter_rows(path), start=1):
        row = normalize_row(raw, mapping)
        for f in need:
            if row.get(f) is None or (isinstance(row.get(f), str) and not row[f].strip()):
                raise InputError(
                    f"missing {f} (columns: {', '.join(sorted(raw))}; map one with --map {f}=NAME)",
                    path=str(path),
                    line=i,
                    field=f,
                )
        for f in numeric:
            row[f] = _number(row.get(f), path, i, f)
        if row.get("id") is None:
            row["id"] = str(i - 1)  # 0-based row number, like verl's extra_info.index
        row["_line"] = i
        out.append(row)
    return out


def _number(v: Any, path: str | os.PathLike[str], line: int, field: str) -> Any:
    """A score as a float (CSV cells are text; empty is missing); anything else is an InputError."""
    if isinstance(v, str):
        try:
            return float(v) if v.strip() else None
        except ValueError:
            pass
    elif v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return v
    raise InputError(f"not a number: {str(v)[:40]!r}", path=str(path), line=line, field=field)


def _index(rows: Iterable[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(r[key]): r for r in rows if r.get(key) is not None}


def _text_index(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {normalize_text(r["problem"]): r for r in rows if r.get("problem")}


def _skill_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("spectrum", "total", "breadth", "canonical", "method")
    return {k: row.get(k) for k in keep if k in row}


def join_tables(
    pool: list[dict[str, Any]],
    scores: list[dict[str, Any]] | None = None,
    skills: list[dict[str, Any]] | None = None,
) -> JoinResult:
    """Attach ``scores`` (dict of SCORE_KEYS) and ``skills`` (SkillTag fields) to each pool row.

    A pool row that already carries a score (the LIMR file has ``lim_score`` inline) keeps it when no
    scores table is given. Matching is by id first, then by whitespace-normalised problem text.
    """
    unjoined: list[dict[str, Any]] = []
    by_id = _index(pool, "id")
    by_text: dict[str, dict[str, Any]] | None = None  # built only when an id does not match
    score_of: dict[str, dict[str, Any]] = {}
    skill_of: dict[str, dict[str, Any]] = {}

    def match(row: dict[str, Any], key: str) -> dict[str, Any] | None:
        nonlocal by_text
        rid = row.get(key)
        if rid is not None and str(rid) in by_id:
            return by_id[str(rid)]
        if row.get("problem"):
            if by_text is None:
                by_text = _text_index(pool)
            return by_text.get(normalize_text(row["problem"]))
        return None

    for table, rows, key, sink in (
        ("scores", scores, "id", score_of),
        ("skills", skills, "problem_id", skill_of),
    ):
        if rows is None:
            continue
        for r in rows:
            target = (
                match(r, key) if key == "id" else match({**r, "id": r.get("id") or r.get("problem_id")}, "id")
            )
            if target is None:
                unjoined.append(
                    {
                        "table": table,
                        "id": r.get(key) or r.get("id"),
                        "line": r.get("_line"),
                        "reason": "no pool row with this id or problem text",
                    }
                )
                continue
            if target["id"] in sink:
                unjoined.append(
                    {
                        "table": table,
                        "id": r.get(key) or r.get("id"),
                        "line": r.get("_line"),
                        "reason": f"duplicate {table} row for pool id {target['id']} (the first is used)",
                    }
                )
                continue
            sink[target["id"]] = r

    out = []
    for p in pool:
        row = dict(p)
        s = score_of.get(p["id"], p if scores is None else None)
        if scores is not None and s is None:
            unjoined.append(
                {
                    "table": "pool",
                    "id": p["id"],
                    "line": p.get("_line"),
                    "reason": "no scores row for this sample",
                }
            )
        row["scores"] = {k: s.get(k) for k in SCORE_KEYS if s is not None and s.get(k) is not None}
        k = skill_of.get(p["id"])
        if skills is not None and k is None:
            unjoined.append(
                {
                    "table": "pool",
                    "id": p["id"],
                    "line": p.get("_line"),
                    "reason": "no skills row for this sample",
                }
            )
        row["skills"] = _skill_dict(k) if k is not None else None
        out.append(row)
    return JoinResult(out, unjoined)
