"""Attach scores and skills to a problem pool through the one join (:mod:`sample_forge.join`).
Every row that finds no partner is reported (``unjoined``), never dropped silently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sample_forge.adapter import SCORE_KEYS
from sample_forge.join import JoinReport, join, rejects

__all__ = ["JoinResult", "join_tables", "SCORE_KEYS"]


@dataclass
class JoinResult:
    """Pool rows with ``scores`` and ``skills`` attached; ``unjoined``: one entry per row of any table
    that found no partner (``table``, ``id``, ``line``, ``reason``); ``reports``: the join of each
    table given (``scores``, ``skills``) for its counts."""

    rows: list[dict[str, Any]]
    unjoined: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, JoinReport] = field(default_factory=dict)


def _skill_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("spectrum", "total", "breadth", "canonical", "method")
    return {k: row.get(k) for k in keep if k in row}


def join_tables(
    pool: list[dict[str, Any]],
    scores: list[dict[str, Any]] | None = None,
    skills: list[dict[str, Any]] | None = None,
) -> JoinResult:
    """Attach ``scores`` (dict of SCORE_KEYS) and ``skills`` (SkillTag fields) to each pool row, matched
    on id, else on normalised problem text. A pool row that already carries a score (the LIMR file has
    ``lim_score`` inline) keeps it when no scores table is given."""
    unjoined: list[dict[str, Any]] = []
    reports: dict[str, JoinReport] = {}
    found: dict[str, list[Mapping[str, Any] | None]] = {}
    for table, rows in (("scores", scores), ("skills", skills)):
        if rows is None:
            continue
        rep = join(pool, rows)
        reports[table] = rep
        found[table] = rep.match
        unjoined += rejects(
            rep,
            pool,
            rows,
            left_table="pool",
            right_table=table,
            left_reason=f"no {table} row for this sample",
            right_reason="no pool row with this id or problem text",
        )
    out = []
    for i, p in enumerate(pool):
        row = dict(p)
        s = found["scores"][i] if "scores" in found else p
        row["scores"] = {k: s.get(k) for k in SCORE_KEYS if s is not None and s.get(k) is not None}
        k = found["skills"][i] if "skills" in found else None
        row["skills"] = _skill_dict(k) if k is not None else None
        out.append(row)
    return JoinResult(out, unjoined, reports)
