"""Selection rules: each returns the chosen rows, every one with the rule and a printed reason.

* ``polymath`` (Li et al. 2026): per MATH subject, among samples with LIM >= theta, the LOWEST score
  (to avoid over-specialisation); ties by skill breadth (broader first), then id.
* ``top``: the highest ``lim`` / ``hist_var`` / ``learnability``; ``hist_var`` with a stable sort
  reproduces the pi_k ranking of 1-shot RLVR (Wang et al. 2025): ties keep the input order.
* ``band``: every problem whose pass rate (``sample-forge passrate``) lies in [low, high], the problems
  the model solves sometimes (DAPO's, Polaris' and open-r1's difficulty filter); per group or overall,
  each reason quoting the Beta interval of the pass rate.
* ``prime``: see ``selection/prime.py`` (the one prime ranker, shared with ``synthesize --prime``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sample_forge.deprecation import deprecated
from sample_forge.errors import InputError, SampleForgeError
from sample_forge.records import Problem
from sample_forge.selection.join import SCORE_KEYS
from sample_forge.subjects import category_of

__all__ = [
    "PolymathConfig",
    "TopConfig",
    "BandConfig",
    "SelectConfig",
    "select_polymath",
    "select_top",
    "select_band",
    "selection_row",
    "GROUP_BY",
    "TOP_BY",
]

GROUP_BY = ("subject", "category", "none")
TOP_BY = {
    "lim": "lim",
    "hist_var": "hist_var",
    "learnability": "learnability",
    "pass_rate": "pass_rate",
}
_OLD_BY = {"variance": "hist_var"}  # accepted for this release, with a deprecation line
_EPS = 1e-9  # scores are stored rounded (LIMR: 2 decimals); 0.6 must count as >= 0.6


@dataclass(frozen=True)
class PolymathConfig:
    """Lowest LIM at or above ``theta`` in each group (``subject``, ``category`` or ``none``)."""

    theta: float = 0.6
    group_by: str = "subject"


@dataclass(frozen=True)
class TopConfig:
    """The ``top`` highest by ``by`` (lim | hist_var | learnability); ``rank`` picks only the rank-th (1-based)."""

    by: str = "lim"
    top: int = 1
    rank: int | None = None


@dataclass(frozen=True)
class BandConfig:
    """Every problem with ``low <= pass_rate <= high``, grouped by ``group_by`` (subject | category | none)."""

    low: float = 0.2
    high: float = 0.8
    group_by: str = "subject"


@dataclass(frozen=True)
class SelectConfig:
    """The ``select`` stage (a recipe's ``[select]``): the rule and every rule's settings. ``top`` is also
    how many candidates rule ``prime`` keeps. The defaults are the rules' own."""

    rule: str = "polymath"
    theta: float = PolymathConfig.theta
    group_by: str = PolymathConfig.group_by
    by: str = TopConfig.by
    top: int = TopConfig.top
    rank: int | None = TopConfig.rank
    low: float = BandConfig.low
    high: float = BandConfig.high

    @property
    def band(self) -> BandConfig:
        return BandConfig(low=self.low, high=self.high, group_by=self.group_by)

    @property
    def polymath(self) -> PolymathConfig:
        return PolymathConfig(theta=self.theta, group_by=self.group_by)

    @property
    def top_config(self) -> TopConfig:
        return TopConfig(by=self.by, top=self.top, rank=self.rank)


def _breadth(row: Mapping[str, Any]) -> int:
    sk = row.get("skills") or {}
    b = sk.get("breadth")
    if b is None and isinstance(sk.get("spectrum"), Mapping):
        b = sum(1 for v in sk["spectrum"].values() if v)
    return int(b or 0)


def _score(row: Mapping[str, Any], key: str) -> float | None:
    v = (row.get("scores") or {}).get(key)
    if v is None:
        v = row.get(key)
    if v is None or v != v:  # NaN
        return None
    return float(v)


def selection_row(row: Mapping[str, Any], rule: str, reason: str) -> dict[str, Any]:
    """The selection table row: Problem fields + rule, reason, scores, skills."""
    p = Problem.from_dict(
        {
            k: v
            for k, v in row.items()
            if not k.startswith("_") and k not in ("scores", "skills", "rule", "reason")
        }
    )
    d = p.to_dict()
    # a score the row does not have is absent, not a null in meta beside the real one in scores
    d["meta"] = {k: v for k, v in d["meta"].items() if not (k in SCORE_KEYS and v is None)}
    d.update(rule=rule, reason=reason, scores=dict(row.get("scores") or {}), skills=row.get("skills"))
    return d


def _group_key(row: Mapping[str, Any], group_by: str) -> str:
    if group_by == "subject":
        return row.get("subject") or "(no subject)"
    if group_by == "category":
        return category_of(row.get("subject")) or "(no category)"
    return "all"


def select_polymath(
    rows: Sequence[Mapping[str, Any]], cfg: PolymathConfig = PolymathConfig()
) -> tuple[list[dict[str, Any]], dict[str, list[Mapping[str, Any]]]]:
    """One sample per group; also returns the eligible rows (LIM >= theta) of each group."""
    if cfg.group_by not in GROUP_BY:
        raise SampleForgeError(f"--group-by must be one of {', '.join(GROUP_BY)}, got '{cfg.group_by}'")
    if not any(_score(r, "lim") is not None for r in rows):
        raise InputError("no sample has a LIM score (give --scores, or map a column with --map lim=NAME)")
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[_group_key(r, cfg.group_by)].append(r)
    chosen, eligible_by_group = [], {}
    for g in sorted(groups):
        members = groups[g]
        eligible = [r for r in members if (s := _score(r, "lim")) is not None and s >= cfg.theta - _EPS]
        eligible_by_group[g] = eligible
        if not eligible:
            continue
        best = min(eligible, key=lambda r: (_score(r, "lim"), -_breadth(r), str(r["id"])))
        low = _score(best, "lim")
        tied = [r for r in eligible if abs(_score(r, "lim") - low) < _EPS]
        tie = ""
        if len(tied) > 1:
            tie = (
                f"; {len(tied)} tied at {low:g}, broken by skill breadth ({_breadth(best)}) then id"
                if any(_breadth(t) for t in tied)
                else f"; {len(tied)} tied at {low:g}, broken by id"
            )
        where = "overall" if cfg.group_by == "none" else f"in {cfg.group_by} {g}"
        reason = (
            f"lowest LIM >= {cfg.theta:g} {where}: {low:g} ({len(eligible)} of {len(members)} eligible){tie}"
        )
        chosen.append(selection_row(best, "polymath", reason))
    return chosen, eligible_by_group


def select_top(rows: Sequence[Mapping[str, Any]], cfg: TopConfig = TopConfig()) -> list[dict[str, Any]]:
    """Highest first; Python's stable sort keeps the input order among ties (1-shot RLVR's pi_k)."""
    by = cfg.by
    if by in _OLD_BY:
        deprecated(f"--by {by}", f"--by {_OLD_BY[by]}")
        by = _OLD_BY[by]
    key = TOP_BY.get(by)
    if key is None:
        raise SampleForgeError(f"--by must be one of {', '.join(TOP_BY)}; got '{cfg.by}'")
    scored = [r for r in rows if _score(r, key) is not None]
    if not scored:
        raise InputError(f"no sample has a '{key}' score (give --scores, or --map {key}=NAME)")
    ranked = sorted(scored, key=lambda r: -_score(r, key))
    if cfg.rank is not None:
        if not 1 <= cfg.rank <= len(ranked):
            raise SampleForgeError(f"--rank {cfg.rank} is out of range 1..{len(ranked)}")
        picks = [(cfg.rank, ranked[cfg.rank - 1])]
    else:
        picks = list(enumerate(ranked[: max(cfg.top, 0)], start=1))
    label = "historical variance" if key == "hist_var" else key
    return [
        selection_row(
            r,
            f"top-{key}",
            f"rank {i} of {len(ranked)} by {label} ({_score(r, key):.6g})"
            + (" = pi_" + str(i) if key == "hist_var" else ""),
        )
        for i, r in picks
    ]


def select_band(
    rows: Sequence[Mapping[str, Any]], cfg: BandConfig = BandConfig()
) -> tuple[list[dict[str, Any]], dict[str, list[Mapping[str, Any]]]]:
    """All rows whose pass rate is in the band, group by group (highest learnability first, then id);
    also returns the in-band rows of each group."""
    if cfg.group_by not in GROUP_BY:
        raise SampleForgeError(f"--group-by must be one of {', '.join(GROUP_BY)}, got '{cfg.group_by}'")
    if not 0 <= cfg.low <= cfg.high <= 1:
        raise SampleForgeError(f"--low/--high must satisfy 0 <= low <= high <= 1, got {cfg.low}, {cfg.high}")
    if not any(_score(r, "pass_rate") is not None for r in rows):
        raise InputError(
            "no sample has a pass_rate (give --scores from `sample-forge passrate`, or --columns pass_rate=NAME)"
        )
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[_group_key(r, cfg.group_by)].append(r)
    chosen: list[dict[str, Any]] = []
    in_band: dict[str, list[Mapping[str, Any]]] = {}
    for g in sorted(groups):
        members = groups[g]
        rated = [r for r in members if _score(r, "pass_rate") is not None]
        band = [r for r in rated if cfg.low - _EPS <= _score(r, "pass_rate") <= cfg.high + _EPS]  # type: ignore[operator]
        in_band[g] = band
        where = "overall" if cfg.group_by == "none" else f"in {cfg.group_by} {g}"
        for r in sorted(band, key=lambda r: (-(_score(r, "learnability") or 0.0), str(r["id"]))):
            p = _score(r, "pass_rate")
            lo, hi = _score(r, "pass_rate_lo"), _score(r, "pass_rate_hi")
            interval = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
            k = (r.get("scores") or {}).get("k") or r.get("k")
            c = (r.get("scores") or {}).get("n_correct") or r.get("n_correct")
            solved = f", {int(c)} of {int(k)} correct" if k is not None and c is not None else ""
            reason = (
                f"pass rate {p:.2f}{interval}{solved} in band [{cfg.low:g}, {cfg.high:g}] {where} "
                f"({len(band)} of {len(rated)} rated in band)"
            )
            chosen.append(selection_row(r, "band", reason))
    return chosen, in_band
