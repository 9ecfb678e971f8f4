"""Choose the training sample(s): join pool + scores + skills (or read validated candidates), apply a
rule, and give every choice a printed reason. See docs/select-and-export.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sample_forge.adapter import read_table
from sample_forge.errors import SampleForgeError
from sample_forge.join import JoinReport, normalize_text
from sample_forge.selection.join import JoinResult, join_tables
from sample_forge.selection.prime import pick_prime, rank_prime, select_prime
from sample_forge.selection.rules import (
    BandConfig,
    PolymathConfig,
    SelectConfig,
    TopConfig,
    select_band,
    select_polymath,
    select_top,
)
from sample_forge.selection.signal import weak_signal_note, with_signal_note
from sample_forge.tables import read_rows

__all__ = [
    "Selection",
    "select",
    "SelectConfig",
    "PolymathConfig",
    "TopConfig",
    "BandConfig",
    "select_band",
    "select_polymath",
    "select_top",
    "select_prime",
    "pick_prime",
    "rank_prime",
    "join_tables",
    "read_table",
    "normalize_text",
    "RULES",
]

RULES = ("polymath", "top", "band", "prime")

PathLike = str | os.PathLike[str]


@dataclass
class Selection:
    """The chosen rows (selection table), rows that failed to join, and per-rule details
    (``eligible``: polymath's eligible rows per group; ``rejected``: prime's non-accepted candidates)."""

    rows: list[dict[str, Any]]
    unjoined: list[dict[str, Any]] = field(default_factory=list)
    eligible: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    n_pool: int = 0
    joins: dict[str, JoinReport] = field(default_factory=dict)  # per table joined: its counts


def select(
    config: SelectConfig | str = SelectConfig(),
    *,
    pool: PathLike | None = None,
    scores: PathLike | None = None,
    skills: PathLike | None = None,
    candidates: PathLike | None = None,
    columns: Mapping[str, str] | None = None,
) -> Selection:
    """Run the rule of ``config`` (a rule name alone takes the rules' defaults) over files. ``columns``
    maps our names to a table's (``{"lim": "lim_score"}``); the LIMR / One-Shot-RLVR / verl column
    names are recognised without it."""
    cfg = SelectConfig(rule=config) if isinstance(config, str) else config
    rule = cfg.rule
    if rule not in RULES:
        raise SampleForgeError(f"unknown rule '{rule}'; use one of {', '.join(RULES)}")
    if rule == "prime":
        if candidates is None:
            raise SampleForgeError("rule 'prime' needs --candidates (validated synthetic candidates)")
        cands = []
        for i, c in enumerate(read_rows(candidates), start=1):
            c["_line"] = i
            if c.get("id") is None:
                c["id"] = str(i - 1)
            cands.append(c)
        rows, rejected = select_prime(cands, k=cfg.top)
        return Selection(rows, rejected=rejected, n_pool=len(cands))
    if pool is None:
        raise SampleForgeError(f"rule '{rule}' needs a pool table")
    pool_rows = read_table(pool, columns, need=("problem",))
    score_rows = read_table(scores, columns) if scores is not None else None
    skill_rows = read_table(skills) if skills is not None else None
    joined: JoinResult = join_tables(pool_rows, score_rows, skill_rows)
    n, un, reps = len(pool_rows), joined.unjoined, joined.reports
    note = weak_signal_note(scores)
    if rule == "polymath":
        rows, eligible = select_polymath(joined.rows, cfg.polymath)
        return Selection(with_signal_note(rows, note), un, eligible=eligible, n_pool=n, joins=reps)
    if rule == "band":
        rows, in_band = select_band(joined.rows, cfg.band)
        return Selection(with_signal_note(rows, note), un, eligible=in_band, n_pool=n, joins=reps)
    rows = select_top(joined.rows, cfg.top_config)
    return Selection(with_signal_note(rows, note), un, n_pool=n, joins=reps)
